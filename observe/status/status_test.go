package status

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
)

// blocking is an app that records its route, a CGI-like script or an
// upstream, then waits until release is closed.
type blocking struct {
	entered chan string
	release chan struct{}
	script  bool
}

func (b blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := handler.InfoFrom(r.Context())
	if b.script {
		info.SetRoute("/cgi", "cgi")
		info.SetPhase(handler.PhaseQueued)
		info.QueueWaited(40 * time.Millisecond)
		info.ScriptStarted("slow.cgi", 4242)
	} else {
		info.SetRoute("/php", "fastcgi")
		info.SetPhase(handler.PhaseQueued)
		info.QueueWaited(0)
		info.UpstreamConnected("unix:/run/php.sock", 3*time.Millisecond)
	}
	_, _ = io.Copy(io.Discard, r.Body)
	b.entered <- info.ID
	<-b.release
	w.WriteHeader(http.StatusAccepted)
}

func env(method, uri string) environ.Env {
	path, query, _ := strings.Cut(uri, "?")
	return environ.Env{"REQUEST_METHOD": method, "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "x",
		"SERVER_PORT": "80", "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_URI": uri}
}

// serveAsync runs one request through a core handler in the background.
func serveAsync(h *handler.Handler, e environ.Env, body string, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.Serve(context.Background(), &handler.Request{Env: e, Body: strings.NewReader(body), Protocol: "fastcgi"}, io.Discard)
	}()
}

func TestSnapshotShowsRequestsInFlightAndForgetsThemAtEnd(t *testing.T) {
	r := New(Options{Version: "1.2.3"})
	defer r.Close()
	r.ConfigLoaded("/etc/gatewayd.yaml", time.Now())
	r.SetRoutes([]Route{
		{Prefix: "/cgi", App: "cgi", Pool: func() Pool { return Pool{Limit: 2, Busy: 2, QueueSize: 4, Waiting: 1} }},
		{Prefix: "/php", App: "fastcgi", Upstream: func() Upstream {
			return Upstream{Address: "unix:/run/php.sock", MaxConns: 1, InUse: 1, Health: "up"}
		}},
	})
	l := r.Listener("main", "fastcgi")
	l.SetAddress("unix:/run/gatewayd.sock")
	l.ConnOpened()

	cgi := blocking{entered: make(chan string), release: make(chan struct{}), script: true}
	php := blocking{entered: make(chan string), release: make(chan struct{})}
	var wg sync.WaitGroup
	serveAsync(&handler.Handler{App: cgi, Observer: l}, env("POST", "/cgi/slow.cgi?token=secret"), "abcd", &wg)
	cgiID := <-cgi.entered
	serveAsync(&handler.Handler{App: php, Observer: l}, env("GET", "/php/index.php"), "", &wg)
	phpID := <-php.entered

	s := r.Snapshot()
	if s.InFlight != 2 || len(s.Requests) != 2 {
		t.Fatalf("in flight %d, listed %d", s.InFlight, len(s.Requests))
	}
	c, p := s.Requests[0], s.Requests[1]
	if c.ID != cgiID || c.Method != "POST" || c.Path != "/cgi/slow.cgi" || c.Route != "/cgi" || c.App != "cgi" ||
		c.Phase != "script" || c.Script != "slow.cgi" || c.PID != 4242 || c.BytesIn != 4 || c.Listener != "main" ||
		c.QueueWaitSeconds == nil || *c.QueueWaitSeconds != 0.04 || c.ConnectSeconds != nil || c.FirstByteSeconds != nil {
		t.Errorf("cgi request %+v", c)
	}
	if p.ID != phpID || p.Phase != "upstream" || p.Upstream != "unix:/run/php.sock" || p.ConnectSeconds == nil ||
		*p.ConnectSeconds != 0.003 || p.QueueWaitSeconds == nil || *p.QueueWaitSeconds != 0 || p.AgeSeconds > c.AgeSeconds {
		t.Errorf("upstream request %+v", p)
	}
	if len(s.Listeners) != 1 || s.Listeners[0] != (ListenerStatus{Name: "main", Protocol: "fastcgi",
		Address: "unix:/run/gatewayd.sock", Connections: 1, InFlight: 2}) {
		t.Errorf("listeners %+v", s.Listeners)
	}
	if len(s.Routes) != 2 || s.Routes[0].InFlight != 1 || s.Routes[1].InFlight != 1 ||
		*s.Routes[0].Pool != (PoolStatus{Limit: 2, Busy: 2, QueueSize: 4, Waiting: 1}) || s.Routes[1].Pool != nil {
		t.Errorf("routes %+v", s.Routes)
	}
	if len(s.Upstreams) != 1 || s.Upstreams[0].Route != "/php" || s.Upstreams[0].InUse != 1 || s.Upstreams[0].Health != "up" {
		t.Errorf("upstreams %+v", s.Upstreams)
	}
	if s.Version != "1.2.3" || s.Config.File != "/etc/gatewayd.yaml" {
		t.Errorf("about %+v", s)
	}

	close(cgi.release)
	close(php.release)
	wg.Wait()
	s = r.Snapshot()
	if s.InFlight != 0 || len(s.Requests) != 0 || s.Listeners[0].Requests != 2 {
		t.Errorf("after the end: %+v", s)
	}
	if s.Routes[0].Requests["2xx"] != 1 || s.Routes[1].Requests["2xx"] != 1 {
		t.Errorf("route totals %+v", s.Routes)
	}
	// A reload that keeps a prefix keeps its totals.
	r.SetRoutes([]Route{{Prefix: "/php", App: "fastcgi"}})
	if s := r.Snapshot(); len(s.Routes) != 1 || s.Routes[0].Requests["2xx"] != 1 {
		t.Errorf("after SetRoutes: %+v", s.Routes)
	}
}

