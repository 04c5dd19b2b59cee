package fcgiwire

import "encoding/binary"

// BeginRequest is the body of FCGI_BEGIN_REQUEST.
type BeginRequest struct {
	Role  Role
	Flags uint8
}

// AppendBeginRequest appends an FCGI_BEGIN_REQUEST record (the web server's
// side).
func AppendBeginRequest(dst []byte, id uint16, role Role, flags uint8) []byte {
	dst = appendHeader(dst, TypeBeginRequest, id, 8)
	return append(dst, byte(role>>8), byte(role), flags, 0, 0, 0, 0, 0)
}

// ParseBeginRequest decodes the content of an FCGI_BEGIN_REQUEST record (the
// application's side). A body under 8 bytes is errShortBody.
func ParseBeginRequest(b []byte) (BeginRequest, error) {
	if len(b) < 8 {
		return BeginRequest{}, errShortBody
	}
	return BeginRequest{Role: Role(binary.BigEndian.Uint16(b)), Flags: b[2]}, nil
}

// EndRequest is the body of FCGI_END_REQUEST.
type EndRequest struct {
	// AppStatus is the application's exit status, CGI style.
	AppStatus      uint32
	ProtocolStatus ProtocolStatus
}

// AppendEndRequest appends an FCGI_END_REQUEST record (the application's
// side).
func AppendEndRequest(dst []byte, id uint16, appStatus uint32, ps ProtocolStatus) []byte {
	dst = appendHeader(dst, TypeEndRequest, id, 8)
	return append(dst, byte(appStatus>>24), byte(appStatus>>16), byte(appStatus>>8), byte(appStatus),
		byte(ps), 0, 0, 0)
}

// ParseEndRequest decodes the content of an FCGI_END_REQUEST record (the web
// server's side). A body under 8 bytes is errShortBody.
func ParseEndRequest(b []byte) (EndRequest, error) {
	if len(b) < 8 {
		return EndRequest{}, errShortBody
	}
	return EndRequest{AppStatus: binary.BigEndian.Uint32(b), ProtocolStatus: ProtocolStatus(b[4])}, nil
}

// AppendUnknownType appends the FCGI_UNKNOWN_TYPE answer to a management
// record of type t.
func AppendUnknownType(dst []byte, t Type) []byte {
	dst = appendHeader(dst, TypeUnknownType, 0, 8)
	return append(dst, byte(t), 0, 0, 0, 0, 0, 0, 0)
}

// ParseUnknownType decodes the content of an FCGI_UNKNOWN_TYPE record: the
// management type the application did not understand.
func ParseUnknownType(b []byte) (Type, error) {
	if len(b) < 8 {
		return 0, errShortBody
	}
	return Type(b[0]), nil
}

// AppendGetValues appends an FCGI_GET_VALUES record asking for names (the
// web server's side; usually MaxConns, MaxReqs, MpxsConns). The names must
// fit one record: their pairs take at most MaxContent bytes.
func AppendGetValues(dst []byte, names ...string) []byte {
	start := len(dst)
	dst = appendHeader(dst, TypeGetValues, 0, 0)
	for _, name := range names {
		dst = AppendPair(dst, name, "")
	}
	return finishRecord(dst, start)
}

// AppendGetValuesResult appends the FCGI_GET_VALUES_RESULT record answering
// the query (the content of an FCGI_GET_VALUES record) with value, which
// reports false for names the application does not know: those are left out,
// as the specification asks. A query that does not decode is still answered,
// with the names before the fault, and the error is errPairs. An answer over
// MaxContent is sent empty rather than cut inside a pair.
func AppendGetValuesResult(dst []byte, query []byte, value func(name string) (string, bool)) ([]byte, error) {
	start := len(dst)
	dst = appendHeader(dst, TypeGetValuesResult, 0, 0)
	err := DecodePairs(string(query), Limits{MaxPairs: -1, MaxBytes: -1}, func(name, _ string) {
		if v, ok := value(name); ok {
			dst = AppendPair(dst, name, v)
		}
	})
	if len(dst)-start-HeaderLen > MaxContent {
		dst = dst[:start+HeaderLen]
	}
	return finishRecord(dst, start), err
}

// finishRecord completes the record whose header is at dst[start:] and whose
// content follows it: it sets the content and padding lengths and pads.
func finishRecord(dst []byte, start int) []byte {
	n := len(dst) - start - HeaderLen
	h := dst[start:]
	h[4], h[5], h[6] = byte(n>>8), byte(n), byte(padding(n))
	return append(dst, zeros[:padding(n)]...)
}
