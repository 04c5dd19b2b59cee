//go:build unix

package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// scenario is one comparison: it starts its peers, measures each side with
// load or hyperfine and adds its rows to the report.
type scenario struct {
	name  string   // for -only
	title string   // for the progress output
	tools []string // programs it needs on PATH
	run   func(h *harness, ctx context.Context) error
}

func scenarios() []scenario {
	return []scenario{
		{"fastcgi", "nginx → FastCGI: gatewayd vs net/http/fcgi, with and without keep-alive",
			[]string{"nginx", "wrk"}, (*harness).fastcgi},
		{"scgi", "nginx → SCGI: gatewayd vs uWSGI", []string{"nginx", "wrk", "uwsgi"}, (*harness).scgi},
		{"cgi-startup", "one CGI request: gatewayd vs net/http/cgi (hyperfine)", []string{"hyperfine"}, (*harness).cgiStartup},
		{"cgi-scripts", "nginx → FastCGI → hello.sh: gatewayd's cgi app vs fcgiwrap",
			[]string{"nginx", "wrk", "fcgiwrap"}, (*harness).cgiScripts},
		{"php-fpm", "hello.php on php-fpm: HTTP → gatewayd vs nginx", []string{"nginx", "wrk", "php-fpm8.2"}, (*harness).phpFPMScenario},
		{"http", "HTTP front end: gatewayd vs net/http, no nginx", []string{"wrk"}, (*harness).httpScenario},
	}
}

func scenarioNames() []string {
	var n []string
	for _, s := range scenarios() {
		n = append(n, s.name)
	}
	return n
}

// step is one setup of a comparison: where wrk sends its load, and which
// step of the same group it is held against.
type step struct {
	setup, url string
	ref        string // setup of the reference step; "" for none
	target     target
	noCPU      bool // the CPU column would miss part of the work (auto-reaped children)
	conns      int  // wrk connections; 0 means -c
	// sameAs, when set, is the setup of an earlier step of the group whose
	// measurements this row shows again, held against another reference.
	sameAs string
}

// compare measures every step h.opt.rounds times, interleaved (A B A B …),
// so that a change in the machine's load during the run hits every side
// alike, and adds one row per step: the median of the rounds' req/s and
// p99 (one round disturbed by another tenant of the machine does not move
// it), their total errors, and CPU time per request over all rounds.
func (h *harness) compare(ctx context.Context, group string, steps []step) error {
	samples := make([][]sample, len(steps))
	for r := 0; r < h.opt.rounds; r++ {
		for i, s := range steps {
			if s.sameAs != "" {
				continue
			}
			smp, err := h.load(ctx, s.url, r == 0, cmp.Or(s.conns, h.opt.conns))
			if err != nil {
				return fmt.Errorf("%s: %w", s.setup, err)
			}
			fmt.Fprintf(h.out, "   %-50s %7.0f req/s  p99 %6.2fms  errors %d  CPU/req %s µs  other load %.0f%%\n",
				s.setup, smp.res.ReqPerSec, float64(smp.res.P99)/1e6, smp.res.Errors(), smp.cpu, smp.foreign*100)
			samples[i] = append(samples[i], smp)
		}
	}
	for i, s := range steps {
		if s.sameAs != "" {
			for j, o := range steps[:i] {
				if o.setup == s.sameAs {
					samples[i] = samples[j]
				}
			}
		}
		row := combine(samples[i])
		row.Group, row.Setup, row.Ref, row.Target = group, s.setup, s.ref, s.target
		if s.noCPU {
			row.CPU, row.Foreign = cpuSplit{}, -1
		}
		h.report.Load = append(h.report.Load, row)
	}
	return nil
}

