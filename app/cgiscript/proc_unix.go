//go:build unix

package cgiscript

import (
	"os"
	"syscall"
)

type signal = syscall.Signal

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// exitSignal returns the signal that ended the process, if one did.
func exitSignal(s *os.ProcessState) (int, bool) {
	if ws, ok := s.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return int(ws.Signal()), true
	}
	return 0, false
}
