package cgiscript

import (
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// TestProcScans: the /proc walks the fallbacks use (no subreaper, no
// CONFIG_PROC_CHILDREN) find a session's members and this process's
// children.
func TestProcScans(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 30 & sleep 30 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	leader := cmd.Process.Pid
	// The shell forks its two sleeps when it gets to; only /proc tells.
	var members []int
	gwtest.Eventually(5*time.Second, func() bool {
		members = sessionMembers(leader)
		return len(members) == 2
	})
	if len(members) != 2 || slices.Contains(members, leader) {
		t.Errorf("sessionMembers(%d) = %v, want the two sleeps, not the leader", leader, members)
	}
	if kids := childrenByScan(); !slices.Contains(kids, leader) || slices.ContainsFunc(members, func(p int) bool { return slices.Contains(kids, p) }) {
		t.Errorf("childrenByScan() = %v, want %d and not its children %v", kids, leader, members)
	}
}
