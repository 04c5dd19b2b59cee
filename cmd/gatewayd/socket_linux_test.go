package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestNginxAsWWWDataReachesTheGuidesSocket follows docs/deploy.md's nginx
// section literally: the socket directory made with the guide's own
// install command (the user "nobody" standing in for gatewayd), gatewayd
// run as that user with socket_group: www-data, and nginx whose workers
// run as www-data. A request must reach the demo app: nginx gets no
// "Permission denied", and gatewayd could give its socket to www-data
// without being root or in that group.
func TestNginxAsWWWDataReachesTheGuidesSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running gatewayd and nginx's workers as other users needs root")
	}
	nginx := peertest.Need(t, "nginx", "/usr/sbin/nginx")
	bin := peertest.Gatewayd(t)
	guide, err := os.ReadFile(filepath.Join(peertest.ModuleRoot(), "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	install := regexp.MustCompile(`(?m)^sudo (install -d -m \d+ -o gatewayd -g www-data) /run/gatewayd$`).FindStringSubmatch(string(guide))
	if install == nil {
		t.Fatal("docs/deploy.md has no `sudo install -d … /run/gatewayd` line")
	}
	for _, key := range []string{`socket_mode: "0660"`, "socket_group: www-data", "address: unix:/run/gatewayd/fastcgi.sock"} {
		if !strings.Contains(string(guide), key) {
			t.Fatalf("docs/deploy.md's listener lacks %s", key)
		}
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	uid, _ := strconv.Atoi(nobody.Uid)

	dir := peertest.Dir(t)
	runDir := filepath.Join(dir, "run", "gatewayd")
	if err := os.MkdirAll(filepath.Dir(runDir), 0o755); err != nil {
		t.Fatal(err)
	}
	args := strings.Fields(strings.Replace(install[1], "-o gatewayd", "-o nobody", 1))
	if out, err := exec.Command(args[0], append(args[1:], runDir)...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", install[1], runDir, err, out)
	}
	sock := filepath.Join(runDir, "fastcgi.sock")
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", fmt.Sprintf(`
listeners:
  - protocol: fastcgi
    address: unix:%s
    socket_mode: "0660"
    socket_group: www-data
routes:
  - {prefix: /, app: demo}
metrics: {address: ""}
`, sock))
	// setpriv, because peertest.Start sets the command's SysProcAttr.
	setpriv := peertest.Need(t, "setpriv")
	gw := peertest.Start(t, exec.Command(setpriv, "--reuid="+nobody.Uid, "--regid="+nobody.Gid, "--clear-groups",
		bin, "serve", "--config", cfg))
	// The test (root) cannot tell by dialling whether nobody else could:
	// wait for the socket file, then let nginx as www-data prove access.
	peertest.WaitReady(t, gw, "gatewayd's socket", func() error { _, err := os.Stat(sock); return err })
	fi, _ := os.Stat(sock)
	st := fi.Sys().(*syscall.Stat_t)
	www, _ := user.LookupGroup("www-data")
	if strconv.Itoa(int(st.Gid)) != www.Gid || fi.Mode().Perm() != 0o660 || int(st.Uid) != uid {
		t.Errorf("socket %d:%d %o, want nobody:www-data 0660", st.Uid, st.Gid, fi.Mode().Perm())
	}

	addr := peertest.FreeAddr(t)
	conf := peertest.Recipe(t, "nginx-fastcgi.conf", map[string]string{"GATEWAYD": "unix:" + sock, "LISTEN": addr})
	ndir := peertest.Dir(t)
	path, err := peertest.WriteNginxConfig(ndir, conf)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), "user root;", "user www-data;", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ng := peertest.Start(t, exec.Command(nginx, "-p", ndir, "-c", path, "-e", filepath.Join(ndir, "error.log")))
	peertest.WaitReady(t, ng, "nginx", peertest.Dial(addr))

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/through/www-data")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "PATH_INFO=/through/www-data") {
		t.Errorf("%d %q\nnginx: %s\ngatewayd: %s", resp.StatusCode, body, peertest.NginxErrorLog(ndir), gw.Output())
	}
	if ps, _ := exec.Command("ps", "-o", "user=", "--ppid", strconv.Itoa(ng.Cmd.Process.Pid)).Output(); !strings.Contains(string(ps), "www-data") {
		t.Errorf("nginx's worker does not run as www-data: %q", ps)
	}
}
