//go:build linux

package main

import (
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestSIGTERMAsSoonAsTheListenerIsUp: a SIGTERM that comes the moment the
// listener accepts connections is a graceful stop — logged, exit 0. Before,
// the signal handler was installed only after the listeners opened and the
// start line was logged, so a stop in between killed gatewayd by the
// default action, with an empty log (TestConsoleLogsOnATerminal: "not JSON
// on a pipe"). The window is narrow, so the stop is tried a bounded number
// of times, each sent as soon as a connect succeeds.
func TestSIGTERMAsSoonAsTheListenerIsUp(t *testing.T) {
	bin := peertest.Gatewayd(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "g.sock")
	cfg := peertest.WriteFile(t, dir, "g.yaml", "listeners:\n  - {protocol: fastcgi, address: \"unix:"+sock+"\"}\n"+
		"metrics: {address: \"\"}\nshutdown_timeout: 2s\n")
	for i := range 8 {
		p := peertest.Start(t, exec.Command(bin, "serve", "--config", cfg))
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, err := net.Dial("unix", sock)
			if err == nil {
				c.Close()
				break
			}
			if p.Exited() || time.Now().After(deadline) {
				t.Fatalf("run %d: gatewayd never listened: %v\n%s", i, err, p.Output())
			}
			if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("run %d: connect: %v", i, err)
			}
		}
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := p.Wait(10 * time.Second); err != nil {
			t.Fatalf("run %d: SIGTERM right after start: %v\n%s", i, err, p.Output())
		}
		if out := p.Output(); !strings.Contains(out, `"msg":"stopped"`) {
			t.Fatalf("run %d: no \"stopped\" in the log:\n%s", i, out)
		}
	}
}
