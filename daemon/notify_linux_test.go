package daemon

import (
	"net"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestNotifyPayloads runs the daemon with NOTIFY_SOCKET pointing at a
// unixgram socket, as systemd does for Type=notify, and holds every
// datagram to its exact bytes through start, SIGHUP and SIGTERM. The reload
// notification once read "MONOTONIC_USEC=MONOTONIC_USEC=…".
func TestNotifyPayloads(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "")
	path := filepath.Join(dir, "g.yaml")
	writeConfig(t, path, "listeners:\n  - {protocol: http, address: \"127.0.0.1:0\"}\nmetrics: {address: \"\"}\n")
	d := newDaemon(t, path, Options{Log: zap.NewNop()})
	done := make(chan error, 1)
	go func() { done <- d.Run() }()

	next := func() string {
		t.Helper()
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
	if got := next(); got != "READY=1" {
		t.Fatalf("start: %q, want READY=1", got)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if got := next(); !regexp.MustCompile(`\ARELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*\z`).MatchString(got) {
		t.Errorf("reload: %q, want RELOADING=1\\nMONOTONIC_USEC=<microseconds>", got)
	}
	if got := next(); got != "READY=1" {
		t.Errorf("after reload: %q, want READY=1", got)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "STOPPING=1" {
		t.Errorf("stop: %q, want STOPPING=1", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after SIGTERM")
	}
}
