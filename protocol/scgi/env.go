package scgi

import "github.com/gatewayd/gatewayd/core/environ"

// normalize completes the environment a web server sent so that the app
// sees what the HTTP, FastCGI and CGI front ends would give it for the same
// request: SCGI's mandatory CONTENT_LENGTH "0" is dropped unless the client
// sent a length of its own, then the core's gateway rules apply
// (environ.NormalizeGateway; docs/scgi.md explains each rule).
func normalize(e environ.Env, serverSoftware string) {
	if e["CONTENT_LENGTH"] == "0" && !explicitZeroLength(e) {
		// SCGI always sends CONTENT_LENGTH; CGI sets it only for a request
		// with a body or a Content-Length of its own.
		delete(e, "CONTENT_LENGTH")
	}
	environ.NormalizeGateway(e, environ.GatewayOptions{ServerSoftware: serverSoftware})
}

// explicitZeroLength reports whether CONTENT_LENGTH "0" stands for a
// Content-Length the client sent, rather than SCGI's mandatory zero.
func explicitZeroLength(e environ.Env) bool {
	if _, ok := e["HTTP_CONTENT_LENGTH"]; ok {
		return true // nginx passes the client's header on
	}
	if _, ok := e["HTTP_TRANSFER_ENCODING"]; ok {
		return true // a (chunked) body that turned out empty
	}
	switch e["REQUEST_METHOD"] {
	case "POST", "PUT", "PATCH":
		// Clients send "Content-Length: 0" with an empty body for these
		// (curl, Go, browsers); Apache cannot tell us whether they did.
		return true
	}
	return false
}
