package environ

import (
	"path"
	"strings"
)

// GuessScheme returns "https" when HTTPS is "on", "1" or "yes" in any case,
// and "http" otherwise, as wsgiref.util.guess_scheme does.
func GuessScheme(e Env) string {
	switch strings.ToLower(e["HTTPS"]) {
	case "on", "1", "yes":
		return "https"
	}
	return "http"
}

// ApplicationURI returns the URI of the application the request is for:
// scheme, host (HTTP_HOST, else SERVER_NAME with SERVER_PORT unless it is the
// scheme's default) and the quoted SCRIPT_NAME, or "/" when it is empty. It is
// wsgiref.util.application_uri.
func ApplicationURI(e Env) string {
	var b strings.Builder
	appendApplicationURI(&b, e)
	return b.String()
}

func appendApplicationURI(b *strings.Builder, e Env) {
	scheme := GuessScheme(e)
	b.WriteString(scheme)
	b.WriteString("://")
	if host := e["HTTP_HOST"]; host != "" {
		b.WriteString(host)
	} else {
		b.WriteString(e["SERVER_NAME"])
		port := e["SERVER_PORT"]
		if (scheme == "https" && port != "443") || (scheme == "http" && port != "80") {
			b.WriteByte(':')
			b.WriteString(port)
		}
	}
	sn := e["SCRIPT_NAME"]
	if sn == "" {
		sn = "/"
	}
	b.WriteString(Quote(sn, "/"))
}

// RequestURI returns the full URI of the request: the application URI, the
// quoted PATH_INFO and, when includeQuery is set, "?" QUERY_STRING if there is
// one. It is wsgiref.util.request_uri: PATH_INFO "/c d;e=f,g?h#i%" becomes
// "/c%20d;e=f,g%3Fh%23i%25".
func RequestURI(e Env, includeQuery bool) string {
	var b strings.Builder
	appendApplicationURI(&b, e)
	pi := Quote(e["PATH_INFO"], "/;=,")
	if e["SCRIPT_NAME"] == "" && pi != "" {
		// The application URI already ends in "/"; do not make it "//".
		pi = pi[1:]
	}
	b.WriteString(pi)
	if q := e["QUERY_STRING"]; includeQuery && q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	return b.String()
}

// DirectoryLocation is the Location of the redirect from a directory path
// without its trailing slash: the quoted path of dir ("" or "." for the
// mount itself) under the mount scriptName, with a trailing slash, and
// "?query" when there is one. It always starts with exactly one "/", so it
// is never read as a "//host" URL.
func DirectoryLocation(scriptName, dir, query string) string {
	target := strings.TrimRight(scriptName, "/") + "/"
	if dir != "" && dir != "." {
		target += dir + "/"
	}
	loc := Quote("/"+strings.TrimLeft(target, "/"), "/")
	if query != "" {
		loc += "?" + query
	}
	return loc
}

// Quote percent-encodes every byte of s except ASCII letters, digits, "_.-~"
// and the bytes in safe, as Python's urllib.parse.quote does for a string
// encoded as Latin-1 (each byte on its own).
func Quote(s, safe string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i], safe) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	buf := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c, safe) {
			buf = append(buf, c)
			continue
		}
		buf = append(buf, '%', hex[c>>4], hex[c&15])
	}
	return string(buf)
}

func unreserved(c byte, safe string) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '_' || c == '.' || c == '-' || c == '~':
		return true
	}
	return strings.IndexByte(safe, c) >= 0
}

// ShiftPathInfo moves one segment from PATH_INFO to SCRIPT_NAME in e and
// returns it, as wsgiref.util.shift_path_info does. ok is false when PATH_INFO
// is empty (e is then unchanged) and when the segment was "." (e is changed).
//
//	("", "/")        → "", SCRIPT_NAME "/", PATH_INFO ""
//	("/a", "/x/")    → "x", "/a/x", "/"
//	("/a", "//")     → "", "/a/", ""
//	("/a/b", "/../y") → "..", "/a", "/y"
//	("/a/b", "/.")   → not ok, "/a/b", ""
func ShiftPathInfo(e Env) (segment string, ok bool) {
	name, sn, pi, ok, changed := ShiftPath(e["SCRIPT_NAME"], e["PATH_INFO"])
	if changed {
		e["SCRIPT_NAME"] = sn
		e["PATH_INFO"] = pi
	}
	return name, ok
}

// ShiftPath is [ShiftPathInfo] on plain strings: it returns the shifted
// segment, the new SCRIPT_NAME and PATH_INFO, whether a segment is returned,
// and whether anything changed (false only for an empty PATH_INFO).
func ShiftPath(scriptName, pathInfo string) (segment, newScriptName, newPathInfo string, ok, changed bool) {
	if pathInfo == "" {
		return "", scriptName, pathInfo, false, false
	}
	parts := strings.Split(pathInfo, "/")
	// Empty and "." segments between the first and the last are dropped.
	inner := parts[1 : len(parts)-1]
	kept := parts[:1]
	for _, p := range inner {
		if p != "" && p != "." {
			kept = append(kept, p)
		}
	}
	if len(parts) > 1 {
		kept = append(kept, parts[len(parts)-1])
	}
	parts = kept
	name := ""
	if len(parts) > 1 {
		name = parts[1]
		parts = append(parts[:1], parts[2:]...)
	}
	sn := normPath(scriptName + "/" + name)
	sn = strings.TrimSuffix(sn, "/")
	if name == "" && !strings.HasSuffix(sn, "/") {
		sn += "/"
	}
	pi := strings.Join(parts, "/")
	if name == "." {
		return "", sn, pi, false, true
	}
	return name, sn, pi, true, true
}

// normPath is Python's posixpath.normpath: like path.Clean, except that
// exactly two leading slashes are kept, as POSIX allows them a meaning.
func normPath(p string) string {
	if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
		return "/" + path.Clean(p)
	}
	return path.Clean(p)
}

// DedupIISPath removes the copy of SCRIPT_NAME that IIS, without
// allowPathInfo, puts at the front of PATH_INFO: when PATH_INFO+"/" starts
// with SCRIPT_NAME+"/", that prefix is dropped (the wsgiref.handlers.IISCGIHandler rule).
// It reports whether PATH_INFO changed.
func DedupIISPath(e Env) bool {
	pi, changed := IISPathInfo(e["SCRIPT_NAME"], e["PATH_INFO"])
	if changed {
		e["PATH_INFO"] = pi
	}
	return changed
}

// IISPathInfo returns pathInfo without the duplicated scriptName prefix.
func IISPathInfo(scriptName, pathInfo string) (string, bool) {
	if scriptName == "" {
		return pathInfo, false
	}
	if strings.HasPrefix(pathInfo+"/", scriptName+"/") {
		return pathInfo[len(scriptName):], true
	}
	return pathInfo, false
}
