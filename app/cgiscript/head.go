package cgiscript

import (
	"bufio"
	"net/http"

	"github.com/gatewayd/gatewayd/internal/cgihead"
)

// Errors of a script's response head; each is answered 502 and logged.
var (
	errNoOutput     = cgihead.ErrNoOutput
	errHeadCut      = cgihead.ErrHeadCut
	errHeadTooLarge = cgihead.ErrHeadTooLarge
	errBadHead      = cgihead.ErrBadHead
)

// head is a script's response head (RFC 3875 section 6.2, 6.3).
type head struct {
	status   int         // from the Status field; 0 when there is none
	header   http.Header // every field but Status, names canonical but Variable-*
	location string      // the Location field
	hasType  bool        // a non-empty Content-Type field
	fields   int         // how many fields, Status included
}

// readHead reads the head of a CGI response from br with cgihead.Read, the
// parser the client commands share: at most max bytes, LF or CRLF line
// ends, no continuation lines, no repeated Status, Content-Type or Location.
func readHead(br *bufio.Reader, max int) (head, error) {
	h, err := cgihead.Read(br, max)
	return head{status: h.Status, header: h.Header, location: h.Location, hasType: h.HasType, fields: h.Fields}, err
}
