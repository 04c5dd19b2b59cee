package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix is the prefix of environment variables that override keys:
// GATEWAYD_LOG_LEVEL=debug overrides log.level.
const EnvPrefix = "GATEWAYD"

// ErrInvalid is wrapped by every error that reports a bad configuration.
var ErrInvalid = errors.New("config: invalid")

// Default returns the configuration used when there is no file: the demo app
// over HTTP on 127.0.0.1:8000.
func Default() *Config {
	c := &Config{}
	applyDefaults(c)
	return c
}

// Complete fills in the defaults of a Config built in code (by a program
// using gatewayd as a library) and checks it, as Load does for a file.
func Complete(c *Config) error {
	applyDefaults(c)
	return c.Check()
}

// Load reads the YAML file at path (none when path is ""), applies GATEWAYD_*
// environment overrides and defaults, and validates the result. Unknown keys
// are errors. Every error names the key at fault.
func Load(path string) (*Config, error) {
	raw := map[string]any{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: reading %s: %w", path, err)
		}
		if err := yaml.Unmarshal(b, &raw); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
		}
		if raw == nil {
			raw = map[string]any{}
		}
	}
	return parse(raw)
}

// Parse is Load for YAML text, for tests and tools.
func Parse(yamlText string) (*Config, error) {
	raw := map[string]any{}
	if err := yaml.Unmarshal([]byte(yamlText), &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if raw == nil {
		raw = map[string]any{}
	}
	return parse(raw)
}

func parse(raw map[string]any) (*Config, error) {
	if err := checkKeys(raw, reflect.TypeFor[Config](), ""); err != nil {
		return nil, err
	}
	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	// Every scalar key must be known to viper for its environment variable to
	// be looked up; registering them with their zero values does that, and
	// applyDefaults fills in the real defaults after decoding.
	for _, k := range scalarKeys(reflect.TypeFor[Config](), "") {
		v.SetDefault(k, nil)
	}
	// Defaults that differ from the zero value of a key a user may set to
	// that zero value on purpose (access: false, metrics.address: "").
	v.SetDefault("log.access", true)
	v.SetDefault("metrics.address", "127.0.0.1:9464")
	// viper folds keys to lower case in place; keep raw as written.
	if err := v.MergeConfigMap(deepCopy(raw).(map[string]any)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var c Config
	err := v.Unmarshal(&c, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.ZeroFields = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := restoreEnvCase(&c, raw); err != nil {
		return nil, err
	}
	applyDefaults(&c)
	if err := checkRouteKeys(raw); err != nil {
		return nil, err
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkKeys walks the YAML tree against the struct's keys and reports the
// first unknown one by its full path, e.g. listeners[0].bogus.
func checkKeys(node any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := node.(map[string]any)
		if !ok {
			if node == nil {
				return nil
			}
			return fmt.Errorf("%w: %s: must be a mapping", ErrInvalid, display(path))
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			if tag := f.Tag.Get("mapstructure"); tag != "" {
				fields[tag] = f.Type
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("%w: unknown key %q", ErrInvalid, join(path, k))
			}
			if err := checkKeys(m[k], ft, join(path, k)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Struct {
			return nil
		}
		s, ok := node.([]any)
		if !ok {
			if node == nil {
				return nil
			}
			return fmt.Errorf("%w: %s: must be a list", ErrInvalid, display(path))
		}
		for i, e := range s {
			if err := checkKeys(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// scalarKeys lists the dotted keys of non-list, non-map fields, the ones an
// environment variable can override.
func scalarKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("mapstructure")
		if tag == "" {
			continue
		}
		switch f.Type.Kind() {
		case reflect.Struct:
			keys = append(keys, scalarKeys(f.Type, join(prefix, tag))...)
		case reflect.Slice, reflect.Map:
		default:
			keys = append(keys, join(prefix, tag))
		}
	}
	return keys
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func display(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func applyDefaults(c *Config) {
	if len(c.Listeners) == 0 {
		c.Listeners = []Listener{{Protocol: "http", Address: "127.0.0.1:8000"}}
	}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.Name == "" {
			l.Name = l.Protocol
		}
		def(&l.SocketMode, "0660")
		def(&l.ReadHeaderTimeout, 10*time.Second)
		def(&l.IdleTimeout, 120*time.Second)
		def(&l.MaxHeaderBytes, 64<<10)
		def(&l.MaxConns, 1024)
		def(&l.MaxReqs, 64)
		def(&l.MaxParamsBytes, 64<<10)
		def(&l.ReadTimeout, 30*time.Second)
		def(&l.WriteTimeout, 60*time.Second)
	}
	if len(c.Routes) == 0 {
		c.Routes = []Route{{Prefix: "/", App: "demo"}}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		def(&r.Timeout, 60*time.Second)
		def(&r.KillGrace, 5*time.Second)
		def(&r.MaxConcurrency, 2*runtime.NumCPU())
		if r.App == "fastcgi" {
			// A queue per connection deep enough for a burst; max_concurrency is cgi's.
			def(&r.MaxConns, 8)
			def(&r.QueueSize, 16*r.MaxConns)
		}
		def(&r.QueueSize, r.MaxConcurrency)
		def(&r.QueueTimeout, 5*time.Second)
		if r.PassEnv == nil {
			r.PassEnv = []string{"PATH"}
		}
		def(&r.MaxHeaderBytes, 64<<10)
		def(&r.MaxSpoolBytes, 64<<20)
		def(&r.MaxRedirects, 10)
		def(&r.Index, "index.php")
		def(&r.MaxConns, 8)
		def(&r.ConnectTimeout, 5*time.Second)
		def(&r.UpstreamTimeout, 60*time.Second)
		def(&r.Dotfiles, "deny")
		def(&r.Transport, "native")
	}
	def(&c.Log.Level, "info")
	def(&c.Log.Format, "json")
	def(&c.Metrics.Path, "/metrics")
	def(&c.ShutdownTimeout, 30*time.Second)
	def(&c.ServerSoftware, "gatewayd/"+Version)
}

// def sets *p to v when *p is the zero value.
func def[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// checkRouteKeys refuses route keys that the route's app does not read, so
// that a "timeout" under a static route is an error and not a silent no-op.
func checkRouteKeys(raw map[string]any) error {
	routes, _ := raw["routes"].([]any)
	for i, r := range routes {
		m, _ := r.(map[string]any)
		app, _ := m["app"].(string)
		allowed, known := appKeys[app]
		if !known {
			continue // Check reports the unknown app.
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if k != "prefix" && k != "app" && !slices.Contains(allowed, k) {
				return fmt.Errorf("%w: routes[%d].%s: not a key of app %s", ErrInvalid, i, k, app)
			}
		}
	}
	return nil
}

// restoreEnvCase copies routes[].env from the YAML as written: viper folds
// map keys to lower case, and environment variable names are case-sensitive.
func restoreEnvCase(c *Config, raw map[string]any) error {
	routes, _ := raw["routes"].([]any)
	for i, r := range routes {
		m, _ := r.(map[string]any)
		env, ok := m["env"]
		if !ok || i >= len(c.Routes) {
			continue
		}
		em, ok := env.(map[string]any)
		if !ok {
			return fmt.Errorf("%w: routes[%d].env: must be a mapping of NAME: value", ErrInvalid, i)
		}
		c.Routes[i].Env = make(map[string]string, len(em))
		for k, v := range em {
			c.Routes[i].Env[k] = fmt.Sprint(v)
		}
	}
	return nil
}

func deepCopy(n any) any {
	switch n := n.(type) {
	case map[string]any:
		m := make(map[string]any, len(n))
		for k, v := range n {
			m[k] = deepCopy(v)
		}
		return m
	case []any:
		s := make([]any, len(n))
		for i, v := range n {
			s[i] = deepCopy(v)
		}
		return s
	}
	return n
}
