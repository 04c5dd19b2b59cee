package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/internal/peertest"
	"github.com/gatewayd/gatewayd/observe/status"
)

// slowCGI writes its REQUEST_ID to stderr (the runner logs it) and to a
// file named after its pid, then waits for $STATE/release — bounded, so
// that a failed test leaves nothing running — and answers with the id.
const slowCGI = `#!/bin/sh
echo "started $REQUEST_ID" >&2
echo "$REQUEST_ID" > "$STATE/started.$$"
n=0
while [ ! -e "$STATE/release" ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done
printf 'Content-Type: text/plain\n\nREQUEST_ID=%s\n' "$REQUEST_ID"
`

// stuckUpstream is a FastCGI application that holds every request until
// release is closed, and reports each request's REQUEST_ID as it enters.
type stuckUpstream struct {
	entered chan string
	release chan struct{}
}

func (s stuckUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := fcgi.ProcessEnv(r)["REQUEST_ID"]
	s.entered <- id
	<-s.release
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "REQUEST_ID=%s\n", id)
}

type answer struct {
	n      int // which request
	status int
	header string // X-Request-Id
	body   string
	err    error
}

// TestStatusPageWhileEverythingIsStuck is issue 14's scene: three slow CGI
// scripts and two stuck upstream requests in flight, one more of each
// waiting (the CGI queue and every upstream connection full). The page,
// rendered by a real headless Chromium and by w3m, and its JSON show the
// five with their ages and the pool numbers; it answers 100 times in a
// row; the slow log has its running and final lines with phases; request
// ids, given and made, reach the scripts, the upstream, the logs and the
// client.
func TestStatusPageWhileEverythingIsStuck(t *testing.T) {
	chromium := peertest.Need(t, "chromium", "/usr/bin/chromium")
	w3m := peertest.Need(t, "w3m", "/usr/bin/w3m")
	dir := peertest.Dir(t)
	cgiRoot, phpRoot := filepath.Join(dir, "cgi"), filepath.Join(dir, "php")
	for _, d := range []string{cgiRoot, phpRoot} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cgiRoot, "slow.cgi"), []byte(slowCGI), 0o755); err != nil {
		t.Fatal(err)
	}
	peertest.WriteFile(t, phpRoot, "stuck.php", "<?php // served by the test's FastCGI app\n")

	sock := filepath.Join(dir, "fcgi.sock")
	fl, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	up := stuckUpstream{entered: make(chan string, 8), release: make(chan struct{})}
	go func() { _ = fcgi.Serve(fl, up) }()
	var releaseOnce sync.Once
	release := func() {
		releaseOnce.Do(func() {
			close(up.release)
			_ = os.WriteFile(filepath.Join(dir, "release"), nil, 0o644)
		})
	}
	t.Cleanup(func() { release(); fl.Close() })

	path := filepath.Join(dir, "gatewayd.yaml")
	// The slow log starts off and is turned on by a reload once every
	// request is where the test wants it: a running line tells the phase
	// a request is in when it passes the threshold, and under load a
	// script can pass 300ms before it has started.
	configText := func(slow string) string {
		return fmt.Sprintf(`
listeners:
  - {name: web, protocol: http, address: "127.0.0.1:0", request_id: {trust_header: true, response_header: true}}
routes:
  - {prefix: /cgi, app: cgi, root: %q, max_concurrency: 3, queue_size: 1, queue_timeout: 60s, allow_root: true, env: {STATE: %q}}
  - {prefix: /php, app: fastcgi, root: %q, upstream: "unix:%s", max_conns: 2, upstream_timeout: 60s, queue_size: 4, queue_timeout: 60s}
metrics: {address: "127.0.0.1:0"}
log: {slow_request: %s}
`, cgiRoot, dir, phpRoot, sock, slow)
	}
	writeConfig(t, path, configText("0s"))
	core, logs := observer.New(zapcore.InfoLevel)
	d := newDaemon(t, path, Options{Log: zap.New(core)})
	d.Start()
	defer d.Shutdown(context.Background())
	web := "http://" + d.Addrs()[0].String()
	page := "http://" + d.MetricsAddr().String() + status.Path

	client := &http.Client{Timeout: 90 * time.Second}
	answers := make(chan answer, 16)
	sent := map[int]time.Time{}
	send := func(n int, path, id string) {
		req, _ := http.NewRequest("GET", web+path, nil)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		sent[n] = time.Now()
		go func() {
			resp, err := client.Do(req)
			if err != nil {
				answers <- answer{n: n, err: err}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers <- answer{n, resp.StatusCode, resp.Header.Get("X-Request-Id"), string(b), err}
		}()
	}
	snap := func() status.Snapshot {
		t.Helper()
		resp, err := client.Get(page + "?format=json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s status.Snapshot
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	waitFor := func(what string, ok func(status.Snapshot) bool) status.Snapshot {
		t.Helper()
		var s status.Snapshot
		peertest.WaitReady(t, nil, what, func() error {
			if s = snap(); !ok(s) {
				return errors.New("not yet")
			}
			return nil
		})
		return s
	}
	route := func(s status.Snapshot, prefix string) status.RouteStatus {
		for _, r := range s.Routes {
			if r.Prefix == prefix {
				return r
			}
		}
		t.Fatalf("no route %s in %+v", prefix, s.Routes)
		return status.RouteStatus{}
	}

	// Three scripts run; the first request brings its own id.
	send(0, "/cgi/slow.cgi?token=secret", "given-by-the-front-0")
	send(1, "/cgi/slow.cgi?n=1", "")
	send(2, "/cgi/slow.cgi?n=2", "")
	// Running means started: a slot is taken (Busy) before the process
	// exists, which under load can be a while.
	waitFor("three scripts running", func(s status.Snapshot) bool {
		n := 0
		for _, r := range s.Requests {
			if r.Phase == "script" && r.PID > 0 {
				n++
			}
		}
		return route(s, "/cgi").Pool.Busy == 3 && n == 3
	})
	// Two requests are stuck in the upstream, which holds every connection.
	send(3, "/php/stuck.php", "given-by-the-front-3")
	send(4, "/php/stuck.php?n=4", "")
	upstreamIDs := []string{<-up.entered, <-up.entered}
	// One more of each waits: the CGI queue and the upstream pool are full.
	send(5, "/cgi/slow.cgi?n=5", "")
	send(6, "/php/stuck.php?n=6", "")
	// The page reads the requests in flight, then the pools: a request
	// that begins between the two reads is in a pool's count and not yet
	// in the list, so the wait is for a page that shows all seven too.
	s := waitFor("the CGI queue and the upstream pool full, seven requests listed", func(s status.Snapshot) bool {
		return route(s, "/cgi").Pool.Waiting == 1 && route(s, "/php").Pool.Waiting == 1 &&
			s.InFlight == 7 && len(s.Requests) == 7
	})

	// The JSON: five requests at work, two waiting, the pools full.
	if s.InFlight != 7 || len(s.Requests) != 7 {
		t.Fatalf("in flight %d, listed %d: %+v", s.InFlight, len(s.Requests), s.Requests)
	}
	if c := route(s, "/cgi"); *c.Pool != (status.PoolStatus{Limit: 3, Busy: 3, QueueSize: 1, Waiting: 1}) || c.InFlight != 4 {
		t.Errorf("cgi route %+v pool %+v", c, c.Pool)
	}
	if p := route(s, "/php"); *p.Pool != (status.PoolStatus{Limit: 2, Busy: 2, QueueSize: 4, Waiting: 1}) || p.InFlight != 3 {
		t.Errorf("fastcgi route %+v pool %+v", p, p.Pool)
	}
	if len(s.Upstreams) != 1 || s.Upstreams[0].InUse != 2 || s.Upstreams[0].MaxConns != 2 || s.Upstreams[0].Waiting != 1 ||
		s.Upstreams[0].Health != "up" || s.Upstreams[0].Address != "unix:"+sock {
		t.Errorf("upstreams %+v", s.Upstreams)
	}
	if len(s.Listeners) != 1 || s.Listeners[0].Name != "web" || s.Listeners[0].InFlight != 7 || s.Listeners[0].Connections != 7 {
		t.Errorf("listeners %+v", s.Listeners)
	}
	if s.Config.File != path || s.Version != config.Version {
		t.Errorf("about: %+v", s)
	}
	var scripts, upstreams []status.RequestInFlight
	ids := map[string]bool{}
	for i, r := range s.Requests {
		ids[r.ID] = true
		if i > 0 && r.AgeSeconds > s.Requests[i-1].AgeSeconds {
			t.Errorf("not oldest first: %+v", s.Requests)
		}
		if strings.Contains(r.Path, "?") || r.Method != "GET" || r.Listener != "web" {
			t.Errorf("request %+v", r)
		}
		switch r.Phase {
		case "script":
			scripts = append(scripts, r)
			if r.Script != "slow.cgi" || r.PID <= 0 || r.Route != "/cgi" || r.App != "cgi" || r.QueueWaitSeconds == nil {
				t.Errorf("script request %+v", r)
			}
		case "upstream":
			upstreams = append(upstreams, r)
			if r.Upstream != "unix:"+sock || r.Route != "/php" || r.ConnectSeconds == nil || r.QueueWaitSeconds == nil {
				t.Errorf("upstream request %+v", r)
			}
		case "queued":
		default:
			t.Errorf("phase %q: %+v", r.Phase, r)
		}
	}
	if len(scripts) != 3 || len(upstreams) != 2 {
		t.Fatalf("%d scripts and %d upstream requests at work: %+v", len(scripts), len(upstreams), s.Requests)
	}
	if !ids["given-by-the-front-0"] || !ids["given-by-the-front-3"] {
		t.Errorf("the given ids are not on the page: %v", ids)
	}
	for _, id := range upstreamIDs {
		if !ids[id] {
			t.Errorf("the upstream got REQUEST_ID %q, which the page does not list (%v)", id, ids)
		}
	}
	// Each script's environment had its request's id.
	started, _ := filepath.Glob(filepath.Join(dir, "started.*"))
	if len(started) != 3 {
		t.Errorf("%d scripts started", len(started))
	}
	for _, f := range started {
		b, _ := os.ReadFile(f)
		if id := strings.TrimSpace(string(b)); !ids[id] {
			t.Errorf("a script had REQUEST_ID %q, not on the page", id)
		}
	}

	// With everything stuck the page still answers, 100 times in a row.
	quick := &http.Client{Timeout: 2 * time.Second}
	var slowest time.Duration
	for i := range 100 {
		url := page
		if i%2 == 1 {
			url += "?format=json"
		}
		start := time.Now()
		resp, err := quick.Get(url)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("answer %d: %d", i, resp.StatusCode)
		}
		slowest = max(slowest, time.Since(start))
	}
	t.Logf("100 answers of /status with everything stuck; the slowest took %v", slowest)

	// A real browser renders the page: the five, their ages, the pools.
	atWork := append(scripts, upstreams...)
	dom := browse(t, chromium, dir, page, "--dump-dom")
	for _, r := range atWork {
		row := regexp.MustCompile(`<tr class="request" id="req-` + regexp.QuoteMeta(r.ID) +
			`">(?:<td[^>]*>[^<]*</td>){5}<td class="n age">([^<]+)</td><td>([a-z]+)</td>`).FindStringSubmatch(dom)
		if row == nil {
			t.Errorf("request %s is not in the DOM", r.ID)
			continue
		}
		age, err := time.ParseDuration(row[1])
		if err != nil || age.Seconds() < r.AgeSeconds-0.1 || age > time.Since(sent[0]) {
			t.Errorf("request %s: age %q, JSON said %.3fs before", r.ID, row[1], r.AgeSeconds)
		}
		if row[2] != r.Phase {
			t.Errorf("request %s: phase %q in the DOM, %q in the JSON", r.ID, row[2], r.Phase)
		}
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`<tr id="route-/cgi"><td>/cgi</td><td>cgi</td><td class="n">4</td><td class="n full">3 / 3</td><td class="n">1 / 1</td>`),
		regexp.MustCompile(`<tr id="route-/php"><td>/php</td><td>fastcgi</td><td class="n">3</td><td class="n full">2 / 2</td><td class="n">1 / 4</td>`),
		regexp.MustCompile(`<td>unix:` + regexp.QuoteMeta(sock) + `</td><td class="n full">2 / 2</td><td class="n">1</td><td>up</td>`),
		regexp.MustCompile(`<span id="inflight">7</span>`),
	} {
		if !want.MatchString(dom) {
			t.Errorf("the DOM lacks %s", want)
		}
	}
	shot := filepath.Join(dir, "status.png")
	browse(t, chromium, dir, page, "--screenshot="+shot, "--window-size=1500,900", "--hide-scrollbars")
	if b, err := os.ReadFile(shot); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 10000 {
		t.Errorf("screenshot: %d bytes, %v", len(b), err)
	} else if out := os.Getenv("GATEWAYD_TEST_STATUS_SCREENSHOT"); out != "" {
		// How docs/status.png is made.
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Error(err)
		}
	}
	// And a terminal browser reads it too.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	text, err := exec.CommandContext(ctx, w3m, "-dump", "-cols", "250", page).Output()
	if err != nil {
		t.Fatalf("w3m: %v", err)
	}
	for _, r := range atWork {
		if !bytes.Contains(text, []byte(r.ID)) {
			t.Errorf("w3m's rendering lacks %s:\n%s", r.ID, text)
		}
	}

	// The slow log, turned on now: each stuck request gets its running
	// line, with the phase it is in.
	writeConfig(t, path, configText("300ms"))
	if changed, err := d.Reload(context.Background()); err != nil || !slices.Contains(changed, "log.slow_request") {
		t.Fatalf("reload turning the slow log on: %v %v", changed, err)
	}
	running := func() map[string]map[string]any {
		m := map[string]map[string]any{}
		for _, e := range logs.FilterMessage("slow request still running").All() {
			f := e.ContextMap()
			m[f["request_id"].(string)] = f
		}
		return m
	}
	peertest.WaitReady(t, nil, "running slow lines", func() error {
		if n := len(running()); n < 7 {
			return fmt.Errorf("%d of 7", n)
		}
		return nil
	})
	for _, r := range scripts {
		f := running()[r.ID]
		if f["phase"] != "script" || f["script"] != "slow.cgi" || f["pid"] != int64(r.PID) || f["route"] != "/cgi" {
			t.Errorf("running line of %s: %v", r.ID, f)
		}
	}
	for _, r := range upstreams {
		if f := running()[r.ID]; f["phase"] != "upstream" || f["upstream"] != "unix:"+sock || f["upstream_connect"] == nil {
			t.Errorf("running line of %s: %v", r.ID, f)
		}
	}

	// Let everything finish.
	release()
	got := map[int]answer{}
	for range 7 {
		a := <-answers
		got[a.n] = a
	}
	for n, a := range got {
		if a.err != nil || a.status != 200 || a.header == "" || a.body != "REQUEST_ID="+a.header+"\n" {
			t.Errorf("answer %d: %+v", n, a)
		}
	}
	for _, n := range []int{0, 3} {
		if want := fmt.Sprintf("given-by-the-front-%d", n); got[n].header != want {
			t.Errorf("answer %d has id %q, want the given %q", n, got[n].header, want)
		}
	}

	// Final slow lines: the queued script waited for a slot, the queued
	// upstream request for a connection; every line has its phases.
	final := map[string]map[string]any{}
	peertest.WaitReady(t, nil, "final slow lines", func() error {
		for _, e := range logs.FilterMessage("slow request").All() {
			final[e.ContextMap()["request_id"].(string)] = e.ContextMap()
		}
		if len(final) < 7 {
			return fmt.Errorf("%d of 7", len(final))
		}
		return nil
	})
	for n, a := range got {
		f := final[a.header]
		d, _ := f["duration"].(time.Duration)
		fb, _ := f["first_byte"].(time.Duration)
		qw, hasQW := f["queue_wait"].(time.Duration)
		if f == nil || d < 300*time.Millisecond || fb <= 0 || fb > d || !hasQW || qw > d || f["status"] != int64(200) {
			t.Errorf("final line of answer %d: %v", n, f)
			continue
		}
		switch n {
		case 5, 6: // waited for a slot / a connection until the release
			if qw < 100*time.Millisecond {
				t.Errorf("answer %d waited in a full pool, but queue_wait is %v", n, qw)
			}
		}
		if n >= 3 && n != 5 {
			if _, ok := f["upstream_connect"]; !ok || f["upstream"] != "unix:"+sock {
				t.Errorf("final line of upstream answer %d: %v", n, f)
			}
		} else if f["script"] != "slow.cgi" || f["pid"] == nil {
			t.Errorf("final line of script answer %d: %v", n, f)
		}
	}

	// Every id is in the access log, and in the CGI runner's own lines.
	access := map[string]bool{}
	for _, e := range logs.FilterMessage("request").All() {
		access[e.ContextMap()["request_id"].(string)] = true
	}
	stderrIDs := map[string]bool{}
	for _, e := range logs.FilterField(zap.String("script", "slow.cgi")).All() {
		if line, _ := e.ContextMap()["line"].(string); strings.HasPrefix(line, "started ") {
			if id := e.ContextMap()["request_id"]; line != "started "+id.(string) {
				t.Errorf("stderr line %q logged with request_id %v", line, id)
			}
			stderrIDs[strings.TrimPrefix(line, "started ")] = true
		}
	}
	for n, a := range got {
		if !access[a.header] {
			t.Errorf("answer %d: id %q not in the access log", n, a.header)
		}
		if (n < 3 || n == 5) && !stderrIDs[a.header] {
			t.Errorf("answer %d: id %q not in the script's logged stderr", n, a.header)
		}
	}
	// The status page hears of a request's end after the access log (the
	// listener's observers run in order), so it may list it a moment longer.
	waitFor("no request in flight, seven counted", func(s status.Snapshot) bool {
		return s.InFlight == 0 && route(s, "/cgi").Requests["2xx"] == 4 && route(s, "/php").Requests["2xx"] == 3
	})
}

