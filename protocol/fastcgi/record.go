package fastcgi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The FastCGI 1.0 record layer: 8-byte headers, content of at most 65535
// bytes, padding that readers skip and writers use to align records to 8
// bytes, and name-value pairs with 1- or 4-byte lengths.

const (
	version1 = 1

	headerLen = 8
	// maxContent is the largest content of one record.
	maxContent = 65535
	// maxChunk is the largest content a stream record is given on write: a
	// multiple of 8, so that a full record needs no padding.
	maxChunk = 65528
)

// recType is a record's type.
type recType uint8

const (
	typeBeginRequest    recType = 1
	typeAbortRequest    recType = 2
	typeEndRequest      recType = 3
	typeParams          recType = 4
	typeStdin           recType = 5
	typeStdout          recType = 6
	typeStderr          recType = 7
	typeData            recType = 8
	typeGetValues       recType = 9
	typeGetValuesResult recType = 10
	typeUnknownType     recType = 11
)

func (t recType) String() string {
	names := [...]string{"", "BEGIN_REQUEST", "ABORT_REQUEST", "END_REQUEST", "PARAMS", "STDIN",
		"STDOUT", "STDERR", "DATA", "GET_VALUES", "GET_VALUES_RESULT", "UNKNOWN_TYPE"}
	if int(t) < len(names) && t != 0 {
		return names[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Roles in FCGI_BEGIN_REQUEST.
const (
	roleResponder  = 1
	roleAuthorizer = 2
	roleFilter     = 3
)

// flagKeepConn is FCGI_KEEP_CONN in FCGI_BEGIN_REQUEST's flags.
const flagKeepConn = 1

// ProtocolStatus is the protocolStatus of an FCGI_END_REQUEST record.
type ProtocolStatus uint8

// The protocol statuses of FastCGI 1.0.
const (
	// RequestComplete is FCGI_REQUEST_COMPLETE: the request ran.
	RequestComplete ProtocolStatus = 0
	// CantMpxConn is FCGI_CANT_MPX_CONN: a second concurrent request on a
	// connection that carries one at a time (max_reqs 1).
	CantMpxConn ProtocolStatus = 1
	// Overloaded is FCGI_OVERLOADED: over max_conns, or over max_reqs on a
	// multiplexed connection.
	Overloaded ProtocolStatus = 2
	// UnknownRole is FCGI_UNKNOWN_ROLE: a role this server does not play
	// (the Filter role).
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

// Errors of the record layer. Callers test them with errors.Is.
var (
	// ErrVersion is a record whose version is not 1.
	ErrVersion = errors.New("fastcgi: unsupported record version")
	// ErrPairs is a name-value pair stream that does not decode.
	ErrPairs = errors.New("fastcgi: malformed name-value pairs")
	// ErrBeginRequest is an FCGI_BEGIN_REQUEST body shorter than 8 bytes.
	ErrBeginRequest = errors.New("fastcgi: short FCGI_BEGIN_REQUEST body")
)

// header is a record header.
type header struct {
	Version       uint8
	Type          recType
	ID            uint16
	ContentLength uint16
	PaddingLength uint8
}

// parseHeader decodes 8 header bytes. It does not check the version.
func parseHeader(b []byte) header {
	_ = b[7]
	return header{
		Version:       b[0],
		Type:          recType(b[1]),
		ID:            binary.BigEndian.Uint16(b[2:]),
		ContentLength: binary.BigEndian.Uint16(b[4:]),
		PaddingLength: b[6],
	}
}

// padding is how many bytes align a record of content n to 8.
func padding(n int) int { return -n & 7 }

// appendHeader appends a record header for content of length n followed by
// the aligning padding length.
func appendHeader(dst []byte, t recType, id uint16, n int) []byte {
	return append(dst, version1, byte(t), byte(id>>8), byte(id), byte(n>>8), byte(n), byte(padding(n)), 0)
}

var zeros [8]byte

// appendRecord appends one record holding content (at most maxContent bytes),
// padded to a multiple of 8.
func appendRecord(dst []byte, t recType, id uint16, content []byte) []byte {
	dst = appendHeader(dst, t, id, len(content))
	dst = append(dst, content...)
	return append(dst, zeros[:padding(len(content))]...)
}

// appendStream appends p as records of type t, split at maxChunk. It appends
// nothing for an empty p: the empty record ends a stream and is written on
// purpose with appendRecord.
func appendStream(dst []byte, t recType, id uint16, p []byte) []byte {
	for len(p) > 0 {
		n := min(len(p), maxChunk)
		dst = appendRecord(dst, t, id, p[:n])
		p = p[n:]
	}
	return dst
}

// streamSize is how many bytes appendStream produces for n content bytes.
func streamSize(n int) int {
	full := n / maxChunk
	rest := n % maxChunk
	size := full * (headerLen + maxChunk)
	if rest > 0 {
		size += headerLen + rest + padding(rest)
	}
	return size
}

// appendEndRequest appends an FCGI_END_REQUEST record.
func appendEndRequest(dst []byte, id uint16, appStatus uint32, ps ProtocolStatus) []byte {
	dst = appendHeader(dst, typeEndRequest, id, 8)
	return append(dst, byte(appStatus>>24), byte(appStatus>>16), byte(appStatus>>8), byte(appStatus),
		byte(ps), 0, 0, 0)
}

// appendUnknownType appends the FCGI_UNKNOWN_TYPE answer to a management
// record of type t.
func appendUnknownType(dst []byte, t recType) []byte {
	dst = appendHeader(dst, typeUnknownType, 0, 8)
	return append(dst, byte(t), 0, 0, 0, 0, 0, 0, 0)
}

// appendBeginRequest appends an FCGI_BEGIN_REQUEST record (the web server's
// side; used by tests and benchmarks).
func appendBeginRequest(dst []byte, id uint16, role uint16, flags uint8) []byte {
	dst = appendHeader(dst, typeBeginRequest, id, 8)
	return append(dst, byte(role>>8), byte(role), flags, 0, 0, 0, 0, 0)
}

// beginRequest is the body of FCGI_BEGIN_REQUEST.
type beginRequest struct {
	Role  uint16
	Flags uint8
}

func parseBeginRequest(b []byte) (beginRequest, error) {
	if len(b) < 8 {
		return beginRequest{}, ErrBeginRequest
	}
	return beginRequest{Role: binary.BigEndian.Uint16(b), Flags: b[2]}, nil
}

// endRequest is the body of FCGI_END_REQUEST.
type endRequest struct {
	AppStatus      uint32
	ProtocolStatus ProtocolStatus
}

func parseEndRequest(b []byte) (endRequest, error) {
	if len(b) < 8 {
		return endRequest{}, errors.New("fastcgi: short FCGI_END_REQUEST body")
	}
	return endRequest{AppStatus: binary.BigEndian.Uint32(b), ProtocolStatus: ProtocolStatus(b[4])}, nil
}

// appendPairLen appends a name-value length: one byte up to 127, else four
// bytes big-endian with the top bit set.
func appendPairLen(dst []byte, n int) []byte {
	if n <= 127 {
		return append(dst, byte(n))
	}
	return append(dst, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
}

// appendPair appends one name-value pair.
func appendPair(dst []byte, name, value string) []byte {
	dst = appendPairLen(dst, len(name))
	dst = appendPairLen(dst, len(value))
	dst = append(dst, name...)
	return append(dst, value...)
}

// decodePairs calls fn for each name-value pair of the whole stream s. Names
// and values are substrings of s, so that one allocation (the caller's string
// conversion) holds a request's whole environment. A pair cut short is
// ErrPairs: callers hand it whole streams, never single records.
func decodePairs(s string, fn func(name, value string)) error {
	for len(s) > 0 {
		nl, n1 := readPairLenString(s)
		if n1 == 0 {
			return ErrPairs
		}
		vl, n2 := readPairLenString(s[n1:])
		if n2 == 0 {
			return ErrPairs
		}
		start := n1 + n2
		if nl > len(s)-start || vl > len(s)-start-nl {
			return ErrPairs
		}
		fn(s[start:start+nl], s[start+nl:start+nl+vl])
		s = s[start+nl+vl:]
	}
	return nil
}

// readPairLenString decodes a length at the start of s and returns it and how
// many bytes it took; n is 0 when s is too short.
func readPairLenString(s string) (length, n int) {
	if len(s) == 0 {
		return 0, 0
	}
	if s[0]&0x80 == 0 {
		return int(s[0]), 1
	}
	if len(s) < 4 {
		return 0, 0
	}
	return int(uint32(s[0]&0x7f)<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])), 4
}

// readRecord reads one whole record into buf, grown when it is too small
// (tests and the minimal clients use it; the server reads records in place).
// The content returned aliases buf.
func readRecord(r io.Reader, buf []byte) (header, []byte, error) {
	if cap(buf) < headerLen {
		buf = make([]byte, 0, 512)
	}
	if _, err := io.ReadFull(r, buf[:headerLen]); err != nil {
		return header{}, nil, err
	}
	h := parseHeader(buf[:headerLen])
	if h.Version != version1 {
		return h, nil, fmt.Errorf("%w: %d", ErrVersion, h.Version)
	}
	n := int(h.ContentLength) + int(h.PaddingLength)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return h, nil, fmt.Errorf("fastcgi: reading %v content: %w", h.Type, io.ErrUnexpectedEOF)
	}
	return h, buf[:h.ContentLength], nil
}
