package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/gatewayd/gatewayd/internal/setting"
)

// EnvPrefix is the prefix of environment variables that override keys:
// GATEWAYD_LOG_LEVEL=debug overrides log.level.
const EnvPrefix = "GATEWAYD"

// envNotSettings are GATEWAYD_* variables that are not keys: the config
// file's path, and what the test suite and the benchmark harness read.
// Every other GATEWAYD_* variable must name a key.
var envNotSettings = []string{"GATEWAYD_CONFIG", "GATEWAYD_REQUIRE_PEERS", "GATEWAYD_BENCH"}

// envTestPrefix marks variables test programs set for their own children.
const envTestPrefix = "GATEWAYD_TEST_"

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
// and unknown GATEWAYD_* variables are errors. Every error names the key at
// fault, and the variable when an override set it.
func Load(path string) (*Config, error) {
	if path == "" {
		return parse(nil, "")
	}
	b, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	return parse(b, path+": ")
}

// Parse is Load for YAML text, for tests and tools.
func Parse(yamlText string) (*Config, error) {
	return parse([]byte(yamlText), "")
}

// Given reports whether the config file or an environment variable set key
// (a dotted path such as "metrics.address"), as opposed to its default.
func (c *Config) Given(key string) bool { return c.given[key] }

func parse(text []byte, where string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s%v", ErrInvalid, where, err)
	}
	if len(doc.Content) > 0 {
		modesAsWritten(doc.Content[0])
	}
	// viper folds every key to lower case in the map it is given, which is
	// right for gatewayd's keys and wrong for routes[].env (variable names
	// are case-sensitive): viper gets its own copy of the tree, and env is
	// taken from the one decoded (a copy, not a second decoding: every CGI
	// request loads the config).
	var raw map[string]any
	if err := doc.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %s%v", ErrInvalid, where, err)
	}
	var forViper map[string]any
	if raw != nil {
		forViper = copyTree(raw).(map[string]any)
	}
	keys := scalarKeys(reflect.TypeFor[Config](), "")
	if err := checkEnv(keys); err != nil {
		return nil, err
	}

	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	// GATEWAYD_METRICS_ADDRESS= means "no address" (metrics off), as
	// docs/config.md says, not "unset".
	v.AllowEmptyEnv(true)
	// viper looks an environment variable up only for a key it knows:
	// registering a scalar key (derived from the struct tags) with no value
	// does that; applyDefaults fills in the defaults after decoding. Only
	// the keys whose variable is set: UnmarshalExact looks every known key
	// up, and in CGI mode that is paid at every request.
	for _, k := range keys {
		if _, set := os.LookupEnv(EnvName(k)); set {
			v.SetDefault(k, nil)
		}
	}
	// Defaults that differ from the zero value of a key a user may set to
	// that zero value on purpose (access: false, metrics.address: "").
	v.SetDefault("log.access", true)
	v.SetDefault("metrics.address", "127.0.0.1:9464")
	if forViper != nil {
		if err := v.MergeConfigMap(forViper); err != nil {
			return nil, fmt.Errorf("%w: %s%v", ErrInvalid, where, err)
		}
	}
	var c Config
	err := v.UnmarshalExact(&c, func(dc *mapstructure.DecoderConfig) {
		dc.ZeroFields = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			listHook,
			durationHook,
			mapstructure.StringToSliceHookFunc(","),
		)
	})
	if err != nil {
		return nil, decodeError(err)
	}
	c.given = givenKeys(keys, raw)
	if err := envCaseAsWritten(&c, raw); err != nil {
		return nil, err
	}
	if err := checkRouteKeys(raw); err != nil {
		return nil, err
	}
	applyDefaults(&c)
	if err := c.Check(); err != nil {
		return nil, nameVariable(err)
	}
	return &c, nil
}

// modesAsWritten keeps every socket_mode value as the text it was written
// in: YAML reads an unquoted 0660 as the integer 432, and the digits are
// what the user meant (octal, as chmod and php-fpm's listen.mode read them).
func modesAsWritten(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if t := val.ShortTag(); k.Value == "socket_mode" && val.Kind == yaml.ScalarNode && (t == "!!int" || t == "!!float") {
				val.Tag = "!!str"
			}
		}
	}
	for _, c := range n.Content {
		modesAsWritten(c)
	}
}

