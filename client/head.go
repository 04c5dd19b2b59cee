package client

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatewayd/gatewayd/core/cgiresp"
)

// ErrHead is a response head that breaks the protocol.
var ErrHead = errors.New("client: malformed response head")

// ReadHead reads a response head from br: a CGI response head (RFC 3875
// section 6: "Status: 404 Not Found", fields, a blank line; at most max
// bytes), as FastCGI and SCGI applications send, or an HTTP/1.x response
// head, as NPH scripts and some SCGI servers send and nginx's scgi module
// accepts (read by net/http, bounded by what br may read). Errors are of kind Protocol, or the
// underlying read's kind.
func ReadHead(br *bufio.Reader, max int) (*Response, error) {
	resp := &Response{}
	if b, _ := br.Peek(5); string(b) == "HTTP/" {
		// An HTTP head: net/http reads it, and only it (the body stays
		// in br, read to the end of the connection as SCGI's is). Its
		// size is bounded by what the caller lets br read.
		hr, err := http.ReadResponse(br, nil)
		if err != nil {
			return nil, headError(fmt.Errorf("reading an HTTP response head: %w", err))
		}
		if hr.ProtoMajor != 1 || hr.StatusCode < 200 || hr.StatusCode > 999 {
			// net/http takes any three digits and version; a response
			// to relay has a final status, over HTTP/1.x.
			return nil, headError(fmt.Errorf("status line %s %q", hr.Proto, hr.Status))
		}
		_, reason, _ := strings.Cut(hr.Status, " ")
		return &Response{Status: hr.StatusCode, Reason: reason, Header: hr.Header}, nil
	}
	h, err := cgiresp.Read(br, max)
	if err != nil {
		return nil, headError(err)
	}
	resp.Header = h.Header
	if resp.Status == 0 {
		resp.Status = h.Status
	}
	if resp.Status == 0 {
		resp.Status = http.StatusOK
		if h.Location != "" && !strings.HasPrefix(h.Location, "/") {
			resp.Status = http.StatusFound
		}
	}
	return resp, nil
}

func headError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if isTimeout(err) {
		return &Error{Kind: Timeout, Err: fmt.Errorf("reading the response head: %w", err)}
	}
	return &Error{Kind: Protocol, Err: fmt.Errorf("%w: %w", ErrHead, err)}
}
