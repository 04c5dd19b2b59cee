package fcgiupstream

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// fakeUpstream answers every request on a kept connection with the same
// records, allocating nothing per request, so that a benchmark counts the
// client's costs only.
func fakeUpstream(tb testing.TB, answer []byte) string {
	return rawUpstream(tb, func(c net.Conn) {
		rr := fcgiwire.NewReader(bufio.NewReaderSize(c, 16<<10))
		for {
			h, content, err := rr.Next()
			if err != nil {
				return
			}
			if h.Type == fcgiwire.TypeStdin && len(content) == 0 {
				if _, err := c.Write(answer); err != nil {
					return
				}
			}
		}
	})
}

// helloAnswer is php-fpm's answer to <?php echo "hello"; as records.
var helloAnswer = append(record(typeStdout, 1,
	[]byte("X-Powered-By: PHP/8.2.29\r\nContent-type: text/html; charset=UTF-8\r\n\r\nhello")),
	append(record(typeStdout, 1, nil), endRequest(1, 0, 0)...)...)

// benchProxied is one proxied GET through the core, as a front end runs it,
// against the fake upstream.
func benchProxied(b *testing.B, tr string) {
	sock := fakeUpstream(b, helloAnswer)
	u := newUpstream(b, Config{Upstream: "unix:" + sock, MaxConns: 1, Transport: tr})
	h := &handler.Handler{App: u}
	base := reqEnv("GET", "/app.php")
	environ.SetupTestingDefaults(base)
	b.ReportAllocs()
	for b.Loop() {
		env := make(environ.Env, len(base))
		for k, v := range base {
			env[k] = v
		}
		res := h.Serve(context.Background(), &handler.Request{Env: env, Protocol: "test"}, io.Discard)
		if res.Status != http.StatusOK || res.Incomplete() {
			b.Fatalf("%+v", res)
		}
	}
}

// BenchmarkProxiedNative must stay within 16 KiB and 80 allocations per
// request (issue 10); the environment's copy is part of the count.
func BenchmarkProxiedNative(b *testing.B) { benchProxied(b, TransportNative) }

// BenchmarkProxiedGofast is the same through the compatibility transport.
func BenchmarkProxiedGofast(b *testing.B) { benchProxied(b, TransportGofast) }

// TestProxiedCost holds the native transport to its budget per request: at
// most 16 KiB and 80 allocations, the core and the environment included.
func TestProxiedCost(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("allocation counts differ under the race detector")
	}
	res := testing.Benchmark(BenchmarkProxiedNative)
	if res.N == 0 {
		t.Fatal("the benchmark failed")
	}
	if a, bytes := res.AllocsPerOp(), res.AllocedBytesPerOp(); a > 80 || bytes > 16<<10 {
		t.Errorf("%d allocations, %d bytes per request; the budget is 80 and 16 KiB", a, bytes)
	}
	// What it costs now (19 allocations, 2.9 KiB, five of them the
	// benchmark's copy of the environment), with a little room: a change
	// that puts the head's map, the exchange or the request's logger back
	// on the heap, copies the head again, or watches the client on every
	// request (context.AfterFunc), fails here, long before the issue's
	// budget would notice.
	if a, bytes := res.AllocsPerOp(), res.AllocedBytesPerOp(); a > 22 || bytes > 4<<10 {
		t.Errorf("%d allocations, %d bytes per request; they were 19 and 2.9 KiB", a, bytes)
	}
}
