package cgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
)

// Options says how a request is served.
type Options struct {
	// IISPathDedup removes the copy of SCRIPT_NAME that IIS puts at the front
	// of PATH_INFO. Default false; the config key cgi.iis_path_dedup.
	IISPathDedup bool
	// NPH answers in origin-server form (status line, Date, Server) whatever
	// the script's name. Default false: only for nph-* names. The config key
	// cgi.nph.
	NPH bool
	// ServerSoftware is the Server header of an NPH response unless the app
	// set one. Empty sends none.
	ServerSoftware string
	// Log receives the core's errors. Nil means no logging; the error
	// stream still gets an app's panic.
	Log *zap.Logger
}

// Serve answers the one request of a CGI process: the environment from
// os.Environ, the body from os.Stdin, the response to os.Stdout and the error
// stream to os.Stderr. It returns an error when the app or the output failed;
// the response has been written (the 500 page, or as much as there was) in
// any case.
func Serve(app http.Handler, o Options) error {
	return ServeEnv(context.Background(), Environ(), os.Stdin, os.Stdout, os.Stderr, app, o)
}

// Environ returns the process environment as an [environ.Env]. A name set
// twice keeps its first value, as os.Getenv does.
func Environ() environ.Env {
	return fromList(os.Environ())
}

// fromList turns "NAME=value" entries into an Env. Entries without "=" and
// with an empty name (Windows' per-drive "=C:=C:\dir") are skipped.
//
// gatewayd's own settings (GATEWAYD_CONFIG, GATEWAYD_CGI_IIS_PATH_DEDUP, …)
// are configuration, not part of the request, and are left out too.
func fromList(list []string) environ.Env {
	env := make(environ.Env, len(list)+4)
	for _, kv := range list {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" || strings.HasPrefix(name, "GATEWAYD_") {
			continue
		}
		if _, dup := env[name]; !dup {
			env[name] = value
		}
	}
	return env
}

// ServeEnv answers the request that env describes: the body is the first
// CONTENT_LENGTH bytes of stdin, the response goes to stdout and the error
// stream to stderr. env becomes the request's and must not be used after.
func ServeEnv(ctx context.Context, env environ.Env, stdin io.Reader, stdout, stderr io.Writer, app http.Handler, o Options) error {
	for _, name := range [...]string{"CONTENT_LENGTH", "CONTENT_TYPE"} {
		if v, ok := env[name]; ok && v == "" {
			delete(env, name)
		}
	}
	if o.IISPathDedup {
		environ.DedupIISPath(env)
	}
	h := &handler.Handler{
		App:            app,
		OriginServer:   o.NPH || IsNPH(env),
		ServerSoftware: o.ServerSoftware,
		Log:            o.Log,
	}
	req := handler.Request{Env: env, Errors: stderr, Protocol: "cgi"}
	if n, err := strconv.ParseInt(env["CONTENT_LENGTH"], 10, 64); err == nil && n > 0 && stdin != nil {
		req.Body = &exactReader{r: stdin, n: n}
	}
	res := h.Serve(ctx, &req, stdout)
	if res.Err != nil {
		if res.Incomplete() {
			return fmt.Errorf("cgi: response cut short after %d body bytes: %w", res.BytesOut, res.Err)
		}
		return fmt.Errorf("cgi: %w", res.Err)
	}
	return nil
}

// IsNPH reports whether env names a non-parsed-header script: the last
// segment of SCRIPT_NAME or the base name of SCRIPT_FILENAME starts with
// "nph-".
func IsNPH(env environ.Env) bool {
	return strings.HasPrefix(lastSegment(env["SCRIPT_NAME"]), "nph-") ||
		strings.HasPrefix(lastSegment(env["SCRIPT_FILENAME"]), "nph-")
}

// lastSegment is what follows the last "/" (or "\", for Windows paths).
func lastSegment(p string) string {
	return p[strings.LastIndexAny(p, `/\`)+1:]
}

// ErrShortBody is the app's body read error when standard input ends before
// CONTENT_LENGTH bytes.
var ErrShortBody = errors.New("cgi: request body shorter than CONTENT_LENGTH")

// exactReader reads n bytes of r and then reports the end, whatever follows.
type exactReader struct {
	r io.Reader
	n int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	if err == io.EOF && e.n > 0 {
		err = fmt.Errorf("%w (%d bytes missing): %w", ErrShortBody, e.n, io.ErrUnexpectedEOF)
	}
	return n, err
}
