package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gatewayd/gatewayd/app/cgiscript"
	"github.com/gatewayd/gatewayd/core/environ"
)

// doCGI runs the script t names once, with gatewayd's CGI runner, as a web
// server would: its stdin is the body, its stdout the response; its stderr
// lines go to req.Stderr.
func doCGI(ctx context.Context, t Target, req Request, env environ.Env, out io.Writer) (*Response, error) {
	// The deadline ends the script through the context (the runner stops
	// a script whose client went away); the runner's own timeout is only
	// a backstop behind it, so that which of the two fired is never a race.
	timeout := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl) + time.Second
	}
	if _, err := os.Stat(t.Address); err != nil {
		// No script is the CGI form of nothing listening.
		return nil, &Error{Kind: Connect, Err: fmt.Errorf("cgi target: %w", err)}
	}
	log := zap.New(&stderrCore{w: req.Stderr})
	rn, err := cgiscript.New(cgiscript.Config{
		Script:         t.Address,
		Timeout:        timeout,
		KillGrace:      100 * time.Millisecond,
		MaxConcurrency: 1,
		// The user runs the script as themselves, root or not: the
		// runner's refusal guards a daemon, not a command.
		AllowRoot:    true,
		MaxRedirects: -1,
	}, log)
	if err != nil {
		return nil, fail(Usage, "cgi target: %w", err)
	}
	defer func() { _ = rn.Shutdown(context.Background()) }()

	var body io.Reader
	if req.Body != nil {
		body = io.LimitReader(req.Body, req.BodyLen)
	}
	hr, err := env.Request(body)
	if err != nil {
		return nil, fail(Usage, "building the request: %w", err)
	}
	hr = hr.WithContext(environ.NewContext(ctx, env))
	w := &cgiWriter{req: &req, out: out, max: req.maxBytes(), header: http.Header{}}
	serve(rn, w, hr)
	if w.resp == nil {
		w.WriteHeader(http.StatusOK)
	}
	if ctx.Err() != nil {
		return w.resp, fail(Timeout, "the script ran past the deadline: %w", ctx.Err())
	}
	if w.err != nil {
		return w.resp, w.err
	}
	return w.resp, nil
}

// cgiWriter is the http.ResponseWriter the runner answers into.
type cgiWriter struct {
	req    *Request
	out    io.Writer
	header http.Header
	resp   *Response
	n, max int64
	err    error
}

func (w *cgiWriter) Header() http.Header { return w.header }

func (w *cgiWriter) WriteHeader(code int) {
	if w.resp != nil || code < 200 {
		return
	}
	w.resp = &Response{Status: code, Header: w.header.Clone()}
	if w.req.OnHead != nil {
		w.req.OnHead(w.resp)
	}
}

func (w *cgiWriter) Write(p []byte) (int, error) {
	if w.resp == nil {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.max >= 0 && w.n+int64(len(p)) > w.max {
		w.err = &Error{Kind: Protocol, Err: ErrTooLarge}
		return 0, w.err
	}
	n, err := w.out.Write(p)
	w.n += int64(n)
	w.resp.Bytes += int64(n)
	if err != nil {
		w.err = ioError("writing the body", err)
	}
	return n, err
}

func (w *cgiWriter) Flush() {}

// serve runs the runner, which ends a request whose client went away (our
// deadline) with http.ErrAbortHandler, as net/http handlers do.
func serve(h http.Handler, w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil && v != http.ErrAbortHandler {
			panic(v)
		}
	}()
	h.ServeHTTP(w, r)
}

// stderrCore is the runner's logger: a script's stderr lines go out as they
// are, anything else the runner says as one line.
type stderrCore struct {
	w      io.Writer
	fields []zapcore.Field
}

func (c *stderrCore) Enabled(l zapcore.Level) bool { return l >= zapcore.InfoLevel }

func (c *stderrCore) With(f []zapcore.Field) zapcore.Core {
	return &stderrCore{w: c.w, fields: append(append([]zapcore.Field(nil), c.fields...), f...)}
}

func (c *stderrCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *stderrCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	for _, f := range fields {
		if f.Key == "line" && f.Type == zapcore.StringType {
			_, err := io.WriteString(c.w, f.String+"\n")
			return err
		}
	}
	_, err := io.WriteString(c.w, "gatewayd request: cgi: "+e.Message+"\n")
	return err
}

func (c *stderrCore) Sync() error { return nil }
