package conform

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/client"
	"github.com/gatewayd/gatewayd/internal/scgiwire"
)

// The SCGI suite: the specification's example, its rules for the request,
// and what a server does with requests that break them.
var scgiChecks = []check{
	{"spec-example", "example", Must, "the specification's example request (POST /deepthought, 27-byte body) gets a CGI response", checkSCGIExample},
	{"closes-after-response", "response", Must, "the server closes the connection when the response is done", checkSCGIClose},
	{"status-field", "response", Should, "the response head is CGI's (Status: field), not an HTTP status line", checkSCGIStatusField},
	{"get-no-body", "request", Must, "a GET with CONTENT_LENGTH 0 and no body gets a response", checkSCGIGet},
	{"body-slow", "request", Must, "a body that arrives in pieces after the head is read whole, to CONTENT_LENGTH", checkSCGIBodySlow},
	{"head-byte-by-byte", "netstring", Must, "a header block that arrives one byte at a time is read", checkSCGIByteByByte},
	{"empty-value", "request", Must, "a header with an empty value (QUERY_STRING) is read", checkSCGIEmptyValue},
	{"refuse-no-content-length", "request", Should, "a request without CONTENT_LENGTH is refused", refuse(noContentLength)},
	{"refuse-content-length-not-first", "request", Should, "a request whose first header is not CONTENT_LENGTH is refused", refuse(lengthNotFirst)},
	{"refuse-no-scgi", "request", Should, "a request without the SCGI header is refused", refuse(noSCGI)},
	{"refuse-duplicate-header", "request", Should, "a request with a header name twice is refused", refuse(duplicate)},
	{"refuse-bad-length", "netstring", Should, "a netstring length that is not decimal is refused", refuse(rawHead("7x:SCGI\x001\x00,"))},
	{"refuse-leading-zero", "netstring", Should, "a netstring length with a leading zero is refused", refuse(leadingZero)},
	{"refuse-missing-comma", "netstring", Should, "a netstring not closed by a comma is refused", refuse(noComma)},
	{"refuse-unterminated-value", "netstring", Should, "a header block that does not end in NUL is refused", refuse(unterminated)},
}

// scgiAnswer is what came back on one connection.
type scgiAnswer struct {
	resp    *client.Response
	raw     []byte // the first bytes of the answer
	closed  bool   // the server closed the connection
	err     error
	elapsed time.Duration
	note    string // what else a detail says
}

// exchange sends head, then body in pieces of piece bytes (0: at once),
// and reads the answer to the end of the connection.
func exchange(ctx context.Context, s *suite, head, body []byte, piece int, gap time.Duration) scgiAnswer {
	start := time.Now()
	c, err := dialSCGI(ctx, s)
	if err != nil {
		return scgiAnswer{err: err}
	}
	defer c.Close()
	out := append(head, body...)
	if piece <= 0 {
		piece = len(out)
	}
	for i := 0; i < len(out); i += piece {
		if _, err := c.Write(out[i:min(i+piece, len(out))]); err != nil {
			break // a refusal may close early; the answer says more
		}
		if gap > 0 {
			time.Sleep(gap)
		}
	}
	a := readAnswer(c)
	a.elapsed = time.Since(start)
	return a
}

// dialSCGI connects to the target, the connection bounded by ctx's deadline.
func dialSCGI(ctx context.Context, s *suite) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, s.t.Network, s.t.Address)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return c, nil
}

// readAnswer reads the answer on c to the end of the connection (at most
// 1 MiB) and parses its head.
func readAnswer(c net.Conn) scgiAnswer {
	raw, err := io.ReadAll(io.LimitReader(c, 1<<20))
	a := scgiAnswer{raw: raw}
	switch {
	case err == nil:
		a.closed = true
	case strings.Contains(err.Error(), "connection reset"):
		a.closed = true
	default:
		a.err = describe(err)
	}
	if len(raw) > 0 {
		a.resp, err = client.ReadHead(bufio.NewReader(bytes.NewReader(raw)), 64<<10)
		if err != nil && a.err == nil {
			a.err = err
		}
	}
	return a
}

