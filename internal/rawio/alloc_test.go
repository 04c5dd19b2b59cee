//go:build linux && !race

package rawio

import (
	"io"
	"testing"
)

// TestReadWriteAllocateNothing: a read and a write cost no allocation (the
// callbacks are made once per connection, not per call). The race detector
// allocates on its own, so this runs without it.
func TestReadWriteAllocateNothing(t *testing.T) {
	w, peer := pair(t, "unix")
	go io.Copy(peer, peer)
	buf := make([]byte, 64)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := w.Write(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(w, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per write and read, want 0", allocs)
	}
}
