//go:build unix

package fcgiupstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/gwtest"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestPHPDifferential sends the same requests through both transports to
// the same php-fpm: gofast, an independent client, is the oracle for
// status, header and body.
func TestPHPDifferential(t *testing.T) {
	native := startPHP(t, peertest.PHPFPMOptions{Workers: 2}, Config{MaxConns: 2})
	oracle, err := New(withGofast(Config{Upstream: "unix:" + native.socket, Root: native.root, MaxConns: 2,
		Transport: TransportGofast}), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { oracle.Close() })
	post := strings.Repeat("p", 100<<10)
	for _, rq := range []struct {
		method, path, query string
		body                string
	}{
		{"GET", "/hello.php", "", ""},
		{"GET", "/headers.php", "", ""},
		{"GET", "/redirect.php", "", ""},
		{"GET", "/blog/", "", ""},
		{"GET", "/big.php", "kb=1", ""},
		{"GET", "/big.php", "kb=300", ""},
		{"HEAD", "/hello.php", "", ""},
		{"GET", "/stderr.php", "m=diff", ""},
		{"POST", "/md5.php", "", "small body"},
		{"POST", "/md5.php", "", post},
		{"GET", "/nope.php", "", ""},
	} {
		run := func(u *Upstream) response {
			env := reqEnv(rq.method, rq.path, "QUERY_STRING", rq.query)
			var body io.Reader
			if rq.body != "" {
				env["CONTENT_LENGTH"] = strconv.Itoa(len(rq.body))
				env["CONTENT_TYPE"] = "application/octet-stream"
				body = strings.NewReader(rq.body)
			}
			return serve(t, u, env, body)
		}
		got, want := run(native.up), run(oracle)
		name := rq.method + " " + rq.path + "?" + rq.query
		if got.status != want.status || got.body != want.body {
			t.Errorf("%s: native %d %.60q, gofast %d %.60q", name, got.status, got.body, want.status, want.body)
		}
		for _, h := range []http.Header{got.header, want.header} {
			h.Del("Date")
		}
		if !sameHeader(got.header, want.header) {
			t.Errorf("%s: native header %v, gofast header %v", name, got.header, want.header)
		}
	}
}

func sameHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestPHPEventStream: a script that sends an event, flushes, and goes on
// only once the client has seen it. If the gateway held the events back, the
// script would stall and say so.
func TestPHPEventStream(t *testing.T) { forEachTransport(t, testPHPEventStream) }

