package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// requestID is the id of the one request a connection carries.
const requestID = 1

// doFastCGI sends one FCGI_RESPONDER request without FCGI_KEEP_CONN (the
// application closes the connection after it) and reads the answer.
func doFastCGI(ctx context.Context, t Target, req Request, env environ.Env, out io.Writer) (*Response, error) {
	c, done, err := dial(ctx, t)
	if err != nil {
		return nil, err
	}
	defer done()

	buf := fcgiwire.AppendBeginRequest(nil, requestID, fcgiwire.RoleResponder, 0)
	buf = fcgiwire.AppendParams(buf, requestID, maps.All(map[string]string(env)))
	if req.Body == nil {
		buf = fcgiwire.AppendRecord(buf, fcgiwire.TypeStdin, requestID, nil)
	}
	if _, err := c.Write(buf); err != nil {
		return nil, ioError("sending the request", err)
	}
	// The body goes while the answer is read: an application may answer
	// before it has read all of it.
	sent := make(chan error, 1)
	if req.Body != nil {
		go func() {
			w := fcgiwire.NewWriter(c, fcgiwire.TypeStdin, requestID)
			_, err := io.Copy(w, io.LimitReader(req.Body, req.BodyLen))
			if err == nil {
				err = w.Close()
			}
			sent <- err
		}()
		defer func() { _ = c.Close(); <-sent }()
	}

	s := &stdout{rd: fcgiwire.NewReader(bufio.NewReaderSize(c, 64<<10)), stderr: req.Stderr}
	lim := &limited{r: s, max: req.maxBytes()}
	br := bufio.NewReaderSize(lim, 16<<10)
	resp, err := ReadHead(br, DefaultMaxHeadBytes)
	if err != nil {
		if s.end != nil && s.end.ProtocolStatus != fcgiwire.RequestComplete {
			return nil, endError(*s.end)
		}
		return nil, err
	}
	if req.OnHead != nil {
		req.OnHead(resp)
	}
	if err := copyBody(resp, out, br); err != nil {
		return resp, err
	}
	if err := s.finish(); err != nil {
		return resp, err
	}
	resp.AppStatus = s.end.AppStatus
	if s.end.ProtocolStatus != fcgiwire.RequestComplete {
		return resp, endError(*s.end)
	}
	return resp, nil
}

func endError(e fcgiwire.EndRequest) error {
	switch e.ProtocolStatus {
	case fcgiwire.Overloaded, fcgiwire.CantMpxConn:
		return &Error{Kind: Overloaded, Err: fmt.Errorf("the application answered %s", e.ProtocolStatus)}
	}
	return &Error{Kind: Protocol, Err: fmt.Errorf("the application answered %s", e.ProtocolStatus)}
}

// stdout is the FCGI_STDOUT stream of request 1 as an io.Reader: it reads
// records as the stream is read, sends FCGI_STDERR on, and keeps
// FCGI_END_REQUEST. Anything else is a protocol violation.
type stdout struct {
	rd     *fcgiwire.Reader
	stderr io.Writer
	buf    []byte
	closed bool // the empty FCGI_STDOUT record came
	end    *fcgiwire.EndRequest
}

func (s *stdout) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		if s.closed || s.end != nil {
			return 0, io.EOF
		}
		if err := s.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

// next reads one record.
func (s *stdout) next() error {
	h, c, err := s.rd.Next()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return &Error{Kind: Protocol, Err: fmt.Errorf("the connection ended before FCGI_END_REQUEST: %w", io.ErrUnexpectedEOF)}
		}
		if errors.Is(err, fcgiwire.ErrVersion) {
			return &Error{Kind: Protocol, Err: fmt.Errorf("reading a record: %w", err)}
		}
		return ioError("reading a record", err)
	}
	if h.ID != requestID {
		return &Error{Kind: Protocol, Err: fmt.Errorf("a %s record for request %d, but the request was %d", h.Type, h.ID, requestID)}
	}
	switch h.Type {
	case fcgiwire.TypeStdout:
		if len(c) == 0 {
			s.closed = true
			return nil
		}
		if s.closed {
			return &Error{Kind: Protocol, Err: errors.New("FCGI_STDOUT after the stream's empty record")}
		}
		s.buf = c
	case fcgiwire.TypeStderr:
		_, _ = s.stderr.Write(c)
	case fcgiwire.TypeEndRequest:
		e, err := fcgiwire.ParseEndRequest(c)
		if err != nil {
			return &Error{Kind: Protocol, Err: fmt.Errorf("FCGI_END_REQUEST: %w", err)}
		}
		s.end = &e
	default:
		return &Error{Kind: Protocol, Err: fmt.Errorf("an unexpected %s record", h.Type)}
	}
	return nil
}

// finish reads up to FCGI_END_REQUEST.
func (s *stdout) finish() error {
	for s.end == nil {
		if err := s.next(); err != nil {
			return err
		}
		if len(s.buf) > 0 {
			return &Error{Kind: Protocol, Err: errors.New("FCGI_STDOUT after the response was read")}
		}
	}
	return nil
}

// GetValues asks a FastCGI application for FCGI_MAX_CONNS, FCGI_MAX_REQS
// and FCGI_MPXS_CONNS with FCGI_GET_VALUES and returns what it answers in
// FCGI_GET_VALUES_RESULT (names it does not know are left out).
func GetValues(ctx context.Context, t Target) (map[string]string, error) {
	if t.Scheme != FastCGI {
		return nil, fail(Usage, "FCGI_GET_VALUES needs a fastcgi target, not %s", t)
	}
	c, done, err := dial(ctx, t)
	if err != nil {
		return nil, err
	}
	defer done()
	if _, err := c.Write(fcgiwire.AppendGetValues(nil, fcgiwire.MaxConns, fcgiwire.MaxReqs, fcgiwire.MpxsConns)); err != nil {
		return nil, ioError("sending FCGI_GET_VALUES", err)
	}
	h, content, err := fcgiwire.NewReader(bufio.NewReader(c)).Next()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &Error{Kind: Protocol, Err: errors.New("the connection ended before FCGI_GET_VALUES_RESULT")}
		}
		if errors.Is(err, fcgiwire.ErrVersion) {
			return nil, &Error{Kind: Protocol, Err: err}
		}
		return nil, ioError("reading FCGI_GET_VALUES_RESULT", err)
	}
	switch {
	case h.Type == fcgiwire.TypeGetValuesResult && h.ID == 0:
		vals := map[string]string{}
		if err := fcgiwire.DecodePairs(string(content), fcgiwire.Limits{}, func(n, v string) { vals[n] = v }); err != nil {
			return nil, &Error{Kind: Protocol, Err: fmt.Errorf("FCGI_GET_VALUES_RESULT: %w", err)}
		}
		return vals, nil
	case h.Type == fcgiwire.TypeUnknownType && h.ID == 0:
		return nil, &Error{Kind: Protocol, Err: errors.New("the application answered FCGI_GET_VALUES with FCGI_UNKNOWN_TYPE")}
	}
	return nil, &Error{Kind: Protocol, Err: fmt.Errorf("an unexpected %s record (request %d) instead of FCGI_GET_VALUES_RESULT", h.Type, h.ID)}
}
