//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// readyTimeout bounds every wait for a peer's socket.
const readyTimeout = 20 * time.Second

// stopGrace is how long a process group has between SIGTERM and SIGKILL.
const stopGrace = 5 * time.Second

// proc is a peer the harness started, in its own process group.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // file holding its stdout and stderr
	done chan struct{}
	err  error
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the whole group, then SIGKILL after stopGrace, and
// SIGKILL again to whatever the group still holds (forked workers).
func (p *proc) stop() {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// tail returns the end of the process's log, for error messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// pinned prefixes argv with taskset so that it runs on cpus; no cpus means
// no pinning.
func pinned(cpus string, argv ...string) []string {
	if cpus == "" {
		return argv
	}
	return append([]string{"taskset", "-c", cpus}, argv...)
}

// start runs argv on the server CPU in a new process group, its output in
// dir/<name>.log, and remembers it so that stopAll ends it.
func (h *harness) start(name string, env []string, argv ...string) (*proc, error) {
	argv = pinned(h.opt.serverCPU, argv...)
	logPath := filepath.Join(h.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	h.procs = append(h.procs, p)
	return p, nil
}

// stopAll stops every process start started, newest first.
func (h *harness) stopAll() {
	for i := len(h.procs) - 1; i >= 0; i-- {
		h.procs[i].stop()
	}
	h.procs = nil
}

// waitReady dials addr ("host:port" or "unix:/path") every 10 ms until it
// accepts a connection, p exits, ctx ends or readyTimeout passes.
func waitReady(ctx context.Context, p *proc, addr string) error {
	network, a := "tcp", addr
	if s, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, a = "unix", s
	}
	deadline := time.Now().Add(readyTimeout)
	var err error
	for time.Now().Before(deadline) {
		var c net.Conn
		if c, err = net.DialTimeout(network, a, time.Second); err == nil {
			return c.Close()
		}
		if p.exited() {
			return fmt.Errorf("%s exited before %s was ready: %v\n%s", p.name, addr, p.err, p.tail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s: %s not ready after %v: %w\n%s", p.name, addr, readyTimeout, err, p.tail())
}

// startReady is start followed by waitReady on addr.
func (h *harness) startReady(ctx context.Context, name, addr string, env []string, argv ...string) (*proc, error) {
	p, err := h.start(name, env, argv...)
	if err != nil {
		return nil, err
	}
	return p, waitReady(ctx, p, addr)
}

// freePort returns a loopback address nobody listens on now.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// runBounded runs argv (in its own process group, killed whole when ctx
// ends or limit passes) and returns its stdout.
func runBounded(ctx context.Context, limit time.Duration, env []string, argv ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			err = errors.Join(err, ctx.Err())
		}
		return out, fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, stderr.String())
	}
	return out, nil
}
