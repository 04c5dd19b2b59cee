package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

func deployFile(name string) string {
	return filepath.Join(peertest.ModuleRoot(), "deploy", "prometheus", name)
}

// serveMetrics serves m.Handler on a loopback port until the test ends.
func serveMetrics(t *testing.T, m *Metrics) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: m.Handler("/metrics", nil), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return l.Addr().String()
}

// exercise makes every series of m exist, so that a scrape shows all names.
func exercise(m *Metrics) {
	h := &handler.Handler{App: testApp(nil), Observer: m.Observer("main")}
	for _, p := range []string{"/api/x", "/nowhere", "/cgi-bin/boom", "/cgi-bin/cut"} {
		h.Serve(context.Background(), &handler.Request{Env: env("GET", p, ""), Protocol: "fastcgi"}, io.Discard)
	}
	l := m.Listener("main", "fastcgi")
	l.ConnOpened()
	l.ConnClosed(3)
	l.Refused("FCGI_OVERLOADED")
	l.Aborted()
	c := m.CGI("/cgi-bin")
	c.QueueWait(time.Millisecond)
	c.ScriptStarted("hello.cgi")
	c.StderrLine("hello.cgi")
	c.ScriptEnded("hello.cgi", "error", time.Second)
	c.ScriptTimedOut("hello.cgi")
	c.ScriptKilled("hello.cgi")
	c.Rejected("queue_full")
	u := m.Upstream("/php")
	u.Pool(1, 2)
	u.QueueWait(time.Millisecond)
	u.Rejected("queue_full")
	u.Retried()
	u.Health("unix:/run/php.sock", 8, true)
	u.Request("ok", time.Millisecond)
	u.Request("connect", time.Millisecond)
	m.ConfigLoaded(time.Now())
	m.ConfigReloaded(time.Now(), nil)
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b
}

func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := peertest.Need(t, "promtool")
	_, m := newTest(t)
	exercise(m)
	addr := serveMetrics(t, m)
	code, page := get(t, "http://"+addr+"/metrics")
	if code != 200 {
		t.Fatalf("scrape: %d", code)
	}
	for _, name := range []string{"gatewayd_requests_total", "gatewayd_cgi_scripts_running", "go_goroutines", "process_cpu_seconds_total"} {
		if !bytes.Contains(page, []byte("\n"+name)) {
			t.Errorf("scrape lacks %s", name)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(page)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	// The check can fail: a badly named metric is reported.
	reg := prometheus.NewRegistry()
	bad := prometheus.NewCounter(prometheus.CounterOpts{Name: "gatewayd_bad_counter", Help: "x"})
	reg.MustRegister(bad)
	var buf bytes.Buffer
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		fmt.Fprintf(&buf, "# HELP %s %s\n# TYPE %s counter\n%s 0\n", mf.GetName(), mf.GetHelp(), mf.GetName(), mf.GetName())
	}
	cmd = exec.Command(promtool, "check", "metrics")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("promtool accepted a counter without _total: %s", out)
	}
}

