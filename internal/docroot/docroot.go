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
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// DefaultIndex is the script run for a directory path when Lookup.Index is
// empty: the fastcgi app's index, `gatewayd request --root`'s and
// `explain`'s.
const DefaultIndex = "index.php"

// DefaultExtensions are the endings that make a file a script when
// Lookup.Extensions is empty.
func DefaultExtensions() []string { return []string{".php"} }

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
// none, REDIRECT_STATUS for PHP, and never HTTP_PROXY. It is ParamSet's
// map.
func Params(env environ.Env, dir string, t Target) map[string]string {
	ps := NewParamSet(env, dir, t)
	return ps.Map()
}

// ParamSet is Params without a map in between: env and the variables set
// for the script, which a client encodes straight from env into its
// FCGI_PARAMS stream (Append) — the fastcgi app's hot path — or turns into
// a map (Map). Both give the same pairs.
type ParamSet struct {
	env                                 environ.Env
	scriptName, scriptFilename, docRoot string
	pathInfo, pathTranslated, uri       string
	gateway, redirectStatus             bool // add GATEWAY_INTERFACE, REDIRECT_STATUS
	// ContentLength, when set, replaces env's CONTENT_LENGTH (a spooled
	// body's length).
	ContentLength string
	// extra are variables Set puts in, replacing env's.
	extra  [2][2]string
	nExtra int
}

// Set puts name in with value, replacing env's (the request id the gateway
// gave the request). A ParamSet holds two such variables.
func (ps *ParamSet) Set(name, value string) {
	for i := range ps.nExtra {
		if ps.extra[i][0] == name {
			ps.extra[i][1] = value
			return
		}
	}
	if ps.nExtra == len(ps.extra) {
		panic("docroot: ParamSet.Set holds two variables")
	}
	ps.extra[ps.nExtra] = [2]string{name, value}
	ps.nExtra++
}

// NewParamSet is the parameter set of Params.
func NewParamSet(env environ.Env, dir string, t Target) ParamSet {
	ps := ParamSet{
		env:            env,
		scriptName:     strings.TrimSuffix(env["SCRIPT_NAME"], "/") + "/" + t.Script,
		scriptFilename: filepath.Join(dir, t.Script),
		docRoot:        dir,
		pathInfo:       t.PathInfo,
		gateway:        env["GATEWAY_INTERFACE"] == "",
	}
	if t.PathInfo != "" {
		ps.pathTranslated = dir + t.PathInfo
	}
	if _, ok := env["REQUEST_URI"]; !ok {
		uri := environ.Quote(env["SCRIPT_NAME"]+env["PATH_INFO"], "/;=,")
		if q := env["QUERY_STRING"]; q != "" {
			uri += "?" + q
		}
		ps.uri = uri
	}
	// PHP built with --enable-force-cgi-redirect wants it, as nginx's
	// fastcgi_params sends it.
	_, ok := env["REDIRECT_STATUS"]
	ps.redirectStatus = !ok
	return ps
}

// replaced reports the variables of env that ps leaves out or sets itself.
func (ps *ParamSet) replaced(name string) bool {
	switch name {
	case "HTTP_PROXY", "SCRIPT_NAME", "SCRIPT_FILENAME", "DOCUMENT_ROOT", "PATH_INFO", "PATH_TRANSLATED":
		return true
	case "CONTENT_LENGTH":
		return ps.ContentLength != ""
	case "GATEWAY_INTERFACE":
		return ps.gateway
	}
	for i := range ps.nExtra {
		if ps.extra[i][0] == name {
			return true
		}
	}
	return false
}

// Append appends the pairs as FastCGI name-value pairs.
func (ps *ParamSet) Append(dst []byte) []byte {
	for k, v := range ps.env {
		if !ps.replaced(k) {
			dst = fcgiwire.AppendPair(dst, k, v)
		}
	}
	dst = fcgiwire.AppendPair(dst, "SCRIPT_NAME", ps.scriptName)
	dst = fcgiwire.AppendPair(dst, "SCRIPT_FILENAME", ps.scriptFilename)
	dst = fcgiwire.AppendPair(dst, "DOCUMENT_ROOT", ps.docRoot)
	dst = fcgiwire.AppendPair(dst, "PATH_INFO", ps.pathInfo)
	if ps.pathTranslated != "" {
		dst = fcgiwire.AppendPair(dst, "PATH_TRANSLATED", ps.pathTranslated)
	}
	if ps.uri != "" {
		dst = fcgiwire.AppendPair(dst, "REQUEST_URI", ps.uri)
	}
	if ps.gateway {
		dst = fcgiwire.AppendPair(dst, "GATEWAY_INTERFACE", "CGI/1.1")
	}
	if ps.redirectStatus {
		dst = fcgiwire.AppendPair(dst, "REDIRECT_STATUS", "200")
	}
	if ps.ContentLength != "" {
		dst = fcgiwire.AppendPair(dst, "CONTENT_LENGTH", ps.ContentLength)
	}
	for _, kv := range ps.extra[:ps.nExtra] {
		dst = fcgiwire.AppendPair(dst, kv[0], kv[1])
	}
	return dst
}

// Map returns the pairs as a map.
func (ps *ParamSet) Map() map[string]string {
	p := make(map[string]string, len(ps.env)+8)
	for k, v := range ps.env {
		if !ps.replaced(k) {
			p[k] = v
		}
	}
	p["SCRIPT_NAME"] = ps.scriptName
	p["SCRIPT_FILENAME"] = ps.scriptFilename
	p["DOCUMENT_ROOT"] = ps.docRoot
	p["PATH_INFO"] = ps.pathInfo
	if ps.pathTranslated != "" {
		p["PATH_TRANSLATED"] = ps.pathTranslated
	}
	if ps.uri != "" {
		p["REQUEST_URI"] = ps.uri
	}
	if ps.gateway {
		p["GATEWAY_INTERFACE"] = "CGI/1.1"
	}
	if ps.redirectStatus {
		p["REDIRECT_STATUS"] = "200"
	}
	if ps.ContentLength != "" {
		p["CONTENT_LENGTH"] = ps.ContentLength
	}
	for _, kv := range ps.extra[:ps.nExtra] {
		p[kv[0]] = kv[1]
	}
	return p
}
