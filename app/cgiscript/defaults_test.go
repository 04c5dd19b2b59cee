package cgiscript

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestZeroIsTheDefault: a Config's zero values run as the package's
// DefaultX, the only place those numbers are written (config leaves the
// keys a file does not set at 0 and hands them here).
func TestZeroIsTheDefault(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	c := rn.cfg
	for _, d := range []struct {
		name      string
		got, want any
	}{
		{"Timeout", c.Timeout, DefaultTimeout},
		{"KillGrace", c.KillGrace, DefaultKillGrace},
		{"MaxConcurrency", c.MaxConcurrency, 2 * runtime.NumCPU()},
		{"QueueSize", c.QueueSize, DefaultQueueSize},
		{"QueueTimeout", c.QueueTimeout, DefaultQueueTimeout},
		{"MaxHeaderBytes", c.MaxHeaderBytes, DefaultMaxHeaderBytes},
		{"MaxSpoolBytes", c.MaxSpoolBytes, int64(DefaultMaxSpoolBytes)},
		{"MaxRedirects", c.MaxRedirects, DefaultMaxRedirects},
	} {
		if d.got != d.want {
			t.Errorf("%s: zero ran as %v, want the default %v", d.name, d.got, d.want)
		}
	}
	if !slices.Equal(c.PassEnv, []string{"PATH"}) {
		t.Errorf("PassEnv: nil ran as %q, want [PATH]", c.PassEnv)
	}
	if rn.KillGrace() != DefaultKillGrace {
		t.Errorf("KillGrace() = %v, want the default", rn.KillGrace())
	}
	if s := rn.Stats(); s.MaxConcurrency != 2*runtime.NumCPU() || s.QueueSize != DefaultQueueSize {
		t.Errorf("Stats = %+v: the status page would show other limits than the ones that run", s)
	}
}

// TestNegativeCannotBeOff: a limit that cannot be off refuses a negative
// value, naming it, instead of running with its default (kill_grace did)
// or with none.
func TestNegativeCannotBeOff(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"kill_grace", Config{KillGrace: -time.Second}},
		{"max_concurrency", Config{MaxConcurrency: -1}},
		{"queue_timeout", Config{QueueTimeout: -time.Second}},
		{"max_header_bytes", Config{MaxHeaderBytes: -1}},
	} {
		c.cfg.Root, c.cfg.AllowRoot = scripts, true
		rn, err := New(c.cfg, nil)
		if err == nil {
			_ = rn.Shutdown(context.Background())
			t.Errorf("%s: negative accepted", c.name)
			continue
		}
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.name+": ") {
			t.Errorf("%s: error %q does not name it", c.name, err)
		}
	}
}

// TestNegativeQueueSizeIsNoQueue: queue_size -1 is off: no request waits;
// with the one slot busy, the next is answered 503 at once, as queue_full.
func TestNegativeQueueSizeIsNoQueue(t *testing.T) {
	ev := newEvents()
	rn := newRunner(t, Config{MaxConcurrency: 1, QueueSize: -1, QueueTimeout: time.Minute, Observer: ev}, nil)
	if s := rn.Stats(); s.QueueSize != 0 {
		t.Errorf("Stats.QueueSize = %d, want 0 (no queue)", s.QueueSize)
	}
	first, release := occupy(t, rn, ev)
	// Bounded by the test's own deadline, not a timing threshold: with a
	// queue the request would wait the minute of queue_timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := serve(t, ctx, rn, cgiEnv("GET", "/hello.cgi", ""), nil, nil)
	if s.resp == nil || s.resp.StatusCode != 503 || s.resp.Header.Get("Retry-After") == "" {
		t.Errorf("slot busy, no queue: %q, want 503 with Retry-After", s.raw)
	}
	if r := <-ev.rejected; r != RejectQueueFull {
		t.Errorf("rejected for %s, want queue_full", r)
	}
	release()
	if s := <-first; s.body != "1\n" {
		t.Errorf("first: %q", s.raw)
	}
}

// occupy runs count.cgi, which holds its slot until release, and returns
// once it started; first gets its answer.
func occupy(t *testing.T, rn *Runner, ev *events) (first chan served, release func()) {
	body, release := block()
	env := cgiEnv("POST", "/count.cgi", "")
	env["CONTENT_LENGTH"] = "1"
	first = make(chan served)
	go func() { first <- serve(t, context.Background(), rn, env, body, nil) }()
	<-ev.started
	return first, release
}
