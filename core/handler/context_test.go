package handler

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/core/environ"
)

// The request's context carries what the two context.WithValue calls it
// replaced carried, and its parent's values.
func TestRequestContextValues(t *testing.T) {
	type parentKey struct{}
	var gotEnv environ.Env
	var gotInfo *Info
	var gotParent any
	app := func(w http.ResponseWriter, r *http.Request) {
		gotEnv, _ = environ.FromContext(r.Context())
		gotInfo = InfoFrom(r.Context())
		gotParent = r.Context().Value(parentKey{})
	}
	parent := context.WithValue(context.Background(), parentKey{}, "kept")
	e := env("GET", "HTTP/1.1")
	res := (&Handler{App: http.HandlerFunc(app)}).Serve(parent, &Request{Env: e}, &discard{})
	if gotEnv["REQUEST_METHOD"] != "GET" || gotInfo == nil || gotInfo != res.Info || gotParent != "kept" {
		t.Errorf("env %v, info %p (result's %p), parent's value %v", gotEnv, gotInfo, res.Info, gotParent)
	}
}

// A context derived from the request's (as the FastCGI upstream and the
// CGI runner derive theirs) ends when the output breaks, whether the app
// asked for Done before or after.
func TestDerivedContextEndsWhenOutputBreaks(t *testing.T) {
	for _, early := range []bool{false, true} {
		done := make(chan error, 1)
		app := func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			fired := make(chan struct{})
			stop := context.AfterFunc(r.Context(), func() { close(fired) })
			defer stop()
			if early {
				<-r.Context().Done() // the parent is already cancelled
			}
			for range 100 {
				if _, err := w.Write(make([]byte, 16<<10)); err != nil {
					break
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
				done <- errors.New("derived context still open")
				return
			}
			select {
			case <-fired:
			case <-time.After(10 * time.Second):
				done <- errors.New("AfterFunc did not run")
				return
			}
			done <- ctx.Err()
		}
		parent := context.Background()
		if early {
			// The app waits on Done first: a cancelled parent ends it.
			c, cancel := context.WithCancel(parent)
			cancel()
			parent = c
		}
		(&Handler{App: http.HandlerFunc(app)}).Serve(parent, &Request{Env: env("GET", "HTTP/1.1")}, failingWriter{})
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("early=%v: %v", early, err)
		}
	}
}

// The context ends with the request even if nothing broke, so that what an
// app left hanging on it (an AfterFunc, a derived context) is released.
func TestRequestContextEndsWithTheRequest(t *testing.T) {
	var kept context.Context
	app := func(w http.ResponseWriter, r *http.Request) {
		kept = r.Context()
		if err := kept.Err(); err != nil {
			t.Errorf("during the request: %v", err)
		}
	}
	(&Handler{App: http.HandlerFunc(app)}).Serve(context.Background(), &Request{Env: env("GET", "HTTP/1.1")}, &discard{})
	if !errors.Is(kept.Err(), context.Canceled) {
		t.Errorf("after the request: %v", kept.Err())
	}
	select {
	case <-kept.Done():
	default:
		t.Error("Done open after the request")
	}
}

// One request through the core costs a bounded number of allocations:
// the request's state (which holds the *http.Request, the Result the
// observer is told of and the request id's bytes), the app's header map and what building the
// request takes; the held-back body's buffer comes from a pool. The context.WithCancel and two WithValue calls that took
// seven more are gone, the request is not copied to the heap apart from
// the state, the header values share one array, and an observer does not
// move the Result to the heap.
func TestServeAllocations(t *testing.T) {
	if runtime.GOARCH == "wasm" || raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	for _, obs := range []Observer{nil, nopObserver{}} {
		h := &Handler{Observer: obs, App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{"text/plain"}
			_, _ = w.Write([]byte("hi"))
		})}
		e := env("GET", "HTTP/1.1")
		req := &Request{Env: e}
		out := &discard{}
		h.Serve(context.Background(), req, out)
		n := testing.AllocsPerRun(200, func() { h.Serve(context.Background(), req, out) })
		const want = 9
		if n > want {
			t.Errorf("observer %v: %v allocations per request, want at most %d", obs, n, want)
		}
		t.Logf("observer %v: %v allocations per request", obs, n)
		// And bytes: the state is one allocation of at most 1 KiB (its
		// size class); a held-back body inside it made it 2 KiB.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 200 {
			h.Serve(context.Background(), req, out)
		}
		runtime.ReadMemStats(&after)
		if got := (after.TotalAlloc - before.TotalAlloc) / 200; got > 2048 {
			t.Errorf("observer %v: %d bytes per request, want at most 2048", obs, got)
		}
	}
}

