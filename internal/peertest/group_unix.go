//go:build unix

package peertest

import (
	"os/exec"
	"syscall"
)

var terminate = syscall.SIGTERM

// newGroup puts the peer in a process group of its own, so that killGroup
// also reaches the workers it forks.
func newGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

func killGroup(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