// combine folds the rounds of one setup into a row.
func combine(samples []sample) loadRow {
	var row loadRow
	var rates, p99s, p50s []float64
	var cpu cpuSplit
	for _, s := range samples {
		row.Res.Requests += s.res.Requests
		row.Res.Non2xx += s.res.Non2xx
		row.Res.SocketErrors += s.res.SocketErrors
		rates = append(rates, s.res.ReqPerSec)
		p50s = append(p50s, float64(s.res.P50))
		p99s = append(p99s, float64(s.res.P99))
		cpu = cpu.plus(s.cpu, time.Duration(s.res.Requests))
		row.Foreign += s.foreign / float64(len(samples))
	}
	row.Res.ReqPerSec = median(rates)
	row.Res.P50 = time.Duration(median(p50s))
	row.Res.P99 = time.Duration(median(p99s))
	row.Spread = spread(rates)
	if row.Res.Requests > 0 {
		row.CPU = cpu.div(time.Duration(row.Res.Requests))
	}
	return row
}

// median of xs; the mean of the middle two for an even count.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// spread is half the range of xs relative to their mean: how far apart the
// rounds of one setup landed.
func spread(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	lo, hi, sum := xs[0], xs[0], 0.0
	for _, x := range xs {
		lo, hi, sum = min(lo, x), max(hi, x), sum+x
	}
	if sum == 0 {
		return 0
	}
	return (hi - lo) / 2 / (sum / float64(len(xs)))
}

func (h *harness) sock(name string) string { return "unix:" + filepath.Join(h.dir, name+".sock") }

func (h *harness) fastcgi(ctx context.Context) error {
	gw, std, proxied := h.sock("gatewayd-fastcgi"), h.sock("nethttp-fcgi"), h.sock("nethttp")
	for mode, addr := range map[string]string{"gatewayd-fastcgi": gw, "nethttp-fcgi": std, "nethttp": proxied} {
		if err := h.hello(ctx, mode, addr); err != nil {
			return err
		}
	}
	sw := h.sock("servewith-fastcgi")
	mem, err := h.serveWith(ctx, "fastcgi", sw)
	if err != nil {
		return err
	}
	defer mem()
	// gatewayd's HTTP listener behind the same proxy as net/http: issue 12's
	// "behind nginx with keep-alive" pair.
	swHTTP := h.sock("servewith-http-proxied")
	memHTTP, err := h.serveWithAs(ctx, "http", "gatewayd.ServeWith, http behind nginx", swHTTP)
	if err != nil {
		return err
	}
	defer memHTTP()
	// One nginx per side, each running the docs' recipe unchanged.
	urls := map[string]string{}
	for _, side := range []struct{ key, recipe, upstream string }{
		{"ka-std", "nginx-fastcgi-keepalive.conf", std},
		{"ka-gw", "nginx-fastcgi-keepalive.conf", gw},
		{"nk-std", "nginx-fastcgi.conf", std},
		{"nk-gw", "nginx-fastcgi.conf", gw},
		{"ka-sw", "nginx-fastcgi-keepalive.conf", sw},
		{"nk-sw", "nginx-fastcgi.conf", sw},
	} {
		u, err := h.nginxRecipe(ctx, "nginx-"+side.key, side.recipe, side.upstream)
		if err != nil {
			return err
		}
		urls[side.key] = u
	}
	static, err := h.nginxServer(ctx, "nginx-static", `    location / { default_type text/plain; return 200 "Hello world!\n"; }`, "")
	if err != nil {
		return err
	}
	// The proxy's pool is the FastCGI recipe's size: the same connections
	// kept on both sides.
	keep, err := recipeKeepalive("nginx-fastcgi-keepalive.conf")
	if err != nil {
		return err
	}
	proxies := map[string]string{}
	for name, upstream := range map[string]string{"nginx-proxy": proxied, "nginx-proxy-gw": swHTTP} {
		u, err := h.nginxServer(ctx, name, `    location / {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://hello;
    }`, fmt.Sprintf("upstream hello {\n    server %s;\n    keepalive %d;\n}\n", upstream, keep))
		if err != nil {
			return err
		}
		proxies[name] = u
	}
	proxy := proxies["nginx-proxy"]
	// The targets are those of issue 12, on the path users run.
	fcgiTarget := target{MinRate: 2.5, MaxP99: 1}
	if err := h.compare(ctx, "nginx alone", []step{
		{setup: "nginx `return 200` (ceiling)", url: static + "/hello"},
	}); err != nil {
		return err
	}
	if err := h.compareBoth(ctx, "FastCGI, keep-alive", []step{
		{setup: "nginx → net/http/fcgi", url: urls["ka-std"]},
		{setup: "nginx → gatewayd front end (bare)", url: urls["ka-gw"], ref: "nginx → net/http/fcgi"},
		{setup: "nginx → gatewayd.ServeWith (metrics on)", url: urls["ka-sw"], ref: "nginx → net/http/fcgi", target: fcgiTarget},
		{setup: "nginx → net/http (proxy_pass, keep-alive)", url: proxy + "/hello"},
		{setup: "same ServeWith rounds, against the proxy", sameAs: "nginx → gatewayd.ServeWith (metrics on)",
			ref: "nginx → net/http (proxy_pass, keep-alive)", target: target{MinRate: 1.2, MaxP99: 1}},
		{setup: "nginx → gatewayd.ServeWith (HTTP, proxy_pass)", url: proxies["nginx-proxy-gw"] + "/hello",
			ref: "nginx → net/http (proxy_pass, keep-alive)", target: target{MinRate: 0.9}},
	}); err != nil {
		return err
	}
	return h.compareBoth(ctx, "FastCGI, no keep-alive", []step{
		{setup: "nginx → net/http/fcgi", url: urls["nk-std"]},
		{setup: "nginx → gatewayd front end (bare)", url: urls["nk-gw"], ref: "nginx → net/http/fcgi"},
		{setup: "nginx → gatewayd.ServeWith (metrics on)", url: urls["nk-sw"], ref: "nginx → net/http/fcgi", target: fcgiTarget},
	})
}

