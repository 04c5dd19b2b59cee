// Package systemd_test checks the units in deploy/systemd: they pass
// systemd-analyze verify, the sample config passes gatewayd check, and
// gatewayd serves on sockets passed the way systemd passes them.
package systemd_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

var units = []string{"gatewayd.service", "gatewayd-fastcgi.socket", "gatewayd-http.socket"}

func TestUnitsVerify(t *testing.T) {
	analyze := peertest.Need(t, "systemd-analyze")
	bin := peertest.Gatewayd(t)
	dir := t.TempDir()
	var paths []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		// verify checks that ExecStart's program exists: point it at the
		// binary just built, as a package would install it.
		text := strings.ReplaceAll(string(b), "/usr/bin/gatewayd", bin)
		paths = append(paths, peertest.WriteFile(t, dir, u, text))
	}
	out, err := exec.Command(analyze, append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestServiceHasTheAgreedShape(t *testing.T) {
	b, err := os.ReadFile("gatewayd.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "User=gatewayd"} {
		if !strings.Contains(string(b), "\n"+line) {
			t.Errorf("gatewayd.service lacks %q", line)
		}
	}
	for name, fd := range map[string]string{"gatewayd-fastcgi.socket": "fastcgi", "gatewayd-http.socket": "http"} {
		b, _ := os.ReadFile(name)
		if !strings.Contains(string(b), "FileDescriptorName="+fd+"\n") {
			t.Errorf("%s does not name its socket %q", name, fd)
		}
	}
}

func TestSampleConfigChecks(t *testing.T) {
	bin := peertest.Gatewayd(t)
	if out, err := exec.Command(bin, "check", "--config", "gatewayd.yaml").CombinedOutput(); err != nil {
		t.Fatalf("gatewayd check gatewayd.yaml: %v\n%s", err, out)
	}
}

// TestSocketActivation starts gatewayd under systemd-socket-activate, which
// passes a listening socket with LISTEN_FDS and LISTEN_FDNAMES exactly as
// systemd does, and shows that gatewayd serves on it.
func TestSocketActivation(t *testing.T) {
	activate := peertest.Need(t, "systemd-socket-activate")
	bin := peertest.Gatewayd(t)
	addr := peertest.FreeAddr(t)
	dir := t.TempDir()
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", `
listeners:
  - name: web
    protocol: http
routes:
  - {prefix: /, app: demo}
metrics: {address: ""}
`)
	cmd := exec.Command(activate, "-l", addr, "--fdname=web", "-E", "GATEWAYD_CONFIG="+cfg, bin, "serve")
	p := peertest.Start(t, cmd)
	peertest.WaitReady(t, p, "systemd-socket-activate", peertest.Dial(addr))

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/activated")
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Output())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	env := demo.Parse(string(body))
	_, port, _ := net.SplitHostPort(addr)
	if env["PATH_INFO"] != "/activated" || env["SERVER_PORT"] != port {
		t.Fatalf("not served by gatewayd on the passed socket: %q", body)
	}
	if !strings.Contains(p.Output(), "over HTTP on "+addr) {
		t.Errorf("log does not show the passed socket:\n%s", p.Output())
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(10 * time.Second); err != nil {
		t.Errorf("exit: %v", err)
	}
}

func TestMissingActivatedSocketIsAnError(t *testing.T) {
	bin := peertest.Gatewayd(t)
	cfg := peertest.WriteFile(t, t.TempDir(), "g.yaml", "listeners:\n  - {name: web, protocol: http}\nmetrics: {address: \"\"}\n")
	out, err := exec.Command(bin, "serve", "--config", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `systemd passed no socket named \"web\"`) {
		t.Errorf("err %v, output %s", err, out)
	}
}
