package gatewayd_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/app/cgiscript"
	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/app/fcgiupstream"
	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
	"github.com/gatewayd/gatewayd/internal/peertest"
	"github.com/gatewayd/gatewayd/observe/metrics"
	"github.com/gatewayd/gatewayd/protocol/fastcgi"
	"github.com/gatewayd/gatewayd/protocol/httpfront"
	"github.com/gatewayd/gatewayd/protocol/scgi"
	"github.com/gatewayd/gatewayd/routes"
)

// docValue writes a default as docs/config.md does: durations in seconds
// ("60s"), lists as [A, B], the rest as Go prints it.
func docValue(v any) string {
	switch v := v.(type) {
	case time.Duration:
		return fmt.Sprintf("%ds", v/time.Second)
	case []string:
		return "[" + strings.Join(v, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// TestConfigDocDefaultsAreThePackages: the default column of
// docs/config.md is what the packages apply to a key left at 0, read from
// their DefaultX constants (config no longer holds a copy to compare
// against). Each key maps to every package that reads it; they must agree
// with each other and with the page.
func TestConfigDocDefaultsAreThePackages(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(peertest.ModuleRoot(), "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	// "| `key` | scope | `default` ..." rows of the listeners[] and routes[] tables.
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\| ([a-z, ]+) \\| ([^|]+) \\|").FindAllStringSubmatch(string(b), -1) {
		rows[m[1]+" ("+m[2]+")"] = strings.TrimSpace(m[3])
	}
	want := map[string][]any{
		"read_header_timeout (http)":    {httpfront.DefaultReadHeaderTimeout},
		"idle_timeout (http)":           {httpfront.DefaultIdleTimeout},
		"max_header_bytes (http, scgi)": {httpfront.DefaultMaxHeaderBytes, scgi.DefaultMaxHeaderBytes},
		"max_conns (all)":               {fastcgi.DefaultMaxConns, scgi.DefaultMaxConns, httpfront.DefaultMaxConns},
		"max_reqs (fastcgi)":            {fastcgi.DefaultMaxReqs},
		"max_params_bytes (fastcgi)":    {fastcgi.DefaultMaxParamsBytes},
		"read_timeout (fastcgi, scgi)":  {fastcgi.DefaultReadTimeout, scgi.DefaultReadTimeout},
		"write_timeout (all)":           {fastcgi.DefaultWriteTimeout, scgi.DefaultWriteTimeout, httpfront.DefaultWriteTimeout},

		"timeout (cgi)":                  {cgiscript.DefaultTimeout},
		"kill_grace (cgi)":               {cgiscript.DefaultKillGrace},
		"queue_size (cgi)":               {cgiscript.DefaultQueueSize},
		"queue_timeout (cgi)":            {cgiscript.DefaultQueueTimeout},
		"pass_env (cgi)":                 {cgiscript.DefaultPassEnv()},
		"max_header_bytes (cgi)":         {cgiscript.DefaultMaxHeaderBytes},
		"max_spool_bytes (cgi, fastcgi)": {cgiscript.DefaultMaxSpoolBytes, fcgiupstream.DefaultMaxSpoolBytes},
		"max_redirects (cgi)":            {cgiscript.DefaultMaxRedirects},
		"index (fastcgi)":                {fcgiupstream.DefaultIndex},
		"max_conns (fastcgi)":            {fcgiupstream.DefaultMaxConns},
		"connect_timeout (fastcgi)":      {fcgiupstream.DefaultConnectTimeout},
		"upstream_timeout (fastcgi)":     {fcgiupstream.DefaultUpstreamTimeout},
		"resolve_interval (fastcgi)":     {fcgiupstream.DefaultResolveInterval},
		"lookup_cache_size (fastcgi)":    {fcgiupstream.DefaultLookupCacheSize},
		"lookup_cache_ttl (fastcgi)":     {fcgiupstream.DefaultLookupCacheTTL},
		"transport (fastcgi)":            {fcgiupstream.TransportNative},
		"queue_size (fastcgi)":           {fcgiupstream.DefaultQueueSize},
		"queue_timeout (fastcgi)":        {fcgiupstream.DefaultQueueTimeout},
		"max_redirects (fastcgi)":        {fcgiupstream.DefaultMaxRedirects},
	}
	for key, vals := range want {
		cell, ok := rows[key]
		if !ok {
			t.Errorf("docs/config.md has no row %s", key)
			continue
		}
		m := regexp.MustCompile("`([^`]*)`").FindStringSubmatch(cell)
		if m == nil {
			t.Errorf("%s: default %q has no value in backquotes", key, cell)
			continue
		}
		for _, v := range vals {
			if got := docValue(v); got != m[1] {
				t.Errorf("%s: docs/config.md says %s, the package applies %s", key, m[1], got)
			}
		}
	}
	if !strings.Contains(string(b), "| `metrics.path` | `"+metrics.DefaultPath+"` |") {
		t.Errorf("docs/config.md: metrics.path's default is not %s", metrics.DefaultPath)
	}
	if cell := rows["max_concurrency (cgi)"]; cell != "2 × CPUs" || cgiscript.DefaultMaxConcurrency() != 2*runtime.NumCPU() {
		t.Errorf("max_concurrency: docs/config.md says %q", cell)
	}

	// The pages of each front end and app repeat their keys' defaults in
	// "| `key` | `default` |" rows: they must say what config.md says.
	listenerKeys := []string{"read_header_timeout (http)", "idle_timeout (http)", "max_header_bytes (http, scgi)",
		"max_conns (all)", "max_reqs (fastcgi)", "max_params_bytes (fastcgi)", "read_timeout (fastcgi, scgi)",
		"write_timeout (all)"}
	for _, pg := range []struct {
		page, scope string
		listener    bool
	}{{"fastcgi.md", "fastcgi", true}, {"scgi.md", "scgi", true}, {"app-cgi.md", "cgi", false}, {"app-fastcgi.md", "fastcgi", false}} {
		page, scope := pg.page, pg.scope
		b, err := os.ReadFile(filepath.Join(peertest.ModuleRoot(), "docs", page))
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| `([^`]+)` \\|").FindAllStringSubmatch(string(b), -1) {
			for key, vals := range want {
				name, scopes, _ := strings.Cut(strings.TrimSuffix(key, ")"), " (")
				if name != m[1] || slices.Contains(listenerKeys, key) != pg.listener ||
					!slices.Contains(strings.Split(scopes, ", "), scope) && scopes != "all" {
					continue
				}
				checked++
				if got := docValue(vals[0]); got != m[2] {
					t.Errorf("docs/%s: %s is %s, the package applies %s", page, name, m[2], got)
				}
			}
		}
		if checked < 4 {
			t.Errorf("docs/%s: %d default rows checked; the pattern no longer matches the page", page, checked)
		}
	}
}

// TestLibraryConfigRunsThePackageDefaults: a program that builds a
// config.Config in code, as gatewayd.Serve's callers do, gets the apps
// running with the same defaults as a config file that sets nothing: the
// values the status page reads back from the apps are the packages'.
func TestLibraryConfigRunsThePackageDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{Routes: []config.Route{
		{Prefix: "/cgi", App: "cgi", Root: dir, AllowRoot: true},
		{Prefix: "/php", App: "fastcgi", Root: dir, Upstream: "unix:" + filepath.Join(dir, "fpm.sock")},
	}}
	if err := config.Complete(cfg); err != nil {
		t.Fatal(err)
	}
	fromFile, err := config.Parse("routes:\n  - {prefix: /cgi, app: cgi, root: " + dir + ", allow_root: true}\n" +
		"  - {prefix: /php, app: fastcgi, root: " + dir + ", upstream: \"unix:" + filepath.Join(dir, "fpm.sock") + "\"}\n")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*config.Config{"in code": cfg, "from a file": fromFile} {
		tab, err := routes.Build(c, zap.NewNop(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range tab.Routes() {
			switch app := r.App.(type) {
			case *cgiscript.Runner:
				if s := app.Stats(); s.MaxConcurrency != cgiscript.DefaultMaxConcurrency() || s.QueueSize != cgiscript.DefaultQueueSize {
					t.Errorf("%s: cgi route runs with %+v", name, s)
				}
				if app.KillGrace() != cgiscript.DefaultKillGrace || tab.KillGrace() != cgiscript.DefaultKillGrace {
					t.Errorf("%s: kill_grace %v, the table's %v", name, app.KillGrace(), tab.KillGrace())
				}
			case *fcgiupstream.Upstream:
				if s := app.Stats(); s.MaxConns != fcgiupstream.DefaultMaxConns || s.QueueSize != fcgiupstream.DefaultQueueSize {
					t.Errorf("%s: fastcgi route runs with %+v", name, s)
				}
			default:
				t.Errorf("%s: route %s is a %T", name, r.Prefix, r.App)
			}
		}
		if err := tab.Close(t.Context()); err != nil {
			t.Error(err)
		}
	}
}

// TestFrontEndsRefuseNegativeLimits: a front end's limit that cannot be
// off makes Serve fail, naming it. A negative one used to run with its
// default (fastcgi, and scgi's MaxConns and MaxHeaderBytes) or with no
// limit at all (scgi's ReadTimeout; net/http's ReadHeaderTimeout).
func TestFrontEndsRefuseNegativeLimits(t *testing.T) {
	h := &handler.Handler{App: demo.App{}}
	for _, c := range []struct {
		field string
		serve func(net.Listener) error
	}{
		{"MaxConns", (&fastcgi.Server{Handler: h, MaxConns: -1}).Serve},
		{"MaxReqs", (&fastcgi.Server{Handler: h, MaxReqs: -1}).Serve},
		{"MaxParamsBytes", (&fastcgi.Server{Handler: h, MaxParamsBytes: -1}).Serve},
		{"BodyBuffer", (&fastcgi.Server{Handler: h, BodyBuffer: -1}).Serve},
		{"ReadTimeout", (&fastcgi.Server{Handler: h, ReadTimeout: -1}).Serve},
		{"WriteTimeout", (&fastcgi.Server{Handler: h, WriteTimeout: -1}).Serve},
		{"MaxConns", (&scgi.Server{Handler: h, MaxConns: -1}).Serve},
		{"MaxHeaderBytes", (&scgi.Server{Handler: h, MaxHeaderBytes: -1}).Serve},
		{"ReadTimeout", (&scgi.Server{Handler: h, ReadTimeout: -1}).Serve},
		{"ReadHeaderTimeout", (&httpfront.Server{Handler: h, ReadHeaderTimeout: -1}).Serve},
		{"MaxHeaderBytes", (&httpfront.Server{Handler: h, MaxHeaderBytes: -1}).Serve},
	} {
		if err := c.serve(gwtest.Listen(t)); err == nil || !strings.Contains(err.Error(), c.field+": ") {
			t.Errorf("%s -1: Serve = %v, want an error naming it", c.field, err)
		}
	}
}
