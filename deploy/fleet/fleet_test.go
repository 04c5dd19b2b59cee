// Package fleet_test runs the scale-out recipe of docs/deploy.md: three
// gatewayd instances behind nginx (docs/recipes/nginx-fleet.conf), each
// scraped by Prometheus (deploy/prometheus/prometheus.yml with three
// targets). Under a steady load one instance is stopped with SIGTERM: no
// request fails, and Prometheus sees three targets up, then two.
package fleet_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

type instance struct {
	p       *peertest.Process
	sock    string
	metrics string
}

func startInstance(t *testing.T, bin, dir string, i int) instance {
	t.Helper()
	sock := filepath.Join(dir, fmt.Sprintf("gatewayd%d.sock", i))
	metrics := peertest.FreeAddr(t)
	cfg := peertest.WriteFile(t, dir, fmt.Sprintf("gatewayd%d.yaml", i), fmt.Sprintf(`
listeners:
  - {protocol: fastcgi, address: "unix:%s"}
routes:
  - {prefix: /, app: demo}
log: {level: info, access: false}
metrics: {address: %q}
shutdown_timeout: 10s
`, sock, metrics))
	p := peertest.Start(t, exec.Command(bin, "serve", "--config", cfg))
	peertest.WaitReady(t, p, fmt.Sprintf("gatewayd %d", i), peertest.HTTPGet("http://"+metrics+"/readyz"))
	return instance{p: p, sock: sock, metrics: metrics}
}

func TestStopOneOfThreeUnderLoad(t *testing.T) {
	bin := peertest.Gatewayd(t)
	dir := peertest.Dir(t)
	var fleet []instance
	for i := 1; i <= 3; i++ {
		fleet = append(fleet, startInstance(t, bin, dir, i))
	}
	listen := peertest.FreeAddr(t)
	_, nginxDir := peertest.Nginx(t, peertest.Recipe(t, "nginx-fleet.conf", map[string]string{
		"GATEWAYD1": "unix:" + fleet[0].sock, "GATEWAYD2": "unix:" + fleet[1].sock,
		"GATEWAYD3": "unix:" + fleet[2].sock, "LISTEN": listen,
	}), listen)
	_, prom := peertest.PrometheusTargets(t, fleet[0].metrics, fleet[1].metrics, fleet[2].metrics)

	peertest.WaitQuery(t, prom, `sum(up{job="gatewayd"})`, func(r map[string]float64) bool {
		v, ok := peertest.Single(r)
		return ok && v == 3
	})

	// A steady load: four clients, each at most 3000 requests or 60 s.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 3000; n++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+listen+"/fleet", nil)
				resp, err := client.Do(req)
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || demo.Parse(string(body))["PATH_INFO"] != "/fleet" {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %q", resp.StatusCode, body))
				}
			}
		}()
	}
	waitSent := func(n int64) {
		peertest.WaitReady(t, nil, fmt.Sprintf("%d requests", n), func() error {
			if sent.Load() < n {
				return fmt.Errorf("%d sent", sent.Load())
			}
			return nil
		})
	}
	waitSent(300)
	if err := fleet[1].p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := fleet[1].p.Wait(20 * time.Second); err != nil {
		t.Errorf("instance 2 did not stop cleanly: %v", err)
	}
	stoppedAt := sent.Load()
	waitSent(stoppedAt + 600) // the load goes on with two instances
	close(stop)
	wg.Wait()

	if f := failed.Load(); f > 0 {
		t.Errorf("%d of %d requests failed while one instance stopped; first: %v\nnginx:\n%s",
			f, sent.Load(), firstErr.Load(), peertest.NginxErrorLog(nginxDir))
	}
	t.Logf("%d requests, %d after the stop, %d failed", sent.Load(), sent.Load()-stoppedAt, failed.Load())

	// Prometheus: the stopped one is down, the other two up.
	peertest.WaitQuery(t, prom, `up{job="gatewayd"}`, func(r map[string]float64) bool {
		up, down := 0, 0
		for _, v := range r {
			if v == 1 {
				up++
			} else {
				down++
			}
		}
		return len(r) == 3 && up == 2 && down == 1
	})
	r, _ := peertest.PromQuery(prom, `up{job="gatewayd",instance="`+fleet[1].metrics+`"}`)
	if v, ok := peertest.Single(r); !ok || v != 0 {
		t.Errorf("the stopped instance's up: %v", r)
	}
}
