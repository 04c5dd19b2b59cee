package handler

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// mapSink is a HeaderSink, as net/http's ResponseWriter is to the HTTP
// front end: it owns the header map and records what WriteHead is given.
type mapSink struct {
	own    http.Header
	status int
	got    http.Header // a copy of what WriteHead was given
	same   bool        // WriteHead was given own itself
	body   bytes.Buffer
}

func (s *mapSink) Header() http.Header { return s.own }

func (s *mapSink) WriteHead(status int, h http.Header) error {
	s.status, s.got = status, h.Clone()
	h["X-Probe"] = []string{"1"}
	s.same = s.own.Get("X-Probe") == "1"
	delete(h, "X-Probe")
	return nil
}

func (s *mapSink) Write(p []byte) (int, error) { return s.body.Write(p) }
func (s *mapSink) Flush() error                { return nil }
func (s *mapSink) Finish() error               { return nil }

func serveSink(t *testing.T, app http.HandlerFunc) *mapSink {
	t.Helper()
	s := &mapSink{own: http.Header{}}
	h := &Handler{App: app, Now: fixedNow}
	h.ServeSink(context.Background(), &Request{Env: env("GET", "HTTP/1.1"), Protocol: "test"}, s)
	return s
}

// TestHeaderSinkMapIsTheApps: the app's headers go straight into a
// HeaderSink's map, and WriteHead is given that map, with the core's rules
// applied (Content-Length added, hop-by-hop fields dropped).
func TestHeaderSinkMapIsTheApps(t *testing.T) {
	s := serveSink(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Connection", "keep-alive")
		io.WriteString(w, "hi")
	})
	if !s.same {
		t.Error("WriteHead was not given the sink's own map")
	}
	want := http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"2"}}
	if fmt.Sprint(s.got) != fmt.Sprint(want) || s.status != 200 || s.body.String() != "hi" {
		t.Errorf("head %d %v, body %q; want 200 %v, \"hi\"", s.status, s.got, s.body.String(), want)
	}
}

// TestHeaderSinkCorePageDropsTheAppsHeaders: when the core answers with
// its own page (the app panicked before its head went out, or set a header
// that cannot be sent), nothing the app put in the sink's map is sent
// along with it: a cookie or a secret of the failed response must not
// reach the client on the 500 page.
func TestHeaderSinkCorePageDropsTheAppsHeaders(t *testing.T) {
	for name, app := range map[string]http.HandlerFunc{
		"panic": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Set-Cookie", "session=secret")
			io.WriteString(w, "partial")
			panic("boom")
		},
		"injection": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Set-Cookie", "session=secret")
			w.Header()["X-A"] = []string{"a\r\nb"}
			io.WriteString(w, "partial")
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := serveSink(t, app)
			if !s.same {
				t.Error("WriteHead was not given the sink's own map")
			}
			want := http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"60"}}
			if s.status != 500 || fmt.Sprint(s.got) != fmt.Sprint(want) || strings.Contains(s.body.String(), "partial") {
				t.Errorf("head %d %v, body %q; want 500 %v and the core's page", s.status, s.got, s.body.String(), want)
			}
		})
	}
}

// TestHeldBodiesDoNotMix: the buffers that hold small bodies back are
// shared between requests through a pool; every response, concurrent ones
// included, carries exactly its own body, after responses that were
// longer, held in part, or cut off.
func TestHeldBodiesDoNotMix(t *testing.T) {
	h := &Handler{Now: fixedNow, App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := len(r.URL.Query().Get("b"))
		io.WriteString(w, r.URL.Query().Get("b"))
		if n%7 == 0 {
			panic("boom") // the held body is dropped for the 500 page
		}
	})}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				// 1 to 20,000 bytes: within one pooled buffer, grown past
				// it, and past the hold (8 KiB), so streamed.
				n := 1 + (g*7919+i*104729)%20000
				body := strings.Repeat(string(rune('a'+(g+i)%26)), n)
				e := env("GET", "HTTP/1.1")
				e["QUERY_STRING"] = "b=" + body
				var out bytes.Buffer
				h.Serve(context.Background(), &Request{Env: e, Protocol: "test"}, &out)
				_, got, _ := strings.Cut(out.String(), "\r\n\r\n")
				want := body
				if n%7 == 0 && n <= DefaultBufferSize {
					want = errorBody
				}
				if n%7 == 0 && n > DefaultBufferSize {
					want = body // the head went out before the panic: cut, not replaced
				}
				if got != want {
					t.Errorf("goroutine %d request %d (%d bytes): body of %d bytes starting %.20q",
						g, i, n, len(got), got)
					return
				}
			}
		})
	}
	wg.Wait()
}
