package scgi

import "github.com/gatewayd/gatewayd/core/environ"

// normalize completes the environment a web server sent so that the app
// sees what the HTTP, FastCGI and CGI front ends would give it for the same
// request. The rules (SCGI's mandatory CONTENT_LENGTH "0", then the
// gateway rules) live in core/environ, which `gatewayd explain` shares;
// docs/scgi.md explains each.
func normalize(e environ.Env, serverSoftware string) {
	environ.NormalizeSCGI(e, environ.GatewayOptions{ServerSoftware: serverSoftware})
}
