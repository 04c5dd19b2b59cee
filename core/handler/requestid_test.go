package handler

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRequestIDFromATrustedFrontOrMade(t *testing.T) {
	long := strings.Repeat("a", maxRequestIDLen)
	tests := []struct {
		name         string
		trust, reply bool
		header       string // HTTP_X_REQUEST_ID; "" for none
		want         string // "" for a made id
		appSets      string // the app's own X-Request-Id
	}{
		{name: "made when not trusted", header: "client-chosen"},
		{name: "trusted", trust: true, header: "9f86d081884c7d65", want: "9f86d081884c7d65"},
		{name: "trusted, longest", trust: true, header: long, want: long},
		{name: "trusted, too long", trust: true, header: long + "a"},
		{name: "trusted, space", trust: true, header: "a b"},
		{name: "trusted, non-ASCII", trust: true, header: "caf\xc3\xa9"},
		{name: "trusted, none", trust: true},
		{name: "sent back", reply: true},
		{name: "trusted and sent back", trust: true, reply: true, header: "abc-1", want: "abc-1"},
		{name: "the app's own wins", reply: true, appSets: "app-7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seen string
			h := &Handler{TrustRequestID: tc.trust, RequestIDHeader: tc.reply, OriginServer: true,
				App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					seen = InfoFrom(r.Context()).ID
					if tc.appSets != "" {
						w.Header().Set("X-Request-Id", tc.appSets)
					}
					hello(w, r)
				})}
			e := env("GET", "HTTP/1.1")
			if tc.header != "" {
				e["HTTP_X_REQUEST_ID"] = tc.header
			}
			out, res := serve(t, h, e, nil)
			if res.Info.ID != seen || seen == "" {
				t.Fatalf("app saw id %q, result says %q", seen, res.Info.ID)
			}
			if tc.want != "" && seen != tc.want {
				t.Errorf("id %q, want %q", seen, tc.want)
			}
			if tc.want == "" && seen == tc.header {
				t.Errorf("the header's %q became the id", tc.header)
			}
			head, _, _ := strings.Cut(out, "\r\n\r\n")
			wantHeader := ""
			switch {
			case tc.appSets != "":
				wantHeader = "\r\nX-Request-Id: " + tc.appSets + "\r\n"
			case tc.reply:
				wantHeader = "\r\nX-Request-Id: " + seen + "\r\n"
			}
			if got := strings.Count(head, "X-Request-Id:"); wantHeader == "" && got != 0 || wantHeader != "" && (got != 1 || !strings.Contains(head+"\r\n", wantHeader)) {
				t.Errorf("response head:\n%s\nwant %q", head, wantHeader)
			}
		})
	}
}

func TestRequestIDOnThe500Page(t *testing.T) {
	h := &Handler{RequestIDHeader: true, App: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })}
	out, res := serve(t, h, env("GET", "HTTP/1.1"), nil)
	if res.Status != 500 || !strings.Contains(out, "X-Request-Id: "+res.Info.ID+"\r\n") {
		t.Errorf("500 page without the id:\n%s", out)
	}
}

func TestMadeRequestIDsAreUnique(t *testing.T) {
	h := &Handler{App: http.HandlerFunc(hello)}
	seen := map[string]bool{}
	for range 1000 {
		_, res := serve(t, h, env("GET", "HTTP/1.1"), nil)
		if seen[res.Info.ID] {
			t.Fatalf("id %q twice", res.Info.ID)
		}
		seen[res.Info.ID] = true
	}
}

// TestLiveWhileTheAppRuns: what an app reports is visible through Live
// while it runs, as the status page reads it.
func TestLiveWhileTheAppRuns(t *testing.T) {
	check := make(chan Live)
	cont := make(chan struct{})
	h := &Handler{App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := InfoFrom(r.Context())
		info.SetRoute("/cgi", "cgi")
		info.QueueWaited(0)
		info.ScriptStarted("x.cgi", 77)
		buf := make([]byte, 3)
		_, _ = r.Body.Read(buf)
		check <- info.Live()
		w.WriteHeader(201)
		_, _ = w.Write([]byte("body"))
		w.(http.Flusher).Flush()
		check <- info.Live()
		<-cont
	})}
	done := make(chan Result)
	go func() {
		_, res := serve(t, h, env("POST", "HTTP/1.1"), strings.NewReader("abcdef"))
		done <- res
	}()
	lv := <-check
	if lv.Route != "/cgi" || lv.App != "cgi" || lv.Script != "x.cgi" || lv.Pid != 77 || lv.Phase != PhaseScript ||
		lv.QueueWait != 0 || lv.Connect != -1 || lv.FirstByte != 0 || lv.BytesIn != 3 || lv.BytesOut != 0 {
		t.Errorf("before the head: %+v", lv)
	}
	lv = <-check
	if lv.FirstByte <= 0 || lv.BytesOut != 4 {
		t.Errorf("after the head: %+v", lv)
	}
	close(cont)
	res := <-done
	if res.Info.Route != "/cgi" || res.BytesIn != 3 || res.BytesOut != 4 || res.Info.Start.IsZero() ||
		time.Since(res.Info.Start) < res.Duration {
		t.Errorf("result %+v info %+v", res, res.Info)
	}
}

func TestInfoMethodsIgnoreNil(t *testing.T) {
	var i *Info
	i.SetRoute("/", "demo")
	i.SetPhase(PhaseQueued)
	i.QueueWaited(time.Second)
	i.ScriptStarted("x", 1)
	i.UpstreamConnected("a", 0)
}
