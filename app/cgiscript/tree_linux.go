package cgiscript

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	ossignal "os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// How a script's process tree is held on Linux.
//
// A process group is not enough: a grandchild that calls setsid, or
// double-forks, leaves it and is re-parented to init, out of reach. So:
//
//   - gatewayd becomes a child subreaper (PR_SET_CHILD_SUBREAPER): orphans of
//     its scripts are re-parented to gatewayd, not to init, and gatewayd
//     reaps them once they die;
//   - where a cgroup v2 hierarchy is writable for gatewayd (root, or a
//     systemd unit with Delegate=yes), every script starts in a cgroup of
//     its own (CLONE_INTO_CGROUP: there is no moment when it runs outside
//     it) and its whole tree, setsid or not, is killed with cgroup.kill;
//   - elsewhere every script starts a session of its own, and the tree is
//     the script's descendants and the orphans adopted from it that are
//     still in its session or process group, with theirs; an orphan that
//     started yet another session before it was adopted cannot be told
//     apart, and is killed when the Runner shuts down.
//
// Reaping never races os/exec: a re-parented zombie is only reaped when no
// pidfd in this process refers to it, and Go's os.Process holds a pidfd for
// every child it started until its Wait has reaped it. Where pidfds do not
// work (Linux before 5.4) gatewayd does not become a subreaper.

// treeWait bounds how long the end of a script waits for its killed tree to
// be gone before it carries on (a process stuck in the kernel cannot be
// waited for).
const treeWait = 2 * time.Second

// containment is a Runner's view of the process: whether it reaps orphans,
// and where scripts' cgroups are made.
type containment struct {
	log        *zap.Logger
	reaper     bool   // the process is a child subreaper and gatewayd reaps orphans
	cgroupBase string // the cgroup v2 directory scripts' cgroups are made in; "" for none
	sweepMu    sync.Mutex

	mu     sync.Mutex
	direct map[int]struct{} // the running scripts: os/exec reaps them
	sigs   chan os.Signal   // SIGCHLD: a child, perhaps an adopted orphan, died
	done   chan struct{}    // closed when the reaping goroutine returns
	closer sync.Once
}

func newContainment(useCgroup bool, log *zap.Logger) *containment {
	c := &containment{log: log, direct: map[int]struct{}{}}
	if fd, err := unix.PidfdOpen(os.Getpid(), 0); err == nil {
		_ = unix.Close(fd)
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err == nil {
			c.reaper = true
			// Orphans die at any time, also outside any request (those
			// of a library user's own commands too): reap them as they do.
			c.sigs, c.done = make(chan os.Signal, 1), make(chan struct{})
			ossignal.Notify(c.sigs, unix.SIGCHLD)
			go c.reap()
		} else {
			log.Warn("cannot become a child subreaper; orphans of scripts go to init", zap.Error(err))
		}
	}
	if useCgroup {
		base, err := probeCgroup()
		if err != nil {
			log.Info("no writable cgroup v2: a script's tree is its session and process group", zap.Error(err))
		} else {
			c.cgroupBase = base
		}
	}
	return c
}

// reap sweeps whenever a child died, until close stops it.
func (c *containment) reap() {
	defer close(c.done)
	for range c.sigs {
		c.sweepIf(true)
	}
}

// close stops the reaping goroutine.
func (c *containment) close() {
	if c.sigs == nil {
		return
	}
	c.closer.Do(func() {
		ossignal.Stop(c.sigs)
		close(c.sigs)
		<-c.done
	})
}

// mode names how trees are held, for the log and the docs.
func (c *containment) mode() string {
	if c.cgroupBase != "" {
		return "cgroup"
	}
	return "session"
}

// probeCgroup finds the cgroup v2 directory of this process and checks that
// a cgroup with cgroup.kill (Linux 5.14) can be made in it.
func probeCgroup() (string, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	var rel string
	found := false
	for line := range strings.SplitSeq(string(self), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			rel, found = p, true
		}
	}
	if !found {
		return "", errors.New("not in a cgroup v2 hierarchy")
	}
	mnt, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	base := filepath.Join(mnt, rel)
	dir, err := os.MkdirTemp(base, "gatewayd-probe-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(dir)
	if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err != nil {
		return "", fmt.Errorf("cgroup.kill: %w", err)
	}
	return base, nil
}

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted.
func cgroup2Mount() (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		// "36 35 0:31 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw"
		pre, post, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		f := strings.Fields(pre)
		if len(f) >= 5 && f[3] == "/" {
			return f[4], nil
		}
	}
	return "", errors.New("no cgroup2 mount")
}

// tree is one script and everything it starts.
type tree struct {
	c    *containment
	pid  int    // the script: leader of its session and process group
	cg   string // the script's cgroup; "" when trees are sessions
	cgfd int    // the cgroup, open for CLONE_INTO_CGROUP until the script started
	// pinned are pidfds of the processes killed when the script ended,
	// waited for in release.
	pinned []int
}

