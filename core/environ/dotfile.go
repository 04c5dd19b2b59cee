package environ

import "strings"

// WellKnown is the one dot directory that apps serving files let through
// when they deny dotfiles: RFC 8615's /.well-known/ (ACME challenges,
// security.txt, …), as the first segment of the path under the root.
const WellKnown = ".well-known"

// IsDotfilePath reports whether p, a decoded path under a root such as
// PATH_INFO, names a dotfile or reaches through a dot directory: a segment
// that starts with "." (".env", ".git/config", ".htaccess", "a/.ssh/id"),
// other than "." itself and other than WellKnown as the first segment.
// Apps that serve files refuse such paths unless configured with
// "dotfiles: allow": one rule, so that every app answers the same path the
// same way.
func IsDotfilePath(p string) bool {
	first := true
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." {
			continue
		}
		if seg[0] == '.' && !(first && seg == WellKnown) {
			return true
		}
		first = false
	}
	return false
}