func testPHPEventStream(t *testing.T, tr string) {
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 1}, Config{MaxConns: 1, Transport: tr})
	acks := peertest.Dir(t)
	if err := os.Chmod(acks, 0o777); err != nil {
		t.Fatal(err)
	}
	env := reqEnv("GET", "/sse.php", "QUERY_STRING", "dir="+acks)
	environ.SetupTestingDefaults(env)
	pr, pw := io.Pipe()
	done := make(chan handler.Result, 1)
	go func() {
		hd := &handler.Handler{App: h.up, OriginServer: true}
		res := hd.Serve(context.Background(), &handler.Request{Env: env, Protocol: "test"}, pw)
		pw.Close()
		done <- res
	}()
	resp, err := http.ReadResponse(bufio.NewReader(pr), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	var events []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		events = append(events, line)
		t.Logf("%v %q", time.Now().Format("15:04:05.000"), line)
		var i int
		if n, _ := fmt.Sscanf(line, "data: %d", &i); n == 1 {
			// Seen by the client while the script still runs.
			if err := os.WriteFile(filepath.Join(acks, "ack-"+strconv.Itoa(i)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	<-done
	want := []string{"data: 0", "data: 1", "data: 2", "data: 3", "data: 4", "data: end"}
	if !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
}

// TestEarlyAnswerLargeBody: an upstream that answers before it reads a
// 10 MB body, and never reads it, must not deadlock the request.
func TestEarlyAnswerLargeBody(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			release := make(chan struct{})
			sock := rawUpstream(t, func(c net.Conn) {
				var buf []byte
				for {
					h, content, err := fcgiwire.ReadRecord(c, buf)
					if err != nil {
						return
					}
					buf = content[:0]
					if h.Type == fcgiwire.TypeParams && len(content) == 0 {
						break
					}
				}
				_, _ = c.Write(append(record(typeStdout, 1, []byte("Status: 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nno")),
					endRequest(1, 0, 0)...))
				<-release
			})
			t.Cleanup(func() { close(release) })
			u := newUpstream(t, Config{Upstream: "unix:" + sock, Transport: tr})
			body := bytes.Repeat([]byte("b"), 10<<20)
			got := make(chan response, 1)
			go func() {
				got <- serve(t, u, reqEnv("POST", "/app.php", "CONTENT_LENGTH", "10485760"), bytes.NewReader(body))
			}()
			select {
			case r := <-got:
				if r.status != 403 || r.body != "no" {
					t.Errorf("%d %q", r.status, r.body)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the request deadlocked on its body")
			}
		})
	}
}

// TestPHPSaturation: with max_conns 2 and slow scripts, requests beyond the
// two running ones and the queue get 503 with Retry-After, never 504, and
// before the slow scripts end.
func TestPHPSaturation(t *testing.T) { forEachTransport(t, testPHPSaturation) }

func testPHPSaturation(t *testing.T, tr string) {
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 2}, Config{MaxConns: 2, QueueSize: 2,
		QueueTimeout: 300 * time.Millisecond, Transport: tr})
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			r := h.get(t, "/sleep.php?ms=1500")
			mu.Lock()
			order = append(order, r.status)
			mu.Unlock()
			if r.status == 503 && r.header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
		})
	}
	wg.Wait()
	ok := 0
	for i, s := range order {
		switch s {
		case 200:
			ok++
		case 503:
			if ok > 0 {
				t.Errorf("answer %d was a 503 after a slow script ended: not at once (%v)", i, order)
			}
		default:
			t.Errorf("status %d; saturation is 503 (%v)", s, order)
		}
	}
	if ok != 2 {
		t.Errorf("%d requests ran, want the 2 max_conns allow (%v)", ok, order)
	}
	if h.watch.maxOpen > 2 || h.watch.count(OutcomeBusy) != 8 {
		t.Errorf("max open %d, outcomes %v", h.watch.maxOpen, h.watch.outcomes)
	}
}

// TestSlotFreedAtQueueDeadline: requests whose connection frees up around
// their queue deadline got 502 (a dial with the expired wait context) in 8
// to 11 cases of 24; they must get 200 or 503.
func TestSlotFreedAtQueueDeadline(t *testing.T) {
	sock, _ := goUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A slow upstream is the behaviour under test (its work ends
		// around the queue deadline): this Sleep stays.
		time.Sleep(50 * time.Millisecond)
		io.WriteString(w, "ok")
	}))
	u := newUpstream(t, Config{Upstream: "unix:" + sock, MaxConns: 2, QueueTimeout: 100 * time.Millisecond,
		IdleTimeout: -1})
	var wg sync.WaitGroup
	for range 24 {
		wg.Go(func() {
			if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 && r.status != 503 {
				t.Errorf("status %d %q", r.status, r.body)
			}
		})
	}
	wg.Wait()
	// And the pool's own rule: a request whose context ended gets no
	// connect error.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now())
	defer cancel()
	if _, err := u.pool.get(ctx, reuseChecked); err == nil || errors.Is(err, ErrConnect) {
		t.Errorf("get with an ended context: %v", err)
	}
}

// TestPHPLocalRedirect: "Location: /path" and nothing else is served again
// through the routes (RFC 3875 section 6.2.2), within max_redirects.
func TestPHPLocalRedirect(t *testing.T) {
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 1}, Config{MaxConns: 1, MaxRedirects: 3})
	h.up.Redirect = h.up
	if r := h.get(t, "/locredir.php"); r.status != 200 || r.body != "hello" {
		t.Errorf("local redirect: %d %q %v", r.status, r.body, r.header)
	}
	if r := h.get(t, "/locredir.php?to=self"); r.status != 500 {
		t.Errorf("redirect loop: %d %q", r.status, r.body)
	}
	// PHP's own redirect carries Status and Content-Type: the client's.
	if r := h.get(t, "/redirect.php"); r.status != 302 {
		t.Errorf("client redirect: %d", r.status)
	}
}