func TestSnapshotListsTheOldestFifty(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := New(Options{})
		defer r.Close()
		l := r.Listener("main", "http")
		app := blocking{entered: make(chan string), release: make(chan struct{})}
		h := &handler.Handler{App: app, Observer: l}
		var wg sync.WaitGroup
		var ids []string
		for i := range MaxRequests + 5 {
			serveAsync(h, env("GET", fmt.Sprintf("/r/%d", i)), "", &wg)
			ids = append(ids, <-app.entered)
			time.Sleep(time.Second) // fake time: each request a second younger
		}
		s := r.Snapshot()
		if s.InFlight != MaxRequests+5 || len(s.Requests) != MaxRequests {
			t.Fatalf("in flight %d, listed %d", s.InFlight, len(s.Requests))
		}
		for i, rq := range s.Requests {
			if rq.ID != ids[i] || rq.AgeSeconds != float64(MaxRequests+5-i) {
				t.Fatalf("request %d: %s age %v, want %s age %d", i, rq.ID, rq.AgeSeconds, ids[i], MaxRequests+5-i)
			}
		}
		close(app.release)
		wg.Wait()
	})
}

func TestSlowLogRunningLineOnceThenFinalLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.WarnLevel)
		r := New(Options{Log: zap.New(core), SlowRequest: 2 * time.Second})
		defer r.Close()
		l := r.Listener("main", "fastcgi")
		app := blocking{entered: make(chan string), release: make(chan struct{}), script: true}
		var wg sync.WaitGroup
		serveAsync(&handler.Handler{App: app, Observer: l}, env("GET", "/cgi/slow.cgi?q=1"), "", &wg)
		id := <-app.entered

		time.Sleep(1900 * time.Millisecond) // fake time: just short of the threshold
		synctest.Wait()
		if n := logs.Len(); n != 0 {
			t.Fatalf("%d lines before the threshold: %v", n, logs.All())
		}
		time.Sleep(5 * time.Second) // fake time: several scans past the threshold
		synctest.Wait()
		running := logs.FilterMessage("slow request still running").All()
		if len(running) != 1 {
			t.Fatalf("running lines: %v", logs.All())
		}
		m := running[0].ContextMap()
		if m["request_id"] != id || m["phase"] != "script" || m["script"] != "slow.cgi" || m["pid"] != int64(4242) ||
			m["queue_wait"] != 40*time.Millisecond || m["route"] != "/cgi" || m["path"] != "/cgi/slow.cgi" {
			t.Errorf("running line %v", m)
		}
		if d := m["duration"].(time.Duration); d < 2*time.Second || d > 2500*time.Millisecond {
			t.Errorf("running line written at %v, want within a quarter of the threshold past it", d)
		}

		close(app.release)
		wg.Wait()
		final := logs.FilterMessage("slow request").All()
		if len(final) != 1 {
			t.Fatalf("final lines: %v", logs.All())
		}
		m = final[0].ContextMap()
		if m["request_id"] != id || m["status"] != int64(202) || m["duration"] != 6900*time.Millisecond ||
			m["first_byte"] != 6900*time.Millisecond || m["queue_wait"] != 40*time.Millisecond {
			t.Errorf("final line %v", m)
		}

		// A fast request writes nothing; turning the log off stops it.
		serveAsync(&handler.Handler{App: http.NotFoundHandler(), Observer: l}, env("GET", "/x"), "", &wg)
		wg.Wait()
		r.SetSlowRequest(0)
		serveAsync(&handler.Handler{App: app, Observer: l}, env("GET", "/cgi/again.cgi"), "", &wg)
		<-app.entered
		time.Sleep(10 * time.Second) // fake time: far past the threshold
		synctest.Wait()
		if n := logs.Len(); n != 2 {
			t.Errorf("%d lines, want the 2 above: %v", n, logs.All())
		}
	})
}

