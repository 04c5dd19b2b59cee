//go:build linux

// Package systemd_test checks the units in deploy/systemd: they pass
// systemd-analyze verify, the sample config passes gatewayd check, and
// gatewayd serves on sockets passed the way systemd passes them.
package systemd_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

var units = []string{"gatewayd.service", "gatewayd-fastcgi.socket", "gatewayd-http.socket"}

func TestUnitsVerify(t *testing.T) {
	analyze := peertest.Need(t, "systemd-analyze")
	bin := peertest.Gatewayd(t)
	dir := t.TempDir()
	var paths []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		// verify checks that ExecStart's program exists: point it at the
		// binary just built, as a package would install it.
		text := strings.ReplaceAll(string(b), "/usr/bin/gatewayd", bin)
		paths = append(paths, peertest.WriteFile(t, dir, u, text))
	}
	// With man pages checked, as a plain `systemd-analyze verify` does: a
	// Documentation=man: line must name a page that exists. The pages are
	// the ones the package installs, generated from the binary.
	mandir := filepath.Join(dir, "man")
	if out, err := exec.Command(bin, "gen", "man", filepath.Join(mandir, "man8")).CombinedOutput(); err != nil {
		t.Fatalf("gatewayd gen man: %v\n%s", err, out)
	}
	verify := exec.Command(analyze, append([]string{"verify"}, paths...)...)
	verify.Env = append(os.Environ(), "MANPATH="+mandir)
	out, err := verify.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestServiceHasTheAgreedShape(t *testing.T) {
	b, err := os.ReadFile("gatewayd.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "User=gatewayd"} {
		if !strings.Contains(string(b), "\n"+line) {
			t.Errorf("gatewayd.service lacks %q", line)
		}
	}
	for name, fd := range map[string]string{"gatewayd-fastcgi.socket": "fastcgi", "gatewayd-http.socket": "http"} {
		b, _ := os.ReadFile(name)
		if !strings.Contains(string(b), "FileDescriptorName="+fd+"\n") {
			t.Errorf("%s does not name its socket %q", name, fd)
		}
	}
}

func TestSampleConfigChecks(t *testing.T) {
	bin := peertest.Gatewayd(t)
	if out, err := exec.Command(bin, "check", "--config", "gatewayd.yaml").CombinedOutput(); err != nil {
		t.Fatalf("gatewayd check gatewayd.yaml: %v\n%s", err, out)
	}
}

// TestSocketActivation starts gatewayd under systemd-socket-activate, which
// passes a listening socket with LISTEN_FDS and LISTEN_FDNAMES exactly as
// systemd does, and shows that gatewayd serves on it.
func TestSocketActivation(t *testing.T) {
	activate := peertest.Need(t, "systemd-socket-activate")
	bin := peertest.Gatewayd(t)
	addr := peertest.FreeAddr(t)
	dir := t.TempDir()
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", `
listeners:
  - name: web
    protocol: http
routes:
  - {prefix: /, app: demo}
metrics: {address: ""}
`)
	cmd := exec.Command(activate, "-l", addr, "--fdname=web", "-E", "GATEWAYD_CONFIG="+cfg, bin, "serve")
	p := peertest.Start(t, cmd)
	peertest.WaitReady(t, p, "systemd-socket-activate", peertest.Dial(addr))

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/activated")
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Output())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	env := demo.Parse(string(body))
	_, port, _ := net.SplitHostPort(addr)
	if env["PATH_INFO"] != "/activated" || env["SERVER_PORT"] != port {
		t.Fatalf("not served by gatewayd on the passed socket: %q", body)
	}
	if !strings.Contains(p.Output(), "over HTTP on "+addr) {
		t.Errorf("log does not show the passed socket:\n%s", p.Output())
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(10 * time.Second); err != nil {
		t.Errorf("exit: %v", err)
	}
}

func TestMissingActivatedSocketIsAnError(t *testing.T) {
	bin := peertest.Gatewayd(t)
	cfg := peertest.WriteFile(t, t.TempDir(), "g.yaml", "listeners:\n  - {name: web, protocol: http}\nmetrics: {address: \"\"}\n")
	out, err := exec.Command(bin, "serve", "--config", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `systemd passed no socket named \"web\"`) {
		t.Errorf("err %v, output %s", err, out)
	}
}

