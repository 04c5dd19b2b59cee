package fcgiwire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

const (
	// Version1 is FCGI_VERSION_1, the only version there is.
	Version1 = 1
	// HeaderLen is the length of a record header.
	HeaderLen = 8
	// MaxContent is the largest content of one record.
	MaxContent = 65535
	// maxPadding is the largest padding of one record.
	maxPadding = 255
	// MaxChunk is the largest content the stream encoders put in one record:
	// the largest multiple of 8 under MaxContent, so that a full record
	// needs no padding.
	MaxChunk = 65528
)

// Type is a record's type.
type Type uint8

// The record types of FastCGI 1.0.
const (
	TypeBeginRequest    Type = 1
	TypeAbortRequest    Type = 2
	TypeEndRequest      Type = 3
	TypeParams          Type = 4
	TypeStdin           Type = 5
	TypeStdout          Type = 6
	TypeStderr          Type = 7
	TypeData            Type = 8
	TypeGetValues       Type = 9
	TypeGetValuesResult Type = 10
	TypeUnknownType     Type = 11
)

var typeNames = [...]string{"", "BEGIN_REQUEST", "ABORT_REQUEST", "END_REQUEST", "PARAMS", "STDIN",
	"STDOUT", "STDERR", "DATA", "GET_VALUES", "GET_VALUES_RESULT", "UNKNOWN_TYPE"}

func (t Type) String() string {
	if int(t) < len(typeNames) && t != 0 {
		return typeNames[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Role is the role in FCGI_BEGIN_REQUEST.
type Role uint16

// The roles of FastCGI 1.0.
const (
	RoleResponder  Role = 1
	RoleAuthorizer Role = 2
	RoleFilter     Role = 3
)

func (r Role) String() string {
	switch r {
	case RoleResponder:
		return "RESPONDER"
	case RoleAuthorizer:
		return "AUTHORIZER"
	case RoleFilter:
		return "FILTER"
	}
	return fmt.Sprintf("role %d", uint16(r))
}

// FlagKeepConn is FCGI_KEEP_CONN in FCGI_BEGIN_REQUEST's flags: the web
// server, not the application, closes the connection.
const FlagKeepConn uint8 = 1

// ProtocolStatus is the protocolStatus of an FCGI_END_REQUEST record.
type ProtocolStatus uint8

// The protocol statuses of FastCGI 1.0.
const (
	// RequestComplete is FCGI_REQUEST_COMPLETE: the request ran.
	RequestComplete ProtocolStatus = 0
	// CantMpxConn is FCGI_CANT_MPX_CONN: a second concurrent request on a
	// connection that carries one at a time.
	CantMpxConn ProtocolStatus = 1
	// Overloaded is FCGI_OVERLOADED: the application is out of a resource
	// (connections, requests).
	Overloaded ProtocolStatus = 2
	// UnknownRole is FCGI_UNKNOWN_ROLE: a role the application does not play.
	UnknownRole ProtocolStatus = 3
)

func (s ProtocolStatus) String() string {
	switch s {
	case RequestComplete:
		return "FCGI_REQUEST_COMPLETE"
	case CantMpxConn:
		return "FCGI_CANT_MPX_CONN"
	case Overloaded:
		return "FCGI_OVERLOADED"
	case UnknownRole:
		return "FCGI_UNKNOWN_ROLE"
	}
	return fmt.Sprintf("protocolStatus %d", uint8(s))
}

// The names FCGI_GET_VALUES asks about.
const (
	MaxConns  = "FCGI_MAX_CONNS"
	MaxReqs   = "FCGI_MAX_REQS"
	MpxsConns = "FCGI_MPXS_CONNS"
)

// ErrVersion is a record whose version is not 1: the one wire error
// callers tell apart with errors.Is (to say "not a FastCGI peer"). Other
// failures are wrapped I/O errors or the errors below.
var ErrVersion = errors.New("fcgiwire: unsupported record version")

// Errors of malformed content. No caller outside tells them apart — a
// malformed record is a fault whatever its kind — so only this package's
// tests compare them.
var (
	// errPairs is a name-value pair stream that does not decode.
	errPairs = errors.New("fcgiwire: malformed name-value pairs")
	// errPairLimit is a name-value pair stream over the caller's limits.
	errPairLimit = errors.New("fcgiwire: name-value pairs over the limit")
	// errShortBody is a BEGIN_REQUEST, END_REQUEST or UNKNOWN_TYPE body
	// shorter than its 8 bytes.
	errShortBody = errors.New("fcgiwire: record body too short")
)

// Header is a record header.
type Header struct {
	Version       uint8
	Type          Type
	ID            uint16
	ContentLength uint16
	PaddingLength uint8
}

// Len is how many bytes follow the header: content and padding.
func (h Header) Len() int { return int(h.ContentLength) + int(h.PaddingLength) }

// ParseHeader decodes the first HeaderLen bytes of b, which must hold them.
// It does not check the version: the caller decides what a wrong one costs.
func ParseHeader(b []byte) Header {
	_ = b[HeaderLen-1]
	return Header{
		Version:       b[0],
		Type:          Type(b[1]),
		ID:            binary.BigEndian.Uint16(b[2:]),
		ContentLength: binary.BigEndian.Uint16(b[4:]),
		PaddingLength: b[6],
	}
}

// padding is how many bytes align a record of content n to 8.
func padding(n int) int { return -n & 7 }

// appendHeader appends the header of a version 1 record of type t for
// request id with content of length n (at most MaxContent) and the padding
// that aligns it to 8.
func appendHeader(dst []byte, t Type, id uint16, n int) []byte {
	return append(dst, Version1, byte(t), byte(id>>8), byte(id), byte(n>>8), byte(n), byte(padding(n)), 0)
}

var zeros [8]byte

// AppendRecord appends one record holding content (at most MaxContent
// bytes), padded to a multiple of 8. An empty content is the record that
// ends a stream.
func AppendRecord(dst []byte, t Type, id uint16, content []byte) []byte {
	dst = appendHeader(dst, t, id, len(content))
	dst = append(dst, content...)
	return append(dst, zeros[:padding(len(content))]...)
}

// AppendStream appends p as records of type t, split at MaxChunk. It appends
// nothing for an empty p: the empty record ends a stream, and callers write
// it on purpose with AppendRecord.
func AppendStream(dst []byte, t Type, id uint16, p []byte) []byte {
	for len(p) > 0 {
		n := min(len(p), MaxChunk)
		dst = AppendRecord(dst, t, id, p[:n])
		p = p[n:]
	}
	return dst
}

// streamSize is how many bytes AppendStream appends for n content bytes.
func streamSize(n int) int {
	size := n / MaxChunk * (HeaderLen + MaxChunk)
	if rest := n % MaxChunk; rest > 0 {
		size += HeaderLen + rest + padding(rest)
	}
	return size
}
