package conform

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/gatewayd/gatewayd/core/cgiresp"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// fconn is a raw FastCGI connection for checks: bytes go out as built,
// records come back one by one and are kept.
type fconn struct {
	c  net.Conn
	rd *fcgiwire.Reader
	// unaligned counts records whose length was not a multiple of 8.
	unaligned int
}

func dialFCGI(ctx context.Context, s *suite) (*fconn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, s.t.Network, s.t.Address)
	if err != nil {
		return nil, fmt.Errorf("connecting: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return &fconn{c: c, rd: fcgiwire.NewReader(bufio.NewReader(c))}, nil
}

func (f *fconn) close() { _ = f.c.Close() }

func (f *fconn) write(b []byte) error {
	if _, err := f.c.Write(b); err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	return nil
}

// record is a record read, its content copied.
type record struct {
	h fcgiwire.Header
	c []byte
}

func (f *fconn) next() (record, error) {
	h, c, err := f.rd.Next()
	if err != nil {
		return record{}, err
	}
	if (fcgiwire.HeaderLen+int(h.ContentLength)+int(h.PaddingLength))%8 != 0 {
		f.unaligned++
	}
	return record{h: h, c: append([]byte(nil), c...)}, nil
}

// answer is what came back for one request.
type answer struct {
	stdout, stderr []byte
	stdoutClosed   bool // the empty FCGI_STDOUT came before END_REQUEST
	end            *fcgiwire.EndRequest
	endLen         int
	records        []string // "STDOUT(12)" … for details
	others         []record // records of other ids, management ones included
}

func (a *answer) String() string {
	s := strings.Join(a.records, " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		return "no records"
	}
	return s
}

// status is the response's status: 200 unless a Status field says
// otherwise; 0 when the head does not parse.
func (a *answer) status() (int, error) {
	h, err := cgiresp.Parse(a.stdout)
	if err != nil {
		return 0, err
	}
	if h.Status == 0 {
		return 200, nil
	}
	return h.Status, nil
}

// read reads records until END_REQUEST for id, keeping the others.
func (f *fconn) read(id uint16) (*answer, error) {
	a := &answer{}
	for {
		r, err := f.next()
		if err != nil {
			return a, describe(err)
		}
		// An application that streams without end is bounded by the
		// check's deadline; what is kept of it is bounded here.
		if len(a.records) < maxKept {
			a.records = append(a.records, fmt.Sprintf("%s#%d(%d)", shortType(r.h.Type), r.h.ID, r.h.ContentLength))
		}
		if r.h.ID != id {
			if len(a.others) < maxKept {
				a.others = append(a.others, r)
			}
			continue
		}
		switch r.h.Type {
		case fcgiwire.TypeStdout:
			if len(r.c) == 0 {
				a.stdoutClosed = true
			}
			if len(a.stdout) < maxKeptBytes {
				a.stdout = append(a.stdout, r.c...)
			}
		case fcgiwire.TypeStderr:
			if len(a.stderr) < maxKeptBytes {
				a.stderr = append(a.stderr, r.c...)
			}
		case fcgiwire.TypeEndRequest:
			a.endLen = len(r.c)
			e, err := fcgiwire.ParseEndRequest(r.c)
			if err != nil {
				return a, fmt.Errorf("FCGI_END_REQUEST: %w", err)
			}
			a.end = &e
			return a, nil
		default:
			if len(a.others) < maxKept {
				a.others = append(a.others, r)
			}
		}
	}
}

// Bounds on what a check keeps of an answer.
const (
	maxKept      = 256
	maxKeptBytes = 1 << 20
)

// closed waits for the peer to close the connection: true when it did
// before ctx's deadline, with nothing more sent.
func (f *fconn) closed() (bool, string) {
	r, err := f.next()
	switch {
	case errors.Is(err, io.EOF), isReset(err):
		return true, ""
	case err != nil:
		return false, describe(err).Error()
	}
	return false, fmt.Sprintf("a %s record came after FCGI_END_REQUEST", r.h.Type)
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || errors.Is(err, io.ErrUnexpectedEOF))
}

