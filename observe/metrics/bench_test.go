package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewayd/gatewayd/core/handler"
)

// BenchmarkObserver is the per-request cost of the metrics Observer: Begin
// and End for a request whose series exist.
func BenchmarkObserver(b *testing.B) {
	m := New(prometheus.NewRegistry(), BuildInfo{})
	o := m.Observer("main")
	req := &handler.Request{Protocol: "fastcgi"}
	info := &handler.Info{ID: "x-1", Protocol: "fastcgi", Route: "/api", App: "demo"}
	res := &handler.Result{Status: 200, BytesIn: 10, BytesOut: 2000, Duration: 3 * time.Millisecond}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			o.Begin(req, info)
			o.End(req, info, res)
		}
	})
}

// BenchmarkObserverEnd is End alone.
func BenchmarkObserverEnd(b *testing.B) {
	m := New(prometheus.NewRegistry(), BuildInfo{})
	o := m.Observer("main")
	req := &handler.Request{Protocol: "fastcgi"}
	info := &handler.Info{ID: "x-1", Protocol: "fastcgi", Route: "/api", App: "demo"}
	res := &handler.Result{Status: 404, BytesOut: 19, Duration: time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		o.End(req, info, res)
	}
}

// BenchmarkCGI is a script's worth of CGI recorder calls.
func BenchmarkCGI(b *testing.B) {
	c := New(prometheus.NewRegistry(), BuildInfo{}).CGI("/cgi-bin")
	b.ReportAllocs()
	for b.Loop() {
		c.QueueWait(0)
		c.ScriptStarted("hello.cgi")
		c.StderrLine("hello.cgi")
		c.ScriptEnded("hello.cgi", "ok", 5*time.Millisecond)
	}
}

func TestRecordersDoNotAllocate(t *testing.T) {
	m := New(prometheus.NewRegistry(), BuildInfo{})
	l, c, u := m.Listener("main", "fastcgi"), m.CGI("/cgi-bin"), m.Upstream("/php")
	o := m.Observer("main")
	req := &handler.Request{Protocol: "fastcgi"}
	info := &handler.Info{Protocol: "fastcgi", Route: "/api", App: "demo"}
	res := &handler.Result{Status: 503, BytesIn: 1, BytesOut: 2, Duration: time.Millisecond}
	o.End(req, info, res) // make the series
	n := testing.AllocsPerRun(100, func() {
		o.Begin(req, info)
		o.End(req, info, res)
		l.ConnOpened()
		l.Refused("FCGI_OVERLOADED")
		l.Refused("FCGI_CANT_MPX_CONN")
		l.Aborted()
		l.ConnClosed(3)
		c.QueueWait(time.Millisecond)
		c.ScriptStarted("hello.cgi")
		c.ScriptEnded("hello.cgi", "signal", time.Second)
		c.Rejected("queue_full")
		u.Request("timeout", time.Second)
		u.Pool(1, 2)
	})
	if n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}
