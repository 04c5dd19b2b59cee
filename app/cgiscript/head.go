package cgiscript

import (
	"bufio"
	"net/http"

	"github.com/gatewayd/gatewayd/core/cgiresp"
)

// Errors of a script's response head; each is answered 502 and logged. The
// head is parsed by core/cgiresp, which the FastCGI upstream shares.
var (
	errNoOutput     = cgiresp.ErrNoOutput
	errHeadCut      = cgiresp.ErrHeadCut
	errHeadTooLarge = cgiresp.ErrTooLarge
	errBadHead      = cgiresp.ErrBadHead
)

// head is a script's response head (RFC 3875 section 6.2, 6.3).
type head struct {
	status   int         // from the Status field; 0 when there is none
	header   http.Header // every field but Status, names canonical but Variable-*
	location string      // the Location field
	hasType  bool        // a non-empty Content-Type field
	fields   int         // how many fields, Status included
	local    bool        // a local redirect (RFC 3875 section 6.2.2)
}

// readHead reads the head of a CGI response from br, at most max bytes
// (cgiresp.Read).
func readHead(br *bufio.Reader, max int) (head, error) {
	h, err := cgiresp.Read(br, max)
	return head{status: h.Status, header: h.Header, location: h.Location, hasType: h.HasType,
		fields: h.Fields}, err
}