// head is a well-formed request head for env and a body of n bytes.
func scgiHead(env map[string]string, n int) []byte {
	e := withBody(env, nil)
	if n > 0 {
		e["REQUEST_METHOD"] = "POST"
		e["CONTENT_TYPE"] = "text/plain"
	}
	return scgiwire.AppendRequest(nil, e, int64(n))
}

func served(a scgiAnswer, what string) (Verdict, string) {
	switch {
	case a.err != nil:
		return Fail, fmt.Sprintf("%s: %v (got %s)", what, a.err, quote(a.raw))
	case a.resp == nil:
		return Fail, what + ": no response"
	}
	return Pass, fmt.Sprintf("status %d%s", a.resp.Status, a.note)
}

func checkSCGIExample(ctx context.Context, s *suite) (Verdict, string) {
	env := withBody(s.env, nil)
	env["REQUEST_METHOD"] = "POST"
	env["REQUEST_URI"] = "/deepthought"
	body := "What is the answer to life?"
	// The example's four headers first, in its order, then the rest of
	// the environment the path needs.
	pairs := []scgiwire.Pair{{Name: "CONTENT_LENGTH", Value: "27"}, {Name: "SCGI", Value: "1"},
		{Name: "REQUEST_METHOD", Value: "POST"}, {Name: "REQUEST_URI", Value: "/deepthought"}}
	for _, kv := range sortedEnv(env) {
		switch kv[0] {
		case "CONTENT_LENGTH", "SCGI", "REQUEST_METHOD", "REQUEST_URI":
			continue
		}
		pairs = append(pairs, scgiwire.Pair{Name: kv[0], Value: kv[1]})
	}
	head := scgiwire.AppendNetstring(nil, scgiwire.AppendHeaders(nil, pairs))
	return served(exchange(ctx, s, head, []byte(body), 0, 0), "the example request")
}

func checkSCGIClose(ctx context.Context, s *suite) (Verdict, string) {
	a := exchange(ctx, s, scgiHead(s.env, 0), nil, 0, 0)
	if a.resp == nil {
		return Fail, fmt.Sprintf("no response: %v", a.err)
	}
	if !a.closed {
		return Fail, fmt.Sprintf("the connection stayed open after the response: %v", a.err)
	}
	return Pass, ""
}

func checkSCGIStatusField(ctx context.Context, s *suite) (Verdict, string) {
	a := exchange(ctx, s, scgiHead(s.env, 0), nil, 0, 0)
	if a.resp == nil {
		return Fail, fmt.Sprintf("no response: %v", a.err)
	}
	if strings.HasPrefix(string(a.raw), "HTTP/") {
		line, _, _ := strings.Cut(string(a.raw), "\n")
		return Fail, fmt.Sprintf("the response begins with a status line: %q", strings.TrimRight(line, "\r"))
	}
	return Pass, ""
}

func checkSCGIGet(ctx context.Context, s *suite) (Verdict, string) {
	return served(exchange(ctx, s, scgiHead(s.env, 0), nil, 0, 0), "GET")
}

func checkSCGIBodySlow(ctx context.Context, s *suite) (Verdict, string) {
	head := scgiHead(s.env, 64)
	body := []byte(strings.Repeat("x", 64))
	// The head at once, then the body 16 bytes at a time, 20ms apart.
	a := exchangeSplit(ctx, s, head, body, 16, 20*time.Millisecond)
	return served(a, "a 64-byte body in 4 pieces")
}

// exchangeSplit sends head at once and body in pieces.
func exchangeSplit(ctx context.Context, s *suite, head, body []byte, piece int, gap time.Duration) scgiAnswer {
	c, err := dialSCGI(ctx, s)
	if err != nil {
		return scgiAnswer{err: err}
	}
	defer c.Close()
	if _, err := c.Write(head); err != nil {
		return scgiAnswer{err: err}
	}
	early := ""
	for i := 0; i < len(body); i += piece {
		// A gap between the pieces is the point of the check: the
		// server must wait for the rest, not take what arrived.
		time.Sleep(gap)
		if _, err := c.Write(body[i:min(i+piece, len(body))]); err != nil {
			// It answered (or gave up) before the body ended: what it
			// answered says which.
			early = fmt.Sprintf(" (the server stopped reading after %d of %d body bytes)", i, len(body))
			break
		}
	}
	a := readAnswer(c)
	a.note = early
	return a
}

