package cgiscript

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The reaper: gatewayd, as child subreaper, waits for the orphans its
// scripts leave, without ever taking a child that os/exec waits for.

// sweep reaps the zombies among this process's children that nobody else
// will: those no pidfd in the process refers to (os/exec holds one for
// every child it started, until its Wait).
func (c *containment) sweep() { c.sweepIf(false) }

// sweepIf sweeps when a child has exited and not been reaped yet, which
// one system call tells; with skipScript, not when that child is one of
// the runner's scripts (os/exec reaps it, and its end sweeps after).
func (c *containment) sweepIf(skipScript bool) {
	if !c.reaper {
		return
	}
	pid := exitedChild()
	if pid <= 0 {
		return
	}
	if skipScript {
		c.mu.Lock()
		_, mine := c.direct[pid]
		c.mu.Unlock()
		if mine {
			return
		}
	}
	c.sweepMu.Lock()
	defer c.sweepMu.Unlock()
	var zombies []int
	for _, pid := range children() {
		c.mu.Lock()
		_, mine := c.direct[pid]
		c.mu.Unlock()
		if mine {
			continue // os/exec reaps a script; no need to look for its pidfd
		}
		if st, ok := readStat(pid); ok && st.state == 'Z' {
			zombies = append(zombies, pid)
		}
	}
	if len(zombies) == 0 {
		return
	}
	owned := pidfdTargets()
	for _, pid := range zombies {
		if owned[pid] {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		var info unix.Siginfo
		_ = unix.Waitid(unix.P_PIDFD, fd, &info, unix.WEXITED|unix.WNOHANG, nil)
		_ = unix.Close(fd)
	}
}

// shutdown kills the orphans gatewayd adopted that no cgroup holds: in
// session mode, what left its script's session. Then it reaps them.
func (c *containment) shutdown() {
	if !c.reaper || c.cgroupBase != "" {
		c.sweep()
		return
	}
	owned := pidfdTargets()
	deadline := time.Now().Add(treeWait)
	var pinned []int
	for _, pid := range children() {
		if owned[pid] {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		pinned = append(pinned, fd)
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	}
	for _, fd := range pinned {
		waitExit(fd, deadline)
		_ = unix.Close(fd)
	}
	c.sweep()
}

// exitedChild returns the pid of a child that has exited and is not reaped
// yet, without reaping it; 0 when there is none.
func exitedChild() int {
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
		return 0
	}
	// si_pid opens the union after the preamble of three ints, padded to
	// pointer alignment (the kernel's __ARCH_SI_PREAMBLE_SIZE).
	off := uintptr(12)
	if unsafe.Sizeof(uintptr(0)) == 8 {
		off = 16
	}
	return int(*(*int32)(unsafe.Add(unsafe.Pointer(&info), off)))
}

// children lists this process's children, from every thread's list: an
// orphan is re-parented to any thread of its subreaper.
func children() []int {
	pids, err := taskChildren("self", nil)
	if errors.Is(err, os.ErrNotExist) {
		// A kernel without CONFIG_PROC_CHILDREN: look at every process.
		return childrenByScan()
	}
	return pids
}

// taskChildren appends the children of process p ("self" or a pid) from
// every one of its threads' lists in /proc. The error is ErrNotExist when
// a list was missing: the kernel keeps none (CONFIG_PROC_CHILDREN), or the
// thread or p is gone; the other threads' lists are read all the same.
func taskChildren(p string, pids []int) ([]int, error) {
	tasks, err := os.ReadDir("/proc/" + p + "/task")
	if err != nil {
		return pids, err
	}
	var missing error
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/" + p + "/task/" + task.Name() + "/children")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				missing = err
			}
			continue
		}
		for f := range strings.FieldsSeq(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids, missing
}

// childrenByScan lists this process's children from every process's stat.
func childrenByScan() []int {
	self := os.Getpid()
	return scanProc(func(_ int, st stat) bool { return st.ppid == self })
}

// pidfdTargets returns the pids that pidfds open in this process refer to.
func pidfdTargets() map[int]bool {
	owned := map[int]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return owned
	}
	for _, e := range fds {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || link != "anon_inode:[pidfd]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "Pid:"); ok {
				if pid, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					owned[pid] = true
				}
			}
		}
	}
	return owned
}
