package environ

import "strings"

// IsHopByHop reports whether the header name is one of RFC 2616's hop-by-hop
// headers, which an application must not send through a gateway:
// Connection, Keep-Alive, Proxy-Authenticate, Proxy-Authorization, TE,
// Trailers, Transfer-Encoding and Upgrade. The test ignores case.
func IsHopByHop(name string) bool {
	switch len(name) {
	case 2:
		return strings.EqualFold(name, "te")
	case 7:
		return strings.EqualFold(name, "upgrade")
	case 8:
		return strings.EqualFold(name, "trailers")
	case 10:
		return strings.EqualFold(name, "connection") || strings.EqualFold(name, "keep-alive")
	case 17:
		return strings.EqualFold(name, "transfer-encoding")
	case 18:
		return strings.EqualFold(name, "proxy-authenticate")
	case 19:
		return strings.EqualFold(name, "proxy-authorization")
	}
	return false
}
