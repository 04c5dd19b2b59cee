// Package peertest starts the real peers that integration tests drive (nginx,
// Apache httpd, php-fpm, cgi-fcgi, Prometheus, the gatewayd binary itself) on
// loopback or unix sockets, waits until they are ready, and stops them when
// the test ends.
//
// A test that needs a peer calls [Need]. When the peer is missing the test
// fails if GATEWAYD_REQUIRE_PEERS=1 or CI=true is set (as .ci/run does), and
// is skipped otherwise, so that a developer without nginx can still run the
// rest.
package peertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Required reports whether missing peers fail tests instead of skipping them.
func Required() bool {
	return os.Getenv("GATEWAYD_REQUIRE_PEERS") == "1" || os.Getenv("CI") == "true"
}

// Need returns the path of the first of the named programs found on PATH or
// as an absolute path. If none is there the test fails when peers are
// required and is skipped otherwise.
func Need(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if filepath.IsAbs(n) {
			if st, err := os.Stat(n); err == nil && !st.IsDir() {
				return n
			}
			continue
		}
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if Required() {
		t.Fatalf("peer %v not installed; .ci/run installs it (GATEWAYD_REQUIRE_PEERS=1)", names)
	}
	t.Skipf("peer %v not installed; skipping (set GATEWAYD_REQUIRE_PEERS=1 to fail instead)", names)
	return ""
}

// Dir returns a new temporary directory that every user can enter and read,
// for peers whose workers drop root (Apache, php-fpm): t.TempDir makes 0700
// directories.
func Dir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	for p := d; p != os.TempDir() && p != "/" && p != "."; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatalf("chmod %s: %v", p, err)
		}
		if filepath.Dir(p) == os.TempDir() {
			break
		}
	}
	return d
}

// FreeAddr returns a loopback address with a port nobody listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Process is a peer started by Start.
type Process struct {
	Cmd  *exec.Cmd
	Name string
	out  *syncBuffer
	done chan struct{}
	err  error
}

// Output returns what the process wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to end, at most d, and returns its error.
func (p *Process) Wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		return fmt.Errorf("%s still running after %v", p.Name, d)
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Stop sends SIGTERM, waits up to 10 s, then kills the process group.
func (p *Process) Stop() error {
	if p.Exited() {
		return p.err
	}
	_ = p.Cmd.Process.Signal(terminate)
	select {
	case <-p.done:
		return p.err
	case <-time.After(10 * time.Second):
		killGroup(p.Cmd)
		<-p.done
		return errors.New(p.Name + " did not stop on SIGTERM")
	}
}

// Start runs cmd in its own process group and stops it when the test ends.
// Its output is kept and printed if the test fails.
func Start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, Name: filepath.Base(cmd.Path), out: &syncBuffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.out
	}
	newGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if err := p.Stop(); err != nil && !p.Exited() {
			t.Errorf("stopping %s: %v", p.Name, err)
		}
		// Whatever the peer left in its group (workers) goes too.
		killGroup(cmd)
		if t.Failed() {
			t.Logf("%s output:\n%s", p.Name, p.Output())
		}
	})
	return p
}

// WaitReady polls ready every 10 ms until it returns nil, the process exits,
// or 20 s pass; the test fails in the last two cases.
func WaitReady(t testing.TB, p *Process, what string, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = ready(); err == nil {
			return
		}
		if p != nil && p.Exited() {
			t.Fatalf("%s exited before %s was ready: %v\n%s", p.Name, what, p.err, p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := ""
	if p != nil {
		out = p.Output()
	}
	t.Fatalf("%s not ready after 20s: %v\n%s", what, err, out)
}

// Dial is a readiness check: the address ("host:port" or "unix:/path")
// accepts a connection.
func Dial(addr string) func() error {
	return func() error {
		network, a := "tcp", addr
		if strings.HasPrefix(addr, "unix:") {
			network, a = "unix", strings.TrimPrefix(addr, "unix:")
		}
		c, err := net.DialTimeout(network, a, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// HTTPGet is a readiness check: GET url answers with any status.
func HTTPGet(url string) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
}

// Gatewayd returns the path of a gatewayd binary built once per test
// process, alone in its directory.
func Gatewayd(t testing.TB) string {
	t.Helper()
	return build(t, &gatewaydBin, "gatewayd")
}

// GatewaydCGI returns the path of the lean CGI program, cmd/gatewayd-cgi,
// built once per test process.
func GatewaydCGI(t testing.TB) string {
	t.Helper()
	return build(t, &gatewaydCGIBin, "gatewayd-cgi")
}

// binary is a command of the module, built on first use.
type binary struct {
	once sync.Once
	path string
	err  error
}

// The test process's builds: shared by its tests, made once.
var gatewaydBin, gatewaydCGIBin binary

func build(t testing.TB, b *binary, name string) string {
	t.Helper()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", name+"-bin-")
		if err != nil {
			b.err = err
			return
		}
		_ = os.Chmod(dir, 0o755)
		b.path = filepath.Join(dir, name)
		// Static, as deploy/ ships it: the same binary then runs on this
		// host and in GatewaydImage's FROM scratch image.
		cmd := exec.Command("go", "build", "-trimpath", "-o", b.path, "./cmd/"+name)
		cmd.Dir = ModuleRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// ModuleRoot is the directory of go.mod.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// WriteFile writes content to dir/name with mode 0644 and returns the path.
func WriteFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
