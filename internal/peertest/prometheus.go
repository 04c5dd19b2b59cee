package peertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Prometheus starts Debian's Prometheus with deploy/prometheus/prometheus.yml
// and alerts.yml, the scrape target replaced by targets (one per gatewayd
// instance, all in the job "gatewayd", as the scrape config's comment asks)
// and the interval cut to 1s, waits for /-/ready and returns its base URL.
func Prometheus(t testing.TB, targets ...string) (*Process, string) {
	t.Helper()
	bin := Need(t, "/usr/bin/prometheus", "prometheus")
	dir := t.TempDir()
	deploy := filepath.Join(ModuleRoot(), "deploy", "prometheus")
	cfg, err := os.ReadFile(filepath.Join(deploy, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(cfg)
	for old, repl := range map[string]string{`"127.0.0.1:9464"`: `"` + strings.Join(targets, `", "`) + `"`, "interval: 15s": "interval: 1s"} {
		if !strings.Contains(s, old) {
			t.Fatalf("deploy/prometheus/prometheus.yml no longer holds %s", old)
		}
		s = strings.ReplaceAll(s, old, repl)
	}
	WriteFile(t, dir, "prometheus.yml", s)
	rules, err := os.ReadFile(filepath.Join(deploy, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(t, dir, "alerts.yml", string(rules))

	web := FreeAddr(t)
	p := Start(t, exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+web,
		"--log.level=warn"))
	base := "http://" + web
	WaitReady(t, p, "prometheus", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/-/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/-/ready: %d", resp.StatusCode)
		}
		return nil
	})
	return p, base
}

// PromQuery runs an instant query against Prometheus at base and returns
// the result vector's samples as label set → value.
func PromQuery(base, q string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", q, r.Error)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %v", q, s.Value)
		}
		out[fmt.Sprint(s.Metric)] = v
	}
	return out, nil
}

// WaitQuery polls q until ok accepts its result or 30 s pass.
func WaitQuery(t testing.TB, base, q string, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last map[string]float64
	var err error
	for time.Now().Before(deadline) {
		last, err = PromQuery(base, q)
		if err == nil && ok(last) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("query %q: last result %v, error %v", q, last, err)
	return nil
}

// Single returns the only sample of a query result.
func Single(r map[string]float64) (float64, bool) {
	if len(r) != 1 {
		return 0, false
	}
	for _, v := range r {
		return v, true
	}
	return 0, false
}