func checkSCGIByteByByte(ctx context.Context, s *suite) (Verdict, string) {
	head := scgiHead(s.env, 0)
	// A pause after each byte, so that the server reads them one by one
	// rather than as the kernel happens to gather them.
	return served(exchange(ctx, s, head, nil, 1, time.Millisecond), fmt.Sprintf("a %d-byte head one byte a write, 1ms apart", len(head)))
}

func checkSCGIEmptyValue(ctx context.Context, s *suite) (Verdict, string) {
	env := withBody(s.env, nil)
	env["QUERY_STRING"] = ""
	env["HTTP_X_EMPTY"] = ""
	return served(exchange(ctx, s, scgiHead(env, 0), nil, 0, 0), "empty values")
}

// A malformed request, built from the suite's environment.
type malformed func(s *suite) []byte

func refuse(build malformed) func(context.Context, *suite) (Verdict, string) {
	return func(ctx context.Context, s *suite) (Verdict, string) {
		head := build(s)
		a := exchange(ctx, s, head, nil, 0, 0)
		sent := quote(head[:min(len(head), 40)])
		switch {
		case a.resp != nil && a.resp.Status < 400:
			return Fail, fmt.Sprintf("sent %s; served with status %d", sent, a.resp.Status)
		case a.resp != nil:
			return Pass, fmt.Sprintf("status %d", a.resp.Status)
		case a.closed && len(a.raw) == 0:
			return Pass, "closed without an answer"
		case a.err != nil && errors.Is(a.err, client.ErrHead):
			return Pass, fmt.Sprintf("answered %s", quote(a.raw))
		case !a.closed:
			return Fail, fmt.Sprintf("sent %s; the connection stayed open: %v", sent, a.err)
		}
		return Pass, fmt.Sprintf("answered %s", quote(a.raw))
	}
}

func pairsOf(s *suite) []scgiwire.Pair {
	var ps []scgiwire.Pair
	for _, kv := range sortedEnv(withBody(s.env, nil)) {
		if kv[0] == "SCGI" || kv[0] == "CONTENT_LENGTH" {
			continue
		}
		ps = append(ps, scgiwire.Pair{Name: kv[0], Value: kv[1]})
	}
	return ps
}

func block(ps ...[]scgiwire.Pair) []byte {
	var all []scgiwire.Pair
	for _, p := range ps {
		all = append(all, p...)
	}
	return scgiwire.AppendHeaders(nil, all)
}

var (
	cl0  = []scgiwire.Pair{{Name: "CONTENT_LENGTH", Value: "0"}}
	scgi = []scgiwire.Pair{{Name: "SCGI", Value: "1"}}
)

func noContentLength(s *suite) []byte {
	return scgiwire.AppendNetstring(nil, block(scgi, pairsOf(s)))
}

func lengthNotFirst(s *suite) []byte {
	return scgiwire.AppendNetstring(nil, block(scgi, cl0, pairsOf(s)))
}

func noSCGI(s *suite) []byte {
	return scgiwire.AppendNetstring(nil, block(cl0, pairsOf(s)))
}

func duplicate(s *suite) []byte {
	ps := pairsOf(s)
	return scgiwire.AppendNetstring(nil, block(cl0, scgi, ps, []scgiwire.Pair{{Name: "REQUEST_METHOD", Value: "DELETE"}}))
}

func rawHead(h string) malformed { return func(*suite) []byte { return []byte(h) } }

func leadingZero(s *suite) []byte {
	b := block(cl0, scgi, pairsOf(s))
	return append([]byte("0"+strconv.Itoa(len(b))+":"), append(b, ',')...)
}

func noComma(s *suite) []byte {
	b := scgiwire.AppendNetstring(nil, block(cl0, scgi, pairsOf(s)))
	b[len(b)-1] = ';'
	return b
}

func unterminated(s *suite) []byte {
	b := block(cl0, scgi, pairsOf(s))
	b = append(b, "X_LAST"...)
	return scgiwire.AppendNetstring(nil, b)
}
