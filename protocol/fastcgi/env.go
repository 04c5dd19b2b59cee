package fastcgi

import "github.com/gatewayd/gatewayd/core/environ"

// normalize fixes what web servers send in FCGI_PARAMS before the core sees
// it:
//   - empty CONTENT_LENGTH, CONTENT_TYPE, REMOTE_USER and AUTH_TYPE are
//     dropped: nginx's stock fastcgi_params sends them empty for a request
//     without a body or a user, where CGI leaves them unset;
//   - unless literalPaths, a request with SCRIPT_NAME and no PATH_INFO (nginx's
//     stock fastcgi_params, whose SCRIPT_NAME is the whole path) is routed by
//     its path: PATH_INFO takes the value of SCRIPT_NAME and SCRIPT_NAME
//     becomes "". A PATH_INFO that is present, even empty
//     (fastcgi_split_path_info), is left as it is;
//   - FCGI_ROLE is set to RESPONDER or AUTHORIZER unless the web server sent it.
func normalize(e environ.Env, role uint16, literalPaths bool) {
	for _, name := range [...]string{"CONTENT_LENGTH", "CONTENT_TYPE", "REMOTE_USER", "AUTH_TYPE"} {
		if v, ok := e[name]; ok && v == "" {
			delete(e, name)
		}
	}
	if !literalPaths {
		if _, ok := e["PATH_INFO"]; !ok {
			if sn, ok := e["SCRIPT_NAME"]; ok {
				e["PATH_INFO"] = sn
				e["SCRIPT_NAME"] = ""
			}
		}
	}
	if _, ok := e["FCGI_ROLE"]; !ok {
		if role == roleAuthorizer {
			e["FCGI_ROLE"] = "AUTHORIZER"
		} else {
			e["FCGI_ROLE"] = "RESPONDER"
		}
	}
}