// durationHook reads durations as Go durations ("500ms", "30s", "2m"). A
// bare number is refused: YAML's `timeout: 5` would otherwise be 5
// nanoseconds. 0 is allowed, and means the default.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() {
		return data, nil
	}
	switch d := data.(type) {
	case string:
		if d == "" {
			return time.Duration(0), nil // the default, as for an empty variable
		}
		v, err := time.ParseDuration(d)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration: write a number with a unit, such as 500ms, 30s or 2m", d)
		}
		return v, nil
	case time.Duration:
		return d, nil
	}
	switch from.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if reflect.ValueOf(data).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("%v has no unit: write %vs for seconds (a bare number is not a duration)", data, data)
	}
	return data, nil
}

// listHook refuses a mapping where a list of them belongs (routes: {…}),
// which viper's weakly typed decoding would take as a list of one.
func listHook(from, to reflect.Type, data any) (any, error) {
	if to.Kind() == reflect.Slice && to.Elem().Kind() == reflect.Struct && from.Kind() == reflect.Map {
		return nil, errors.New("must be a list")
	}
	if to.Kind() == reflect.Map && from.Kind() == reflect.Slice {
		return nil, errors.New("must be a mapping of NAME: value")
	}
	return data, nil
}

// decodeError turns mapstructure's report into one error naming the first
// bad key, in the words of Check's errors.
func decodeError(err error) error {
	var des []*mapstructure.DecodeError
	collect(err, &des)
	if len(des) == 0 {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	slices.SortFunc(des, func(a, b *mapstructure.DecodeError) int { return strings.Compare(a.Name(), b.Name()) })
	de := des[0]
	key, inner := de.Name(), de.Unwrap()
	msg := inner.Error()
	switch {
	case strings.HasPrefix(msg, "has invalid keys: "):
		first, _, _ := strings.Cut(strings.TrimPrefix(msg, "has invalid keys: "), ", ")
		return fmt.Errorf("%w: unknown key %q", ErrInvalid, join(key, first))
	case strings.Contains(msg, "source data must be an array or slice"):
		msg = "must be a list"
	case strings.Contains(msg, "expected a map"), strings.Contains(msg, "expected type 'config."):
		msg = "must be a mapping"
	default:
		var pe *mapstructure.ParseError
		var ue *mapstructure.UnconvertibleTypeError
		switch {
		case errors.As(inner, &pe):
			msg = fmt.Sprintf("%q is not a %s", fmt.Sprint(pe.Value), typeWord(pe.Expected.Type()))
		case errors.As(inner, &ue):
			msg = fmt.Sprintf("%q is not a %s", fmt.Sprint(ue.Value), typeWord(ue.Expected.Type()))
		}
	}
	return nameVariable(&keyError{key: key, msg: msg})
}

func collect(err error, out *[]*mapstructure.DecodeError) {
	var de *mapstructure.DecodeError
	if errors.As(err, &de) && de == err {
		*out = append(*out, de)
		return
	}
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			collect(x, out)
		}
	case interface{ Unwrap() error }:
		collect(e.Unwrap(), out)
	}
}

func typeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "whole number"
	case reflect.Slice:
		return "list"
	case reflect.Map, reflect.Struct:
		return "mapping"
	}
	return t.String()
}

// keyError is a bad value, by its key.
type keyError struct{ key, msg string }

func (e *keyError) Error() string { return fmt.Sprintf("%v: %s: %s", ErrInvalid, e.key, e.msg) }
func (e *keyError) Unwrap() error { return ErrInvalid }

// EnvName is the environment variable that overrides key (GATEWAYD_LOG_LEVEL
// for log.level).
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// nameVariable adds the variable to an error about a key an environment
// variable set, so that the error leads to where the value came from.
func nameVariable(err error) error {
	var ke *keyError
	if !errors.As(err, &ke) {
		return err
	}
	if _, set := os.LookupEnv(EnvName(ke.key)); set && !strings.Contains(ke.key, "[") {
		return &keyError{key: ke.key + " (from " + EnvName(ke.key) + ")", msg: ke.msg}
	}
	return err
}

// checkEnv refuses a GATEWAYD_* variable that names no key: a misspelt
// override must not be ignored.
func checkEnv(keys []string) error {
	known := map[string]bool{}
	for _, k := range keys {
		known[EnvName(k)] = true
	}
	for _, k := range envNotSettings {
		known[k] = true
	}
	var unknown []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix+"_") && !known[name] && !strings.HasPrefix(name, envTestPrefix) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	msg := "not a setting"
	if s := closest(unknown[0], known); s != "" {
		msg += " (did you mean " + s + "?)"
	}
	return fmt.Errorf("%w: environment variable %s: %s; docs/config.md lists the keys", ErrInvalid, unknown[0], msg)
}

