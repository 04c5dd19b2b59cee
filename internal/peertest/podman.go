package peertest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Podman runs podman with the settings this kind of machine needs: the runc
// runtime (crun fails on the cgroup setup) and no default ulimits (raising
// RLIMIT_NOFILE is not permitted), from a containers.conf of its own named
// by CONTAINERS_CONF.
type Podman struct {
	Bin  string
	Conf string
}

// NewPodman finds podman (see [Need]) and writes its containers.conf.
func NewPodman(t testing.TB) Podman {
	t.Helper()
	bin := Need(t, "podman")
	conf := WriteFile(t, t.TempDir(), "containers.conf",
		"[containers]\ndefault_ulimits = []\n[engine]\nruntime = \"runc\"\n")
	return Podman{Bin: bin, Conf: conf}
}

// Env is the environment every podman and buildah command gets.
func (p Podman) Env() []string { return append(os.Environ(), "CONTAINERS_CONF="+p.Conf) }

// Cmd is a podman command.
func (p Podman) Cmd(args ...string) *exec.Cmd {
	c := exec.Command(p.Bin, args...)
	c.Env = p.Env()
	return c
}

// Run runs a podman command and returns its trimmed output; it fails the
// test with podman's stderr if the command fails.
func (p Podman) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := p.Cmd(args...).Output()
	if err != nil {
		var stderr []byte
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// RandomName is prefix and eight random hex digits, for tags and container
// names that parallel runs do not share.
func RandomName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// GatewaydImage builds deploy/container's image under a tag of its own from
// the static binaries in GATEWAYD_TEST_STATIC_BIN (.ci/run builds them once),
// else from Gatewayd's (static) binary, and removes it when the test ends.
// It returns the image's name.
func GatewaydImage(t testing.TB, p Podman) string {
	t.Helper()
	bin := os.Getenv("GATEWAYD_TEST_STATIC_BIN")
	if bin == "" {
		bin = filepath.Dir(Gatewayd(t))
	}
	tag := RandomName("test-")
	image := "localhost/gatewayd:" + tag
	build := exec.Command(filepath.Join(ModuleRoot(), "deploy", "container", "build"), bin)
	build.Env = append(p.Env(), "TAG="+tag, "BUILDER="+p.Bin)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("deploy/container/build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = p.Cmd("rmi", "-f", image).Run() })
	return image
}
