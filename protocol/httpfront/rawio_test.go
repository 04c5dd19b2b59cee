//go:build linux

package httpfront

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/gatewayd/gatewayd/internal/rawio"
)

// TestConnectionsReadRaw: the connections the front end accepts read and
// write through internal/rawio (design.md, "Socket reads and writes keep
// their processor"), under the watch that paces their write deadline.
func TestConnectionsReadRaw(t *testing.T) {
	addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wc := connOf(r)
		if wc == nil {
			fmt.Fprint(w, "no watched connection")
			return
		}
		fmt.Fprintf(w, "%T", wc.Conn)
	}))
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got string
	fmt.Fscan(resp.Body, &got)
	if want := fmt.Sprintf("%T", &rawio.Conn{}); got != want {
		t.Fatalf("the connection is %q, want %q", got, want)
	}
}
