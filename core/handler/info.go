package handler

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"
)

// Info is what the core knows about one request beyond its environment. Apps
// fill in the parts that are theirs (the router its Route and App, the CGI
// script runner the script's exit status) from the request's goroutine; front
// ends and observers read it when the request is done.
type Info struct {
	// ID identifies the request in logs: made unique within the process,
	// or taken from a trusted X-Request-Id (Handler.TrustRequestID).
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
	// Start is when the core took the request.
	Start time.Time

	// live is what the request reports while it runs. The status page and
	// the slow-request log read it from other goroutines at any moment, so
	// unlike the fields above every part of it is atomic; apps write it
	// through the methods below, which a nil *Info ignores.
	live live
}

// RequestIDVar is the CGI variable that carries the request id to CGI
// scripts and FastCGI upstreams (php-fpm's access.format prints it with
// %{REQUEST_ID}e).
const RequestIDVar = "REQUEST_ID"

// Phase says where a request in flight is waiting.
type Phase uint32

// The phases, in the order a request goes through them.
const (
	// PhaseApp: in the app, which reported nothing more precise.
	PhaseApp Phase = iota
	// PhaseQueued: waiting for a CGI slot or an upstream connection.
	PhaseQueued
	// PhaseScript: a CGI script runs.
	PhaseScript
	// PhaseUpstream: the request is with a FastCGI upstream.
	PhaseUpstream
)

var phaseNames = [...]string{"app", "queued", "script", "upstream"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "phase" + strconv.Itoa(int(p))
}

type live struct {
	phase                        atomic.Uint32
	route, app, script, upstream atomic.Pointer[string]
	pid                          atomic.Int64
	// Durations in nanoseconds; queueWait and connect are -1 until known,
	// firstByte (since Start) 0 until the head is decided.
	queueWait, connect, firstByte atomic.Int64
	bytesIn, bytesOut             atomic.Int64
}

// Live is a consistent-enough copy of what a request in flight reported:
// each field is read atomically, the set is not read at one instant.
type Live struct {
	Phase                        Phase
	Route, App, Script, Upstream string
	// Pid is the CGI script's process id, 0 when none runs.
	Pid int
	// QueueWait and Connect are -1 while unknown (or not part of the
	// request's way); FirstByte, since Start, is 0 until the app decided
	// its response head.
	QueueWait, Connect, FirstByte time.Duration
	BytesIn, BytesOut             int64
}

// Live returns what the request reported so far. Safe from any goroutine.
func (i *Info) Live() Live {
	l := &i.live
	return Live{
		Phase: Phase(l.phase.Load()),
		Route: loadString(&l.route), App: loadString(&l.app),
		Script: loadString(&l.script), Upstream: loadString(&l.upstream),
		Pid:       int(l.pid.Load()),
		QueueWait: time.Duration(l.queueWait.Load()) - 1,
		Connect:   time.Duration(l.connect.Load()) - 1,
		FirstByte: time.Duration(l.firstByte.Load()),
		BytesIn:   l.bytesIn.Load(), BytesOut: l.bytesOut.Load(),
	}
}

func loadString(p *atomic.Pointer[string]) string {
	if s := p.Load(); s != nil {
		return *s
	}
	return ""
}

// SetRoute records the route that took the request: Route and App, and
// their copies the status page reads while the request runs.
func (i *Info) SetRoute(prefix, app string) {
	if i == nil {
		return
	}
	i.Route, i.App = prefix, app
	i.live.route.Store(&prefix)
	i.live.app.Store(&app)
}

// SetPhase records where the request is waiting now.
func (i *Info) SetPhase(p Phase) {
	if i != nil {
		i.live.phase.Store(uint32(p))
	}
}

// QueueWaited records how long the request waited for a CGI slot or an
// upstream connection (zero when one was free).
func (i *Info) QueueWaited(d time.Duration) {
	if i != nil {
		i.live.queueWait.Store(int64(d) + 1)
	}
}

// ScriptStarted records the CGI script that now runs for the request.
func (i *Info) ScriptStarted(script string, pid int) {
	if i == nil {
		return
	}
	i.live.script.Store(&script)
	i.live.pid.Store(int64(pid))
	i.live.phase.Store(uint32(PhaseScript))
}

// UpstreamConnected records the upstream the request went to and how long
// connecting took (zero for a reused connection).
func (i *Info) UpstreamConnected(address string, d time.Duration) {
	if i == nil {
		return
	}
	i.live.upstream.Store(&address)
	i.live.connect.Store(int64(d) + 1)
	i.live.phase.Store(uint32(PhaseUpstream))
}

// headDecided records the time to the app's response head, once.
func (i *Info) headDecided() {
	if i.live.firstByte.Load() == 0 {
		i.live.firstByte.Store(max(int64(time.Since(i.Start)), 1))
	}
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

// maxRequestIDLen bounds a trusted X-Request-Id: longer ones are replaced
// by a generated id rather than carried into every log line.
const maxRequestIDLen = 128

// validRequestID reports whether a client's X-Request-Id may be used as
// is: 1 to maxRequestIDLen visible ASCII characters, so that it can go into
// logs, an environment variable and a response header unchanged.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// idSource makes request IDs: a random per-process prefix and a counter, so
// that IDs from two runs never collide in one log.
type idSource struct {
	prefix string
	n      atomic.Uint64
}

func newIDSource() *idSource {
	// math/rand/v2, not crypto/rand: the prefix only tells runs apart, and
	// the runtime seeds it at start-up, where crypto/rand's first read
	// sets up getrandom's state and a timer that wakes another thread —
	// about 40 µs that every CGI request paid.
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], rand.Uint32())
	return &idSource{prefix: hex.EncodeToString(b[:]) + "-"}
}

// idLen is room for an id: an 8-digit prefix, "-" and a uint64.
const idLen = 32

// append appends the next id to b.
func (s *idSource) append(b []byte) []byte {
	return strconv.AppendUint(append(b, s.prefix...), s.n.Add(1), 10)
}
