package fastcgi

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/core/handler"
)

// withCounter counts the loggers derived from it with With: each one costs
// the encoding of its fields at once.
type withCounter struct {
	zapcore.Core
	n *atomic.Int64
}

func (c withCounter) With(f []zapcore.Field) zapcore.Core {
	c.n.Add(1)
	return withCounter{c.Core.With(f), c.n}
}

func (c withCounter) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// A connection makes its logger (zap's With, with the peer's address) only
// when it has something to log: it used to make one for every connection,
// a kilobyte and five allocations each, which a web server that opens a
// connection per request pays per request. What it logs still names the
// peer.
func TestConnectionLoggerOnlyWhenLogging(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	var withs atomic.Int64
	s := newServer(newTestApp())
	s.Log = zap.New(withCounter{core, &withs})
	addr := startServer(t, s)
	for range 5 {
		c := dialTest(t, addr)
		if r := c.get(1, "/hello"); r.ends != 1 {
			t.Fatalf("end records: %d", r.ends)
		}
		c.conn.Close()
	}
	quiet := withs.Load()

	// A record of version 2 is a protocol error, logged with the peer.
	c := dialTest(t, addr)
	c.conn.Write([]byte{2, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	buf := make([]byte, 64)
	for {
		if _, err := c.conn.Read(buf); err != nil {
			break
		}
	}
	if got := logs.FilterMessageSnippet("protocol error").AllUntimed(); len(got) != 1 || got[0].ContextMap()["remote"] == nil {
		t.Errorf("protocol error lines: %+v", got)
	}
	// Serve's own loggers are made once per server, before any connection.
	if quiet > 2 {
		t.Errorf("%d loggers made for 5 connections that logged nothing", quiet)
	}
}

// A small response goes out whole with its end from the request's own
// goroutine; what an app flushes mid-response must still go out at once,
// not wait for the end.
func TestFlushedOutputArrivesWhileTheAppRuns(t *testing.T) {
	release := make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second")
	})
	addr := startServer(t, &Server{Handler: &handler.Handler{App: app}})
	c := dialTest(t, addr)
	c.write(encodeRequest(1, roleResponder, flagKeepConn, getParams("/"), nil, false))
	r := c.resp(1)
	select {
	case <-r.first:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the flushed bytes did not arrive while the app ran")
	}
	close(release)
	<-r.done
	if got := r.stdout.String(); !strings.HasSuffix(got, "firstsecond") {
		t.Errorf("stdout %q", got)
	}
}
