package daemon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/routes"
)

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReloadRefusesListenerChangesAndKeepsServing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.yaml")
	writeConfig(t, path, "listeners:\n  - {protocol: http, address: \"127.0.0.1:0\"}\nmetrics: {address: \"\"}\n")
	d := newDaemon(t, path, Options{Log: zap.NewNop()})
	d.Start()
	defer d.Shutdown(context.Background())
	url := "http://" + d.Addrs()[0].String() + "/x"

	writeConfig(t, path, "listeners:\n  - {protocol: scgi, address: \"127.0.0.1:0\"}\nmetrics: {address: \"\"}\n")
	if _, err := d.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "listeners[0].name, listeners[0].protocol changed, which needs a restart") {
		t.Errorf("reload with other listeners: %v", err)
	}
	writeConfig(t, path, "listeners:\n  - {protocol: http, address: \"127.0.0.1:0\"}\nmetrics: {address: \"127.0.0.1:0\"}\n")
	if _, err := d.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "metrics.address changed") {
		t.Errorf("reload with other metrics: %v", err)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after refused reloads: %d", resp.StatusCode)
	}
}

// TestBuildAppsEveryKind builds one route of each app from config and
// sends a request to each through the route table.
func TestBuildAppsEveryKind(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "page.txt"), []byte("static page\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("SECRET=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.php"), []byte("<?php echo 'hi';"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "hi.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nfrom the script\\n'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(`
routes:
  - {prefix: /, app: demo}
  - {prefix: /files, app: static, root: "` + dir + `"}
  - {prefix: /cgi, app: cgi, script: "` + script + `", allow_root: true}
  - {prefix: /php, app: fastcgi, root: "` + dir + `", upstream: "127.0.0.1:1", connect_timeout: 1s}
  - {prefix: /site, app: fastcgi, root: "` + dir + `", upstream: "127.0.0.1:1", static_files: true}
`)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := routes.Build(cfg, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer apps.Close(context.Background())
	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{
		{"/hello", 200, "Hello world!"},
		{"/files/page.txt", 200, "static page"},
		{"/cgi", 200, "from the script"},
		{"/php/index.php", 502, ""}, // nothing listens on the upstream's port
		// A file that is not a script is refused, as documented, unless
		// static_files serves it; dotfiles are refused either way.
		{"/php/page.txt", 403, ""},
		{"/site/page.txt", 200, "static page"},
		{"/php/.env", 403, ""},
		{"/site/.env", 403, ""},
	} {
		env := environ.Env{"REQUEST_METHOD": "GET", "SERVER_NAME": "h", "SERVER_PORT": "80",
			"SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": "", "PATH_INFO": tt.path, "QUERY_STRING": "",
			"GATEWAY_INTERFACE": "CGI/1.1", "REMOTE_ADDR": "127.0.0.1"}
		r := httptest.NewRequest("GET", tt.path, nil)
		r = r.WithContext(environ.NewContext(r.Context(), env))
		w := httptest.NewRecorder()
		apps.ServeHTTP(w, r)
		body, _ := io.ReadAll(w.Body)
		if w.Code != tt.status || !strings.Contains(string(body), tt.body) {
			t.Errorf("%s: %d %q, want %d containing %q", tt.path, w.Code, body, tt.status, tt.body)
		}
	}
}

// TestReloadAppliesAllOrNothing: a reload that changes a listener key other
// than name, protocol and address (read_timeout) or server_software was
// logged as "reloaded" and silently not applied. Now it is refused as a
// whole, naming the key, and the routes change of the same file does not
// happen either; a reload the daemon can apply returns what changed.
func TestReloadAppliesAllOrNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.yaml")
	base := "listeners:\n  - {protocol: http, address: \"127.0.0.1:0\"%s}\nmetrics: {address: \"\"}\n"
	writeConfig(t, path, fmt.Sprintf(base, ""))
	d := newDaemon(t, path, Options{Log: zap.NewNop()})
	cfg := d.config()
	d.Start()
	defer d.Shutdown(context.Background())
	url := "http://" + d.Addrs()[0].String() + "/x"

	for _, tc := range []struct{ text, want string }{
		{fmt.Sprintf(base, ", read_timeout: 5s") + "routes:\n  - {prefix: /other, app: demo}\n", "listeners[0].read_timeout changed, which needs a restart"},
		{fmt.Sprintf(base, "") + "server_software: other/1\n", "server_software changed, which needs a restart"},
		{fmt.Sprintf(base, "") + "log: {format: console}\n", "log.format changed, which needs a restart"},
	} {
		writeConfig(t, path, tc.text)
		if _, err := d.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("reload: %v, want %q", err, tc.want)
		}
		if got := d.config(); got != cfg {
			t.Errorf("a refused reload replaced the config")
		}
	}
	if resp, err := http.Get(url); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the refused reload's routes were applied: %v %v", resp, err)
	}

	writeConfig(t, path, fmt.Sprintf(base, "")+"routes:\n  - {prefix: /other, app: demo}\nlog: {level: debug}\nshutdown_timeout: 5s\n")
	changed, err := d.Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reloadedMessage(changed), "reloaded: routes[0].prefix, log.level, shutdown_timeout changed"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if resp, err := http.Get(url); err != nil || resp.StatusCode != 404 {
		t.Errorf("routes not applied: %v %v", resp, err)
	}
	if changed, err := d.Reload(context.Background()); err != nil || reloadedMessage(changed) != "reloaded: nothing changed" {
		t.Errorf("the same file again: %v %v", changed, err)
	}
}

// TestErrorPagesOneStyle: every built-in error page reads like the status
// line, "404 Not Found", whichever part answers (the router, the static
// app, the FastCGI app, the metrics listener). They once said "404 page
// not found", "404 not found" and "405 method not allowed".
func TestErrorPagesOneStyle(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse(`
routes:
  - {prefix: /files, app: static, root: "` + dir + `"}
  - {prefix: /php, app: fastcgi, root: "` + dir + `", upstream: "127.0.0.1:1"}
`)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := routes.Build(cfg, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer apps.Close(context.Background())
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/nowhere", 404},
		{"GET", "/files/missing.txt", 404},
		{"POST", "/files/missing.txt", 405},
		{"GET", "/php/missing.php", 404},
	} {
		env := environ.Env{"REQUEST_METHOD": tt.method, "SERVER_NAME": "h", "SERVER_PORT": "80",
			"SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": "", "PATH_INFO": tt.path, "QUERY_STRING": "",
			"GATEWAY_INTERFACE": "CGI/1.1", "REMOTE_ADDR": "127.0.0.1"}
		r := httptest.NewRequest(tt.method, tt.path, nil)
		r = r.WithContext(environ.NewContext(r.Context(), env))
		w := httptest.NewRecorder()
		apps.ServeHTTP(w, r)
		if want := fmt.Sprintf("%d %s\n", tt.status, http.StatusText(tt.status)); w.Code != tt.status || w.Body.String() != want {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, w.Code, w.Body.String(), tt.status, want)
		}
	}
}

// TestLibraryReloadKeepsItsOwnListenersAndMetrics: a library daemon
// (Options.App) has listeners from its code and no metrics unless the file
// names them; reloading the same file changes nothing and is not refused.
func TestLibraryReloadKeepsItsOwnListenersAndMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.yaml")
	writeConfig(t, path, "log: {level: info}\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	LibraryMetrics(cfg)
	cfg.Listeners = []config.Listener{{Protocol: "http", Address: "127.0.0.1:0"}}
	if err := config.Complete(cfg); err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{ConfigPath: path, Log: zap.NewNop(), App: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	defer d.Shutdown(context.Background())
	if d.MetricsAddr() != nil {
		t.Errorf("metrics on %v, asked for by nobody", d.MetricsAddr())
	}
	changed, err := d.Reload(context.Background())
	if err != nil || len(changed) != 0 {
		t.Errorf("reload of the same file: %v %v", changed, err)
	}
	writeConfig(t, path, "log: {level: debug}\n")
	if changed, err := d.Reload(context.Background()); err != nil || strings.Join(changed, ",") != "log.level" {
		t.Errorf("reload: %v %v", changed, err)
	}
}

// newDaemon loads the config at path and makes a daemon of it, not started.
func newDaemon(t *testing.T, path string, opts Options) *Daemon {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	opts.ConfigPath = path
	d, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
