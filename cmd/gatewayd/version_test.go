package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// A test binary links nothing in, so config.Version is its default: if the
// two drift, a packager's -X could no longer be told from the default.
func TestDevVersionIsConfigDefault(t *testing.T) {
	if config.Version != devVersion {
		t.Fatalf("config.Version %q, devVersion %q", config.Version, devVersion)
	}
}

func TestBuildVersion(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}}
	for _, c := range []struct {
		name, main, linked, want string
		ok                       bool
	}{
		{"tag", "v1.4.0", devVersion, "v1.4.0", true},
		{"pseudo-version", "v0.0.0-20261201100000-0123456789ab+dirty", devVersion, "v0.0.0-20261201100000-0123456789ab+dirty", true},
		{"no VCS", "(devel)", devVersion, devVersion, true},
		{"no build info", "", devVersion, devVersion, false},
		{"packager's -ldflags win", "v1.4.0", "1.4.0-1", "1.4.0-1", true},
	} {
		info := &debug.BuildInfo{Main: debug.Module{Version: c.main}, Settings: vcs}
		if got := buildVersion(info, c.ok, c.linked); got != c.want {
			t.Errorf("%s: buildVersion = %q, want %q", c.name, got, c.want)
		}
	}
}

// The packager's route: a version given with -ldflags is what --version
// says (main hands it on to config.Version untouched).
func TestVersionFromLdflags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gatewayd")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X github.com/gatewayd/gatewayd/config.Version=9.8.7-test", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "gatewayd 9.8.7-test\n") {
		t.Fatalf("--version: %v %q", err, out)
	}
}

func TestGenMan(t *testing.T) {
	dir := t.TempDir()
	if code := run([]string{"gen", "man", dir}, io.Discard, os.Stderr); code != 0 {
		t.Fatalf("gen man: exit %d", code)
	}
	// The unit's Documentation=man:gatewayd(8) names this page.
	b, err := os.ReadFile(filepath.Join(dir, "gatewayd.8"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	// Markdown in the description must not eat the underscores of names.
	for _, want := range []string{`.TH "GATEWAYD" "8"`, "GATEWAYD_CONFIG", "/etc/gatewayd/gatewayd.yaml", "gatewayd-serve(8)"} {
		if !strings.Contains(page, want) {
			t.Errorf("gatewayd.8 lacks %q:\n%s", want, page)
		}
	}
	for _, sub := range []string{"serve", "check", "cgi", "version"} {
		if _, err := os.Stat(filepath.Join(dir, "gatewayd-"+sub+".8")); err != nil {
			t.Errorf("no page for %s: %v", sub, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "gatewayd-serve.8")); !bytes.Contains(b, []byte("SIGHUP")) {
		t.Errorf("gatewayd-serve(8) does not say what the signals do:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "gatewayd-gen.8")); err == nil {
		t.Error("the hidden gen command got a man page")
	}
	if man, err := exec.LookPath("man"); err == nil {
		// groff's warnings go to stderr; the page itself must have none.
		cmd := exec.Command(man, "--warnings", "-l", filepath.Join(dir, "gatewayd.8"))
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=80")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		text := regexp.MustCompile(".\b").ReplaceAllString(string(out), "") // overstrike bold
		if err != nil || stderr.Len() > 0 || !strings.Contains(text, "GATEWAYD_CONFIG") {
			t.Errorf("man -l gatewayd.8: %v\n%s\n%s", err, stderr.String(), text)
		}
	}
}

// Help text is plain text; the man page must show it as written, not as
// markdown (underscores as emphasis, <KEY> as a tag).
func TestGenManKeepsPlainText(t *testing.T) {
	root := &cobra.Command{Use: "gatewayd", Long: "Set GATEWAYD_<KEY>, e.g. GATEWAYD_LOG_LEVEL=debug; *all* [keys]."}
	root.AddCommand(&cobra.Command{Use: "serve", Run: func(*cobra.Command, []string) {}})
	dir := t.TempDir()
	if err := genMan(root, dir); err != nil {
		t.Fatal(err)
	}
	man := peertest.Need(t, "man")
	cmd := exec.Command(man, "-l", filepath.Join(dir, "gatewayd.8"))
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=200")
	out, err := cmd.Output()
	text := regexp.MustCompile(".\b").ReplaceAllString(string(out), "")
	if err != nil || !strings.Contains(text, "Set GATEWAYD_<KEY>, e.g. GATEWAYD_LOG_LEVEL=debug; *all* [keys].") {
		t.Errorf("man page: %v\n%s", err, text)
	}
}

func TestGenCompletion(t *testing.T) {
	dir := t.TempDir()
	if code := run([]string{"gen", "completion", dir}, io.Discard, os.Stderr); code != 0 {
		t.Fatalf("gen completion: exit %d", code)
	}
	for _, f := range []string{"bash/gatewayd", "zsh/_gatewayd", "fish/gatewayd.fish"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.Contains(b, []byte("gatewayd")) {
			t.Errorf("%s: %v", f, err)
		}
	}
	bash := peertest.Need(t, "bash")
	if out, err := exec.Command(bash, "-n", filepath.Join(dir, "bash", "gatewayd")).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
}

// The VCS route: built from a git clone, the binary says which commit it
// is (a pseudo-version holding the commit's hash, as no tag is at HEAD of
// the clone's own branch; or the tag when one is).
func TestVersionFromVCS(t *testing.T) {
	git := peertest.Need(t, "git")
	head, err := exec.Command(git, "-C", peertest.ModuleRoot(), "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	clone := filepath.Join(t.TempDir(), "src")
	if out, err := exec.Command(git, "clone", "-q", "--no-checkout", peertest.ModuleRoot(), clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	if out, err := exec.Command(git, "-C", clone, "checkout", "-q", strings.TrimSpace(string(head))).CombinedOutput(); err != nil {
		t.Fatalf("git checkout: %v\n%s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "gatewayd")
	// -trimpath and CGO off, as the packages build: the dependencies come
	// from the build cache.
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=true", "-o", bin, "./cmd/gatewayd")
	build.Dir = clone
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	rev := strings.TrimSpace(string(head))[:12]
	pseudo := regexp.MustCompile(`\d{14}-([0-9a-f]{12})`).FindStringSubmatch(string(out))
	if err != nil || !strings.HasPrefix(string(out), "gatewayd v") || (pseudo != nil && pseudo[1] != rev) {
		t.Errorf("--version of a build from commit %s: %v %q", rev, err, out)
	}
	t.Logf("built from git: %s", out)
	if strings.Contains(string(out), devVersion) {
		t.Errorf("--version of a build from git: %q, the unstamped default", out)
	}
}
