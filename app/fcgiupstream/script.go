package fcgiupstream

import (
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/gatewayd/gatewayd/core/environ"
)

// target is what a PATH_INFO resolves to.
type target struct {
	// script is the script's name under the root ("info.php",
	// "blog/index.php"), empty when there is none.
	script string
	// pathInfo is the rest of PATH_INFO after the script ("/extra/path").
	pathInfo string
	// status, when not 0, is the answer instead of running a script:
	// 301 (redirect to dir+"/"), 400, 403 (not a script), 404.
	status int
	// dir is the directory to redirect to, for 301.
	dir string
	// file reports a regular file that is not a script (403 or Files).
	file bool
}

// resolve finds the script for pathInfo: the first prefix that names a
// regular file (a file has no children, so it is also the longest), or the
// index in the directory the whole path names. ".." segments and NUL bytes
// are refused before anything is looked up; every lookup goes through the
// os.Root, so symbolic links cannot lead outside the root.
func (u *Upstream) resolve(pathInfo string) target {
	if environ.IsEscapingPath(pathInfo) {
		return target{status: http.StatusBadRequest}
	}
	if pathInfo != "" && pathInfo[0] != '/' {
		return target{status: http.StatusBadRequest}
	}
	if !u.dotfiles && environ.IsDotfilePath(pathInfo) {
		// Not even Files gets them: .env and .git/ hold secrets.
		return target{status: http.StatusForbidden}
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
		fi, err := u.root.Stat(cur)
		if err != nil {
			return target{status: statStatus(err)}
		}
		if fi.Mode().IsRegular() {
			if !u.isScript(cur) {
				return target{status: http.StatusForbidden, file: true}
			}
			return target{script: cur, pathInfo: pathInfo[j:]}
		}
		if !fi.IsDir() {
			return target{status: http.StatusNotFound}
		}
	}
	// The path names a directory (the root when cur is "").
	if !strings.HasSuffix(pathInfo, "/") {
		return target{status: http.StatusMovedPermanently, dir: cur}
	}
	idx := path.Join(cur, u.index)
	fi, err := u.root.Stat(idx)
	if err != nil || !fi.Mode().IsRegular() {
		return target{status: http.StatusForbidden, file: true}
	}
	return target{script: idx}
}

func (u *Upstream) isScript(name string) bool {
	for _, ext := range u.exts {
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