func TestPromtoolAlertRules(t *testing.T) {
	promtool := peertest.Need(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", deployFile("alerts.yml")},
		{"check", "config", deployFile("prometheus.yml")},
		{"test", "rules", deployFile("alerts_test.yml")},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = deployFile("")
		if out, err := cmd.CombinedOutput(); err != nil || !bytes.Contains(out, []byte("SUCCESS")) {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// metricNames returns every metric name m exposes: families, and for
// histograms the _bucket, _sum and _count series.
func metricNames(t *testing.T, g prometheus.Gatherer) map[string]bool {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		n := mf.GetName()
		names[n] = true
		if mf.GetType().String() == "HISTOGRAM" || mf.GetType().String() == "SUMMARY" {
			names[n+"_sum"], names[n+"_count"] = true, true
			if mf.GetType().String() == "HISTOGRAM" {
				names[n+"_bucket"] = true
			}
		}
	}
	return names
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.*), *\w+\)$`)

var nameRE = regexp.MustCompile(`\b(?:gatewayd|go|process)_[a-z0-9_]+\b`)

// dashboardExprs returns every PromQL query in the Grafana dashboard.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(deployFile("grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Errorf("dashboard without title or uid")
	}
	var exprs []string
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if v.Definition != "" {
			exprs = append(exprs, v.Definition)
		}
	}
	if len(exprs) < 20 {
		t.Errorf("only %d queries in the dashboard", len(exprs))
	}
	return exprs
}

func TestDashboardAndAlertsUseExistingMetrics(t *testing.T) {
	reg, m := newTest(t)
	exercise(m)
	names := metricNames(t, reg)

	used := map[string][]string{}
	for _, e := range dashboardExprs(t) {
		for _, n := range nameRE.FindAllString(e, -1) {
			used[n] = append(used[n], "dashboard")
		}
	}
	alerts, err := os.ReadFile(deployFile("alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nameRE.FindAllString(string(alerts), -1) {
		used[n] = append(used[n], "alerts.yml")
	}
	if len(used) < 20 {
		t.Errorf("only %d metric names used: %v", len(used), used)
	}
	for n, where := range used {
		if !names[n] {
			t.Errorf("%v use %s, which gatewayd does not expose", slices.Compact(where), n)
		}
	}
	// Every gatewayd family shows up on the dashboard.
	for n := range names {
		if strings.HasPrefix(n, "gatewayd_") && !strings.HasSuffix(n, "_sum") && !strings.HasSuffix(n, "_count") && !strings.HasSuffix(n, "_bucket") {
			if _, ok := used[n]; !ok {
				if _, ok := used[n+"_bucket"]; !ok {
					if _, ok := used[n+"_sum"]; !ok {
						t.Errorf("%s is on no dashboard panel", n)
					}
				}
			}
		}
	}
}

// TestRealPrometheusScrapes runs Debian's Prometheus with the deploy scrape
// config and alert rules pointed at an in-process metrics handler, and reads
// back through its HTTP API that the target is up and the request counter
// grows with traffic.
func TestRealPrometheusScrapes(t *testing.T) {
	reg, m := newTest(t)
	exercise(m)
	target := serveMetrics(t, m)
	_, base := peertest.Prometheus(t, target)

	peertest.WaitQuery(t, base, `up{job="gatewayd"}`, func(r map[string]float64) bool {
		v, ok := peertest.Single(r)
		return ok && v == 1
	})
	const q = `sum(gatewayd_requests_total{job="gatewayd",route="/api",code="2xx"})`
	before := peertest.WaitQuery(t, base, q, func(r map[string]float64) bool {
		v, ok := peertest.Single(r)
		return ok && v >= 1
	})
	v0, _ := peertest.Single(before)

	h := &handler.Handler{App: testApp(nil), Observer: m.Observer("main")}
	const n = 25
	for i := 0; i < n; i++ {
		if _, res := gwtest.Run(t, h, "fastcgi", env("POST", "/api/x", "abc"), "abc"); res.Status != 200 {
			t.Fatalf("request %d: %+v", i, res)
		}
	}
	local := localAPIRequests(t, reg)
	peertest.WaitQuery(t, base, q, func(r map[string]float64) bool {
		v, ok := peertest.Single(r)
		return ok && v == v0+n && v == local
	})

	// Prometheus loaded the alert rules, and every dashboard query is PromQL
	// it accepts.
	code, body := get(t, base+"/api/v1/rules")
	if code != 200 || !bytes.Contains(body, []byte(`"name":"GatewaydDown"`)) {
		t.Errorf("rules: %d %.300s", code, body)
	}
	for _, e := range dashboardExprs(t) {
		// Grafana's label_values(metric, label) asks Prometheus for metric.
		e = labelValuesRE.ReplaceAllString(e, "$1")
		e = strings.NewReplacer("$instance", ".*", "$__rate_interval", "1m").Replace(e)
		if _, err := peertest.PromQuery(base, e); err != nil {
			t.Errorf("dashboard query: %v", err)
		}
	}
	if _, err := peertest.PromQuery(base, `sum(rate(gatewayd_requests_total[`); err == nil {
		t.Error("a broken query was accepted: the check above proves nothing")
	}
}

// localAPIRequests is the local value of the counter the Prometheus test
// queries.
func localAPIRequests(t *testing.T, g prometheus.Gatherer) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "gatewayd_requests_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			lv := map[string]string{}
			for _, lp := range mt.GetLabel() {
				lv[lp.GetName()] = lp.GetValue()
			}
			if lv["route"] == "/api" && lv["code"] == "2xx" {
				sum += mt.GetCounter().GetValue()
			}
		}
	}
	return sum
}
