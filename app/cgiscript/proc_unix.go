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

// sysProcAttr puts the script in a process group of its own, so that a
// signal reaches everything it started.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func signalGroup(p *os.Process, sig signal) error { return syscall.Kill(-p.Pid, sig) }

// killLeftovers kills what is left in the process group of p.
func killLeftovers(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }

// exitSignal returns the signal that ended the process, if one did.
func exitSignal(s *os.ProcessState) (int, bool) {
	if ws, ok := s.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return int(ws.Signal()), true
	}
	return 0, false
}
