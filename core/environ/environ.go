package environ

import (
	"context"
	"maps"
	"slices"
)

// Env is a CGI/1.1 environment: meta-variable name to value.
//
// A front end builds one per request and hands it to the core; from then on it
// is shared read-only. Code that wants to change it works on a [Env.Clone].
type Env map[string]string

// Clone returns a copy that can be changed without touching e.
func (e Env) Clone() Env { return maps.Clone(e) }

// Names returns the variable names in sorted order.
func (e Env) Names() []string { return slices.Sorted(maps.Keys(e)) }

// Get returns the value of name, or "" when it is unset.
func (e Env) Get(name string) string { return e[name] }

// Lookup returns the value of name and whether it is set.
func (e Env) Lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

type contextKey struct{}

// NewContext returns a context that carries env.
func NewContext(ctx context.Context, env Env) context.Context {
	return context.WithValue(ctx, contextKey{}, env)
}

// FromContext returns the environment the request arrived with, as the front
// end built it and the routes shifted it. Callers must not modify it.
func FromContext(ctx context.Context) (Env, bool) {
	env, ok := ctx.Value(contextKey{}).(Env)
	return env, ok
}

// IsContextKey reports whether key is the one NewContext stores an
// environment under, for a context type of its own that carries the
// environment without a context.WithValue (the core's request context
// does, to spare an allocation per request).
func IsContextKey(key any) bool {
	_, ok := key.(contextKey)
	return ok
}