// TestAccelBufferingNo: "X-Accel-Buffering: no" makes every chunk reach the
// client at once, and is not passed on. The upstream sends its second chunk
// only once the client has seen the first.
func TestAccelBufferingNo(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			seen := make(chan struct{})
			sock := rawUpstream(t, func(c net.Conn) {
				if _, _, err := readFCGIRequest(c); err != nil {
					return
				}
				_, _ = c.Write(record(typeStdout, 1, []byte("Content-Type: text/plain\r\nX-Accel-Buffering: no\r\n\r\nfirst\n")))
				select {
				case <-seen:
					_, _ = c.Write(record(typeStdout, 1, []byte("second\n")))
				case <-time.After(5 * time.Second):
					_, _ = c.Write(record(typeStdout, 1, []byte("stalled\n")))
				}
				_, _ = c.Write(endRequest(1, 0, 0))
			})
			u := newUpstream(t, Config{Upstream: "unix:" + sock, Transport: tr})
			env := reqEnv("GET", "/app.php")
			environ.SetupTestingDefaults(env)
			pr, pw := io.Pipe()
			go func() {
				hd := &handler.Handler{App: u, OriginServer: true}
				hd.Serve(context.Background(), &handler.Request{Env: env, Protocol: "test"}, pw)
				pw.Close()
			}()
			resp, err := http.ReadResponse(bufio.NewReader(pr), nil)
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := resp.Header["X-Accel-Buffering"]; ok {
				t.Errorf("X-Accel-Buffering passed on: %q", v)
			}
			br := bufio.NewReader(resp.Body)
			var lines []string
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					break
				}
				lines = append(lines, strings.TrimSpace(line))
				if len(lines) == 1 {
					close(seen)
				}
			}
			if !slices.Equal(lines, []string{"first", "second"}) {
				t.Errorf("lines %q", lines)
			}
		})
	}
}

// TestClientGoneEndsTheExchange: a client that goes away while the upstream
// is silent gets its upstream connection closed (the upstream sees EOF)
// and frees its connection, long before any timeout; a client that goes
// away while queued for a connection leaves the queue, long before
// queue_timeout, for one upstream and for a fleet. The native transport
// starts watching the client only after watchDelay, and the queue looks at
// the context every watchDelay: neither may turn into waiting for the
// timeouts.
func TestClientGoneEndsTheExchange(t *testing.T) {
	for _, tr := range transports {
		for _, members := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/%d", tr, members), func(t *testing.T) {
				asked := make(chan struct{}, 4)
				closed := make(chan struct{}, 4)
				silent := func(c net.Conn) {
					if _, _, err := readFCGIRequest(c); err != nil {
						return
					}
					asked <- struct{}{}
					// Silent until the connection closes.
					_, _ = io.Copy(io.Discard, c)
					closed <- struct{}{}
				}
				cfg := Config{MaxConns: 1, Transport: tr}
				for range members {
					cfg.Upstreams = append(cfg.Upstreams, "unix:"+rawUpstream(t, silent))
				}
				if members == 1 {
					cfg.Upstream, cfg.Upstreams = cfg.Upstreams[0], nil
				}
				u := newUpstream(t, cfg)
				h := &handler.Handler{App: u}
				start := func(ctx context.Context) <-chan handler.Result {
					env := reqEnv("GET", "/app.php")
					environ.SetupTestingDefaults(env)
					done := make(chan handler.Result, 1)
					go func() {
						done <- h.Serve(ctx, &handler.Request{Env: env, Protocol: "test"}, io.Discard)
					}()
					return done
				}
				bound := time.After(10 * time.Second) // the timeouts are 30s and more
				var cancels []context.CancelFunc
				var dones []<-chan handler.Result
				for range members {
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					cancels, dones = append(cancels, cancel), append(dones, start(ctx))
					select {
					case <-asked:
					case <-bound:
						t.Fatal("the upstream never got a request")
					}
				}
				// One more waits in the queue: every connection is busy.
				queued, cancelQueued := context.WithCancel(context.Background())
				defer cancelQueued()
				queuedDone := start(queued)
				// Nothing announces the queue: its count is polled.
				if !gwtest.Eventually(10*time.Second, func() bool { return u.Stats().Waiting == 1 }) {
					t.Fatal("the request never queued")
				}
				cancelQueued()
				select {
				case <-queuedDone:
				case <-bound:
					t.Fatal("a queued request whose client went away stayed in the queue")
				}
				if n := u.Stats().Waiting; n != 0 {
					t.Errorf("%d requests still waiting", n)
				}
				for i, cancel := range cancels {
					cancel()
					select {
					case <-closed:
					case <-bound:
						t.Fatal("the upstream connection stayed open after the client went away")
					}
					select {
					case <-dones[i]:
					case <-bound:
						t.Fatal("the request did not end after the client went away")
					}
				}
				if s := u.Stats(); s.InUse != 0 {
					t.Errorf("%d connections still in use", s.InUse)
				}
				select {
				case <-asked:
					t.Error("the upstream was asked for the request whose client went away in the queue")
				default:
				}
			})
		}
	}
}

