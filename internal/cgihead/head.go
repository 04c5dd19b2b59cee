// Package cgihead reads the head of a CGI response (RFC 3875 section 6):
// what a CGI script writes, and what FastCGI and SCGI applications send in
// their STDOUT stream or on their connection. The CGI script runner
// (app/cgiscript) and the client commands (gatewayd request, probe,
// conform) read heads with it, so that they agree on what is malformed.
package cgihead

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"

	"github.com/gatewayd/gatewayd/core/handler"
)

// Errors of a response head, told apart with errors.Is.
var (
	ErrNoOutput     = errors.New("cgihead: the response is empty")
	ErrHeadCut      = errors.New("cgihead: the output ended inside the response head")
	ErrHeadTooLarge = errors.New("cgihead: response head larger than its limit")
	ErrBadHead      = errors.New("cgihead: malformed response head")
)

// Head is a CGI response head (RFC 3875 section 6.2, 6.3).
type Head struct {
	Status   int         // from the Status field; 0 when there is none
	Header   http.Header // every field but Status, names canonical but Variable-*
	Location string      // the Location field
	HasType  bool        // a non-empty Content-Type field
	Fields   int         // how many fields, Status included
}

// Read reads the head of a CGI response from br: "Name: value" lines
// ended by LF or CRLF, up to a blank line, at most max bytes in all (line
// ends included). Continuation lines, lines without a colon, names that are
// not tokens, control characters in values, a repeated Status, Content-Type
// or Location and a bad Status are errors wrapping ErrBadHead.
func Read(br *bufio.Reader, max int) (Head, error) {
	h := Head{Header: make(http.Header, 8)}
	total := 0
	var long []byte // a line longer than br's buffer, so far
	for {
		frag, err := br.ReadSlice('\n')
		total += len(frag)
		if total > max {
			return h, ErrHeadTooLarge
		}
		if err == bufio.ErrBufferFull {
			long = append(long, frag...)
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if total == 0 {
					return h, ErrNoOutput
				}
				return h, ErrHeadCut
			}
			return h, fmt.Errorf("cgihead: reading the response head: %w", err)
		}
		line := frag
		if long != nil {
			line = append(long, frag...)
			long = nil
		}
		line = line[:len(line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 {
			return h, nil
		}
		if err := h.addField(line); err != nil {
			return h, err
		}
	}
}

func (h *Head) addField(line []byte) error {
	if line[0] == ' ' || line[0] == '\t' {
		return badHead("continuation line", line)
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		if !handler.ValidHeaderName(line) {
			return badHead("invalid field name", line)
		}
		return badHead("line without a field name and colon", line)
	}
	if colon == 0 {
		return badHead("line without a field name and colon", line)
	}
	if !handler.ValidHeaderName(line[:colon]) {
		return badHead("invalid field name", line)
	}
	v := line[colon+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	for _, c := range v {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return badHead("control character in a field value", line)
		}
	}
	name := textproto.CanonicalMIMEHeaderKey(string(line[:colon]))
	value := string(v)
	h.Fields++
	if handler.CaseSensitiveHeader(name) {
		// The web server passes the rest of the name on as a variable,
		// spelled as it came (FastCGI's Authorizer): keep it byte-exact.
		name = string(line[:colon])
	}
	switch name {
	case "Status":
		if h.Status != 0 {
			return badHead("repeated Status", line)
		}
		code, ok := ParseStatus(value)
		if !ok {
			return badHead("bad Status", line)
		}
		h.Status = code
		return nil
	case "Content-Type":
		if _, ok := h.Header[name]; ok {
			return badHead("repeated Content-Type", line)
		}
		h.HasType = value != ""
	case "Location":
		if _, ok := h.Header[name]; ok {
			return badHead("repeated Location", line)
		}
		if value == "" {
			return badHead("empty Location", line)
		}
		h.Location = value
	}
	h.Header[name] = append(h.Header[name], value)
	return nil
}

// ParseStatus reads "NNN reason-phrase" (the phrase may be missing). A CGI
// response has no interim responses, so the code is 200 to 999.
func ParseStatus(v string) (int, bool) {
	if len(v) < 3 || (len(v) > 3 && v[3] != ' ' && v[3] != '\t') {
		return 0, false
	}
	for i := 0; i < 3; i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	code, _ := strconv.Atoi(v[:3])
	if code < 200 {
		return 0, false
	}
	return code, true
}

func badHead(what string, line []byte) error {
	if len(line) > 80 {
		line = line[:80]
	}
	return fmt.Errorf("%w: %s: %q", ErrBadHead, what, line)
}
