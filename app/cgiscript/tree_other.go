//go:build !linux

package cgiscript

import (
	"os"
	"syscall"

	"go.uber.org/zap"
)

// Without Linux's subreaper, cgroups and pidfds, a script's tree is its
// process group: a descendant that leaves the group escapes.

type containment struct{}

func newContainment(bool, *zap.Logger) *containment { return &containment{} }

func (c *containment) mode() string { return "process-group" }

func (c *containment) shutdown() {}

func (c *containment) close() {}

type tree struct{ p *os.Process }

func (c *containment) newTree() *tree { return &tree{} }

func (c *containment) sessionOnly() *tree { return &tree{} }

func (c *containment) cgroupFailed(error) {}

func (t *tree) inCgroup() bool { return false }

func (t *tree) attr() *syscall.SysProcAttr { return sysProcAttr() }

func (t *tree) started(p *os.Process) { t.p = p }

func (t *tree) signal(sig signal) { _ = signalGroup(t.p, sig) }

func (t *tree) kill() { killLeftovers(t.p) }

func (t *tree) release() {}
