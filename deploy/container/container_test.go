// Package container_test builds the image of deploy/container with podman
// (FROM scratch, no registry) and runs it: it serves the demo over HTTP and
// FastCGI, runs as a non-root uid, has no shell, answers its own
// HEALTHCHECK, and stops on SIGTERM within its grace.
//
// Podman runs as peertest.Podman sets it up; ports are published on
// loopback only.
package container_test

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/deploy/deploytest"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

func TestImage(t *testing.T) {
	p := peertest.NewPodman(t)
	cgifcgi := peertest.Need(t, "cgi-fcgi")
	image := peertest.GatewaydImage(t, p)

	// What the image says about itself.
	for format, want := range map[string]string{
		"{{.Config.User}}":                  "65532:65532",
		"{{.Config.StopSignal}}":            "SIGTERM",
		"{{json .Config.Entrypoint}}":       `["/usr/bin/gatewayd"]`,
		"{{json .Config.Healthcheck.Test}}": `["CMD","/usr/bin/gatewayd","probe","http://127.0.0.1:9464","/healthz"]`,
	} {
		if got := p.Run(t, "image", "inspect", "--format", format, image); got != want {
			t.Errorf("image %s = %s, want %s", format, got, want)
		}
	}
	// FROM scratch: no shell to exec.
	if out, err := p.Cmd("run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "true").CombinedOutput(); err == nil {
		t.Errorf("the image has a shell: %s", out)
	}
	// The config at its documented path passes check.
	if out, err := p.Cmd("run", "--rm", image, "check", "--config", "/etc/gatewayd/gatewayd.yaml").CombinedOutput(); err != nil {
		t.Errorf("gatewayd check in the image: %v\n%s", err, out)
	}

	httpAddr, fcgiAddr, metricsAddr := peertest.FreeAddr(t), peertest.FreeAddr(t), peertest.FreeAddr(t)
	name := peertest.RandomName("gatewayd-test-")
	p.Run(t, "run", "-d", "--name", name,
		"-p", httpAddr+":8080", "-p", fcgiAddr+":9000", "-p", metricsAddr+":9464", image)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := p.Cmd("logs", name).CombinedOutput()
			t.Logf("container log:\n%s", out)
		}
		_ = p.Cmd("rm", "-f", "-t", "0", name).Run()
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

	deploytest.CheckDemo(t, cgifcgi, httpAddr, fcgiAddr, nil)

	// A non-root uid, seen from the host: podman runs it without a user
	// namespace here, so the host's uid is the container's.
	pid := p.Run(t, "inspect", "--format", "{{.State.Pid}}", name)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "\nUid:\t65532\t65532\t65532\t65532\n") {
		t.Errorf("gatewayd runs as:\n%s", status)
	}

	// The HEALTHCHECK, run once (podman schedules it with systemd timers,
	// which this machine lacks).
	if out, err := p.Cmd("healthcheck", "run", name).CombinedOutput(); err != nil {
		t.Errorf("healthcheck: %v %s", err, out)
	}

	// SIGTERM (the STOPSIGNAL) ends it cleanly within the grace: exit 0,
	// not the 137 of the SIGKILL after it.
	p.Run(t, "stop", "-t", "20", name)
	if code := p.Run(t, "inspect", "--format", "{{.State.ExitCode}}", name); code != "0" {
		t.Errorf("exit code after SIGTERM: %s", code)
	}
	logs, _ := p.Cmd("logs", name).CombinedOutput()
	if !strings.Contains(string(logs), `"signal":"terminated"`) || !strings.Contains(string(logs), `"msg":"stopped"`) {
		t.Errorf("no clean stop in the log:\n%s", logs)
	}
}