func (h *harness) scgi(ctx context.Context) error {
	www, err := h.www()
	if err != nil {
		return err
	}
	gw, uw, sw := h.sock("gatewayd-scgi"), h.sock("uwsgi-scgi"), h.sock("servewith-scgi")
	if err := h.hello(ctx, "gatewayd-scgi", gw); err != nil {
		return err
	}
	mem, err := h.serveWith(ctx, "scgi", sw)
	if err != nil {
		return err
	}
	defer mem()
	// uWSGI: single-threaded worker processes under a master, the WSGI
	// file answering hello.Body; request logging off like everyone else's.
	if _, err := h.startReady(ctx, "uwsgi", uw, nil, peertest.UWSGISCGIArgs(
		strings.TrimPrefix(uw, "unix:"), filepath.Join(www, "hello.py"), h.opt.uwsgi)...); err != nil {
		return err
	}
	stdURL, err := h.nginxRecipe(ctx, "nginx-uwsgi", "nginx-scgi.conf", uw)
	if err != nil {
		return err
	}
	gwURL, err := h.nginxRecipe(ctx, "nginx-gatewayd", "nginx-scgi.conf", gw)
	if err != nil {
		return err
	}
	swURL, err := h.nginxRecipe(ctx, "nginx-servewith", "nginx-scgi.conf", sw)
	if err != nil {
		return err
	}
	base := "nginx → uWSGI (python3, 1 process)"
	if h.opt.uwsgi > 1 {
		base = fmt.Sprintf("nginx → uWSGI (python3, %d processes)", h.opt.uwsgi)
	}
	return h.compareBoth(ctx, "SCGI", []step{
		{setup: base, url: stdURL},
		{setup: "nginx → gatewayd front end (bare)", url: gwURL, ref: base},
		{setup: "nginx → gatewayd.ServeWith (metrics on)", url: swURL, ref: base, target: target{MinRate: 1.2}},
	})
}

