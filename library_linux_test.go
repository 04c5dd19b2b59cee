//go:build linux

package gatewayd_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestLibraryOpensNoMetricsPort: a program calling gatewayd.Serve with a
// config file that says nothing about metrics listens on its listener and
// on nothing else (no 127.0.0.1:9464 that a second program would collide
// with). Counted from /proc: the child's listening TCP sockets.
func TestLibraryOpensNoMetricsPort(t *testing.T) {
	addr := peertest.FreeAddr(t)
	cfg := peertest.WriteFile(t, t.TempDir(), "g.yaml", "listeners:\n  - {protocol: http, address: \""+addr+"\"}\n")
	self, _ := os.Executable()
	cmd := exec.Command(self)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEWAYD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GATEWAYD_TEST_LIBRARY_CHILD=1", "GATEWAYD_CONFIG="+cfg)
	p := peertest.Start(t, cmd)
	peertest.WaitReady(t, p, "the program", peertest.Dial(addr))
	got := listeningTCP(t, p.Cmd.Process.Pid)
	_, port, _ := strings.Cut(addr, ":")
	if want := []string{port}; !slices.Equal(got, want) {
		t.Errorf("the program listens on TCP ports %v, want only %v\n%s", got, want, p.Output())
	}
	if !strings.Contains(p.Output(), "metrics off") {
		t.Errorf("the start line does not say metrics are off:\n%s", p.Output())
	}
}

// listeningTCP lists the ports (decimal) of the TCP sockets process pid
// listens on.
func listeningTCP(t *testing.T, pid int) []string {
	t.Helper()
	inodes := map[string]bool{}
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []string
	for _, tab := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, tab))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			n, _ := strconv.ParseUint(hexPort, 16, 16)
			ports = append(ports, strconv.FormatUint(n, 10))
		}
	}
	slices.Sort(ports)
	return ports
}