// TestClientGoneInTheQueueIsNotForwarded: a client that goes away while
// its request waits for a connection, just before the connection frees
// up, leaves the connection to the next request: the upstream is not
// asked for it (the queue looks at the context only every watchDelay, so
// the request may well win the connection first).
func TestClientGoneInTheQueueIsNotForwarded(t *testing.T) {
	release := make(chan struct{})
	var asked atomic.Int64
	sock := rawUpstream(t, func(c net.Conn) {
		for {
			id, _, err := readFCGIRequest(c)
			if err != nil {
				return
			}
			if asked.Add(1) == 1 {
				<-release
			}
			out := append(record(typeStdout, id, []byte("Content-Type: text/plain\r\n\r\nok")), endRequest(id, 0, 0)...)
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	})
	u := newUpstream(t, Config{Upstream: "unix:" + sock, MaxConns: 1})
	first := make(chan response, 1)
	go func() { first <- serve(t, u, reqEnv("GET", "/app.php"), nil) }()
	if !gwtest.Eventually(10*time.Second, func() bool { return asked.Load() == 1 }) {
		t.Fatal("the upstream never got the first request")
	}
	env := reqEnv("GET", "/app.php")
	environ.SetupTestingDefaults(env)
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan handler.Result, 1)
	go func() {
		second <- (&handler.Handler{App: u}).Serve(ctx, &handler.Request{Env: env, Protocol: "test"}, io.Discard)
	}()
	if !gwtest.Eventually(10*time.Second, func() bool { return u.Stats().Waiting == 1 }) {
		t.Fatal("the second request never queued")
	}
	cancel()
	close(release)
	if r := <-first; r.status != 200 {
		t.Errorf("first: %d", r.status)
	}
	<-second
	// The connection serves the next request, and the upstream saw two in
	// all: the first and this one.
	if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 {
		t.Errorf("third: %d", r.status)
	}
	if n := asked.Load(); n != 2 {
		t.Errorf("the upstream was asked %d times, want 2 (the request whose client left must not go)", n)
	}
}

// TestFlushTimerThenWatch: data that comes before the 10 ms flush timer
// passes leaves that timer on the socket; the next read, inside the same
// record, must put the watch's deadline back, not spin on the passed
// timer until the watch begins (it did, reading thousands of times).
func TestFlushTimerThenWatch(t *testing.T) {
	sock := rawUpstream(t, func(c net.Conn) {
		for {
			id, _, err := readFCGIRequest(c)
			if err != nil {
				return
			}
			if _, err := c.Write(record(typeStdout, id, []byte("Content-Type: text/plain\r\n\r\nfirst "))); err != nil {
				return
			}
			second := record(typeStdout, id, []byte("second"))
			// The next record's header within the flush timer, its content
			// well after it: the pauses are the behaviour under test.
			time.Sleep(2 * time.Millisecond)
			if _, err := c.Write(second[:8]); err != nil {
				return
			}
			time.Sleep(30 * time.Millisecond)
			if _, err := c.Write(append(second[8:], endRequest(id, 0, 0)...)); err != nil {
				return
			}
		}
	})
	u := newUpstream(t, Config{Upstream: "unix:" + sock, MaxConns: 1})
	if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 || r.body != "first second" {
		t.Fatalf("%d %q", r.status, r.body)
	}
	_, _, idle := u.pool.stats()
	if idle != 1 {
		t.Fatalf("%d idle connections, want the one", idle)
	}
	if n := u.pool.idle[0].nr.reads; n > 20 {
		t.Errorf("%d reads from the socket for a three-write answer: the reader spun", n)
	}
}