func (h *harness) cgiStartup(ctx context.Context) error {
	conf, err := writeFile(h.dir, "cgi.yaml", "routes:\n  - prefix: /\n    app: demo\nlog: {level: warn}\n", 0o644)
	if err != nil {
		return err
	}
	env := []string{
		"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1",
		"SERVER_SOFTWARE=bench", "SERVER_NAME=localhost", "SERVER_PORT=80",
		"SCRIPT_NAME=/hello.cgi", "PATH_INFO=/", "QUERY_STRING=", "REQUEST_URI=/hello.cgi/",
		"REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=40000", "HTTP_HOST=localhost",
		"GATEWAYD_CONFIG=" + conf,
	}
	// The lean gatewayd-cgi is what the Apache and IIS guides run; the full
	// gatewayd binary is timed beside it for what the daemon's packages cost.
	names := []string{"net/http/cgi", "gatewayd-cgi", "gatewayd"}
	cmds := []string{h.bin("hellocgi"), h.bin("gatewayd-cgi"), h.bin("gatewayd")}
	// Each program must answer once before it is timed.
	for _, p := range cmds {
		out, err := runBounded(ctx, 10*time.Second, env, p)
		if err != nil || !strings.Contains(string(out), "Hello world!") || !strings.Contains(string(out), "200") {
			return fmt.Errorf("%s as a CGI program: %v\n%s", p, err, out)
		}
	}
	// hyperfine times one command's runs, then the next's: rounds in
	// rotating order interleave them, as the wrk rows are.
	runs := max(h.opt.runs/h.opt.rounds, 2)
	rounds := make([][]hyperfineResult, len(cmds))
	for r := 0; r < h.opt.rounds; r++ {
		js := filepath.Join(h.dir, fmt.Sprintf("hyperfine-%d.json", r))
		argv := pinned(h.opt.serverCPU, "hyperfine", "-N", "--style", "none", "--output", "pipe",
			"--warmup", strconv.Itoa(max(runs/10, 3)), "--runs", strconv.Itoa(runs), "--export-json", js)
		for k := range cmds {
			argv = append(argv, "-n", names[(k+r)%len(cmds)])
		}
		for k := range cmds {
			argv = append(argv, cmds[(k+r)%len(cmds)])
		}
		if _, err := runBounded(ctx, 5*time.Minute, env, argv...); err != nil {
			return err
		}
		data, err := os.ReadFile(js)
		if err != nil {
			return err
		}
		res, err := parseHyperfine(data)
		if err != nil {
			return err
		}
		if len(res) != len(cmds) {
			return fmt.Errorf("hyperfine: %d results, want %d", len(res), len(cmds))
		}
		for _, x := range res {
			i := slices.Index(names, x.Command)
			if i < 0 {
				return fmt.Errorf("hyperfine: unknown command %q", x.Command)
			}
			rounds[i] = append(rounds[i], x)
		}
	}
	res := make([]hyperfineResult, len(cmds))
	for i := range cmds {
		res[i] = mergeRuns(rounds[i])
		fmt.Fprintf(h.out, "   %-52s median %v, mean %v ± %v (%d runs)\n", res[i].Command, res[i].Median.Round(time.Microsecond),
			res[i].Mean.Round(time.Microsecond), res[i].Stddev.Round(time.Microsecond), res[i].Runs)
	}
	const ref = "Go net/http/cgi hello (`cgi.Serve`)"
	h.report.Start = append(h.report.Start,
		startRow{Setup: ref, Res: res[0]},
		startRow{Setup: "gatewayd-cgi (demo app, YAML config)", Res: res[1], Ref: ref, MaxRatio: 1.3},
		startRow{Setup: "gatewayd in CGI mode (the full binary)", Res: res[2], Ref: ref},
	)
	return nil
}

