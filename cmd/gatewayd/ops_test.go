package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// daemonUnderTest is a gatewayd binary serving a config file.
type daemonUnderTest struct {
	p       *peertest.Process
	cfg     string
	addr    string
	metrics string
}

func startDaemon(t *testing.T, routes string, extra string) *daemonUnderTest {
	t.Helper()
	bin := peertest.Gatewayd(t)
	d := &daemonUnderTest{addr: peertest.FreeAddr(t), metrics: peertest.FreeAddr(t)}
	d.cfg = filepath.Join(t.TempDir(), "gatewayd.yaml")
	d.write(t, routes, extra)
	d.p = peertest.Start(t, exec.Command(bin, "serve", "--config", d.cfg))
	peertest.WaitReady(t, d.p, "gatewayd", peertest.HTTPGet("http://"+d.metrics+"/readyz"))
	return d
}

func (d *daemonUnderTest) write(t *testing.T, routes, extra string) {
	t.Helper()
	text := "listeners:\n  - {protocol: http, address: \"" + d.addr + "\"}\nroutes:\n" + routes +
		"metrics: {address: \"" + d.metrics + "\"}\nlog: {level: info}\n" + extra
	if err := os.WriteFile(d.cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricValue returns the value of the exposition line that starts with
// series, or -1.
func metricValue(t *testing.T, scrape, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(scrape, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return -1
}

func TestMetricsOfTheRunningDaemon(t *testing.T) {
	d := startDaemon(t, "  - {prefix: /, app: demo}\n", "")
	for i := 0; i < 5; i++ {
		if code, _ := httpGet(t, "http://"+d.addr+"/x"); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	if code, body := httpGet(t, "http://"+d.metrics+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, _ := httpGet(t, "http://"+d.metrics+"/readyz"); code != 200 {
		t.Errorf("/readyz: %d", code)
	}
	_, scrape := httpGet(t, "http://"+d.metrics+"/metrics")
	series := `gatewayd_requests_total{app="demo",code="2xx",listener="http",protocol="http",route="/"}`
	if v := metricValue(t, scrape, series); v != 5 {
		t.Errorf("%s = %v, want 5\n%s", series, v, scrape)
	}
	for _, name := range []string{"gatewayd_build_info", "go_goroutines", "process_open_fds", "gatewayd_config_last_reload_successful"} {
		if !strings.Contains(scrape, "\n"+name) {
			t.Errorf("scrape lacks %s", name)
		}
	}

	promtool := peertest.Need(t, "promtool")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics on a live scrape: %v\n%s", err, out)
	}

	// A real Prometheus scrapes the daemon and sees the counter grow.
	_, base := peertest.Prometheus(t, d.metrics)
	peertest.WaitQuery(t, base, `up{job="gatewayd"}`, func(r map[string]float64) bool {
		v, ok := peertest.Single(r)
		return ok && v == 1
	})
	const q = `sum(gatewayd_requests_total{job="gatewayd",protocol="http"})`
	before := peertest.WaitQuery(t, base, q, func(r map[string]float64) bool {
		v, ok := peertest.Single(r)
		return ok && v >= 5
	})
	v0, _ := peertest.Single(before)
	for i := 0; i < 7; i++ {
		httpGet(t, "http://"+d.addr+"/more")
	}
	peertest.WaitQuery(t, base, q, func(r map[string]float64) bool {
		v, ok := peertest.Single(r)
		return ok && v == v0+7
	})
}

func TestReloadChangesRoutesAndRefusesBadConfig(t *testing.T) {
	d := startDaemon(t, "  - {prefix: /old, app: demo}\n", "")
	if code, _ := httpGet(t, "http://"+d.addr+"/old/x"); code != 200 {
		t.Fatalf("before reload: %d", code)
	}
	d.write(t, "  - {prefix: /new, app: demo}\n", "")
	if err := d.p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	peertest.WaitReady(t, d.p, "the new route", func() error {
		if code, _ := httpGet(t, "http://"+d.addr+"/new/x"); code != 200 {
			return errStatus(code)
		}
		return nil
	})
	if code, _ := httpGet(t, "http://"+d.addr+"/old/x"); code != 404 {
		t.Errorf("old route after reload: %d, want 404", code)
	}
	_, scrape := httpGet(t, "http://"+d.metrics+"/metrics")
	if v := metricValue(t, scrape, `gatewayd_config_reloads_total{result="success"}`); v != 1 {
		t.Errorf("successful reloads = %v\n%s", v, scrape)
	}

	// A bad config is refused, counted, and the running one stays.
	if err := os.WriteFile(d.cfg, []byte("routes:\n  - {prefix: /, app: nope}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.p.Signal(syscall.SIGHUP)
	peertest.WaitReady(t, d.p, "the failed reload to be counted", func() error {
		_, scrape := httpGet(t, "http://"+d.metrics+"/metrics")
		if metricValue(t, scrape, `gatewayd_config_reloads_total{result="failure"}`) != 1 {
			return errStatus(0)
		}
		if metricValue(t, scrape, "gatewayd_config_last_reload_successful") != 0 {
			return errStatus(1)
		}
		return nil
	})
	if code, _ := httpGet(t, "http://"+d.addr+"/new/x"); code != 200 {
		t.Errorf("after a refused reload the old config must serve: %d", code)
	}
	if !strings.Contains(d.p.Output(), `reload refused; the running config stays`) || !strings.Contains(d.p.Output(), `routes[0].app`) {
		t.Errorf("refusal not logged with the bad key:\n%s", d.p.Output())
	}
}

type errStatus int

func (e errStatus) Error() string { return "status " + strconv.Itoa(int(e)) }
