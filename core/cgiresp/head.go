package cgiresp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/gatewayd/gatewayd/core/handler"
)

// DefaultMaxHeadBytes is the bound on a response head that apps apply when
// they are given none: the CGI runner's max_header_bytes default, and the
// FastCGI upstream's fixed bound.
const DefaultMaxHeadBytes = 64 << 10

// Errors of a response head; apps answer each with 502 and log it.
var (
	ErrNoOutput = errors.New("cgiresp: no response at all")
	ErrHeadCut  = errors.New("cgiresp: the output ended inside the response head")
	ErrTooLarge = errors.New("cgiresp: response head larger than the limit")
	ErrBadHead  = errors.New("cgiresp: malformed response head")
)

// Head is a CGI response head (RFC 3875 sections 6.2, 6.3).
type Head struct {
	// Status is the code of the Status field; 0 when there is none.
	Status int
	// Header holds every field but Status, names canonical but Variable-*.
	Header http.Header
	// Location is the Location field.
	Location string
	// HasType reports a non-empty Content-Type field.
	HasType bool
	// Fields is how many fields there were, Status included.
	Fields int

	vals []string // room for the first value of each name (Parse)
}

// IsLocalRedirect reports a local redirect response (RFC 3875 section
// 6.2.2): a Location that is a path ("/path", not "//host") and no other
// field.
func (h *Head) IsLocalRedirect() bool {
	loc := h.Location
	return loc != "" && h.Fields == 1 && loc[0] == '/' && (len(loc) == 1 || loc[1] != '/')
}

// Read reads a response head from br: "Name: value" lines ended by LF or
// CRLF, up to a blank line, at most max bytes in all (line ends included).
// Continuation lines, lines without a colon, names that are not tokens,
// control characters in values, a repeated Status, Content-Type or Location
// and a bad Status are errors wrapping ErrBadHead. A line may be as long as
// max allows, whatever br's size.
func Read(br *bufio.Reader, max int) (Head, error) {
	h := Head{Header: make(http.Header, 8)}
	total := 0
	var long []byte // a line longer than br's buffer, so far
	for {
		frag, err := br.ReadSlice('\n')
		total += len(frag)
		if total > max {
			return h, ErrTooLarge
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
			return h, fmt.Errorf("cgiresp: reading the response head: %w", err)
		}
		line := frag
		if long != nil {
			line = append(long, frag...)
			long = nil
		}
		line = trimEOL(line)
		if len(line) == 0 {
			return h, nil
		}
		if err := h.addField(string(line)); err != nil {
			return h, err
		}
	}
}

// HeadEnd returns the length of the head at the start of b, its blank line
// included, or -1 when b holds no blank line yet. A caller collecting a head
// from a stream calls it on what it has so far.
func HeadEnd(b []byte) int {
	if len(b) > 0 && b[0] == '\n' {
		return 1
	}
	if len(b) > 1 && b[0] == '\r' && b[1] == '\n' {
		return 2
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
}

// Parse parses a whole head, b[:HeadEnd(b)], with the rules of Read.
func Parse(b []byte) (Head, error) { return ParseInto(b, make(http.Header, 8)) }

// ParseInto is Parse putting the fields in dst, which must hold none of the
// head's names: an app that parses the head straight into its
// ResponseWriter's header map spares a map and a copy per response. On an
// error dst may hold some of the fields; the caller clears it. It takes two
// allocations, whatever the number of fields (more for a repeated name): the
// values are substrings of one copy of b and share one array.
func ParseInto(b []byte, dst http.Header) (Head, error) {
	h := Head{Header: dst, vals: make([]string, bytes.Count(b, []byte{'\n'}))}
	err := h.parse(string(b))
	h.vals = nil
	return h, err
}

func (h *Head) parse(s string) error {
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return ErrHeadCut
		}
		line := trimEOLString(s[:i+1])
		s = s[i+1:]
		if len(line) == 0 {
			return nil
		}
		if err := h.addField(line); err != nil {
			return err
		}
	}
	return ErrHeadCut
}

func trimEOLString(line string) string {
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

func trimEOL(line []byte) []byte {
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

func (h *Head) addField(line string) error {
	if line[0] == ' ' || line[0] == '\t' {
		return badHead("continuation line", line)
	}
	colon := strings.IndexByte(line, ':')
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
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return badHead("control character in a field value", line)
		}
	}
	name := canonicalName(line[:colon])
	value := v
	h.Fields++
	if handler.CaseSensitiveHeader(name) {
		// The web server passes the rest of the name on as a variable,
		// spelled as it came (FastCGI's Authorizer): keep it byte-exact.
		name = line[:colon]
	}
	switch name {
	case "Status":
		if h.Status != 0 {
			return badHead("repeated Status", line)
		}
		code, ok := parseStatus(value)
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
	if old, ok := h.Header[name]; ok || len(h.vals) == 0 {
		h.Header[name] = append(old, value)
		return nil
	}
	// Capped at its one element, so that an append to one name's values
	// cannot overwrite the next name's.
	h.vals[0] = value
	h.Header[name] = h.vals[:1:1]
	h.vals = h.vals[1:]
	return nil
}

// canonicalName is textproto.CanonicalMIMEHeaderKey without an allocation
// for the names nearly every response carries.
func canonicalName(b string) string {
	switch b {
	case "Content-Type", "Content-type", "content-type":
		return "Content-Type"
	case "Status", "status":
		return "Status"
	case "Location", "location":
		return "Location"
	case "X-Powered-By":
		return "X-Powered-By"
	case "Content-Length", "Content-length", "content-length":
		return "Content-Length"
	case "Cache-Control":
		return "Cache-Control"
	case "Set-Cookie":
		return "Set-Cookie"
	}
	return textproto.CanonicalMIMEHeaderKey(b)
}

// parseStatus reads "NNN reason-phrase" (the phrase may be missing). A CGI
// response has no interim responses, so the code is 200 to 999.
func parseStatus(v string) (int, bool) {
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

func badHead(what string, line string) error {
	if len(line) > 80 {
		line = line[:80]
	}
	return fmt.Errorf("%w: %s: %q", ErrBadHead, what, line)
}