// TestSysusersAndTmpfiles installs the two files where docs/deploy.md's
// commands put them, under a root holding a copy of this machine's user
// database, runs the guide's systemd-sysusers and systemd-tmpfiles lines
// there, and checks the group model the files describe: /run/gatewayd is
// gatewayd:www-data 2750, and gatewayd is in no other group.
func TestSysusersAndTmpfiles(t *testing.T) {
	sysusers := peertest.Need(t, "systemd-sysusers")
	tmpfiles := peertest.Need(t, "systemd-tmpfiles")
	if os.Geteuid() != 0 {
		t.Skip("systemd-tmpfiles gives files away: needs root")
	}
	root := t.TempDir()
	for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
		b, err := os.ReadFile("/etc/" + f)
		if err != nil {
			continue
		}
		peertest.WriteFile(t, filepath.Join(root, "etc"), f, string(b))
	}
	guide, err := os.ReadFile(filepath.Join(peertest.ModuleRoot(), "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"install -m 0644 deploy/systemd/gatewayd.sysusers.conf /usr/lib/sysusers.d/gatewayd.conf\n",
		"install -m 0644 deploy/systemd/gatewayd.tmpfiles.conf /usr/lib/tmpfiles.d/gatewayd.conf\n",
		"systemd-sysusers && systemd-tmpfiles --create gatewayd.conf && systemctl daemon-reload\n",
	} {
		if !strings.Contains(string(guide), line) {
			t.Fatalf("docs/deploy.md no longer says %q; keep this test in step", line)
		}
	}
	for src, dst := range map[string]string{"gatewayd.sysusers.conf": "usr/lib/sysusers.d", "gatewayd.tmpfiles.conf": "usr/lib/tmpfiles.d"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		peertest.WriteFile(t, filepath.Join(root, dst), "gatewayd.conf", string(b))
	}
	for _, c := range [][]string{
		{sysusers, "--root=" + root},
		{tmpfiles, "--root=" + root, "--create", "gatewayd.conf"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	group, _ := os.ReadFile(filepath.Join(root, "etc", "group"))
	uid := field(t, string(passwd), "gatewayd", 2)
	www := field(t, string(group), "www-data", 2)
	if members := field(t, string(group), "www-data", 3); strings.Contains(members, "gatewayd") {
		t.Errorf("gatewayd joined www-data (%q): the model needs no membership", members)
	}
	fi, err := os.Stat(filepath.Join(root, "run", "gatewayd"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	got := fmt.Sprintf("%d:%d %o", st.Uid, st.Gid, fi.Mode()&(os.ModePerm|os.ModeSetgid))
	if want := uid + ":" + www + " " + fmt.Sprintf("%o", os.ModeSetgid|0o750); got != want {
		t.Errorf("/run/gatewayd is %s, want %s (gatewayd:www-data 2750)", got, want)
	}
}

// field is the n-th field of name's line in an /etc/passwd-style file.
func field(t *testing.T, file, name string, n int) string {
	t.Helper()
	for line := range strings.SplitSeq(file, "\n") {
		f := strings.Split(line, ":")
		if f[0] == name && len(f) > n {
			return f[n]
		}
	}
	t.Fatalf("no %s in\n%s", name, file)
	return ""
}

// TestOneSocketPath: the socket unit, the tmpfiles entry, the service's
// writable paths and the guide's nginx example name one socket path.
func TestOneSocketPath(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	m := regexp.MustCompile(`(?m)^ListenStream=(/\S+)$`).FindStringSubmatch(read("gatewayd-fastcgi.socket"))
	if m == nil {
		t.Fatal("gatewayd-fastcgi.socket has no unix ListenStream=")
	}
	sock, dir := m[1], filepath.Dir(m[1])
	if !strings.Contains(read("gatewayd.tmpfiles.conf"), "\nd "+dir+" ") {
		t.Errorf("gatewayd.tmpfiles.conf does not make %s", dir)
	}
	if !strings.Contains(read("gatewayd.service"), "\nReadWritePaths="+dir+"\n") {
		t.Errorf("gatewayd.service does not let gatewayd write %s", dir)
	}
	deploy := read(filepath.Join(peertest.ModuleRoot(), "docs", "deploy.md"))
	for _, s := range []string{"address: unix:" + sock, "fastcgi_pass unix:" + sock + ";", "install -d -m 2750 -o gatewayd -g www-data " + dir} {
		if !strings.Contains(deploy, s) {
			t.Errorf("docs/deploy.md lacks %q", s)
		}
	}
}
