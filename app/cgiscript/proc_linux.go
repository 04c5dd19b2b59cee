package cgiscript

import (
	"os"

	"golang.org/x/sys/unix"
)

// waitNoReap waits until the process has exited without reaping it, so
// that its pid, and so its process group id, stay reserved. It reports
// whether it could.
func waitNoReap(pid int) bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err == nil
		}
	}
}

// pipeBuffered returns how many bytes wait in a pipe (FIONREAD, which
// Linux spells TIOCINQ).
func pipeBuffered(f *os.File) (int, bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }); err != nil || ierr != nil {
		return 0, false
	}
	return n, true
}
