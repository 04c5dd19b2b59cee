// Package deb_test builds the Debian package with deploy/deb/build (or
// takes the one named by GATEWAYD_TEST_DEB, as .ci/run builds it once), installs
// it with dpkg, checks what it installed, serves the demo with the
// installed binary and config, and removes and purges it.
//
// Installing needs root: the test fails without it when peers are required
// (CI), and is skipped otherwise. It refuses to run where a gatewayd
// package is installed already, so it never removes a real installation.
package deb_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/deploy/deploytest"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

var units = []string{"gatewayd.service", "gatewayd-fastcgi.socket", "gatewayd-http.socket"}

// buildDeb returns the path of the package under test.
func buildDeb(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GATEWAYD_TEST_DEB"); p != "" {
		return p
	}
	peertest.Need(t, "dpkg-deb")
	out, err := exec.Command(filepath.Join(peertest.ModuleRoot(), "deploy", "deb", "build"), t.TempDir()).Output()
	if err != nil {
		t.Fatalf("deploy/deb/build: %v\n%s", err, stderrOf(err))
	}
	return strings.TrimSpace(string(out))
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if peertest.Required() {
		t.Fatal("installing the .deb needs root (CI runs as root)")
	}
	t.Skip("installing the .deb needs root; skipping")
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The package's file list, minus directories every system has.
func contents(t *testing.T, deb string) []string {
	t.Helper()
	var files []string
	out := sh(t, "dpkg-deb", "-c", deb)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		path := strings.TrimPrefix(f[len(f)-1], ".")
		if !strings.HasSuffix(path, "/") {
			files = append(files, path)
		}
	}
	return files
}