// closest is the known name at the smallest edit distance from name, if that
// is small enough to be a typo.
func closest(name string, known map[string]bool) string {
	best, bestD := "", 3
	for k := range known {
		if d := distance(name, k); d < bestD || (d == bestD && best != "" && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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

// givenKeys is the set of the scalar keys that the file or the environment
// set.
func givenKeys(keys []string, raw map[string]any) map[string]bool {
	given := map[string]bool{}
	for _, k := range keys {
		if _, set := os.LookupEnv(EnvName(k)); set {
			given[k] = true
			continue
		}
		var n any = raw
		for p := range strings.SplitSeq(k, ".") {
			m, _ := n.(map[string]any)
			var ok bool
			if n, ok = m[p]; !ok {
				break
			}
		}
		if n != nil {
			given[k] = true
		}
	}
	return given
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// routeKeyApps maps each route key to the apps that read it: the apps tag
// of its Route field, a comma-separated list.
func routeKeyApps() map[string]string {
	t := reflect.TypeFor[Route]()
	m := make(map[string]string, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		m[f.Tag.Get("mapstructure")] = f.Tag.Get("apps")
	}
	return m
}

// listed reports whether name is in the comma-separated list.
func listed(list, name string) bool {
	for item := range strings.SplitSeq(list, ",") {
		if item == name {
			return true
		}
	}
	return false
}

// copyTree copies a tree decoded from YAML: its mappings and lists are
// new, its scalars shared.
func copyTree(v any) any {
	switch v := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, x := range v {
			c[k] = copyTree(x)
		}
		return c
	case map[any]any:
		c := make(map[any]any, len(v))
		for k, x := range v {
			c[k] = copyTree(x)
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, x := range v {
			c[i] = copyTree(x)
		}
		return c
	}
	return v
}

// checkRouteKeys refuses route keys that the route's app does not read, so
// that a "timeout" under a static route is an error and not a silent no-op.
func checkRouteKeys(raw map[string]any) error {
	readBy := routeKeyApps()
	routes, _ := raw["routes"].([]any)
	for i, r := range routes {
		m, _ := r.(map[string]any)
		app, _ := m["app"].(string)
		if !slices.Contains(apps, app) {
			continue // Check reports the unknown app.
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if a, ok := readBy[k]; !ok || (!listed(a, "all") && !listed(a, app)) {
				return fmt.Errorf("%w: routes[%d].%s: not a key of app %s", ErrInvalid, i, k, app)
			}
		}
	}
	return nil
}

// envCaseAsWritten takes routes[].env from the file as written: viper folds
// map keys to lower case, and environment variable names are case-sensitive.
func envCaseAsWritten(c *Config, raw map[string]any) error {
	routes, _ := raw["routes"].([]any)
	for i, r := range routes {
		m, _ := r.(map[string]any)
		env, ok := m["env"]
		if !ok || env == nil || i >= len(c.Routes) {
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

// applyDefaults fills in the defaults config owns: what to serve when
// nothing is said, names, and the daemon's own keys (metrics.path is the
// metrics package's). The limits and
// timeouts of the front ends and apps stay zero (or negative: off) as
// written: each package fills in its own defaults (its DefaultX constants)
// when it is built, following internal/setting's rule, so that no default
// is written twice.
func applyDefaults(c *Config) {
	if len(c.Listeners) == 0 {
		c.Listeners = []Listener{{Protocol: "http", Address: "127.0.0.1:8000"}}
	}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		l.Name = setting.Or(l.Name, l.Protocol)
		l.SocketMode = setting.Or(l.SocketMode, "0660")
	}
	if len(c.Routes) == 0 {
		c.Routes = []Route{{Prefix: "/", App: "demo"}}
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		// dotfiles is config's word for the apps' AllowDotfiles flag.
		r.Dotfiles = setting.Or(r.Dotfiles, "deny")
	}
	c.Log.Level = setting.Or(c.Log.Level, "info")
	c.Log.Format = setting.Or(c.Log.Format, "auto")
	c.ShutdownTimeout = setting.Or(c.ShutdownTimeout, 30*time.Second)
	c.ServerSoftware = setting.Or(c.ServerSoftware, "gatewayd/"+Version)
}
