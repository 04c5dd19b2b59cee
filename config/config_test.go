package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
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
	if !c.Log.Access || c.Log.Level != "info" || c.Log.Format != "auto" {
		t.Errorf("log = %+v", c.Log)
	}
	if c.Metrics.Address != "127.0.0.1:9464" || c.Metrics.Path != "" {
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
	if l.Name != "fastcgi" || l.SocketMode != "0666" || l.MaxReqs != 16 || l.MaxConns != 0 {
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
	// An empty variable sets the empty value: GATEWAYD_METRICS_ADDRESS=
	// turns metrics off, as documented; an empty duration is the default.
	t.Setenv("GATEWAYD_METRICS_ADDRESS", "")
	t.Setenv("GATEWAYD_SHUTDOWN_TIMEOUT", "")
	c, err = Parse("metrics: {address: \"127.0.0.1:9464\"}\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Address != "" || c.ShutdownTimeout != 30*time.Second {
		t.Errorf("metrics.address %q, shutdown_timeout %v", c.Metrics.Address, c.ShutdownTimeout)
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

// TestUnknownEnvironmentVariableIsRefused: a misspelt override must not be
// ignored; the error names the variable and the key it was probably meant
// for.
func TestUnknownEnvironmentVariableIsRefused(t *testing.T) {
	t.Setenv("GATEWAYD_LOG_FORMT", "console")
	_, err := Parse("")
	want := "config: invalid: environment variable GATEWAYD_LOG_FORMT: not a setting (did you mean GATEWAYD_LOG_FORMAT?); docs/config.md lists the keys"
	if err == nil || err.Error() != want || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// TestOverrideErrorsNameTheVariable: whether the value is refused while
// decoding or by Check, the error says which variable carried it.
func TestOverrideErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"GATEWAYD_CGI_IIS_PATH_DEDUP", "yes", `config: invalid: cgi.iis_path_dedup (from GATEWAYD_CGI_IIS_PATH_DEDUP): "yes" is not a boolean (true or false)`},
		{"GATEWAYD_LOG_LEVEL", "loud", `config: invalid: log.level (from GATEWAYD_LOG_LEVEL): "loud" is not one of debug, info, warn, error`},
		{"GATEWAYD_SHUTDOWN_TIMEOUT", "5", `config: invalid: shutdown_timeout (from GATEWAYD_SHUTDOWN_TIMEOUT): "5" is not a duration: write a number with a unit, such as 500ms, 30s or 2m`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			_, err := Parse("log: {level: info}\n")
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestSocketModeAsWritten: YAML reads an unquoted 0660 as 432; the mode is
// the octal digits as written, quoted or not.
func TestSocketModeAsWritten(t *testing.T) {
	for text, want := range map[string]string{`0660`: "0660", `"0660"`: "0660", `660`: "660", `0o640`: "0o640", `"0600"`: "0600"} {
		c, err := Parse("listeners:\n  - {protocol: fastcgi, address: \"unix:/run/g.sock\", socket_mode: " + text + "}\n")
		if err != nil {
			t.Errorf("socket_mode: %s: %v", text, err)
			continue
		}
		if got := c.Listeners[0].SocketMode; got != want {
			t.Errorf("socket_mode: %s gave %q, want %q", text, got, want)
		}
	}
}

// TestGiven tells a key the file or environment set from a default, which
// the library needs to open no metrics port nobody asked for.
func TestGiven(t *testing.T) {
	c, err := Parse("log: {level: debug}\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Given("metrics.address") || !c.Given("log.level") || c.Given("log.format") {
		t.Errorf("given = %v", c.given)
	}
	t.Setenv("GATEWAYD_METRICS_ADDRESS", "127.0.0.1:9999")
	c, err = Parse("")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Given("metrics.address") {
		t.Errorf("GATEWAYD_METRICS_ADDRESS not seen as given")
	}
}

func TestDiff(t *testing.T) {
	a, err := Parse("listeners:\n  - {protocol: fastcgi, address: \"127.0.0.1:9000\"}\nroutes:\n  - {prefix: /, app: cgi, root: /srv, env: {A: \"1\"}}\n")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("listeners:\n  - {protocol: fastcgi, address: \"127.0.0.1:9000\", read_timeout: 5s}\nroutes:\n  - {prefix: /, app: cgi, root: /srv, env: {A: \"2\"}, timeout: 1m}\nlog: {level: debug}\nserver_software: x\n")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Diff(a, b), " ")
	// timeout: 1m is the runner's default, but Diff compares the file as
	// written (config does not know the packages' defaults): a key set to
	// its default's value is a change.
	if want := "listeners[0].read_timeout routes[0].timeout routes[0].env log.level server_software"; got != want {
		t.Errorf("Diff = %s\nwant   %s", got, want)
	}
	if d := Diff(a, a); len(d) != 0 {
		t.Errorf("Diff(a, a) = %v", d)
	}
}

// TestEveryKeyIsDocumented: docs/config.md has a row for every key the
// structs decode, so a new key cannot ship undocumented.
func TestEveryKeyIsDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	keys := scalarKeys(reflect.TypeFor[Config](), "")
	for _, typ := range []reflect.Type{reflect.TypeFor[Listener](), reflect.TypeFor[Route]()} {
		keys = append(keys, scalarKeys(typ, "")...)
		for i := range typ.NumField() {
			if k := typ.Field(i).Type.Kind(); k == reflect.Slice || k == reflect.Map {
				keys = append(keys, typ.Field(i).Tag.Get("mapstructure"))
			}
		}
	}
	for _, k := range keys {
		if !strings.Contains(doc, "| `"+k+"` |") {
			t.Errorf("docs/config.md has no row for %s", k)
		}
	}
}
