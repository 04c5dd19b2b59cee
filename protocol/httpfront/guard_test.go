package httpfront

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// countingApp answers "ok <path>" and counts the requests per path.
type countingApp struct{ smuggled, calls atomic.Int32 }

func (a *countingApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.calls.Add(1)
	if strings.HasPrefix(r.URL.Path, "/smuggled") {
		a.smuggled.Add(1)
	}
	io.Copy(io.Discard, r.Body)
	io.WriteString(w, "ok "+r.URL.Path)
}

// rawResponses writes raw to a new connection and reads every response on
// it until the server closes it.
func rawResponses(t *testing.T, addr, raw string) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var resps []*http.Response
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the connection stayed open after %d responses", len(resps))
			}
			return resps
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		resps = append(resps, resp)
	}
}

// TestSmuggledRequestNeverServed: a request with both Content-Length and
// Transfer-Encoding, or Transfer-Encoding on HTTP/1.0, is answered and its
// connection closed (RFC 9112 §6.1), so the request hidden behind it is
// never served. It used to be.
func TestSmuggledRequestNeverServed(t *testing.T) {
	app := &countingApp{}
	addr := start(t, app)
	const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for name, raw := range map[string]string{
		"CL and TE": "POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"TE and CL": "POST /first HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n" + smuggled,
		"TE on HTTP/1.0": "POST /first HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 5\r\n" +
			"TRANSFER-ENCODING: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"TE on HTTP/1.0 without CL": "POST /first HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n" + smuggled,
	} {
		t.Run(name, func(t *testing.T) {
			resps := rawResponses(t, addr, raw)
			if len(resps) == 0 || resps[0].Request != nil && resps[0].StatusCode != 200 {
				t.Fatalf("no answer to the first request")
			}
			if !resps[0].Close {
				t.Errorf("the answer does not close the connection: %v", resps[0].Header)
			}
			if n := app.smuggled.Load(); n != 0 {
				t.Errorf("the smuggled request was served %d times", n)
			}
		})
	}
	// A plain request keeps its connection.
	resps := rawResponses(t, addr, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if len(resps) != 2 {
		t.Errorf("two plain requests on one connection got %d answers", len(resps))
	}
}

// TestTargetsRefused: CONNECT asks for a tunnel (501), the asterisk form is
// for OPTIONS only (400); neither reaches the app. OPTIONS * is answered
// 200 by the front end itself.
func TestTargetsRefused(t *testing.T) {
	app := &countingApp{}
	addr := start(t, app)
	for _, tc := range []struct {
		raw    string
		status int
	}{
		{"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501},
		{"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"POST * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400},
		{"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200},
	} {
		resps := rawResponses(t, addr, tc.raw)
		if len(resps) != 1 || resps[0].StatusCode != tc.status {
			t.Errorf("%q: %d answers, want one %d", strings.SplitN(tc.raw, "\r\n", 2)[0], len(resps), tc.status)
			if len(resps) > 0 {
				t.Logf("status %d", resps[0].StatusCode)
			}
		}
	}
	if n := app.calls.Load(); n != 0 {
		t.Errorf("the app ran %d times", n)
	}
}

// TestMaxHeaderBytesExact: a head of exactly max_header_bytes is served,
// one byte more is 431. net/http alone let about 4 KiB more through.
func TestMaxHeaderBytesExact(t *testing.T) {
	const max = 2000
	app := &countingApp{}
	addr := start(t, app, func(s *Server) { s.MaxHeaderBytes = max })
	build := func(size int) string {
		head := "GET /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: \r\n\r\n"
		return strings.Replace(head, "X-Pad: ", "X-Pad: "+strings.Repeat("p", size-len(head)), 1)
	}
	for _, tc := range []struct {
		size, status int
	}{{max, 200}, {max + 1, 431}, {max + 3000, 431}} {
		raw := build(tc.size)
		if len(raw) != tc.size {
			t.Fatalf("built a %d-byte head, want %d", len(raw), tc.size)
		}
		resps := rawResponses(t, addr, raw)
		if len(resps) != 1 || resps[0].StatusCode != tc.status {
			got := 0
			if len(resps) > 0 {
				got = resps[0].StatusCode
			}
			t.Errorf("%d-byte head with max_header_bytes %d: %d, want %d", tc.size, max, got, tc.status)
		}
	}
}

// TestWriteTimeoutClientStopsReading: write_timeout lets go of a client
// that asks for a large response and never reads it.
func TestWriteTimeoutClientStopsReading(t *testing.T) {
	gwtest.WriteTimeoutClosesSilentReader(t, func(app http.Handler, connState func(net.Conn, http.ConnState)) string {
		return start(t, app, func(s *Server) {
			s.WriteTimeout = 200 * time.Millisecond
			s.ConnState = connState
		})
	}, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
}

// FuzzWatchConn: however a stream is split into reads, the connection
// notices a Transfer-Encoding field exactly when the stream holds one at
// the start of a line, in any letter case.
func FuzzWatchConn(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), uint16(30))
	f.Add([]byte("POST / HTTP/1.0\r\ntRaNsFeR-eNcOdInG: chunked\r\n\r\n"), uint16(17))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Transfer-Encoding: no\r\n\r\n"), uint16(3))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), uint16(0))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), uint16(0x0512))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint16) {
		// Two cuts: a field may span a short read and two seams.
		at := int(cut) % (len(stream) + 1)
		at2 := at + (int(cut)>>8)%(len(stream)-at+1)
		c := &watchConn{Conn: &replayConn{parts: [][]byte{stream[:at], stream[at:at2], stream[at2:]}}}
		buf := make([]byte, len(stream)+1)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		want := strings.Contains(strings.ToLower(string(stream)), "\n"+teField)
		if c.sawTE.Load() != want {
			t.Fatalf("stream %q cut at %d and %d: saw Transfer-Encoding %v, want %v", stream, at, at2, c.sawTE.Load(), want)
		}
	})
}

// replayConn returns its parts, one per Read, then EOF.
type replayConn struct {
	net.Conn
	parts [][]byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts = c.parts[1:]
	return n, nil
}

// TestAppCutsABlockedWrite: an app (the CGI runner, when it stops a script)
// ends a write blocked on a client that reads nothing through
// http.ResponseController, long before write_timeout would.
func TestAppCutsABlockedWrite(t *testing.T) {
	gwtest.CutBlockedWrite(t, func(app http.Handler) string {
		return start(t, app, func(s *Server) { s.WriteTimeout = time.Minute })
	}, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
}
