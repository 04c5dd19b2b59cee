package fcgiupstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gatewayd/gatewayd/internal/stderrlog"
)

func (u *Upstream) exchange(ctx context.Context, c *upstreamConn, w http.ResponseWriter, r *http.Request,
	params map[string]string, body io.Reader, log *reqLog) exchanged {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stderr := stderrlog.New(log.get(), "upstream stderr", nil)
	c.begin(stderr)
	in := &stdin{r: body, want: -1, broken: func() { _ = c.Conn.Close() }}
	if n, err := strconv.ParseInt(params["CONTENT_LENGTH"], 10, 64); err == nil {
		in.want = n
	}
	var reqBody io.ReadCloser // nil, not a nil *stdin: no FCGI_STDIN data
	if body != nil {
		reqBody = in
	}
	if c.client == nil {
		// The client is made with the connection's first request: the
		// pool opens connections for either transport alike.
		c.client = u.gofast(c)
	}
	// Closing the connection is the one way to stop gofast's goroutines
	// early: when the client goes away or the relay fails.
	stop := context.AfterFunc(ctx, func() { _ = c.Conn.Close() })
	rl := &relay{w: w, header: make(http.Header), onFail: cancel}

	wd := startWatchdog(c, rl, cancel)
	werr := c.client.Do(r.WithContext(ctx), params, reqBody, rl)
	stalled := wd.stop()
	defer rl.release()
	st := c.state()
	stderr.Flush()
	intact := stop()

	ex := exchanged{st: st, started: rl.started, bodyRead: in.n}
	switch {
	case st.endSeen && st.protoStatus == 0 && !st.badVersion && werr == nil:
		if !rl.started {
			rl.start()
		}
		ex.outcome = OutcomeOK
		ex.started = true
		ex.reusable = intact && st.writeErr == nil && st.readErr == nil && in.err == nil && !rl.failed
		return ex
	case rl.failed || r.Context().Err() != nil:
		ex.outcome = OutcomeCanceled
		ex.cause = context.Canceled
	case stalled:
		ex.outcome = OutcomeProtocol
		ex.cause = fmt.Errorf("%w: unusable response head: %w", ErrProtocol, werr)
	case isTimeout(st.readErr) || isTimeout(st.writeErr):
		ex.outcome = OutcomeTimeout
		ex.cause = fmt.Errorf("%w: nothing for %v", ErrTimeout, u.timeout)
	case in.err != nil:
		ex.outcome = OutcomeCanceled
		ex.cause = fmt.Errorf("fcgiupstream: reading the request body: %w", in.err)
	case st.badVersion:
		ex.outcome = OutcomeProtocol
		ex.cause = fmt.Errorf("%w: bad record version", ErrProtocol)
	case st.endSeen && st.protoStatus != 0:
		ex.outcome = OutcomeProtocol
		ex.cause = fmt.Errorf("%w: FCGI_END_REQUEST protocol status %d", ErrProtocol, st.protoStatus)
	case st.endSeen:
		ex.outcome = OutcomeProtocol
		ex.cause = fmt.Errorf("%w: %w", ErrProtocol, werr)
	default:
		ex.outcome = OutcomeProtocol
		ex.cause = fmt.Errorf("%w: connection closed before FCGI_END_REQUEST (read: %v, write: %v)",
			ErrProtocol, st.readErr, st.writeErr)
		ex.stale = c.reused && st.stdout == 0 && !rl.started
	}
	return ex
}

// stdin is the request body as gofast reads it: it counts what was taken,
// keeps the error, and leaves closing to us. A body that fails or ends
// before CONTENT_LENGTH breaks the connection first: gofast would end the
// FCGI_STDIN stream cleanly, and the upstream would run the script on a
// truncated body.
type stdin struct {
	r      io.Reader
	n      int64
	want   int64 // CONTENT_LENGTH, -1 when unknown
	err    error
	broken func()
}

func (s *stdin) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err == io.EOF && s.want >= 0 && s.n < s.want {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		s.err = err
		s.broken()
	}
	return n, err
}

func (s *stdin) Close() error { return nil }
