//go:build linux

package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestShutdownStopsRunningScripts: a CGI script still running when SIGTERM
// arrives is stopped within shutdown_timeout, gatewayd exits 0 and no
// process of the script is left.
func TestShutdownStopsRunningScripts(t *testing.T) {
	dir := peertest.Dir(t)
	pidFile := filepath.Join(dir, "pid")
	script := peertest.WriteFile(t, dir, "slow.sh", "#!/bin/sh\necho $$ > "+pidFile+"\n"+
		"sleep 300 &\nwait\n")
	os.Chmod(script, 0o755)
	d := startDaemon(t, "  - {prefix: /slow, app: cgi, script: "+script+", allow_root: true, kill_grace: 500ms}\n",
		"shutdown_timeout: 1s\n")
	go func() {
		c := &http.Client{Timeout: 20 * time.Second}
		if resp, err := c.Get("http://" + d.addr + "/slow"); err == nil {
			resp.Body.Close()
		}
	}()
	var pid int
	peertest.WaitReady(t, d.p, "the script to start", func() error {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return err
		}
		pid, err = strconv.Atoi(string(bytes.TrimSpace(b)))
		return err
	})
	start := time.Now()
	if err := d.p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.p.Wait(10 * time.Second); err != nil {
		t.Fatalf("exit: %v\n%s", err, d.p.Output())
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("shutdown took %v with shutdown_timeout 1s and kill_grace 500ms", took)
	}
	// A person reads what happened, not "context deadline exceeded".
	if out := d.p.Output(); !strings.Contains(out, `"msg":"1 request cut short after shutdown_timeout 1s"`) ||
		strings.Contains(out, "context deadline exceeded") || strings.Contains(out, "abort Handler") {
		t.Errorf("the shutdown's account:\n%s", out)
	}
	// The script led its own process group; neither it nor its sleep child
	// may be left running. (A killed orphan can linger as a zombie when the
	// machine's init does not reap, as in containers: that is not running.)
	if live := liveInGroup(t, pid); len(live) > 0 {
		t.Errorf("processes of the script's group %d still running: %v", pid, live)
	}
}

// liveInGroup lists the processes of process group pgid that are not zombies.
func liveInGroup(t *testing.T, pgid int) []string {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces: cut at the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) < 3 || fields[0] == "Z" || fields[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(fields[2]); g == pgid {
			live = append(live, string(b[:i+1]))
		}
	}
	return live
}
