package fastcgi

import (
	"runtime"
	"testing"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/handler"
)

// heapInUse is the live heap after two collections (the second empties
// sync.Pool's victim cache).
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestHeapPerKeptConnection: a connection kept open between requests (nginx
// with fastcgi_keep_conn holds hundreds) costs the heap about 10 KB, its
// 4 KiB read buffer included, not a 16 KiB read buffer on top: at 256
// connections that buffer and the pool's spares were 8 MB of a 40 MB
// budget. The measure includes this test's own client side of each
// connection (a goroutine, a map, two small buffers).
func TestHeapPerKeptConnection(t *testing.T) {
	const conns = 200
	addr := startServer(t, &Server{Handler: &handler.Handler{App: newTestApp()}, Log: zap.NewNop()})
	// One connection first, so that what the server makes once (pools,
	// timers, the logger) is not counted.
	if r := dialTest(t, addr).get(1, "/hello"); r.body() != "Hello" {
		t.Fatalf("warm-up: %q", r.body())
	}
	before := heapInUse()
	clients := make([]*testClient, conns)
	for i := range clients {
		clients[i] = dialTest(t, addr)
		if r := clients[i].get(1, "/hello"); r.body() != "Hello" {
			t.Fatalf("connection %d: %q", i, r.body())
		}
	}
	after := heapInUse()
	per := (int64(after) - int64(before)) / conns
	t.Logf("%d bytes of heap per kept connection", per)
	if per > 14<<10 {
		t.Errorf("%d bytes of heap per kept connection, want at most 14 KiB", per)
	}
	runtime.KeepAlive(clients)
}
