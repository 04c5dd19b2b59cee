package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// offKeys are the keys whose negative value means off (docs/config.md,
// "Defaults, zero and negative values"); every other number is refused
// when negative.
var offKeys = []string{
	"idle_timeout", "timeout", "queue_size", "max_spool_bytes", "max_redirects",
	"lookup_cache_size", "lookup_cache_ttl", "health_check.interval", "log.slow_request",
}

// numberKeys lists the keys of t (under prefix) that hold a number or a
// duration, the keys the rule is about.
func numberKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		switch {
		case tag == "":
		case f.Type.Kind() == reflect.Struct:
			keys = append(keys, numberKeys(f.Type, join(prefix, tag))...)
		case f.Type.Kind() == reflect.Int, f.Type.Kind() == reflect.Int64:
			keys = append(keys, join(prefix, tag))
		}
	}
	return keys
}

// set writes key: value into a YAML mapping, nesting a dotted key.
func set(key, value string) string {
	if a, b, ok := strings.Cut(key, "."); ok {
		return a + ": {" + set(b, value) + "}"
	}
	return key + ": " + value
}

// TestZeroAndNegativeValues: for every number key, 0 is accepted and left
// at 0 for the package that owns its default to fill in; a negative value
// is accepted where it means off and otherwise refused with an error that
// names the key. (queue_size -1 used to be refused for cgi and fastcgi
// routes although both apps read it as "no queue".)
func TestZeroAndNegativeValues(t *testing.T) {
	type place struct {
		name, key string
		yaml      func(kv string) string
		readBy    string // the app a route key must be read by
	}
	listener := func(kv string) string {
		return "listeners:\n  - {protocol: fastcgi, address: \"127.0.0.1:9000\", " + kv + "}\n"
	}
	route := func(app string) func(string) string {
		return func(kv string) string {
			base := map[string]string{"cgi": "root: /srv", "fastcgi": "root: /srv, upstream: \"127.0.0.1:9000\""}[app]
			return "routes:\n  - {prefix: /, app: " + app + ", " + base + ", " + kv + "}\n"
		}
	}
	var places []place
	for _, k := range numberKeys(reflect.TypeFor[Listener](), "") {
		places = append(places, place{"listeners[0]." + k, k, listener, ""})
	}
	readBy := routeKeyApps()
	for _, app := range []string{"cgi", "fastcgi"} {
		for _, k := range numberKeys(reflect.TypeFor[Route](), "") {
			top, _, _ := strings.Cut(k, ".")
			if listed(readBy[top], app) {
				places = append(places, place{"routes[0]." + k, k, route(app), app})
			}
		}
	}
	for _, k := range numberKeys(reflect.TypeFor[Config](), "") {
		places = append(places, place{k, k, func(kv string) string { return kv + "\n" }, ""})
	}
	if len(places) < 25 {
		t.Fatalf("%d number keys found; the reflection lost some", len(places))
	}
	for _, p := range places {
		isDuration := strings.Contains(p.key, "timeout") || strings.Contains(p.key, "ttl") ||
			strings.Contains(p.key, "interval") || strings.Contains(p.key, "grace") || p.key == "log.slow_request"
		neg := "-1"
		if isDuration {
			neg = "-1s"
		}
		if _, err := Parse(p.yaml(set(p.key, "0"))); err != nil {
			t.Errorf("%s: 0: %v, want the default", p.name, err)
		}
		c, err := Parse(p.yaml(set(p.key, neg)))
		switch {
		case slices.Contains(offKeys, p.key):
			if err != nil {
				t.Errorf("%s: %s is off, and was refused: %v", p.name, neg, err)
			} else if v := lookup(c, p.name); v != neg {
				t.Errorf("%s: %s came out as %s, want it as written for the package", p.name, neg, v)
			}
		case err == nil:
			t.Errorf("%s: %s accepted; this limit cannot be off", p.name, neg)
		case !strings.Contains(err.Error(), p.name+": "+neg+" is negative"):
			t.Errorf("%s: %s refused with %q, which does not name the key", p.name, neg, err)
		}
	}
}

