package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestGitThroughNginxFastCGI is fcgiwrap's best-known job done by gatewayd:
// a git clone and a push of a 2 MiB pack through nginx → gatewayd (FastCGI)
// → the CGI runner → git http-backend, with the nginx recipe of the docs.
func TestGitThroughNginxFastCGI(t *testing.T) {
	peertest.Need(t, peertest.GitHTTPBackend)
	bin := peertest.Gatewayd(t)
	dir := peertest.Dir(t)
	projects := filepath.Join(dir, "git")
	peertest.GitBareRepo(t, projects, "project.git")
	sock := filepath.Join(dir, "gatewayd.sock")
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", `
listeners:
  - {protocol: fastcgi, address: "unix:`+sock+`", socket_mode: "0666"}
routes:
  - prefix: /git
    app: cgi
    script: `+peertest.GitHTTPBackend+`
    allow_root: true
    timeout: 2m
    env: {GIT_PROJECT_ROOT: "`+projects+`", GIT_HTTP_EXPORT_ALL: "1"}
metrics: {address: ""}
`)
	gw := peertest.Start(t, exec.Command(bin, "serve", "--config", cfg))
	peertest.WaitReady(t, gw, "gatewayd", peertest.Dial("unix:"+sock))
	addr := peertest.FreeAddr(t)
	conf := peertest.Recipe(t, "nginx-git.conf", map[string]string{"GATEWAYD": "unix:" + sock, "LISTEN": addr})
	_, ndir := peertest.Nginx(t, conf, addr)

	peertest.GitRoundTrip(t, "http://"+addr+"/git/project.git")

	if log := peertest.NginxErrorLog(ndir); strings.Contains(log, "[error]") {
		t.Errorf("nginx logged errors:\n%s", log)
	}
	// The push went through the runner as a script run with a body: the
	// access log shows git-receive-pack answered 200.
	if !strings.Contains(gw.Output(), `"path":"/git/project.git/git-receive-pack","status":200`) {
		t.Errorf("no successful git-receive-pack in the access log:\n%s", gw.Output())
	}
}
