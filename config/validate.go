package config

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/gatewayd/gatewayd/internal/setting"
	"github.com/gatewayd/gatewayd/internal/sockaddr"
)

// Version is gatewayd's version, set at link time with
// -ldflags "-X github.com/gatewayd/gatewayd/config.Version=…".
var Version = "0.1.0-dev"

// protocols are the front ends a listener can speak.
var protocols = []string{"http", "fastcgi", "scgi"}

// apps are the kinds of app a route can mount.
var apps = []string{"demo", "static", "cgi", "fastcgi"}

// Check checks the configuration and returns an error naming the first
// bad key and why.
func (c *Config) Check() error {
	bad := func(key, format string, args ...any) error {
		return &keyError{key: key, msg: fmt.Sprintf(format, args...)}
	}
	names := map[string]int{}
	for i, l := range c.Listeners {
		k := fmt.Sprintf("listeners[%d]", i)
		if !slices.Contains(protocols, l.Protocol) {
			return bad(k+".protocol", "%q is not one of %s", l.Protocol, strings.Join(protocols, ", "))
		}
		// An empty address means the socket comes from systemd by name.
		if l.Address != "" {
			if _, err := sockaddr.Parse(l.Address); err != nil {
				return bad(k+".address", "%v", err)
			}
		}
		if j, dup := names[l.Name]; dup {
			return bad(k+".name", "%q is already the name of listeners[%d]", l.Name, j)
		}
		names[l.Name] = i
		if m, err := strconv.ParseUint(strings.TrimPrefix(l.SocketMode, "0o"), 8, 32); err != nil || m > 0o777 {
			return bad(k+".socket_mode", "%q is not an octal file mode such as 0660", l.SocketMode)
		}
		if !strings.HasPrefix(l.Address, "unix:/") {
			for _, o := range []struct{ key, v string }{{"socket_group", l.SocketGroup}, {"socket_owner", l.SocketOwner}} {
				if o.v == "" {
					continue
				}
				if l.Address == "" {
					return bad(k+"."+o.key, "a socket systemd passes gets its owner from the .socket unit (SocketUser=, SocketGroup=)")
				}
				return bad(k+"."+o.key, "only a unix:/path socket has an owner and a group")
			}
		}
		// internal/setting's rule: 0 is the front end's default; of the
		// listener's limits only idle_timeout can be off (no keep-alive).
		if err := refuseNegative(k, setting.N("max_header_bytes", l.MaxHeaderBytes), setting.N("max_conns", l.MaxConns),
			setting.N("max_reqs", l.MaxReqs), setting.N("max_params_bytes", l.MaxParamsBytes),
			setting.N("read_header_timeout", l.ReadHeaderTimeout), setting.N("read_timeout", l.ReadTimeout),
			setting.N("write_timeout", l.WriteTimeout)); err != nil {
			return err
		}
		if l.MaxReqs > 65535 {
			return bad(k+".max_reqs", "FastCGI request ids stop at 65535, not %d", l.MaxReqs)
		}
	}
	prefixes := map[string]int{}
	for i, r := range c.Routes {
		k := fmt.Sprintf("routes[%d]", i)
		if !strings.HasPrefix(r.Prefix, "/") {
			return bad(k+".prefix", "%q must start with /", r.Prefix)
		}
		if r.Prefix != "/" && strings.HasSuffix(r.Prefix, "/") {
			return bad(k+".prefix", "%q must not end with / (prefixes match whole path segments)", r.Prefix)
		}
		if j, dup := prefixes[r.Prefix]; dup {
			return bad(k+".prefix", "%q is already the prefix of routes[%d]", r.Prefix, j)
		}
		prefixes[r.Prefix] = i
		if !slices.Contains(apps, r.App) {
			return bad(k+".app", "%q is not one of %s", r.App, strings.Join(apps, ", "))
		}
		if r.Dotfiles != "deny" && r.Dotfiles != "allow" {
			return bad(k+".dotfiles", "%q is not one of deny, allow", r.Dotfiles)
		}
		switch r.App {
		case "static":
			if r.Root == "" {
				return bad(k+".root", "is required for app static")
			}
		case "cgi":
			if (r.Root == "") == (r.Script == "") {
				return bad(k+".root", "app cgi needs exactly one of root and script")
			}
			// timeout, queue_size, max_spool_bytes, max_redirects: negative is off.
			if err := refuseNegative(k, setting.N("kill_grace", r.KillGrace), setting.N("max_concurrency", r.MaxConcurrency),
				setting.N("queue_timeout", r.QueueTimeout), setting.N("max_header_bytes", r.MaxHeaderBytes)); err != nil {
				return err
			}
		case "fastcgi":
			if r.Root == "" {
				return bad(k+".root", "is required for app fastcgi (the scripts' directory, as the upstream sees it)")
			}
			switch {
			case r.Upstream == "" && len(r.Upstreams) == 0:
				return bad(k+".upstream", "is required for app fastcgi")
			case r.Upstream != "" && len(r.Upstreams) > 0:
				return bad(k+".upstreams", "and upstream exclude each other")
			case r.Upstream != "":
				if _, err := sockaddr.ParseDial(r.Upstream); err != nil {
					return bad(k+".upstream", "%v", err)
				}
			}
			for j, a := range r.Upstreams {
				if name, ok := strings.CutPrefix(a, "dns:"); ok {
					if host, port, err := net.SplitHostPort(name); err != nil || host == "" || port == "" {
						return bad(fmt.Sprintf("%s.upstreams[%d]", k, j), "%q is not dns:name:port", a)
					}
					continue
				}
				if _, err := sockaddr.ParseDial(a); err != nil {
					return bad(fmt.Sprintf("%s.upstreams[%d]", k, j), "%v", err)
				}
			}
			// queue_size, max_spool_bytes, max_redirects, lookup_cache_*,
			// health_check.interval: negative is off.
			if err := refuseNegative(k, setting.N("max_conns", r.MaxConns), setting.N("connect_timeout", r.ConnectTimeout),
				setting.N("upstream_timeout", r.UpstreamTimeout), setting.N("queue_timeout", r.QueueTimeout),
				setting.N("resolve_interval", r.ResolveInterval)); err != nil {
				return err
			}
			if r.Transport != "" && r.Transport != "native" && r.Transport != "gofast" {
				return bad(k+".transport", "%q is not one of native, gofast", r.Transport)
			}
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "json", "console":
	default:
		return bad("log.format", "%q is not one of auto, json, console", c.Log.Format)
	}
	if c.Metrics.Address != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Address); err != nil {
			return bad("metrics.address", "%q is not host:port", c.Metrics.Address)
		}
	}
	if c.Metrics.Path != "" && !strings.HasPrefix(c.Metrics.Path, "/") {
		return bad("metrics.path", "%q must start with /", c.Metrics.Path)
	}
	return refuseNegative("", setting.N("shutdown_timeout", c.ShutdownTimeout))
}

// refuseNegative names the first of a listener's or a route's (prefix) keys
// that is negative where off is not allowed (internal/setting's rule).
func refuseNegative(prefix string, keys ...setting.Named) error {
	var ne *setting.NegativeError
	if errors.As(setting.Negative(keys...), &ne) {
		return &keyError{key: join(prefix, ne.Name), msg: ne.Reason()}
	}
	return nil
}
