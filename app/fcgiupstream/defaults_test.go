package fcgiupstream

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/core/event"
)

// TestZeroIsTheDefault: a Config's zero values run as the package's
// DefaultX, the only place those numbers are written (config leaves the
// keys a file does not set at 0 and hands them here).
func TestZeroIsTheDefault(t *testing.T) {
	c, err := Config{Upstream: "unix:/nonexistent", Root: "/"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		name      string
		got, want any
	}{
		{"Index", c.Index, DefaultIndex},
		{"Extensions", strings.Join(c.Extensions, ","), ".php"},
		{"MaxConns", c.MaxConns, DefaultMaxConns},
		{"ConnectTimeout", c.ConnectTimeout, DefaultConnectTimeout},
		{"UpstreamTimeout", c.UpstreamTimeout, DefaultUpstreamTimeout},
		{"MaxSpoolBytes", c.MaxSpoolBytes, int64(DefaultMaxSpoolBytes)},
		{"IdleTimeout", c.IdleTimeout, DefaultIdleTimeout},
		{"Transport", c.Transport, TransportNative},
		{"QueueSize", c.QueueSize, DefaultQueueSize},
		{"QueueTimeout", c.QueueTimeout, DefaultQueueTimeout},
		{"MaxRedirects", c.MaxRedirects, DefaultMaxRedirects},
		{"ResolveInterval", c.ResolveInterval, DefaultResolveInterval},
		{"LookupCacheSize", c.LookupCacheSize, DefaultLookupCacheSize},
		{"LookupCacheTTL", c.LookupCacheTTL, DefaultLookupCacheTTL},
	} {
		if d.got != d.want {
			t.Errorf("%s: zero runs as %v, want the default %v", d.name, d.got, d.want)
		}
	}
	u := newUpstream(t, Config{Upstream: "unix:/nonexistent"})
	if s := u.Stats(); s.MaxConns != DefaultMaxConns || s.QueueSize != DefaultQueueSize {
		t.Errorf("Stats = %+v: the status page would show other limits than the ones that run", s)
	}
}

// TestNegativeCannotBeOff: max_conns -1 ran with the default 8 (and
// upstream_timeout, connect_timeout, queue_timeout, resolve_interval -1
// with theirs); a limit that cannot be off now refuses it, by name.
func TestNegativeCannotBeOff(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"max_conns", Config{MaxConns: -1}},
		{"connect_timeout", Config{ConnectTimeout: -time.Second}},
		{"upstream_timeout", Config{UpstreamTimeout: -time.Second}},
		{"queue_timeout", Config{QueueTimeout: -time.Second}},
		{"resolve_interval", Config{ResolveInterval: -time.Second}},
	} {
		c.cfg.Upstream, c.cfg.Root = "unix:/nonexistent", scriptRoot(t)
		u, err := New(c.cfg, nil)
		if err == nil {
			u.Close()
			t.Errorf("%s: negative accepted", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.name+": ") {
			t.Errorf("%s: error %q does not name it", c.name, err)
		}
	}
}

// TestNegativeQueueSizeIsNoQueue: queue_size -1 is off: with the one
// connection busy, the next request is answered 503 at once instead of
// waiting queue_timeout for it.
func TestNegativeQueueSizeIsNoQueue(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	sock, _ := goUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hold") != "" {
			close(entered)
			<-release
		}
		io.WriteString(w, "ok")
	}))
	obs := &rejections{reasons: make(chan string, 1)}
	u := newUpstream(t, Config{Upstream: "unix:" + sock, MaxConns: 1, QueueSize: -1, QueueTimeout: time.Minute,
		Observer: obs})
	if s := u.Stats(); s.QueueSize != 0 {
		t.Errorf("Stats.QueueSize = %d, want 0 (no queue)", s.QueueSize)
	}
	held := reqEnv("GET", "/app.php")
	held["QUERY_STRING"], held["REQUEST_URI"] = "hold=1", "/app.php?hold=1"
	first := make(chan response)
	go func() { first <- serve(t, u, held, nil) }()
	<-entered
	if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("connection busy, no queue: %d %v, want 503 with Retry-After", r.status, r.header)
	}
	// queue_full, not queue_timeout: the request did not wait.
	if r := <-obs.reasons; r != "queue_full" {
		t.Errorf("rejected for %s, want queue_full", r)
	}
	close(release)
	if r := <-first; r.status != 200 || r.body != "ok" {
		t.Errorf("held request: %d %q", r.status, r.body)
	}
}

// rejections records why requests were refused.
type rejections struct{ reasons chan string }

func (o *rejections) Request(Outcome, time.Duration) {}
func (o *rejections) Pool(int, int)                  {}
func (o *rejections) QueueWait(time.Duration)        {}
func (o *rejections) Retried()                       {}
func (o *rejections) Health(string, int, bool)       {}
func (o *rejections) Rejected(r event.Rejection)     { o.reasons <- string(r) }

var _ Observer = (*rejections)(nil)