func TestPackageContents(t *testing.T) {
	deb := buildDeb(t)
	files := contents(t, deb)
	have := map[string]bool{}
	for _, f := range files {
		have[f] = true
	}
	for _, want := range []string{"/usr/bin/gatewayd", "/etc/gatewayd/gatewayd.yaml",
		"/usr/lib/systemd/system/gatewayd.service", "/usr/lib/systemd/system/gatewayd-fastcgi.socket",
		"/usr/lib/systemd/system/gatewayd-http.socket", "/usr/lib/sysusers.d/gatewayd.conf",
		"/usr/share/man/man8/gatewayd.8.gz",
		"/usr/share/man/man8/gatewayd-serve.8.gz", "/usr/share/bash-completion/completions/gatewayd",
		"/usr/share/zsh/vendor-completions/_gatewayd", "/usr/share/fish/vendor_completions.d/gatewayd.fish",
		"/usr/share/doc/gatewayd/deploy.md"} {
		if !have[want] {
			t.Errorf("the package lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(peertest.ModuleRoot(), "deploy", "systemd", "gatewayd.tmpfiles.conf")); err == nil && !have["/usr/lib/tmpfiles.d/gatewayd.conf"] {
		t.Error("deploy/systemd has a tmpfiles entry but the package lacks /usr/lib/tmpfiles.d/gatewayd.conf")
	}
	if _, err := os.Stat(filepath.Join(peertest.ModuleRoot(), "cmd", "gatewayd-cgi")); err == nil && !have["/usr/bin/gatewayd-cgi"] {
		t.Error("cmd/gatewayd-cgi exists but the package lacks /usr/bin/gatewayd-cgi")
	}
	if got := sh(t, "dpkg-deb", "-f", deb, "Package"); strings.TrimSpace(got) != "gatewayd" {
		t.Errorf("Package: %q", got)
	}
	info := sh(t, "dpkg-deb", "-I", deb, "conffiles")
	if strings.TrimSpace(info) != "/etc/gatewayd/gatewayd.yaml" {
		t.Errorf("conffiles: %q", info)
	}
}

func TestInstallServeRemovePurge(t *testing.T) {
	needRoot(t)
	dpkg := peertest.Need(t, "dpkg")
	analyze := peertest.Need(t, "systemd-analyze")
	activate := peertest.Need(t, "systemd-socket-activate")
	cgifcgi := peertest.Need(t, "cgi-fcgi")
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "gatewayd").Output(); err == nil && strings.TrimSpace(string(out)) != "" && !strings.HasPrefix(string(out), "un") {
		t.Fatalf("a gatewayd package is installed here already (%s); not touching it", out)
	}
	deb := buildDeb(t)
	files := contents(t, deb)
	t.Cleanup(func() { _ = exec.Command(dpkg, "--purge", "gatewayd").Run() })
	sh(t, dpkg, "-i", deb)

	for _, f := range files {
		if _, err := os.Lstat(f); err != nil {
			t.Errorf("installed: %v", err)
		}
	}
	// The user sysusers made, and /run/gatewayd (where the FastCGI socket
	// lives) made at install time so that the web server's user can enter
	// it — whatever the group model, www-data must get there.
	sh(t, "getent", "passwd", "gatewayd")
	if out, err := exec.Command("setpriv", "--reuid=www-data", "--regid=www-data", "--init-groups",
		"test", "-x", "/run/gatewayd").CombinedOutput(); err != nil {
		t.Errorf("www-data cannot enter /run/gatewayd: %v %s", err, out)
	}

	// With no flags: the man page the unit names must exist, and the user
	// and binaries too.
	var paths []string
	for _, u := range units {
		paths = append(paths, "/usr/lib/systemd/system/"+u)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, paths...)...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile("/usr/lib/systemd/system/gatewayd.service"); !strings.Contains(string(b), "man:gatewayd(8)") {
		t.Error("gatewayd.service names no man page (Documentation=man:gatewayd(8))")
	}
	sh(t, "/usr/bin/gatewayd", "check", "--config", "/etc/gatewayd/gatewayd.yaml")
	if v := sh(t, "/usr/bin/gatewayd", "--version"); !strings.HasPrefix(v, "gatewayd ") {
		t.Errorf("--version: %q", v)
	}

	// The installed binary with the installed config, as the units run it:
	// both sockets passed by name, as the gatewayd user.
	addr := peertest.FreeAddr(t)
	sock := filepath.Join(peertest.Dir(t), "fastcgi.sock")
	cmd := exec.Command(activate, "-l", sock, "-l", addr, "--fdname=fastcgi:http",
		"-E", "GATEWAYD_METRICS_ADDRESS="+peertest.FreeAddr(t),
		"setpriv", "--reuid=gatewayd", "--regid=gatewayd", "--init-groups",
		"/usr/bin/gatewayd", "serve", "--config", "/etc/gatewayd/gatewayd.yaml")
	p := peertest.Start(t, cmd)
	peertest.WaitReady(t, p, "gatewayd (installed)", peertest.Dial(addr))
	deploytest.CheckDemo(t, cgifcgi, addr, sock, p.Output)
	if err := p.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}

	// remove: everything but the conffile goes.
	sh(t, dpkg, "-r", "gatewayd")
	for _, f := range files {
		_, err := os.Lstat(f)
		if f == "/etc/gatewayd/gatewayd.yaml" {
			if err != nil {
				t.Errorf("dpkg -r removed the conffile: %v", err)
			}
		} else if err == nil {
			t.Errorf("dpkg -r left %s", f)
		}
	}
	// purge: the config, state and runtime directories go too.
	sh(t, dpkg, "--purge", "gatewayd")
	for _, d := range []string{"/etc/gatewayd", "/var/lib/gatewayd", "/run/gatewayd"} {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("dpkg --purge left %s", d)
		}
	}
	if out, _ := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "gatewayd").Output(); strings.TrimSpace(string(out)) != "" && !strings.HasPrefix(string(out), "un") {
		t.Errorf("dpkg still knows gatewayd: %q", out)
	}
}

// Two builds of one commit are the same bytes (SOURCE_DATE_EPOCH from the
// commit, gzip -n, root-owned files, -trimpath): anyone can rebuild the
// package and compare.
func TestReproducible(t *testing.T) {
	peertest.Need(t, "dpkg-deb")
	first := buildDeb(t)
	out, err := exec.Command(filepath.Join(peertest.ModuleRoot(), "deploy", "deb", "build"), t.TempDir()).Output()
	if err != nil {
		t.Fatalf("deploy/deb/build: %v\n%s", err, stderrOf(err))
	}
	second := strings.TrimSpace(string(out))
	a, err1 := os.ReadFile(first)
	b, err2 := os.ReadFile(second)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if filepath.Base(first) != filepath.Base(second) {
		t.Skipf("the tree changed between the builds (%s, %s)", filepath.Base(first), filepath.Base(second))
	}
	if !bytes.Equal(a, b) {
		t.Errorf("two builds differ: %s and %s", first, second)
	}
}
