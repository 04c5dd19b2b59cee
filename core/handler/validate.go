package handler

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/gatewayd/gatewayd/core/environ"
)

// ErrViolation is wrapped by every error Validate reports.
var ErrViolation = errors.New("handler: conformance violation")

// Validate wraps app in a checker of both sides of the interface, in the
// spirit of wsgiref.validate, and calls report once per violation found:
//
// the environment — REQUEST_METHOD, SERVER_NAME, SERVER_PORT and
// SERVER_PROTOCOL present, SERVER_PORT numeric, no HTTP_CONTENT_TYPE or
// HTTP_CONTENT_LENGTH, SCRIPT_NAME and PATH_INFO empty or starting with "/",
// SCRIPT_NAME never "/", CONTENT_LENGTH a non-negative integer;
//
// the response — a status of three digits ≥ 100, header names that match
// [A-Za-z][A-Za-z0-9_-]* and do not end in "-" or "_", values without
// control characters, no Status header, Content-Type present except on
// 1xx, 204 and 304 and absent there, no write after the app returned, and a
// body as long as the Content-Length the app declared.
//
// Violations do not change the response: the app runs as it would without
// the checker, so it can stay on in production to log what is wrong.
func Validate(app http.Handler, report func(r *http.Request, err error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad := func(format string, args ...any) {
			report(r, fmt.Errorf("%w: %s", ErrViolation, fmt.Sprintf(format, args...)))
		}
		if env, ok := environ.FromContext(r.Context()); ok {
			checkEnv(env, bad)
		} else {
			bad("no environment in the request context")
		}
		vw := &validatingWriter{w: w, bad: bad, isHead: r.Method == http.MethodHead}
		app.ServeHTTP(vw, r)
		vw.returned()
	})
}

func checkEnv(env environ.Env, bad func(string, ...any)) {
	for _, k := range []string{"REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL"} {
		if _, ok := env[k]; !ok {
			bad("environment lacks %s", k)
		}
	}
	if p, ok := env["SERVER_PORT"]; ok {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			bad("SERVER_PORT %q is not a port number", p)
		}
	}
	for _, k := range []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"} {
		if _, ok := env[k]; ok {
			bad("environment has %s; it must be %s", k, k[5:])
		}
	}
	for _, k := range []string{"SCRIPT_NAME", "PATH_INFO"} {
		if v := env[k]; v != "" && v[0] != '/' {
			bad("%s %q must be empty or start with /", k, v)
		}
	}
	if env["SCRIPT_NAME"] == "/" {
		bad(`SCRIPT_NAME must not be "/"; it is "" for the root`)
	}
	if cl, ok := env["CONTENT_LENGTH"]; ok && cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err != nil || n < 0 {
			bad("CONTENT_LENGTH %q is not a non-negative integer", cl)
		}
	}
}

type validatingWriter struct {
	w      http.ResponseWriter
	bad    func(string, ...any)
	isHead bool

	mu       sync.Mutex
	status   int
	declared int64
	written  int64
	done     bool
}

func (v *validatingWriter) Header() http.Header { return v.w.Header() }

func (v *validatingWriter) WriteHeader(code int) {
	v.mu.Lock()
	v.check(code, false)
	v.mu.Unlock()
	v.w.WriteHeader(code)
}

// check runs the head checks the first time a status is fixed.
func (v *validatingWriter) check(code int, implicit bool) {
	if v.done {
		v.bad("WriteHeader(%d) after the app returned", code)
		return
	}
	if v.status != 0 || (code >= 100 && code < 200) {
		return
	}
	v.status = code
	if code < 100 || code > 999 {
		v.bad("status %d is not three digits ≥ 100", code)
	}
	h := v.w.Header()
	for name, vals := range h {
		if !wsgiHeaderName(name) {
			v.bad("header name %q is not [A-Za-z][A-Za-z0-9_-]* without a trailing - or _", name)
		}
		for _, val := range vals {
			for i := 0; i < len(val); i++ {
				if c := val[i]; c < 0x20 && c != '\t' || c == 0x7f {
					v.bad("header %s has a control character in its value", name)
					break
				}
			}
		}
	}
	if _, ok := h["Status"]; ok {
		v.bad("the app set a Status header; the status is WriteHeader's")
	}
	_, hasType := h["Content-Type"]
	switch {
	case !bodyAllowed(code) && hasType:
		v.bad("Content-Type set on a %d response, which has no body", code)
	case bodyAllowed(code) && !hasType && h.Get("Location") == "":
		if implicit {
			v.bad("no Content-Type before the first Write (net/http would sniff one)")
		} else {
			v.bad("no Content-Type on a %d response", code)
		}
	}
	v.declared = -1
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			v.bad("Content-Length %q is not a non-negative integer", cl)
		} else {
			v.declared = n
		}
	}
}

func (v *validatingWriter) Write(p []byte) (int, error) {
	v.mu.Lock()
	if v.done {
		v.bad("Write of %d bytes after the app returned", len(p))
	} else {
		v.check(http.StatusOK, true)
	}
	v.written += int64(len(p))
	v.mu.Unlock()
	return v.w.Write(p)
}

func (v *validatingWriter) Flush() {
	if f, ok := v.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (v *validatingWriter) Unwrap() http.ResponseWriter { return v.w }

func (v *validatingWriter) returned() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.status == 0 {
		v.check(http.StatusOK, true)
	}
	v.done = true
	if v.declared >= 0 && !v.isHead && bodyAllowed(v.status) && v.written != v.declared {
		v.bad("Content-Length %d but %d body bytes written", v.declared, v.written)
	}
}

// wsgiHeaderName is wsgiref.validate's header name rule.
func wsgiHeaderName(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !('0' <= c && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	last := s[len(s)-1]
	return last != '-' && last != '_'
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