// lookup is the value of a dotted key with [0] indices, as text.
func lookup(c *Config, key string) string {
	v := reflect.ValueOf(*c)
	for part := range strings.SplitSeq(key, ".") {
		name, indexed := strings.CutSuffix(part, "[0]")
		v = field(v, name)
		if indexed {
			v = v.Index(0)
		}
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	return fmt.Sprint(v.Interface())
}

func field(v reflect.Value, tag string) reflect.Value {
	for i := range v.NumField() {
		if v.Type().Field(i).Tag.Get("mapstructure") == tag {
			return v.Field(i)
		}
	}
	panic("no key " + tag)
}

// TestCompleteLeavesPackageDefaults: a Config built in code and completed
// gets the same values as a file that sets nothing: config's own
// defaults, and zeros for the packages to fill in.
func TestCompleteLeavesPackageDefaults(t *testing.T) {
	fromFile, err := Parse("routes:\n  - {prefix: /, app: cgi, root: /srv}\nlisteners:\n  - {protocol: scgi, address: \"127.0.0.1:4000\"}\n")
	if err != nil {
		t.Fatal(err)
	}
	inCode := &Config{
		Routes:    []Route{{Prefix: "/", App: "cgi", Root: "/srv"}},
		Listeners: []Listener{{Protocol: "scgi", Address: "127.0.0.1:4000"}},
		Log:       Log{Access: true},                  // a file's default; false is a choice in code
		Metrics:   Metrics{Address: "127.0.0.1:9464"}, // likewise
	}
	if err := Complete(inCode); err != nil {
		t.Fatal(err)
	}
	if d := Diff(fromFile, inCode); len(d) != 0 {
		t.Errorf("Complete differs from a file in %v", d)
	}
	if r := inCode.Routes[0]; r.Timeout != 0 || r.MaxConcurrency != 0 || r.PassEnv != nil {
		t.Errorf("route %+v: config filled in a default the runner owns", r)
	}
}

// TestOffKeysAreDocumented: the table of docs/config.md's "Defaults, zero
// and negative values" lists exactly the keys whose negative value is
// accepted, so the page cannot promise an off the code refuses, nor hide
// one it accepts.
func TestOffKeysAreDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "## Defaults, zero and negative values\n")
	if !ok {
		t.Fatal("docs/config.md has no section \"Defaults, zero and negative values\"")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var documented []string
	for line := range strings.SplitSeq(sec, "\n") {
		row, ok := strings.CutPrefix(line, "| `")
		if !ok {
			continue
		}
		first, _, _ := strings.Cut("`"+row, " |")
		for _, m := range regexp.MustCompile("`([a-z_.\\[\\]]+)`").FindAllStringSubmatch(first, -1) {
			k := strings.TrimPrefix(strings.TrimPrefix(m[1], "listeners[]."), "routes[].")
			documented = append(documented, k)
		}
	}
	slices.Sort(documented)
	want := slices.Clone(offKeys)
	slices.Sort(want)
	if !slices.Equal(documented, want) {
		t.Errorf("docs/config.md lists %v as off when negative; the code accepts %v", documented, want)
	}
}

// TestOwnDefaultsAreDocumented: the defaults config itself fills in are
// the ones docs/config.md's default column gives (the packages' are held
// to the page by the root package's TestConfigDocDefaultsAreThePackages).
func TestOwnDefaultsAreDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("listeners:\n  - {protocol: http, address: \"127.0.0.1:8000\"}\nroutes:\n  - {prefix: /, app: static, root: /srv}\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct{ row, value string }{
		{"| `log.level` | `", c.Log.Level},
		{"| `log.format` | `", c.Log.Format},
		{"| `log.access` | `", fmt.Sprint(c.Log.Access)},
		{"| `shutdown_timeout` | `", fmt.Sprintf("%ds", c.ShutdownTimeout/time.Second)},
		{"| `socket_mode` | all | `", c.Listeners[0].SocketMode},
		{"| `dotfiles` | static | `", c.Routes[0].Dotfiles},
	} {
		if !strings.Contains(string(b), d.row+d.value+"`") {
			t.Errorf("docs/config.md: no row %s%s`", d.row, d.value)
		}
	}
}