func (h *harness) cgiScripts(ctx context.Context) error {
	www, err := h.www()
	if err != nil {
		return err
	}
	script := filepath.Join(www, "hello.sh")
	n := strconv.Itoa(h.opt.workers)
	wrapSock, gwSock := h.sock("fcgiwrap"), h.sock("gatewayd-cgi")
	if _, err := h.startReady(ctx, "fcgiwrap", wrapSock, nil,
		peertest.FcgiwrapArgs(strings.TrimPrefix(wrapSock, "unix:"), h.opt.workers)...); err != nil {
		return err
	}
	common, err := gatewaydCommon()
	if err != nil {
		return err
	}
	// queue_size holds every request nginx can send at once (one per wrk
	// connection), as fcgiwrap's listen backlog does: the comparison is of
	// throughput, not of overload answers.
	conf := fmt.Sprintf(`listeners:
  - protocol: fastcgi
    address: %s
routes:
  - prefix: /
    app: cgi
    script: %s
    max_concurrency: %s
    queue_size: %d
    queue_timeout: 30s
    allow_root: true
%s`, gwSock, script, n, max(h.opt.conns*2, 64), common)
	if err := h.gatewayd(ctx, "gatewayd-cgi", conf, gwSock); err != nil {
		return err
	}
	// fcgiwrap runs the file SCRIPT_FILENAME names; otherwise the same
	// server block as docs/recipes/nginx-fastcgi.conf.
	wrapURL, err := h.nginxServer(ctx, "nginx-fcgiwrap", fmt.Sprintf(`    location / {
        include /etc/nginx/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME %s;
        fastcgi_pass %s;
    }`, script, wrapSock), "")
	if err != nil {
		return err
	}
	gwURL, err := h.nginxRecipe(ctx, "nginx-gatewayd", "nginx-fastcgi.conf", gwSock)
	if err != nil {
		return err
	}
	// fcgiwrap lets the kernel reap its scripts (SIGCHLD ignored), so their
	// CPU time is nowhere to be read: no CPU column for this pair.
	base := fmt.Sprintf("nginx → fcgiwrap -c %d", h.opt.workers)
	return h.compare(ctx, "CGI script (hello.sh)", []step{
		{setup: base, url: wrapURL + "/hello", noCPU: true},
		{setup: fmt.Sprintf("nginx → gatewayd cgi app, max_concurrency %d", h.opt.workers), url: gwURL,
			ref: base, target: target{MinRate: 1.2}, noCPU: true},
	})
}

