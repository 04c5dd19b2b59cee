// Package container_test builds the image of deploy/container with podman
// (FROM scratch, no registry) and runs it: it serves the demo over HTTP and
// FastCGI, runs as a non-root uid, has no shell, answers its own
// HEALTHCHECK, and stops on SIGTERM within its grace.
//
// Podman here: the runc runtime and a containers.conf with no default
// ulimits (raising RLIMIT_NOFILE is not permitted), given to every podman
// command through CONTAINERS_CONF. Ports are published on loopback only.
package container_test

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// Podman runs podman with this machine's settings.
type Podman struct {
	bin, conf string
}

func newPodman(t *testing.T) Podman {
	t.Helper()
	bin := peertest.Need(t, "podman")
	conf := peertest.WriteFile(t, t.TempDir(), "containers.conf",
		"[containers]\ndefault_ulimits = []\n[engine]\nruntime = \"runc\"\n")
	return Podman{bin: bin, conf: conf}
}

func (p Podman) cmd(args ...string) *exec.Cmd {
	c := exec.Command(p.bin, args...)
	c.Env = append(os.Environ(), "CONTAINERS_CONF="+p.conf)
	return c
}

func (p Podman) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := p.cmd(args...).Output()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
	}
	return strings.TrimSpace(string(out))
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func randomName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// buildImage builds the image under a tag of its own from the static
// binaries in GATEWAYD_STATIC_BIN (.ci/run builds them once for the .deb
// too), else from binaries built here, and removes it when the test ends.
func buildImage(t *testing.T, p Podman) string {
	t.Helper()
	bin := os.Getenv("GATEWAYD_STATIC_BIN")
	if bin == "" {
		bin = t.TempDir()
		build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(bin, "gatewayd"), "./cmd/gatewayd")
		build.Dir = peertest.ModuleRoot()
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	tag := randomName("test-")
	image := "localhost/gatewayd:" + tag
	build := exec.Command(filepath.Join(peertest.ModuleRoot(), "deploy", "container", "build"), bin)
	build.Env = append(os.Environ(), "CONTAINERS_CONF="+p.conf, "TAG="+tag, "BUILDER="+p.bin)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("deploy/container/build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = p.cmd("rmi", "-f", image).Run() })
	return image
}

func TestImage(t *testing.T) {
	p := newPodman(t)
	cgifcgi := peertest.Need(t, "cgi-fcgi")
	image := buildImage(t, p)

	// What the image says about itself.
	for format, want := range map[string]string{
		"{{.Config.User}}":                  "65532:65532",
		"{{.Config.StopSignal}}":            "SIGTERM",
		"{{json .Config.Entrypoint}}":       `["/usr/bin/gatewayd"]`,
		"{{json .Config.Healthcheck.Test}}": `["CMD","/usr/bin/gatewayd","healthcheck","http://127.0.0.1:9464/healthz"]`,
	} {
		if got := p.run(t, "image", "inspect", "--format", format, image); got != want {
			t.Errorf("image %s = %s, want %s", format, got, want)
		}
	}
	// FROM scratch: no shell to exec.
	if out, err := p.cmd("run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "true").CombinedOutput(); err == nil {
		t.Errorf("the image has a shell: %s", out)
	}
	// The config at its documented path passes check.
	if out, err := p.cmd("run", "--rm", image, "check", "--config", "/etc/gatewayd/gatewayd.yaml").CombinedOutput(); err != nil {
		t.Errorf("gatewayd check in the image: %v\n%s", err, out)
	}

	httpAddr, fcgiAddr, metricsAddr := peertest.FreeAddr(t), peertest.FreeAddr(t), peertest.FreeAddr(t)
	name := randomName("gatewayd-test-")
	p.run(t, "run", "-d", "--name", name,
		"-p", httpAddr+":8080", "-p", fcgiAddr+":9000", "-p", metricsAddr+":9464", image)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := p.cmd("logs", name).CombinedOutput()
			t.Logf("container log:\n%s", out)
		}
		_ = p.cmd("rm", "-f", "-t", "0", name).Run()
	})
	peertest.WaitReady(t, nil, "the container's /readyz", func() error {
		resp, err := http.Get("http://" + metricsAddr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + httpAddr + "/in-a-container?q=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if env := demo.Parse(string(body)); resp.StatusCode != 200 || env["PATH_INFO"] != "/in-a-container" || env["QUERY_STRING"] != "q=1" {
		t.Errorf("HTTP: %d %q", resp.StatusCode, body)
	}
	fc := exec.Command(cgifcgi, "-bind", "-connect", fcgiAddr)
	fc.Env = []string{"REQUEST_METHOD=GET", "SCRIPT_NAME=", "PATH_INFO=/over-fastcgi", "SERVER_NAME=localhost",
		"SERVER_PORT=80", "SERVER_PROTOCOL=HTTP/1.0", "QUERY_STRING="}
	out, err := fc.Output()
	if err != nil {
		t.Fatalf("cgi-fcgi: %v", err)
	}
	if _, fbody, _ := strings.Cut(string(out), "\r\n\r\n"); demo.Parse(fbody)["PATH_INFO"] != "/over-fastcgi" {
		t.Errorf("FastCGI: %q", out)
	}

	// A non-root uid, seen from the host: podman runs it without a user
	// namespace here, so the host's uid is the container's.
	pid := p.run(t, "inspect", "--format", "{{.State.Pid}}", name)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "\nUid:\t65532\t65532\t65532\t65532\n") {
		t.Errorf("gatewayd runs as:\n%s", status)
	}

	// The HEALTHCHECK, run once (podman schedules it with systemd timers,
	// which this machine lacks).
	if out, err := p.cmd("healthcheck", "run", name).CombinedOutput(); err != nil {
		t.Errorf("healthcheck: %v %s", err, out)
	}

	// SIGTERM (the STOPSIGNAL) ends it cleanly within the grace: exit 0,
	// not the 137 of the SIGKILL after it.
	p.run(t, "stop", "-t", "20", name)
	if code := p.run(t, "inspect", "--format", "{{.State.ExitCode}}", name); code != "0" {
		t.Errorf("exit code after SIGTERM: %s", code)
	}
	logs, _ := p.cmd("logs", name).CombinedOutput()
	if !strings.Contains(string(logs), `"signal":"terminated"`) || !strings.Contains(string(logs), `"msg":"stopped"`) {
		t.Errorf("no clean stop in the log:\n%s", logs)
	}
}