// browse runs headless Chromium on url with one more action flag, and
// returns what it wrote on stdout.
func browse(t *testing.T, chromium, dir, url string, action ...string) string {
	t.Helper()
	profile, err := os.MkdirTemp(dir, "chromium-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile}, action...)
	cmd := exec.CommandContext(ctx, chromium, append(args, url)...)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", action, err, errOut.String())
	}
	return out.String()
}

// TestRequestIDReachesPHP: the id, given by a trusted front or made, is
// $_SERVER['REQUEST_ID'] in PHP and starts php-fpm's access line (the
// recipe's access.format), and comes back in X-Request-Id.
func TestRequestIDReachesPHP(t *testing.T) {
	root, fpmDir := peertest.Dir(t), peertest.Dir(t)
	peertest.WriteFile(t, root, "id.php", "<?php\nheader('Content-Type: text/plain');\necho 'REQUEST_ID=', $_SERVER['REQUEST_ID'], \"\\n\";\n")
	_, sock := peertest.PHPFPM(t, fpmDir, 1)
	path := filepath.Join(t.TempDir(), "gatewayd.yaml")
	writeConfig(t, path, fmt.Sprintf(`
listeners:
  - {protocol: http, address: "127.0.0.1:0", request_id: {trust_header: true, response_header: true}}
routes:
  - {prefix: /, app: fastcgi, root: %q, upstream: "unix:%s", max_conns: 1}
metrics: {address: ""}
`, root, sock))
	d := newDaemon(t, path, Options{Log: zap.NewNop()})
	d.Start()
	defer d.Shutdown(context.Background())

	var ids []string
	for _, given := range []string{"from-nginx-7f3a", ""} {
		req, _ := http.NewRequest("GET", "http://"+d.Addrs()[0].String()+"/id.php?x=1", nil)
		if given != "" {
			req.Header.Set("X-Request-Id", given)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		if resp.StatusCode != 200 || id == "" || (given != "" && id != given) || string(b) != "REQUEST_ID="+id+"\n" {
			t.Errorf("given %q: %d, X-Request-Id %q, body %q", given, resp.StatusCode, id, b)
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] {
		t.Errorf("the made id repeats the given one: %q", ids)
	}
	// php-fpm writes its access line once the request is done.
	accessLog := filepath.Join(fpmDir, "php-fpm-access.log")
	peertest.WaitReady(t, nil, "php-fpm's access lines", func() error {
		b, _ := os.ReadFile(accessLog)
		for _, id := range ids {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(id) + ` .*"GET /id.php" 200 `).Match(b) {
				return fmt.Errorf("no line for %s in:\n%s", id, b)
			}
		}
		return nil
	})
}

// TestStatusFollowsReloads: the page shows the reload, its failure, the new
// routes and the new log.slow_request.
func TestStatusFollowsReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.yaml")
	base := "listeners:\n  - {protocol: http, address: \"127.0.0.1:0\"}\nmetrics: {address: \"127.0.0.1:0\"}\n"
	writeConfig(t, path, base+"routes:\n  - {prefix: /, app: demo}\n")
	d := newDaemon(t, path, Options{Log: zap.NewNop()})
	d.Start()
	defer d.Shutdown(context.Background())
	snap := func() status.Snapshot {
		t.Helper()
		resp, err := http.Get("http://" + d.MetricsAddr().String() + "/status?format=json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s status.Snapshot
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := snap()
	if s.Config.Reloads != 0 || s.SlowRequestSeconds != 0 || len(s.Routes) != 1 || s.Routes[0].Prefix != "/" {
		t.Fatalf("at start: %+v", s)
	}
	// Never on an app listener: there /status is a path like any other.
	resp, err := http.Get("http://" + d.Addrs()[0].String() + "/status?format=json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(b), "Hello world!\n") {
		t.Errorf("/status on the app listener: %q", b)
	}
	loaded := s.Config.Loaded

	writeConfig(t, path, base+"routes:\n  - {prefix: /, app: demo}\n  - {prefix: /x, app: demo}\nlog: {slow_request: 1500ms}\n")
	if _, err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = snap()
	if s.Config.Reloads != 1 || !s.Config.Loaded.After(loaded) || s.Config.LastReloadError != "" ||
		s.SlowRequestSeconds != 1.5 || len(s.Routes) != 2 || s.Routes[1].Prefix != "/x" {
		t.Errorf("after a reload: %+v", s)
	}

	writeConfig(t, path, base+"routes:\n  - {prefix: nope, app: demo}\n")
	if _, err := d.Reload(context.Background()); err == nil {
		t.Fatal("a bad config reloaded")
	}
	s2 := snap()
	if s2.Config.Reloads != 2 || !s2.Config.Loaded.Equal(s.Config.Loaded) || !strings.Contains(s2.Config.LastReloadError, "prefix") ||
		s2.Config.LastReloadErrorAt == nil || len(s2.Routes) != 2 {
		t.Errorf("after a refused reload: %+v", s2.Config)
	}
	// A listener's request_id is fixed in its handler: changing it is a
	// listener change, which needs a restart.
	writeConfig(t, path, strings.Replace(base, `address: "127.0.0.1:0"}`, `address: "127.0.0.1:0", request_id: {trust_header: true}}`, 1))
	if _, err := d.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "listeners[0].request_id.trust_header changed, which needs a restart") {
		t.Errorf("reload with another request_id: %v", err)
	}
}

// TestRequestIDFromNginx runs docs/recipes/nginx-request-id.conf in front
// of a listener that trusts X-Request-Id: nginx's $request_id becomes the
// id (in the app's environment, the access log and the response header),
// and a client's own X-Request-Id does not.
func TestRequestIDFromNginx(t *testing.T) {
	peertest.Need(t, "nginx", "/usr/sbin/nginx")
	sock := filepath.Join(peertest.Dir(t), "gatewayd.sock")
	path := filepath.Join(t.TempDir(), "gatewayd.yaml")
	writeConfig(t, path, fmt.Sprintf(`
listeners:
  - {protocol: fastcgi, address: "unix:%s", socket_mode: "0666", request_id: {trust_header: true, response_header: true}}
routes:
  - {prefix: /, app: demo}
metrics: {address: ""}
`, sock))
	core, logs := observer.New(zapcore.InfoLevel)
	d := newDaemon(t, path, Options{Log: zap.New(core)})
	d.Start()
	defer d.Shutdown(context.Background())
	listen := peertest.FreeAddr(t)
	peertest.Nginx(t, peertest.Recipe(t, "nginx-request-id.conf", map[string]string{"LISTEN": listen, "GATEWAYD": "unix:" + sock}), listen)

	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for _, own := range []string{"chosen-by-the-client", ""} {
		req, _ := http.NewRequest("GET", "http://"+listen+"/x", nil)
		if own != "" {
			req.Header.Set("X-Request-Id", own)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		if resp.StatusCode != 200 || !hex32.MatchString(id) || seen[id] {
			t.Errorf("client id %q: %d, X-Request-Id %q", own, resp.StatusCode, id)
		}
		seen[id] = true
		if !strings.Contains(string(b), "\nHTTP_X_REQUEST_ID="+id+"\n") || strings.Contains(string(b), "chosen-by-the-client") {
			t.Errorf("client id %q: the app's environment:\n%s", own, b)
		}
	}
	for _, e := range logs.FilterMessage("request").All() {
		delete(seen, e.ContextMap()["request_id"].(string))
	}
	if len(seen) != 0 {
		t.Errorf("not in the access log: %v", seen)
	}
}

// TestDocsStatusConfig: the config shown in docs/status.md loads and means
// what the page says.
func TestDocsStatusConfig(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(peertest.ModuleRoot(), "docs", "status.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "```yaml\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("docs/status.md has no ```yaml block")
	}
	cfg, err := config.Parse(block)
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Listeners[0]; !l.RequestID.TrustHeader || !l.RequestID.ResponseHeader || cfg.Log.SlowRequest != 2*time.Second {
		t.Errorf("docs/status.md's config: %+v, log %+v", l, cfg.Log)
	}
}
