// Package docroot finds the script a path names under a document root and
// builds the environment a FastCGI application gets for it, the way
// gatewayd's fastcgi app does (nginx's try_files plus fastcgi_split_path_info
// in one step). It is one pure function of the root's files and the
// request's environment, shared by the fastcgi app (app/fcgiupstream) and
// the client commands (gatewayd request --root), so that what works with
// the one works with the other.
package docroot

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gatewayd/gatewayd/core/environ"
)

// Target is what a PATH_INFO resolves to.
type Target struct {
	// Script is the script's name under the root ("info.php",
	// "blog/index.php"), empty when there is none.
	Script string
	// PathInfo is the rest of PATH_INFO after the script ("/extra/path").
	PathInfo string
	// Status, when not 0, is the answer instead of running a script:
	// 301 (redirect to Dir+"/"), 400, 403 (not a script), 404.
	Status int
	// Dir is the directory to redirect to, for 301.
	Dir string
	// File reports a regular file that is not a script (403, or served as
	// a file).
	File bool
}

// Lookup says how a path is looked up under a root: the fastcgi app's keys
// of the same names. Its zero value denies dotfiles.
type Lookup struct {
	// Index is the script run for a directory path ("index.php").
	Index string
	// Extensions are the file name endings that make a file a script.
	Extensions []string
	// Dotfiles allows paths through dotfiles and dot directories (.env,
	// .git/); false refuses them with 403 (environ.IsDotfilePath, the rule
	// every app that serves files shares).
	Dotfiles bool
}

// Resolve finds the script for pathInfo under root: the first prefix that
// names a regular file (a file has no children, so it is also the longest),
// or Index in the directory the whole path names. A file is a script when
// its name ends in one of Extensions. Paths that climb out of the root
// (environ.IsEscapingPath: ".." segments, with / or \, and NUL bytes) are
// refused before anything is looked up, and so are dotfiles unless allowed;
// every lookup goes through the os.Root, so symbolic links cannot lead
// outside the root.
func (l Lookup) Resolve(root *os.Root, pathInfo string) Target {
	index, exts := l.Index, l.Extensions
	if environ.IsEscapingPath(pathInfo) {
		return Target{Status: http.StatusBadRequest}
	}
	if pathInfo != "" && pathInfo[0] != '/' {
		return Target{Status: http.StatusBadRequest}
	}
	if !l.Dotfiles && environ.IsDotfilePath(pathInfo) {
		// Not even the route's static files get them: .env and .git/
		// hold secrets.
		return Target{Status: http.StatusForbidden}
	}
	cur := ""
	for i := 0; i < len(pathInfo); {
		j := strings.IndexByte(pathInfo[i+1:], '/')
		if j < 0 {
			j = len(pathInfo)
		} else {
			j += i + 1
		}
		seg := pathInfo[i+1 : j]
		i = j
		if seg == "" || seg == "." {
			continue
		}
		cur = path.Join(cur, seg)
		fi, err := root.Stat(cur)
		if err != nil {
			return Target{Status: statStatus(err)}
		}
		if fi.Mode().IsRegular() {
			if !isScript(cur, exts) {
				return Target{Status: http.StatusForbidden, File: true}
			}
			return Target{Script: cur, PathInfo: pathInfo[j:]}
		}
		if !fi.IsDir() {
			return Target{Status: http.StatusNotFound}
		}
	}
	// The path names a directory (the root when cur is "").
	if !strings.HasSuffix(pathInfo, "/") {
		return Target{Status: http.StatusMovedPermanently, Dir: cur}
	}
	idx := path.Join(cur, index)
	fi, err := root.Stat(idx)
	if err != nil || !fi.Mode().IsRegular() {
		return Target{Status: http.StatusForbidden, File: true}
	}
	return Target{Script: idx}
}

func isScript(name string, exts []string) bool {
	for _, ext := range exts {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func statStatus(err error) int {
	if errors.Is(err, fs.ErrPermission) {
		return http.StatusForbidden
	}
	// Not there, not a directory, or a link out of the root: not found.
	return http.StatusNotFound
}

// Params is the environment a FastCGI application gets for env (the
// request's, after mounting) when t was resolved under the absolute
// directory dir: SCRIPT_NAME, SCRIPT_FILENAME, DOCUMENT_ROOT, PATH_INFO and
// PATH_TRANSLATED from the lookup, REQUEST_URI when the web server sent
// none, REDIRECT_STATUS for PHP, and never HTTP_PROXY.
func Params(env environ.Env, dir string, t Target) map[string]string {
	p := make(map[string]string, len(env)+6)
	for k, v := range env {
		p[k] = v
	}
	delete(p, "HTTP_PROXY")
	if _, ok := p["REQUEST_URI"]; !ok {
		uri := environ.Quote(env["SCRIPT_NAME"]+env["PATH_INFO"], "/;=,")
		if q := env["QUERY_STRING"]; q != "" {
			uri += "?" + q
		}
		p["REQUEST_URI"] = uri
	}
	p["SCRIPT_NAME"] = strings.TrimSuffix(env["SCRIPT_NAME"], "/") + "/" + t.Script
	p["SCRIPT_FILENAME"] = filepath.Join(dir, t.Script)
	p["DOCUMENT_ROOT"] = dir
	p["PATH_INFO"] = t.PathInfo
	if t.PathInfo != "" {
		p["PATH_TRANSLATED"] = dir + t.PathInfo
	} else {
		delete(p, "PATH_TRANSLATED")
	}
	if p["GATEWAY_INTERFACE"] == "" {
		p["GATEWAY_INTERFACE"] = "CGI/1.1"
	}
	if _, ok := p["REDIRECT_STATUS"]; !ok {
		// PHP built with --enable-force-cgi-redirect wants it, as
		// nginx's fastcgi_params sends it.
		p["REDIRECT_STATUS"] = "200"
	}
	return p
}
