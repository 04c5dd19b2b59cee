package cgiscript

import "golang.org/x/sys/unix"

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
