// Package accesslog writes gatewayd's access log: one structured zap line
// per request, at info level, when the request ends. It is a core
// handler.Observer; combine it with the metrics Observer through
// handler.MultiObserver.
//
// Each line has the message "request" and these fields:
//
//	request_id  the core's request id (handler.Info.ID)
//	protocol    the front end: http, fastcgi, scgi, cgi
//	method      REQUEST_METHOD
//	path        SCRIPT_NAME + PATH_INFO as the front end gave them (decoded);
//	            the path of REQUEST_URI when both are empty
//	status      the status sent (or that would have been sent)
//	bytes_in    request body bytes the app read
//	bytes_out   response body bytes written
//	duration    time from the start of the request to the end of its response
//	remote      REMOTE_ADDR
//	route, app  the route prefix and app kind that took the request ("" for none)
//	error       what failed, only when something did
//	incomplete  true, only when the response was cut short
//
// What is never logged, by design: the query string (it often carries
// tokens, password-reset codes and API keys), request and response headers
// (so no Cookie, Authorization or Set-Cookie), and bodies. Not supported:
// Apache/NCSA "combined" text format (use zap's console encoder, or a log
// shipper), per-route sampling, and logging at End only part of the
// requests.
package accesslog

import (
	"errors"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
)

// Logger is the access log Observer. A nil *Logger logs nothing.
type Logger struct {
	log *zap.Logger
}

var _ handler.Observer = (*Logger)(nil)

// New returns an access log that writes to log. Give it a logger named or
// With-ed as you like (the daemon adds the listener's name); nil means no
// logging.
func New(log *zap.Logger) *Logger {
	if log == nil {
		return nil
	}
	return &Logger{log: log}
}

// Begin does nothing: the line is written at End.
func (l *Logger) Begin(*handler.Request, *handler.Info) {}

// End writes the request's line.
func (l *Logger) End(req *handler.Request, info *handler.Info, res *handler.Result) {
	if l == nil || req == nil || res == nil {
		return
	}
	ce := l.log.Check(zapcore.InfoLevel, "request")
	if ce == nil {
		return
	}
	var id, protocol, route, app string
	if info != nil {
		id, protocol, route, app = info.ID, info.Protocol, info.Route, info.App
	} else {
		protocol = req.Protocol
	}
	e := req.Env
	fields := make([]zap.Field, 0, 13)
	fields = append(fields,
		zap.String("request_id", id),
		zap.String("protocol", protocol),
		zap.String("method", e["REQUEST_METHOD"]),
		zap.String("path", Path(e)),
		zap.Int("status", res.Status),
		zap.Int64("bytes_in", res.BytesIn),
		zap.Int64("bytes_out", res.BytesOut),
		zap.Duration("duration", res.Duration),
		zap.String("remote", e["REMOTE_ADDR"]),
		zap.String("route", route),
		zap.String("app", app),
	)
	switch {
	case errors.Is(res.Err, handler.ErrAbortHandler):
		// An app stops a response on purpose (a timeout, a shutdown, a
		// client gone); its own line said why. "net/http: abort Handler"
		// would tell a person nothing.
		fields = append(fields, zap.String("error", "response cut short"))
	case res.Err != nil:
		fields = append(fields, zap.Error(res.Err))
	}
	if res.Incomplete() {
		fields = append(fields, zap.Bool("incomplete", true))
	}
	ce.Write(fields...)
}

// Path is the path an access line shows, never with the query string:
// SCRIPT_NAME+PATH_INFO, or, when both are empty, REQUEST_URI up to its
// query. The status page shows requests the same way.
func Path(e environ.Env) string {
	return path(e["SCRIPT_NAME"], e["PATH_INFO"], e["REQUEST_URI"])
}

func path(scriptName, pathInfo, requestURI string) string {
	if scriptName == "" && pathInfo == "" {
		p, _, _ := strings.Cut(requestURI, "?")
		return p
	}
	if scriptName == "" {
		return pathInfo
	}
	if pathInfo == "" {
		return scriptName
	}
	return scriptName + pathInfo
}