// describe turns a read error into what a detail says.
func describe(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("no answer before the deadline")
	}
	if errors.Is(err, io.EOF) {
		return errors.New("the application closed the connection")
	}
	return err
}

func shortType(t fcgiwire.Type) string {
	s := t.String()
	s = strings.TrimPrefix(s, "FCGI_")
	return s
}

// request builds a whole request: BEGIN_REQUEST, the params, the body as
// STDIN records and the empty STDIN.
func request(id uint16, role fcgiwire.Role, flags uint8, env map[string]string, body []byte) []byte {
	b := fcgiwire.AppendBeginRequest(nil, id, role, flags)
	b = params(b, id, env, body)
	b = fcgiwire.AppendStream(b, fcgiwire.TypeStdin, id, body)
	return fcgiwire.AppendRecord(b, fcgiwire.TypeStdin, id, nil)
}

// params appends the params stream of env, with CONTENT_LENGTH for body.
func params(b []byte, id uint16, env map[string]string, body []byte) []byte {
	b, mark := fcgiwire.OpenStream(b)
	for _, kv := range sortedEnv(withBody(env, body)) {
		b = fcgiwire.AppendPair(b, kv[0], kv[1])
	}
	return fcgiwire.CloseStream(b, mark, fcgiwire.TypeParams, id)
}

func withBody(env map[string]string, body []byte) map[string]string {
	e := make(map[string]string, len(env)+1)
	for k, v := range env {
		e[k] = v
	}
	delete(e, "CONTENT_LENGTH")
	if body != nil {
		e["CONTENT_LENGTH"] = strconv.Itoa(len(body))
		e["REQUEST_METHOD"] = "POST"
		if e["CONTENT_TYPE"] == "" {
			e["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
		}
	}
	return e
}

// pairsBytes is the content of a params stream for env.
func pairsBytes(env map[string]string) []byte {
	var b []byte
	for _, kv := range sortedEnv(env) {
		b = fcgiwire.AppendPair(b, kv[0], kv[1])
	}
	return b
}

// open writes raw on a new connection, which most checks start with. On
// success the caller closes it.
func open(ctx context.Context, s *suite, raw []byte) (*fconn, error) {
	f, err := dialFCGI(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := f.write(raw); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// ask writes raw on a new connection and returns the first record that
// comes back, or a failure that says what was sent and what came instead.
func ask(ctx context.Context, s *suite, raw []byte, sent string) (record, string) {
	f, err := open(ctx, s, raw)
	if err != nil {
		return record{}, err.Error()
	}
	defer f.close()
	r, err := f.next()
	if err != nil {
		return record{}, sent + "; got " + describe(err).Error()
	}
	return r, ""
}

// send writes raw on a new connection and reads request id's answer. On
// success the caller closes the connection, which is left open for checks
// of how the peer treats it afterwards.
func send(ctx context.Context, s *suite, raw []byte, id uint16) (*fconn, *answer, string) {
	f, err := open(ctx, s, raw)
	if err != nil {
		return nil, nil, err.Error()
	}
	a, err := f.read(id)
	if err != nil {
		f.close()
		return nil, a, fmt.Sprintf("got %s: %v", a, err)
	}
	return f, a, ""
}

// complete runs one whole request on a new connection and returns the
// answer; it is a failure unless the request ran (REQUEST_COMPLETE).
func complete(ctx context.Context, s *suite, raw []byte, id uint16) (*answer, string) {
	f, a, fail := send(ctx, s, raw, id)
	if fail != "" {
		return a, fail
	}
	f.close()
	if a.end.ProtocolStatus != fcgiwire.RequestComplete {
		return a, fmt.Sprintf("got %s: FCGI_END_REQUEST %s", a, a.end.ProtocolStatus)
	}
	return a, ""
}
