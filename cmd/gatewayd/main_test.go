package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestServeDemoEndToEnd starts the real binary with a config file, asks the
// demo app for its environment with a real HTTP client, and stops it with
// SIGTERM.
func TestServeDemoEndToEnd(t *testing.T) {
	bin := peertest.Gatewayd(t)
	addr := peertest.FreeAddr(t)
	dir := t.TempDir()
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", `
listeners:
  - protocol: http
    address: `+addr+`
routes:
  - prefix: /app
    app: demo
log: {level: info, format: json}
metrics: {address: ""}
`)
	p := peertest.Start(t, exec.Command(bin, "serve", "--config", cfg))
	peertest.WaitReady(t, p, "gatewayd", peertest.Dial(addr))

	resp, err := http.Get("http://" + addr + "/app/users/7?full=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "Hello world!\n\n") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	env := demo.Parse(string(body))
	_, port, _ := net.SplitHostPort(addr)
	for k, v := range map[string]string{
		"SCRIPT_NAME": "/app", "PATH_INFO": "/users/7", "QUERY_STRING": "full=1",
		"REQUEST_METHOD": "GET", "SERVER_PORT": port, "SERVER_PROTOCOL": "HTTP/1.1",
		"REQUEST_URI": "/app/users/7?full=1", "GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE": "gatewayd/" + config.Version,
	} {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	resp, err = http.Get("http://" + addr + "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unrouted path: %d, want 404", resp.StatusCode)
	}

	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(10 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.Output())
	}
	first, _, _ := strings.Cut(p.Output(), "\n")
	if !strings.Contains(first, "serving demo at /app over HTTP on "+addr) {
		t.Errorf("first log line %q", first)
	}
}

// TestServeWithoutConfig is the README's quick start: no config at all
// serves the demo on 127.0.0.1:8000 and says so first.
func TestServeWithoutConfig(t *testing.T) {
	if c, err := net.Dial("tcp", "127.0.0.1:8000"); err == nil {
		c.Close()
		t.Skip("127.0.0.1:8000 is taken on this machine")
	}
	bin := peertest.Gatewayd(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "GATEWAYD_CONFIG=", "GATEWAYD_METRICS_ADDRESS=")
	p := peertest.Start(t, cmd)
	peertest.WaitReady(t, p, "gatewayd", peertest.HTTPGet("http://127.0.0.1:8000/"))
	resp, err := http.Get("http://127.0.0.1:8000/quick/start")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if demo.Parse(string(body))["PATH_INFO"] != "/quick/start" {
		t.Errorf("body %q", body)
	}
	first, _, _ := strings.Cut(p.Output(), "\n")
	if !strings.Contains(first, "serving demo at / over HTTP on 127.0.0.1:8000 (no config file: defaults)") {
		t.Errorf("first log line %q", first)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := peertest.WriteFile(t, dir, "good.yaml", "listeners:\n  - {protocol: fastcgi, address: unix:/run/g.sock}\n")
	bad := peertest.WriteFile(t, dir, "bad.yaml", "listeners:\n  - protocol: http\n    address: 127.0.0.1:1\n    bogus_key: 1\n")
	var out, errs bytes.Buffer
	if code := run([]string{"check", "--config", good}, &out, &errs); code != 0 {
		t.Errorf("good config: exit %d, %s", code, errs.String())
	}
	out.Reset()
	errs.Reset()
	if code := run([]string{"check", "--config", bad}, &out, &errs); code != 1 {
		t.Errorf("bad config: exit %d, want 1", code)
	}
	if !strings.Contains(errs.String(), `unknown key "listeners[0].bogus_key"`) {
		t.Errorf("message does not name the key: %q", errs.String())
	}
	t.Setenv("GATEWAYD_CONFIG", bad)
	errs.Reset()
	if code := run([]string{"check"}, &out, &errs); code != 1 {
		t.Errorf("GATEWAYD_CONFIG not used: exit %d", code)
	}
}

// TestCheckBinary runs check through the real binary, as a user would.
func TestCheckBinary(t *testing.T) {
	bin := peertest.Gatewayd(t)
	bad := peertest.WriteFile(t, t.TempDir(), "bad.yaml", "routes:\n  - {prefix: /, app: demo, colour: blue}\n")
	out, err := exec.Command(bin, "check", "--config", bad).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(string(out), `routes[0].colour`) {
		t.Errorf("output %q", out)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"version"}, &out, io.Discard); code != 0 || !strings.HasPrefix(out.String(), "gatewayd "+config.Version+"\n") {
		t.Errorf("exit %d, %q", code, out.String())
	}
}

func TestUnknownSubcommand(t *testing.T) {
	var errs bytes.Buffer
	if code := run([]string{"frobnicate"}, io.Discard, &errs); code != 2 || !strings.Contains(errs.String(), "frobnicate") {
		t.Errorf("exit %d, %q", code, errs.String())
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("log: {level: loud}\n"), 0o644)
	var errs bytes.Buffer
	if code := run([]string{"serve", "--config", bad}, io.Discard, &errs); code != 1 || !strings.Contains(errs.String(), "log.level") {
		t.Errorf("exit %d, %q", code, errs.String())
	}
}
