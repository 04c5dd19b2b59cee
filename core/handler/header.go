package handler

import "strings"

// ValidHeaderName reports whether name is an RFC 9110 token, the form of a
// header field name. Apps that parse a child's response head (CGI scripts,
// FastCGI upstreams) use it to check the names they relay.
func ValidHeaderName[T ~string | ~[]byte](name T) bool {
	if len(name) == 0 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

// CaseSensitiveHeader reports whether the spelling of a response header's
// name carries meaning, so that it must reach the web server byte-exact:
// a FastCGI Authorizer's Variable-NAME, whose NAME the web server takes as
// written for a variable (FastCGI 1.0 section 6.3; Apache's mod_authnz_fcgi
// and its environment are case-sensitive). The core writes every name as
// the app spelled it; apps that parse a child's response head keep these
// names as they came instead of canonicalising them. name may be spelled
// any way.
func CaseSensitiveHeader(name string) bool {
	const p = "Variable-"
	return len(name) > len(p) && strings.EqualFold(name[:len(p)], p)
}

var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
