package environ

import "strings"

// IsEscapingPath reports whether p, a decoded path that an app maps under a
// root (PATH_INFO, the rest of it after a script), could lead out of that
// root: it holds a ".." segment or a NUL byte. A backslash separates
// segments here too ("..\..\etc"), as Windows and some scripts read it.
// Front ends decode %2e%2e and %2f before the environment is built, so every
// spelling of a climb reaches this rule as "..". Apps that map a path to
// files answer such a path 400: one rule, so that every app refuses the
// same paths (RFC 3875 section 4.1.6: PATH_TRANSLATED stays in the tree).
func IsEscapingPath(p string) bool {
	if strings.IndexByte(p, 0) >= 0 {
		return true
	}
	for {
		i := strings.IndexAny(p, `/\`)
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		if seg == ".." {
			return true
		}
		if i < 0 {
			return false
		}
		p = p[i+1:]
	}
}
