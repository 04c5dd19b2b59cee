//go:build unix && !linux

package cgiscript

import (
	"os"
	"syscall"
)

// waitNoReap is not available here: the process is reaped first and its
// group signalled after, which leaves a small window for pid reuse.
func waitNoReap(int) bool { return false }

// sysProcAttr puts the script in a process group of its own, so that a
// signal reaches everything it started.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func signalGroup(p *os.Process, sig signal) error { return syscall.Kill(-p.Pid, sig) }

// killLeftovers kills what is left in the process group of p.
func killLeftovers(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }

// pipeBuffered cannot tell here: the output is read to its end, as long as
// anything holds it open.
func pipeBuffered(*os.File) (int, bool) { return 0, false }