// newTree prepares the tree for a script about to start.
func (c *containment) newTree() *tree {
	t := c.sessionOnly()
	if c.cgroupBase == "" {
		return t
	}
	dir, err := os.MkdirTemp(c.cgroupBase, "gatewayd-cgi-*")
	if err == nil {
		var fd int
		if fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
			t.cg, t.cgfd = dir, fd
			return t
		}
		_ = os.Remove(dir)
	}
	c.log.Warn("cannot make a cgroup for a script; its tree is its session", zap.Error(err))
	return t
}

// sessionOnly is a tree held by its session, for a script that could not
// start in a cgroup.
func (c *containment) sessionOnly() *tree { return &tree{c: c, cgfd: -1} }

// cgroupFailed logs that a script ran without its cgroup.
func (c *containment) cgroupFailed(err error) {
	c.log.Warn("a script could not start in a cgroup of its own; its tree is its session", zap.Error(err))
}

func (t *tree) inCgroup() bool { return t.cg != "" }

// attr makes the script a session leader, inside its cgroup when it has one.
func (t *tree) attr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setsid: true}
	if t.cgfd >= 0 {
		a.UseCgroupFD, a.CgroupFD = true, t.cgfd
	}
	return a
}

// started records the script's pid; a nil p means it did not start.
func (t *tree) started(p *os.Process) {
	if t.cgfd >= 0 {
		_ = unix.Close(t.cgfd)
		t.cgfd = -1
	}
	if p == nil {
		if t.cg != "" {
			_ = os.Remove(t.cg)
		}
		return
	}
	t.pid = p.Pid
	t.c.mu.Lock()
	t.c.direct[t.pid] = struct{}{}
	t.c.mu.Unlock()
}

// signal sends sig to every process of the tree. The caller guarantees the
// script was not reaped yet, so its pid names its session and group.
func (t *tree) signal(sig syscall.Signal) {
	_ = syscall.Kill(-t.pid, sig)
	if t.cg != "" {
		if sig == syscall.SIGKILL {
			t.cgroupKill()
			return
		}
		for _, pid := range t.cgroupProcs() {
			_ = syscall.Kill(pid, sig)
		}
		return
	}
	for _, pid := range t.sessionTree() {
		_ = syscall.Kill(pid, sig)
	}
}

// kill SIGKILLs what the script left behind. It is called when the script
// has exited but is not reaped yet, and pins the killed processes with
// pidfds so that release can wait for them without mistaking a new
// process with a reused pid for one of them.
func (t *tree) kill() {
	// Listed and pinned first, so that what the group kill below reaches
	// is waited for too.
	var pids []int
	if t.cg != "" {
		pids = t.cgroupProcs()
	} else {
		pids = t.sessionTree()
	}
	for _, pid := range pids {
		if pid == t.pid {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone already
		}
		if t.cg == "" && !alive(pid) {
			_ = unix.Close(fd) // died since it was listed: the sweep reaps it
			continue
		}
		t.pinned = append(t.pinned, fd)
	}
	_ = syscall.Kill(-t.pid, syscall.SIGKILL)
	if t.cg != "" {
		// Also what forked since the list was read.
		t.cgroupKill()
		return
	}
	for _, fd := range t.pinned {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	}
}

// release waits (bounded) for the killed tree to be gone, removes the
// script's cgroup and reaps the orphans gatewayd adopted. The script itself
// was reaped by then.
func (t *tree) release() {
	t.c.mu.Lock()
	delete(t.c.direct, t.pid)
	t.c.mu.Unlock()
	deadline := time.Now().Add(treeWait)
	for _, fd := range t.pinned {
		waitExit(fd, deadline)
		_ = unix.Close(fd)
	}
	t.pinned = nil
	if t.cg != "" {
		if !t.waitEmpty(deadline) {
			t.c.log.Warn("a script's cgroup still has processes after SIGKILL", zap.String("cgroup", t.cg))
		}
		if err := unix.Rmdir(t.cg); err != nil {
			t.c.log.Warn("cannot remove a script's cgroup", zap.String("cgroup", t.cg), zap.Error(err))
		}
	}
	// Reap what was killed now, so that it is gone before the response is
	// complete; other orphans are reaped on SIGCHLD.
	t.c.sweep()
}

func (t *tree) cgroupKill() {
	f, err := os.OpenFile(filepath.Join(t.cg, "cgroup.kill"), os.O_WRONLY, 0)
	if err != nil {
		return
	}
	_, _ = f.WriteString("1")
	_ = f.Close()
}

func (t *tree) cgroupProcs() []int {
	b, err := os.ReadFile(filepath.Join(t.cg, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for f := range strings.FieldsSeq(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitEmpty waits until the cgroup has no live process: cgroup.events
// says "populated 0", and the kernel wakes a poll for POLLPRI when it
// changes.
func (t *tree) waitEmpty(deadline time.Time) bool {
	fd, err := unix.Open(filepath.Join(t.cg, "cgroup.events"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	buf := make([]byte, 256)
	for {
		n, err := unix.Pread(fd, buf, 0)
		if err != nil {
			return false
		}
		if bytes.Contains(buf[:n], []byte("populated 0")) {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}
		if _, err := unix.Poll(pfd, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return false
		}
	}
}

// waitExit waits until the process behind pidfd has exited.
func waitExit(fd int, deadline time.Time) {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(left/time.Millisecond)+1)
		if n > 0 || (err != nil && err != unix.EINTR) {
			return
		}
	}
}
