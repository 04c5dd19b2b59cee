package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatewayd/gatewayd/internal/cgihead"
)

// ErrHead is a response head that breaks the protocol.
var ErrHead = errors.New("client: malformed response head")

// ReadHead reads a response head from br, at most max bytes: a CGI response
// head (RFC 3875 section 6: "Status: 404 Not Found", fields, a blank line),
// as FastCGI and SCGI applications send, or, as some SCGI servers (uWSGI)
// and NPH scripts send and nginx's scgi module accepts, an HTTP/1.x status
// line followed by the fields. Errors are of kind Protocol, or the
// underlying read's kind.
func ReadHead(br *bufio.Reader, max int) (*Response, error) {
	resp := &Response{}
	if b, _ := br.Peek(5); string(b) == "HTTP/" {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, headError(fmt.Errorf("reading the status line: %w", err))
		}
		max -= len(line)
		code, reason, err := parseStatusLine(string(bytes.TrimRight(line, "\r\n")))
		if err != nil {
			return nil, err
		}
		resp.Status, resp.Reason = code, reason
	}
	h, err := cgihead.Read(br, max)
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

// parseStatusLine reads "HTTP/1.x NNN reason".
func parseStatusLine(line string) (int, string, error) {
	proto, rest, ok := strings.Cut(line, " ")
	if !ok {
		return 0, "", headError(fmt.Errorf("status line %q", trim(line)))
	}
	if _, _, ok := http.ParseHTTPVersion(proto); !ok {
		return 0, "", headError(fmt.Errorf("status line %q: version", trim(line)))
	}
	code, ok := cgihead.ParseStatus(rest)
	if !ok {
		return 0, "", headError(fmt.Errorf("status line %q: status", trim(line)))
	}
	_, reason, _ := strings.Cut(rest, " ")
	return code, reason, nil
}

func trim(s string) string {
	if len(s) > 80 {
		return s[:80]
	}
	return s
}
