// Package fleet_test runs the scale-out recipes of docs/deploy.md: three
// gatewayd instances behind nginx, over FastCGI (docs/recipes/nginx-fleet.conf)
// and over HTTP (nginx-fleet-http.conf), each scraped by Prometheus
// (deploy/prometheus/prometheus.yml with three targets). Under a steady
// load one instance is stopped with SIGTERM: no request fails, and
// Prometheus sees three targets up, then two.
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
	addr    string // as nginx's upstream names it
	metrics string
}

// startInstance starts gatewayd number i with one listener of protocol:
// FastCGI on a unix socket, or HTTP on loopback. addr is what nginx's
// upstream names.
func startInstance(t *testing.T, bin, dir, protocol string, i int) instance {
	t.Helper()
	sock := "unix:" + filepath.Join(dir, fmt.Sprintf("gatewayd%d.sock", i))
	if protocol == "http" {
		sock = peertest.FreeAddr(t)
	}
	metrics := peertest.FreeAddr(t)
	cfg := peertest.WriteFile(t, dir, fmt.Sprintf("gatewayd%d.yaml", i), fmt.Sprintf(`
listeners:
  - {protocol: %s, address: %q}
routes:
  - {prefix: /, app: demo}
log: {level: info, access: false}
metrics: {address: %q}
shutdown_timeout: 10s
`, protocol, sock, metrics))
	p := peertest.Start(t, exec.Command(bin, "serve", "--config", cfg))
	peertest.WaitReady(t, p, fmt.Sprintf("gatewayd %d", i), peertest.HTTPGet("http://"+metrics+"/readyz"))
	return instance{p: p, addr: sock, metrics: metrics}
}

func TestStopOneOfThreeUnderLoad(t *testing.T) {
	for _, c := range []struct{ protocol, recipe string }{
		{"fastcgi", "nginx-fleet.conf"},
		{"http", "nginx-fleet-http.conf"},
	} {
		t.Run(c.protocol, func(t *testing.T) { stopOneOfThree(t, c.protocol, c.recipe) })
	}
}

func stopOneOfThree(t *testing.T, protocol, recipe string) {
	bin := peertest.Gatewayd(t)
	dir := peertest.Dir(t)
	var fleet []instance
	for i := 1; i <= 3; i++ {
		fleet = append(fleet, startInstance(t, bin, dir, protocol, i))
	}
	listen := peertest.FreeAddr(t)
	_, nginxDir := peertest.Nginx(t, peertest.Recipe(t, recipe, map[string]string{
		"GATEWAYD1": fleet[0].addr, "GATEWAYD2": fleet[1].addr,
		"GATEWAYD3": fleet[2].addr, "LISTEN": listen,
	}), listen)
	_, prom := peertest.Prometheus(t, fleet[0].metrics, fleet[1].metrics, fleet[2].metrics)

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
