// Package gatewayd serves a Go http.Handler through whichever gateway
// started the process, so that one program can be deployed behind nginx or
// Apache over FastCGI or SCGI, run by Apache or IIS as a CGI program, started
// by systemd socket activation, or run standalone:
//
//	func main() {
//		if err := gatewayd.Serve(myHandler); err != nil {
//			log.Fatal(err)
//		}
//	}
//
// Serve looks, in this order, for:
//
//  1. GATEWAY_INTERFACE in the environment: a CGI request. The handler
//     answers it on stdout in gateway form (NPH for nph-* script names),
//     and Serve returns.
//  2. A listening socket on fd 0 (FCGI_LISTENSOCK_FILENO), as Apache
//     mod_fcgid, spawn-fcgi and cgi-fcgi -start hand one: FastCGI on it,
//     accepting only FCGI_WEB_SERVER_ADDRS when that is set.
//  3. LISTEN_FDS from systemd: each passed socket serves the protocol its
//     FileDescriptorName starts with (fastcgi…, scgi…, else http), unless
//     a config file names the listeners.
//  4. Otherwise the listeners of Options.Listeners, else of the config file
//     (Options.Config or GATEWAYD_CONFIG), else HTTP on 127.0.0.1:8000.
//
// In the long-running cases Serve returns after SIGTERM or SIGINT, once
// in-flight requests are done; SIGHUP re-reads the config file (log level,
// access log). Serve opens no metrics port unless the config file or
// GATEWAYD_METRICS_ADDRESS names one. docs/library.md shows the details.
package gatewayd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/daemon"
	"github.com/gatewayd/gatewayd/listener"
	"github.com/gatewayd/gatewayd/logger"
	"github.com/gatewayd/gatewayd/protocol/cgi"
)

// Options adjust Serve. The zero value is ready to use.
type Options struct {
	// Config is a gatewayd config file for listeners, limits, logging and
	// metrics (its routes are not used: h is the app). Empty means
	// GATEWAYD_CONFIG, and no file at all means the defaults.
	Config string
	// Listeners, when set, replace the config's listeners: a program fills
	// them from its own flags.
	Listeners []config.Listener
	// Log is the logger. Nil means JSON logs at info level on stderr.
	Log *zap.Logger

	// Stdin, Stdout and Stderr replace the process's for a CGI request.
	// Nil means os.Stdin, os.Stdout and os.Stderr.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Serve serves h through whichever gateway started the process, with the
// zero Options.
func Serve(h http.Handler) error { return ServeWith(h, Options{}) }

// ServeWith is Serve with options.
func ServeWith(h http.Handler, o Options) error {
	if h == nil {
		return ErrNoHandler
	}
	path := o.Config
	if path == "" {
		path = os.Getenv("GATEWAYD_CONFIG")
	}
	if os.Getenv("GATEWAY_INTERFACE") != "" {
		return serveCGI(h, path, o)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	daemon.LibraryMetrics(cfg)
	log := o.Log
	var level *zap.AtomicLevel
	if log == nil {
		l, lv, err := logger.New(cfg.Log, os.Stderr)
		if err != nil {
			return err
		}
		log, level = l, &lv
		defer func() { _ = log.Sync() }()
	}
	inherited := map[string]net.Listener{}
	if l, err := listener.FCGIStdin(); err == nil {
		const name = "fcgi-stdin"
		if addrs := os.Getenv("FCGI_WEB_SERVER_ADDRS"); addrs != "" {
			allowed, err := listener.ParseWebServerAddrs(addrs)
			if err != nil {
				l.Close()
				return fmt.Errorf("gatewayd: FCGI_WEB_SERVER_ADDRS: %w", err)
			}
			l = listener.AllowOnly(l, allowed, log)
		}
		inherited[name] = l
		cfg.Listeners = []config.Listener{{Name: name, Protocol: "fastcgi"}}
	} else if names := os.Getenv("LISTEN_FDNAMES"); os.Getenv("LISTEN_FDS") != "" && path == "" && o.Listeners == nil {
		cfg.Listeners = activatedConfigs(names)
	} else if o.Listeners != nil {
		cfg.Listeners = o.Listeners
	}
	if err := config.Complete(cfg); err != nil {
		return err
	}
	// Before the listeners open: a SIGTERM from then on is a graceful stop.
	signals := daemon.NotifySignals()
	defer signal.Stop(signals)
	d, err := daemon.New(cfg, daemon.Options{ConfigPath: path, Log: log, Level: level, App: h, Inherited: inherited, Signals: signals})
	if err != nil {
		return err
	}
	var where []string
	for i, a := range d.Addrs() {
		where = append(where, strings.ToUpper(cfg.Listeners[i].Protocol)+" on "+a.String())
	}
	msg := "serving over " + strings.Join(where, ", ")
	if u := d.MetricsURL(); u != "" {
		msg += "; metrics on " + u
	} else {
		msg += "; metrics off"
	}
	log.Info(msg)
	return d.Run()
}

// activatedConfigs makes one listener config per socket systemd passed, its
// protocol read from the start of its name.
func activatedConfigs(names string) []config.Listener {
	var ls []config.Listener
	list := strings.Split(names, ":")
	if names == "" {
		// Unnamed sockets are all called "unknown" by systemd.
		list = []string{"unknown"}
	}
	seen := map[string]bool{}
	for _, n := range list {
		if seen[n] {
			continue
		}
		seen[n] = true
		p := "http"
		switch {
		case strings.HasPrefix(n, "fastcgi"), strings.HasPrefix(n, "fcgi"):
			p = "fastcgi"
		case strings.HasPrefix(n, "scgi"):
			p = "scgi"
		}
		ls = append(ls, config.Listener{Name: n, Protocol: p})
	}
	return ls
}

func serveCGI(h http.Handler, path string, o Options) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	opts := cgi.Options{IISPathDedup: cfg.CGI.IISPathDedup, NPH: cfg.CGI.NPH, ServerSoftware: cfg.ServerSoftware, Log: o.Log}
	if o.Stdin == nil && o.Stdout == nil && o.Stderr == nil {
		return cgi.Serve(h, opts)
	}
	stdin, stdout, stderr := o.Stdin, o.Stdout, o.Stderr
	if stdin == nil {
		stdin = os.Stdin
	}
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	return cgi.ServeEnv(context.Background(), cgi.Environ(), stdin, stdout, stderr, h, opts)
}

// ErrNoHandler is returned when Serve is given a nil handler.
var ErrNoHandler = errors.New("gatewayd: no handler")
