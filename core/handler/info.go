package handler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strconv"
	"sync/atomic"
)

// Info is what the core knows about one request beyond its environment. Apps
// fill in the parts that are theirs (the router its Route and App, the CGI
// script runner the script's exit status) from the request's goroutine; front
// ends and observers read it when the request is done.
type Info struct {
	// ID identifies the request in logs; unique within the process.
	ID string
	// Protocol is the front end: "http", "fastcgi", "scgi" or "cgi".
	Protocol string
	// Route is the prefix of the route that took the request, App its app kind.
	Route, App string
	// AppStatus is the application's exit status, where it has one (a CGI
	// script's); FastCGI sends it as appStatus in FCGI_END_REQUEST.
	AppStatus int
	// Errors is the request's error stream (FastCGI's FCGI_STDERR, a CGI
	// program's stderr), or nil. Apps that relay a child's stderr write
	// whole lines to it.
	Errors io.Writer
}

type infoKey struct{}

// InfoFrom returns the request's Info, or nil outside a request run by a
// Handler.
func InfoFrom(ctx context.Context) *Info {
	i, _ := ctx.Value(infoKey{}).(*Info)
	return i
}

// WithInfo returns a context carrying info, for apps that run a request
// themselves (tests, a local redirect).
func WithInfo(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// idSource makes request IDs: a random per-process prefix and a counter, so
// that IDs from two runs never collide in one log.
type idSource struct {
	prefix string
	n      atomic.Uint64
}

func newIDSource() *idSource {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &idSource{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (s *idSource) next() string {
	var buf [32]byte
	b := append(buf[:0], s.prefix...)
	return string(strconv.AppendUint(b, s.n.Add(1), 10))
}
