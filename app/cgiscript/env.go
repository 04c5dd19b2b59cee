package cgiscript

import (
	"strings"

	"github.com/gatewayd/gatewayd/core/environ"
)

// childEnv builds the script's environment (RFC 3875 section 4.1): the
// PassEnv variables, the request's CGI variables as the front end gave them,
// the variables of the script itself, then Env. Names or values that an
// environment cannot hold (NUL, "=" in a name) are left out and returned.
func (rn *Runner) childEnv(orig environ.Env, s *script, scriptName, pathInfo string, body *reqBody) (env []string, dropped []string) {
	env = make([]string, 0, len(rn.baseEnv)+len(orig)+12+len(rn.cfg.Env))
	env = append(env, rn.baseEnv...)

	for name, v := range orig {
		if !forwarded(name) || (body.spooled && name == "HTTP_TRANSFER_ENCODING") {
			continue
		}
		if !validEnvName(name) || !validEnvValue(v) {
			dropped = append(dropped, name)
			continue
		}
		env = append(env, name+"="+v)
	}

	set := func(name, v string) {
		if !validEnvValue(v) {
			dropped = append(dropped, name)
			return
		}
		env = append(env, name+"="+v)
	}
	env = append(env, "GATEWAY_INTERFACE=CGI/1.1")
	set("SCRIPT_NAME", scriptName)
	set("SCRIPT_FILENAME", s.filename)
	set("PATH_INFO", pathInfo)
	docRoot, hasRoot := rn.root, rn.root != ""
	if !hasRoot {
		docRoot, hasRoot = orig["DOCUMENT_ROOT"]
	}
	if hasRoot {
		set("DOCUMENT_ROOT", docRoot)
		if pathInfo != "" {
			set("PATH_TRANSLATED", strings.TrimSuffix(docRoot, "/")+pathInfo)
		}
	}
	if _, ok := orig["QUERY_STRING"]; !ok {
		env = append(env, "QUERY_STRING=")
	}
	if _, ok := orig["REQUEST_URI"]; !ok {
		uri := environ.Quote(scriptName+pathInfo, "/;=,")
		if q := orig["QUERY_STRING"]; q != "" {
			uri += "?" + q
		}
		set("REQUEST_URI", uri)
	}
	if _, ok := orig["REMOTE_HOST"]; !ok {
		if a, ok := orig["REMOTE_ADDR"]; ok {
			set("REMOTE_HOST", a)
		}
	}
	if body.length != "" {
		env = append(env, "CONTENT_LENGTH="+body.length)
	}
	for name, v := range rn.cfg.Env {
		env = append(env, name+"="+v)
	}
	// os/exec keeps the last of duplicate names, so later entries win.
	return env, dropped
}

// forwarded reports whether a variable of the request's environment is
// passed to scripts as it is. SCRIPT_NAME, PATH_INFO and the other
// variables of the script itself are set afresh; CONTENT_LENGTH is set
// from the body actually sent; HTTP_PROXY never passes (httpoxy).
// FCGI_ROLE passes so that a script behind a FastCGI listener can tell an
// Authorizer request (FastCGI 1.0 section 6.3) from a Responder one, and
// FCGI_APACHE_ROLE so that it can tell which of Apache's phases asks.
func forwarded(name string) bool {
	switch name {
	case "REQUEST_METHOD", "REQUEST_URI", "QUERY_STRING", "CONTENT_TYPE", "AUTH_TYPE", "HTTPS",
		"FCGI_ROLE", "FCGI_APACHE_ROLE":
		return true
	case "HTTP_PROXY", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE":
		return false
	}
	return strings.HasPrefix(name, "HTTP_") || strings.HasPrefix(name, "SERVER_") ||
		strings.HasPrefix(name, "REMOTE_")
}

func validEnvName(name string) bool {
	return name != "" && strings.IndexByte(name, '=') < 0 && strings.IndexByte(name, 0) < 0
}

func validEnvValue(v string) bool { return strings.IndexByte(v, 0) < 0 }