func TestHandlerServesHTMLAndJSON(t *testing.T) {
	r := New(Options{Version: "9.9"})
	defer r.Close()
	r.SetRoutes([]Route{{Prefix: "/<b>", App: "demo"}})
	l := r.Listener("main", "http")
	app := blocking{entered: make(chan string), release: make(chan struct{})}
	var wg sync.WaitGroup
	serveAsync(&handler.Handler{App: app, Observer: l, TrustRequestID: true},
		environ.Env{"REQUEST_METHOD": "GET", "PATH_INFO": "/<script>", "HTTP_X_REQUEST_ID": "<id>&"}, "", &wg)
	<-app.entered
	defer func() { close(app.release); wg.Wait() }()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	resp, body := get(t, srv.URL+"/status")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("html: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{`<meta http-equiv="refresh" content="5">`, "version <b>9.9</b>", "&lt;id&gt;&amp;",
		"/&lt;script&gt;", `<span id="inflight">1</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("html has a script or an external reference")
	}

	resp, body = get(t, srv.URL+"/status?format=json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("json: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var s Snapshot
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatal(err)
	}
	if s.Version != "9.9" || s.InFlight != 1 || len(s.Requests) != 1 || s.Requests[0].ID != "<id>&" {
		t.Errorf("json %+v", s)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(body), &raw)
	for _, k := range []string{"version", "uptime_seconds", "config", "listeners", "routes", "upstreams", "requests", "in_flight"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("json lacks %q", k)
		}
	}

	if resp, _ := get(t, srv.URL+"/status?format=xml"); resp.StatusCode != 400 {
		t.Errorf("format=xml: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/status", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 {
		t.Errorf("POST: %v %v", resp, err)
	}
	req, _ = http.NewRequest("HEAD", srv.URL+"/status", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 || resp.ContentLength <= 0 {
		t.Errorf("HEAD: %v %v", resp, err)
	}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp, b.String()
}

// TestSnapshotWhileRequestsComeAndGo runs the page against many requests
// beginning and ending at once, for the race detector and for the counts.
func TestSnapshotWhileRequestsComeAndGo(t *testing.T) {
	r := New(Options{SlowRequest: time.Nanosecond, Log: zap.NewNop()})
	defer r.Close()
	r.SetRoutes([]Route{{Prefix: "/", App: "demo"}})
	l := r.Listener("main", "scgi")
	h := &handler.Handler{App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.InfoFrom(r.Context()).SetRoute("/", "demo")
		_, _ = w.Write([]byte("hi"))
	}), Observer: l}
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				h.Serve(context.Background(), &handler.Request{Env: env("GET", "/"), Protocol: "scgi"}, io.Discard)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for snaps := 0; ; snaps++ {
		select {
		case <-done:
			s := r.Snapshot()
			if s.InFlight != 0 || s.Routes[0].Requests["2xx"] != workers*each || s.Listeners[0].Requests != workers*each {
				t.Errorf("after %d snapshots: %+v", snaps, s)
			}
			return
		default:
			if s := r.Snapshot(); s.InFlight > workers {
				t.Fatalf("%d in flight with %d workers", s.InFlight, workers)
			}
		}
	}
}