type nopObserver struct{}

func (nopObserver) Begin(*Request, *Info)        {}
func (nopObserver) End(*Request, *Info, *Result) {}

type discard struct{}

func (*discard) Write(p []byte) (int, error) { return len(p), nil }

// io.WriteString on the core's ResponseWriter costs no copy of the string
// while the body is held back, as on net/http's; and it answers exactly as
// Write does: the same bytes, Content-Length, errors and result.
func TestWriteString(t *testing.T) {
	big := strings.Repeat("x", DefaultBufferSize+10)
	for _, tc := range []struct {
		name, method, declared, body string
		status                       int
	}{
		{"held", "GET", "", "hello", 200},
		{"declared", "GET", "5", "hello", 200},
		{"over the declared length", "GET", "2", "hello", 200},
		{"HEAD", "HEAD", "", "hello", 200},
		{"no body allowed", "GET", "", "hello", 304},
		{"larger than the buffer", "GET", "", big, 200},
		{"twice, the second over the buffer", "GET", "", "hello" + big, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serve := func(write func(w http.ResponseWriter, s string) (int, error)) (string, Result, []error) {
				var errs []error
				h := &Handler{App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tc.declared != "" {
						w.Header()["Content-Length"] = []string{tc.declared}
					}
					w.WriteHeader(tc.status)
					body := tc.body
					if strings.HasPrefix(body, "hello") && len(body) > 5 {
						_, err := write(w, "hello")
						errs = append(errs, err)
						body = body[5:]
					}
					_, err := write(w, body)
					errs = append(errs, err)
				})}
				var out strings.Builder
				res := h.Serve(context.Background(), &Request{Env: env(tc.method, "HTTP/1.1")}, &out)
				return out.String(), res, errs
			}
			got, gres, gerrs := serve(func(w http.ResponseWriter, s string) (int, error) { return io.WriteString(w, s) })
			want, wres, werrs := serve(func(w http.ResponseWriter, s string) (int, error) { return w.Write([]byte(s)) })
			if got != want || gres.Status != wres.Status || gres.BytesOut != wres.BytesOut || (gres.Err == nil) != (wres.Err == nil) {
				t.Errorf("WriteString: %q %+v\nWrite:       %q %+v", got, gres, want, wres)
			}
			for i := range werrs {
				if !errors.Is(gerrs[i], werrs[i]) {
					t.Errorf("write %d: WriteString %v, Write %v", i, gerrs[i], werrs[i])
				}
			}
		})
	}
	if raceEnabled {
		return // the race detector makes sync.Pool drop the held-body buffers at random
	}
	body := strings.Repeat("y", 100)
	h := &Handler{App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })}
	req := &Request{Env: env("GET", "HTTP/1.1")}
	out := &discard{}
	viaString := testing.AllocsPerRun(100, func() { h.Serve(context.Background(), req, out) })
	b := []byte(body)
	h = &Handler{App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(b) })}
	viaBytes := testing.AllocsPerRun(100, func() { h.Serve(context.Background(), req, out) })
	if viaString > viaBytes {
		t.Errorf("io.WriteString: %v allocations, Write of a []byte: %v", viaString, viaBytes)
	}
}
