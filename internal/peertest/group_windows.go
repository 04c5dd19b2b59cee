package peertest

import (
	"os"
	"os/exec"
)

// The peers are Linux programs; on Windows the harness only needs to build.
var terminate = os.Kill

func newGroup(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
