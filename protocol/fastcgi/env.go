package fastcgi

import (
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// normalize fixes what web servers send in FCGI_PARAMS before the core sees
// it: the core's gateway rules (empty values dropped, the path rule for
// nginx's stock fastcgi_params and Apache's mod_proxy_fcgi unless
// literalPaths), and FCGI_ROLE set to RESPONDER or AUTHORIZER unless the web
// server sent it. The rules live in core/environ (NormalizeFastCGI), which
// `gatewayd explain` shares.
func normalize(e environ.Env, role fcgiwire.Role, literalPaths bool, serverSoftware string) {
	name := "RESPONDER"
	if role == fcgiwire.RoleAuthorizer {
		name = "AUTHORIZER"
	}
	environ.NormalizeFastCGI(e, environ.GatewayOptions{LiteralPaths: literalPaths, ServerSoftware: serverSoftware}, name)
}
