package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultServesDemoOnLoopback(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Listeners) != 1 || c.Listeners[0].Protocol != "http" || c.Listeners[0].Address != "127.0.0.1:8000" {
		t.Errorf("listeners = %+v, want one http on 127.0.0.1:8000", c.Listeners)
	}
	if len(c.Routes) != 1 || c.Routes[0].Prefix != "/" || c.Routes[0].App != "demo" {
		t.Errorf("routes = %+v, want demo at /", c.Routes)
	}
	if !c.Log.Access || c.Log.Level != "info" || c.Log.Format != "json" {
		t.Errorf("log = %+v", c.Log)
	}
	if c.Metrics.Address != "127.0.0.1:9464" || c.Metrics.Path != "/metrics" {
		t.Errorf("metrics = %+v", c.Metrics)
	}
	if c.ShutdownTimeout != 30*time.Second {
		t.Errorf("shutdown_timeout = %v", c.ShutdownTimeout)
	}
}

func TestParseFullExample(t *testing.T) {
	c, err := Parse(`
listeners:
  - protocol: fastcgi
    address: unix:/run/gatewayd/fcgi.sock
    socket_mode: "0666"
    max_reqs: 16
  - protocol: http
    address: 127.0.0.1:8080
    read_header_timeout: 3s
routes:
  - prefix: /cgi-bin
    app: cgi
    root: /usr/lib/cgi-bin
    timeout: 90s
    pass_env: [PATH, LANG]
    env: {GIT_PROJECT_ROOT: /srv/git}
  - prefix: /
    app: static
    root: /srv/www
log: {level: debug, format: console, access: false}
metrics: {address: ""}
validate: true
`)
	if err != nil {
		t.Fatal(err)
	}
	l := c.Listeners[0]
	if l.Name != "fastcgi" || l.SocketMode != "0666" || l.MaxReqs != 16 || l.MaxConns != 1024 {
		t.Errorf("listener 0 = %+v", l)
	}
	if c.Listeners[1].ReadHeaderTimeout != 3*time.Second {
		t.Errorf("read_header_timeout = %v", c.Listeners[1].ReadHeaderTimeout)
	}
	r := c.Routes[0]
	if r.Timeout != 90*time.Second || strings.Join(r.PassEnv, ",") != "PATH,LANG" || r.Env["GIT_PROJECT_ROOT"] != "/srv/git" {
		t.Errorf("route 0 = %+v", r)
	}
	if c.Log.Access || c.Log.Level != "debug" || c.Metrics.Address != "" || !c.Validate {
		t.Errorf("log %+v metrics %+v validate %v", c.Log, c.Metrics, c.Validate)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	t.Setenv("GATEWAYD_LOG_LEVEL", "debug")
	t.Setenv("GATEWAYD_CGI_IIS_PATH_DEDUP", "true")
	t.Setenv("GATEWAYD_METRICS_ADDRESS", "127.0.0.1:9999")
	c, err := Parse("log: {level: warn}\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Level != "debug" || !c.CGI.IISPathDedup || c.Metrics.Address != "127.0.0.1:9999" {
		t.Errorf("overrides not applied: log %+v cgi %+v metrics %+v", c.Log, c.CGI, c.Metrics)
	}
}

// TestInvalidConfigs maps each file in testdata/invalid to the exact error
// it must produce (the first line of the file, after "# want: ").
func TestInvalidConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid configs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(b), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("%s: first line must be '# want: <error>'", f)
			}
			_, err = Load(f)
			if err == nil {
				t.Fatalf("Load accepted it; want %q", want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if err.Error() != want {
				t.Errorf("error\n got: %s\nwant: %s", err, want)
			}
		})
	}
}

func TestValidConfigsInTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want a not-exist error", err)
	}
}
