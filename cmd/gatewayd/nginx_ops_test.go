package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// stream sends GETs to url from n clients until stop closes or 30 s pass,
// and tallies the outcomes.
type stream struct {
	mu       sync.Mutex
	statuses map[int]int
	failures []string // transport errors and truncated bodies
	late200  atomic.Int64
	mark     atomic.Int64 // unix nanos; 200s that started before and ended after it
	wg       sync.WaitGroup
}

func startStream(url func(i int) string, n int, stop <-chan struct{}) *stream {
	s := &stream{statuses: map[int]int{}}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	deadline := time.Now().Add(30 * time.Second)
	for c := 0; c < n; c++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				began := time.Now().UnixNano()
				resp, err := client.Get(url(c*100000 + i))
				if err != nil {
					s.fail(err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					s.fail("body: " + err.Error())
					continue
				}
				if resp.StatusCode == 200 && !strings.HasPrefix(string(body), "Hello world!") {
					s.fail("truncated or foreign body")
				}
				if m := s.mark.Load(); resp.StatusCode == 200 && m != 0 && began < m && time.Now().UnixNano() > m {
					s.late200.Add(1)
				}
				s.mu.Lock()
				s.statuses[resp.StatusCode]++
				s.mu.Unlock()
			}
		}()
	}
	return s
}

func (s *stream) fail(msg string) {
	s.mu.Lock()
	s.failures = append(s.failures, msg)
	s.mu.Unlock()
}

func (s *stream) count(status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statuses[status]
}

// nginxInFront starts gatewayd with a FastCGI listener on a unix socket and
// nginx in front of it with the docs' recipe.
func nginxInFront(t *testing.T, recipe, routes string) (gw *peertest.Process, cfgPath, nginxAddr, nginxDir string) {
	t.Helper()
	bin := peertest.Gatewayd(t)
	dir := peertest.Dir(t)
	sock := filepath.Join(dir, "gatewayd.sock")
	cfgPath = filepath.Join(dir, "gatewayd.yaml")
	writeConfig(t, cfgPath, sock, routes)
	gw = peertest.Start(t, exec.Command(bin, "serve", "--config", cfgPath))
	peertest.WaitReady(t, gw, "gatewayd", peertest.Dial("unix:"+sock))
	nginxAddr = peertest.FreeAddr(t)
	conf := peertest.Recipe(t, recipe, map[string]string{"GATEWAYD": "unix:" + sock, "LISTEN": nginxAddr})
	_, nginxDir = peertest.Nginx(t, conf, nginxAddr)
	return gw, cfgPath, nginxAddr, nginxDir
}

func writeConfig(t *testing.T, path, sock, routes string) {
	t.Helper()
	text := "listeners:\n  - {protocol: fastcgi, address: \"unix:" + sock + "\", socket_mode: \"0666\"}\n" +
		"routes:\n" + routes + "metrics: {address: \"\"}\nlog: {access: false}\nshutdown_timeout: 10s\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSIGHUPUnderLoadThroughNginx changes a route while requests stream in
// through nginx: not one request fails, and the new route serves afterwards.
func TestSIGHUPUnderLoadThroughNginx(t *testing.T) {
	for _, recipe := range []string{"nginx-fastcgi.conf", "nginx-fastcgi-keepalive.conf"} {
		t.Run(recipe, func(t *testing.T) {
			gw, cfg, addr, ndir := nginxInFront(t, recipe, "  - {prefix: /, app: demo}\n  - {prefix: /v1, app: demo}\n")
			stop := make(chan struct{})
			s := startStream(func(i int) string {
				if i%2 == 0 {
					return "http://" + addr + "/v1/item"
				}
				return "http://" + addr + "/other"
			}, 4, stop)
			peertest.WaitReady(t, nil, "some requests through", func() error {
				if s.count(200) < 50 {
					return errStatus(s.count(200))
				}
				return nil
			})
			sock := strings.TrimSuffix(cfg, "gatewayd.yaml") + "gatewayd.sock"
			writeConfig(t, cfg, sock, "  - {prefix: /, app: demo}\n  - {prefix: /v2, app: demo}\n")
			if err := gw.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			peertest.WaitReady(t, gw, "the reload", func() error {
				resp, err := http.Get("http://" + addr + "/v2/item")
				if err != nil {
					return err
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if demo.Parse(string(b))["SCRIPT_NAME"] != "/v2" {
					return errStatus(resp.StatusCode)
				}
				return nil
			})
			before := s.count(200)
			peertest.WaitReady(t, nil, "more requests after the reload", func() error {
				if s.count(200) < before+50 {
					return errStatus(s.count(200))
				}
				return nil
			})
			close(stop)
			s.wg.Wait()
			t.Logf("statuses %v", s.statuses)
			if len(s.failures) > 0 || len(s.statuses) != 1 {
				t.Errorf("statuses %v, failures %v\nnginx: %s", s.statuses, s.failures, peertest.NginxErrorLog(ndir))
			}
			if !strings.Contains(gw.Output(), `"msg":"reloaded: routes[1].prefix changed"`) {
				t.Errorf("no reload logged:\n%s", gw.Output())
			}
		})
	}
}

// TestSIGTERMUnderLoadThroughNginx stops gatewayd while slow requests stream
// in through nginx: every request gatewayd had accepted completes; the only
// failures are 502s for requests that arrived after it stopped listening,
// which nginx logs as a failed connect.
func TestSIGTERMUnderLoadThroughNginx(t *testing.T) {
	dir := peertest.Dir(t)
	slow := peertest.WriteFile(t, dir, "slow.sh", "#!/bin/sh\nsleep 0.3\nprintf 'Content-Type: text/plain\\n\\nHello world!\\n'\n")
	os.Chmod(slow, 0o755)
	gw, _, addr, ndir := nginxInFront(t, "nginx-fastcgi.conf",
		"  - {prefix: /, app: cgi, script: "+slow+", allow_root: true, max_concurrency: 8}\n")
	stop := make(chan struct{})
	s := startStream(func(int) string { return "http://" + addr + "/slow" }, 6, stop)
	peertest.WaitReady(t, nil, "requests flowing", func() error {
		if s.count(200) < 12 {
			return errStatus(s.count(200))
		}
		return nil
	})
	s.mark.Store(time.Now().UnixNano())
	if err := gw.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := gw.Wait(15 * time.Second); err != nil {
		t.Fatalf("gatewayd exit: %v\n%s", err, gw.Output())
	}
	// Let the stream see the refusals, then stop it.
	peertest.WaitReady(t, nil, "502s after the stop", func() error {
		if s.count(502) < 3 {
			return errStatus(s.count(502))
		}
		return nil
	})
	close(stop)
	s.wg.Wait()

	t.Logf("statuses %v; %d requests in flight at SIGTERM completed", s.statuses, s.late200.Load())
	if len(s.failures) > 0 {
		t.Errorf("requests failed: %v", s.failures)
	}
	for st := range s.statuses {
		if st != 200 && st != 502 {
			t.Errorf("status %d seen: %v", st, s.statuses)
		}
	}
	if s.late200.Load() == 0 {
		t.Errorf("no request in flight at SIGTERM completed; statuses %v", s.statuses)
	}
	// Every 502 must be a refused connection, not a request cut short.
	log := peertest.NginxErrorLog(ndir)
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "[error]") {
			continue
		}
		if !strings.Contains(line, "connect() to unix:") {
			t.Errorf("nginx saw an accepted request fail: %s", line)
		}
	}
}
