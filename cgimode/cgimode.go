// Package cgimode is gatewayd's CGI mode: one request from the process
// environment and stdin, answered on stdout by the routes of a config
// file, as a web server (Apache mod_cgi, IIS) runs a CGI program. Both
// `gatewayd cgi` and the lean gatewayd-cgi program run it; it links no
// metrics, command line parser or systemd support, whose package
// initialisation every request would pay.
package cgimode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/logger"
	"github.com/gatewayd/gatewayd/protocol/cgi"
	"github.com/gatewayd/gatewayd/routes"
)

// cgiErrorBody is the body of the 500 answer when gatewayd cannot start in
// CGI mode; the reason goes to stderr, the web server's error log. It is the
// core's 500 page.
const cgiErrorBody = handler.ServerErrorBody

// Run answers one request as a CGI program (gatewayd cgi [--config FILE],
// gatewayd with GATEWAY_INTERFACE set, or gatewayd-cgi [--config FILE]),
// reading the body from stdin, and returns the exit code. The config comes from
// --config, else GATEWAYD_CONFIG, else the defaults (the demo app). It does
// only what the request needs: no listeners, metrics or signal handling.
// opts give the routes what the program links besides (routes.WithGofast
// in the gatewayd binary).
// Whatever fails, the web server gets a CGI answer on stdout.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, opts ...routes.Option) int {
	path, err := cgiConfigFlag(args, os.Getenv("GATEWAY_INTERFACE") != "", os.Getenv("QUERY_STRING"))
	if err != nil {
		return cgiFail(stdout, stderr, err)
	}
	if path == "" {
		path = os.Getenv("GATEWAYD_CONFIG")
	}
	cfg, err := config.Load(path)
	if err != nil {
		return cgiFail(stdout, stderr, err)
	}
	log, _, err := logger.New(cfg.Log, stderr)
	if err != nil {
		return cgiFail(stdout, stderr, err)
	}
	log = log.With(zap.String("mode", "cgi"))
	// No log.Sync: logger.New's core writes every entry through at once,
	// and Sync on standard error is fsync(2), which a web server that sends
	// CGI errors to a log file would pay as a disk flush at every request.
	app, err := routes.Handler(cfg, log, opts...)
	if err != nil {
		return cgiFail(stdout, stderr, fmt.Errorf("building the routes: %w", err))
	}
	err = cgi.ServeEnv(context.Background(), cgi.Environ(), stdin, stdout, stderr, app, cgi.Options{
		IISPathDedup:   cfg.CGI.IISPathDedup,
		NPH:            cfg.CGI.NPH,
		ServerSoftware: cfg.ServerSoftware,
		Log:            log,
	})
	if err != nil {
		log.Error("request failed", zap.Error(err))
		return 1
	}
	return 0
}

// cgiConfigFlag returns the value of --config (or -config, --config=FILE)
// in args. A leading "cgi" is skipped. Under a web server, the trailing
// arguments that are the words of an ISINDEX query (RFC 3875 4.4: a
// QUERY_STRING without "=" that the server also passes on the command line)
// are dropped first, so that a client cannot choose the config file.
func cgiConfigFlag(args []string, underServer bool, query string) (string, error) {
	if len(args) > 0 && args[0] == "cgi" {
		args = args[1:]
	}
	if underServer {
		args = dropISINDEX(args, query)
	}
	path := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case !strings.HasPrefix(a, "-"):
			return "", fmt.Errorf("gatewayd cgi: unexpected argument %q (usage: gatewayd cgi [--config FILE])", a)
		case name == "config" && hasValue:
			path = value
		case name == "config" && i+1 < len(args):
			path = args[i+1]
			i++
		case name == "config":
			return "", errors.New("gatewayd cgi: --config needs a file")
		default:
			return "", fmt.Errorf("gatewayd cgi: unknown flag %q (usage: gatewayd cgi [--config FILE])", a)
		}
	}
	return path, nil
}

// dropISINDEX removes the ISINDEX words of query from the end of args. The
// caller may have consumed the first of them (a query "cgi+--config+x"
// reaches Run as "--config", "x"), so the longest tail of args that is a
// tail of the words goes.
func dropISINDEX(args []string, query string) []string {
	if query == "" || strings.Contains(query, "=") {
		return args
	}
	words := strings.Split(query, "+")
	for i, w := range words {
		if dec, err := url.QueryUnescape(w); err == nil {
			words[i] = dec
		}
	}
	k := min(len(args), len(words))
	for ; k > 0; k-- {
		if slices.Equal(args[len(args)-k:], words[len(words)-k:]) {
			return args[:len(args)-k]
		}
	}
	return args
}

// cgiFail answers the web server with the 500 page and says why on stderr.
func cgiFail(stdout, stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "gatewayd: %v\n", err)
	fmt.Fprintf(stdout, "Status: 500 Internal Server Error\r\nContent-Length: %s\r\nContent-Type: text/plain\r\n\r\n%s",
		strconv.Itoa(len(cgiErrorBody)), cgiErrorBody)
	return 1
}
