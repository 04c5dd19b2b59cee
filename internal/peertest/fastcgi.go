package peertest

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// ApacheFastCGI starts Apache httpd like Apache, for the FastCGI front end's
// tests, but leaves out the modules this apache2 has compiled in (Debian
// builds mod_unixd in, and LoadModule on it is a syntax error).
func ApacheFastCGI(t testing.TB, listen string, modules []string, body string) (*Process, string) {
	t.Helper()
	bin := Need(t, "apache2", "/usr/sbin/apache2")
	out, _ := exec.Command(bin, "-l").Output()
	builtin := string(out)
	dir := Dir(t)
	var b strings.Builder
	fmt.Fprintf(&b, "ServerRoot %s\nServerName 127.0.0.1\nListen %s\n", dir, listen)
	fmt.Fprintf(&b, "PidFile %[1]s/httpd.pid\nErrorLog %[1]s/error.log\nLogLevel info\nDefaultRuntimeDir %[1]s\nMutex file:%[1]s\n", dir)
	b.WriteString("User www-data\nGroup www-data\n")
	for _, m := range append([]string{"mpm_prefork", "authz_core", "unixd", "alias", "mime", "env"}, modules...) {
		if strings.Contains(builtin, "mod_"+m+".c") {
			continue
		}
		fmt.Fprintf(&b, "LoadModule %s_module %s/mod_%s.so\n", m, ApacheModules, m)
	}
	b.WriteString("TypesConfig /etc/mime.types\nStartServers 2\nMinSpareServers 1\nMaxSpareServers 4\n")
	b.WriteString(body)
	b.WriteString("\n")
	path := WriteFile(t, dir, "httpd.conf", b.String())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("apache error log:\n%s", ApacheErrorLog(dir))
		}
	})
	p := Start(t, exec.Command(bin, "-f", path, "-DFOREGROUND"))
	WaitReady(t, p, "apache on "+listen, Dial(listen))
	return p, dir
}
