package config

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

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
		for _, n := range []struct {
			key string
			v   int
		}{{"max_header_bytes", l.MaxHeaderBytes}, {"max_conns", l.MaxConns}, {"max_reqs", l.MaxReqs}, {"max_params_bytes", l.MaxParamsBytes}} {
			if n.v <= 0 {
				return bad(k+"."+n.key, "must be positive, not %d", n.v)
			}
		}
		if l.MaxReqs > 65535 {
			return bad(k+".max_reqs", "FastCGI request ids stop at 65535, not %d", l.MaxReqs)
		}
		for _, d := range []struct {
			key string
			v   int64
		}{{"read_header_timeout", int64(l.ReadHeaderTimeout)}, {"idle_timeout", int64(l.IdleTimeout)}, {"read_timeout", int64(l.ReadTimeout)}, {"write_timeout", int64(l.WriteTimeout)}} {
			if d.v <= 0 {
				return bad(k+"."+d.key, "must be a positive duration such as 10s")
			}
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
			if r.MaxConcurrency <= 0 {
				return bad(k+".max_concurrency", "must be positive, not %d", r.MaxConcurrency)
			}
			if r.QueueSize < 0 {
				return bad(k+".queue_size", "must not be negative")
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
			if r.MaxConns <= 0 {
				return bad(k+".max_conns", "must be positive, not %d", r.MaxConns)
			}
			if r.Transport != "native" && r.Transport != "gofast" {
				return bad(k+".transport", "%q is not one of native, gofast", r.Transport)
			}
			if r.QueueSize < 0 {
				return bad(k+".queue_size", "must not be negative")
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
	if !strings.HasPrefix(c.Metrics.Path, "/") {
		return bad("metrics.path", "%q must start with /", c.Metrics.Path)
	}
	if c.ShutdownTimeout <= 0 {
		return bad("shutdown_timeout", "must be a positive duration such as 30s")
	}
	return nil
}
