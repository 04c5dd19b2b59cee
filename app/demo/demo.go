// Package demo is gatewayd's demo app, after wsgiref.simple_server.demo_app:
// it answers "Hello world!", a blank line, and every environment variable the
// request arrived with as NAME=value, one a line, sorted by name. Tests of
// every front end use it to see exactly which environment a request produced.
package demo

import (
	"net/http"
	"strings"

	"github.com/gatewayd/gatewayd/core/environ"
)

// App is the demo application.
type App struct{}

var _ http.Handler = App{}

func (App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	env, ok := environ.FromContext(r.Context())
	if !ok {
		env = environ.Env{}
	}
	var b strings.Builder
	b.WriteString("Hello world!\n\n")
	for _, name := range env.Names() {
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(env[name])
		b.WriteByte('\n')
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

// Parse reads a demo response body back into the environment it lists, for
// tests. Lines without "=" after the greeting are ignored.
func Parse(body string) environ.Env {
	env := environ.Env{}
	_, rest, _ := strings.Cut(body, "\n\n")
	for _, line := range strings.Split(rest, "\n") {
		if name, value, ok := strings.Cut(line, "="); ok {
			env[name] = value
		}
	}
	return env
}
