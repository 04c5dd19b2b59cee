// Package scgiwire encodes SCGI requests (the protocol of 2008): the
// netstring header block a web server sends before the body. The SCGI front
// end (protocol/scgi) decodes requests; the client commands (gatewayd
// request, probe, conform) encode them here, below both, so neither imports
// the other. It imports only the standard library.
package scgiwire

import (
	"slices"
	"strconv"
)

// Pair is one header of a request: name and value, in the order sent.
type Pair struct{ Name, Value string }

// AppendNetstring appends p as a netstring: LEN ":" p ",".
func AppendNetstring(dst, p []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(p)), 10)
	dst = append(dst, ':')
	dst = append(dst, p...)
	return append(dst, ',')
}

// AppendHeaders appends the header block's content: each name and value
// followed by NUL. It does not check the pairs: conformance tests send
// malformed blocks on purpose.
func AppendHeaders(dst []byte, pairs []Pair) []byte {
	for _, p := range pairs {
		dst = append(dst, p.Name...)
		dst = append(dst, 0)
		dst = append(dst, p.Value...)
		dst = append(dst, 0)
	}
	return dst
}

// AppendRequest appends a well-formed request head for a body of length n:
// CONTENT_LENGTH first, then SCGI "1", then env in sorted order, leaving out
// any CONTENT_LENGTH or SCGI in env and names that an SCGI header cannot hold
// (empty, or with a NUL; values with a NUL are left out too).
func AppendRequest(dst []byte, env map[string]string, n int64) []byte {
	pairs := make([]Pair, 0, len(env)+2)
	pairs = append(pairs, Pair{"CONTENT_LENGTH", strconv.FormatInt(n, 10)}, Pair{"SCGI", "1"})
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v := env[k]
		if k == "CONTENT_LENGTH" || k == "SCGI" || k == "" || hasNUL(k) || hasNUL(v) {
			continue
		}
		pairs = append(pairs, Pair{k, v})
	}
	return AppendNetstring(dst, AppendHeaders(nil, pairs))
}

func hasNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}
