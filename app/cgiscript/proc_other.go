//go:build !unix

package cgiscript

import (
	"os"
	"syscall"
)

// signal stands in for a Unix signal: without process groups, both end the
// script itself.
type signal int

const (
	sigTerm signal = 15
	sigKill signal = 9
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func signalGroup(p *os.Process, _ signal) error { return p.Kill() }

// killLeftovers does nothing: without process groups there is no telling
// what the script left behind.
func killLeftovers(*os.Process) {}

func exitSignal(*os.ProcessState) (int, bool) { return 0, false }

func waitNoReap(int) bool { return false }

func pipeBuffered(*os.File) (int, bool) { return 0, false }
