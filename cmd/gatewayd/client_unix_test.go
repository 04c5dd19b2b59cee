//go:build unix

package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// permissionDenied: a unix socket the user may not write to is "cannot
// connect", exit 2.
func permissionDenied(t *testing.T, dir string) {
	l, err := net.Listen("unix", filepath.Join(dir, "private.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Chmod(l.Addr().String(), 0o600); err != nil {
		t.Fatal(err)
	}
	target := "fastcgi://" + l.Addr().String()
	if os.Geteuid() != 0 {
		if err := os.Chmod(l.Addr().String(), 0); err != nil {
			t.Fatal(err)
		}
		want(t, 2, []string{"permission denied"}, "probe", target)
		return
	}
	// Root passes every permission check: run the binary as nobody,
	// which may enter the directory but not write to the socket.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(peertest.Gatewayd(t), "probe", target)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "permission denied") {
		t.Fatalf("probe as nobody: %v, %q", err, out)
	}
}