func (h *harness) phpFPMScenario(ctx context.Context) error {
	www, err := h.www()
	if err != nil {
		return err
	}
	// A pool for each side: a php-fpm worker serves one connection until it
	// closes, so one side's idle pooled connections would hold workers that
	// the other side then waits for.
	sockets := map[string]string{}
	for _, name := range []string{"gatewayd", "gofast", "nginx", "nginx-keep"} {
		if sockets[name], err = h.phpFPM(ctx, "php-fpm-"+name, h.opt.workers); err != nil {
			return err
		}
	}
	listens := map[string]string{}
	for _, transport := range []string{"native", "gofast"} {
		pool := map[string]string{"native": "gatewayd", "gofast": "gofast"}[transport]
		common, err := gatewaydCommon() // a metrics port of its own
		if err != nil {
			return err
		}
		if listens[transport], err = freePort(); err != nil {
			return err
		}
		conf := fmt.Sprintf(`listeners:
  - protocol: http
    address: %s
routes:
  - prefix: /
    app: fastcgi
    upstream: unix:%s
    root: %s
    max_conns: %d
    transport: %s
%s`, listens[transport], sockets[pool], www, h.opt.workers, transport, common)
		if err := h.gatewayd(ctx, "gatewayd-php-"+transport, conf, listens[transport]); err != nil {
			return err
		}
	}
	// nginx's usual php-fpm block: one connection per request.
	nginxURL, err := h.nginxServer(ctx, "nginx-php", fmt.Sprintf(`    root %s;
    location ~ \.php$ {
        include /etc/nginx/fastcgi.conf;
        fastcgi_pass unix:%s;
    }`, www, sockets["nginx"]), "")
	if err != nil {
		return err
	}
	// And nginx at its best: connections kept, as many as workers.
	keepURL, err := h.nginxServer(ctx, "nginx-php-keep", fmt.Sprintf(`    root %s;
    location ~ \.php$ {
        include /etc/nginx/fastcgi.conf;
        fastcgi_keep_conn on;
        fastcgi_pass php_keep;
    }`, www), fmt.Sprintf("upstream php_keep {\n    server unix:%s;\n    keepalive %d;\n}\n",
		sockets["nginx-keep"], h.opt.workers))
	if err != nil {
		return err
	}
	base := fmt.Sprintf("nginx → php-fpm (%d workers)", h.opt.workers)
	keep := fmt.Sprintf("nginx → php-fpm, fastcgi_keep_conn, keepalive %d", h.opt.workers)
	native := fmt.Sprintf("gatewayd (HTTP) → php-fpm, max_conns %d, native", h.opt.workers)
	if err := h.compare(ctx, "php-fpm (hello.php)", []step{
		{setup: base, url: nginxURL + "/hello.php"},
		{setup: keep, url: keepURL + "/hello.php"},
		// Against nginx's usual block, issue 10's target. The keep_conn row
		// stays for reference: with keepalive equal to the pool size, the
		// connections nginx opens beyond the kept ones wait in php-fpm's
		// backlog for a worker a kept connection holds, and its p99 runs
		// into seconds on this machine.
		{setup: native, url: "http://" + listens["native"] + "/hello.php", ref: base, target: target{MinRate: 0.9, MaxP99: 2}},
		{setup: fmt.Sprintf("gatewayd (HTTP) → php-fpm, max_conns %d, gofast", h.opt.workers),
			url: "http://" + listens["gofast"] + "/hello.php", ref: base},
	}); err != nil {
		return err
	}
	// With many more clients than connections to php-fpm: the queue for a
	// connection, nginx's listen backlog on the other side.
	return h.compareCrowded(ctx, "php-fpm (hello.php)", []step{
		{setup: base, url: nginxURL + "/hello.php"},
		{setup: native, url: "http://" + listens["native"] + "/hello.php", ref: base, target: target{MinRate: 0.9, MaxP99: 2}},
	})
}

// manyConns is the client count of the scenarios' second, crowded run.
const manyConns = 256

// compareCrowded compares steps again with manyConns wrk connections, as a
// group of its own ("group, 256 connections"): issues 10 and 12 hold their
// targets at 32 and at 256 connections, in the same run. It does nothing
// when -c is already that many.
func (h *harness) compareCrowded(ctx context.Context, group string, steps []step) error {
	if h.opt.conns >= manyConns {
		return nil
	}
	crowded := slices.Clone(steps)
	for i := range crowded {
		crowded[i].conns = manyConns
	}
	return h.compare(ctx, fmt.Sprintf("%s, %d connections", group, manyConns), crowded)
}

// compareBoth is compare, then compareCrowded on the same steps.
func (h *harness) compareBoth(ctx context.Context, group string, steps []step) error {
	if err := h.compare(ctx, group, steps); err != nil {
		return err
	}
	return h.compareCrowded(ctx, group, steps)
}

func (h *harness) httpScenario(ctx context.Context) error {
	gw, err := freePort()
	if err != nil {
		return err
	}
	std, err := freePort()
	if err != nil {
		return err
	}
	if err := h.hello(ctx, "gatewayd-http", gw); err != nil {
		return err
	}
	if err := h.hello(ctx, "nethttp", std); err != nil {
		return err
	}
	sw, err := freePort()
	if err != nil {
		return err
	}
	mem, err := h.serveWith(ctx, "http", sw)
	if err != nil {
		return err
	}
	defer mem()
	return h.compareBoth(ctx, "HTTP, no nginx", []step{
		{setup: "net/http", url: "http://" + std + "/hello"},
		{setup: "gatewayd HTTP front end (bare)", url: "http://" + gw + "/hello", ref: "net/http"},
		{setup: "gatewayd.ServeWith (metrics on)", url: "http://" + sw + "/hello", ref: "net/http", target: target{MinRate: 0.9}},
	})
}
