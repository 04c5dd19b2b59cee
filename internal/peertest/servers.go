package peertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Nginx starts nginx (master and one worker, as root, logs in a new
// directory) with httpBlock as the inside of its http { } block, and waits
// until ready dials. It returns the process and the directory holding its
// error log (error.log).
func Nginx(t testing.TB, httpBlock, ready string) (*Process, string) {
	t.Helper()
	bin := Need(t, "nginx", "/usr/sbin/nginx")
	dir := Dir(t)
	path, err := WriteNginxConfig(dir, httpBlock)
	if err != nil {
		t.Fatal(err)
	}
	p := Start(t, exec.Command(bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log")))
	WaitReady(t, p, "nginx on "+ready, Dial(ready))
	return p, dir
}

// WriteNginxConfig writes dir/nginx.conf for an nginx that keeps everything
// in dir (pid, error.log at info level, temporary files), runs one worker
// as root in the foreground, and has httpBlock inside its http { } block.
// It returns the file's path. The benchmark harness uses it too.
func WriteNginxConfig(dir, httpBlock string) (string, error) {
	for _, d := range []string{"body", "fastcgi", "proxy", "scgi", "uwsgi"} {
		if err := os.MkdirAll(filepath.Join(dir, "tmp", d), 0o755); err != nil {
			return "", err
		}
	}
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp/body;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    proxy_temp_path %[1]s/tmp/proxy;
    scgi_temp_path %[1]s/tmp/scgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
%[2]s
}
`, dir, httpBlock)
	path := filepath.Join(dir, "nginx.conf")
	return path, os.WriteFile(path, []byte(conf), 0o644)
}

// NginxErrorLog returns nginx's error log from the directory Nginx returned.
func NginxErrorLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	return string(b)
}

// ApacheModules is where Debian keeps Apache httpd's modules.
const ApacheModules = "/usr/lib/apache2/modules"

// Apache starts Apache httpd in the foreground (prefork MPM, workers as
// www-data) listening on listen, with the named modules loaded (without the
// "_module" suffix, e.g. "cgi", "proxy", "proxy_fcgi") and body appended to
// the configuration. Modules compiled into this apache2 (Debian builds
// mod_unixd in, and LoadModule on it is an error) are left out. It waits
// until listen accepts connections and prints the error log if the test
// fails.
func Apache(t testing.TB, listen string, modules []string, body string) (*Process, string) {
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

// ApacheErrorLog returns Apache's error log from the directory Apache returned.
func ApacheErrorLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	return string(b)
}

// Recipe reads a deployment recipe from docs/recipes and replaces each
// {{KEY}} with vars[KEY], so that tests run the very configuration the docs
// show. A placeholder left unreplaced fails the test.
func Recipe(t testing.TB, name string, vars map[string]string) string {
	t.Helper()
	s, err := LoadRecipe(name, vars)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// RecipeText is a recipe from docs/recipes as it is written, placeholders
// and all.
func RecipeText(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(ModuleRoot(), "docs", "recipes", name))
	if err != nil {
		return "", fmt.Errorf("reading recipe: %w", err)
	}
	return string(b), nil
}

// LoadRecipe is Recipe with an error instead of a test failure, for the
// benchmark harness.
func LoadRecipe(name string, vars map[string]string) (string, error) {
	s, err := RecipeText(name)
	if err != nil {
		return "", err
	}
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	if i := strings.Index(s, "{{"); i >= 0 {
		return "", fmt.Errorf("recipe %s: placeholder left unreplaced: %s", name, s[i:min(len(s), i+40)])
	}
	return s, nil
}
