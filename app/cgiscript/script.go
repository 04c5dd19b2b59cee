package cgiscript

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
)

// script is one executable that a request runs.
type script struct {
	name     string // for logs and metrics: the name under Root, or the base name
	filename string // SCRIPT_FILENAME and argv[0]: the path as configured or requested
	path     string // what is executed: filename with symlinks resolved
	dir      string // the working directory: filename's directory
	nph      bool   // the name starts with "nph-": the script writes a whole HTTP response
}

var (
	errNotExecutable = errors.New("not executable")
	errDirectory     = errors.New("is a directory")
	errNotRegular    = errors.New("not a regular file")
	errEscapesRoot   = errors.New("resolves to a path outside root")
)

// newScript checks that filename is an executable regular file. A script
// may not resolve outside within, when within is not empty (a clean,
// absolute directory): the rule for scripts looked up under Root.
func newScript(filename, name, within string) (*script, error) {
	real, err := filepath.EvalSymlinks(filename)
	if err != nil {
		return nil, err
	}
	if within != "" && !isWithin(within, real) {
		return nil, fmt.Errorf("%s: %w", real, errEscapesRoot)
	}
	if err := checkExecutable(real); err != nil {
		return nil, err
	}
	return &script{
		name:     name,
		filename: filename,
		path:     real,
		dir:      filepath.Dir(filename),
		nph:      strings.HasPrefix(filepath.Base(filename), "nph-"),
	}, nil
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return err
	case fi.IsDir():
		return errDirectory
	case !fi.Mode().IsRegular():
		return errNotRegular
	case fi.Mode().Perm()&0o111 == 0:
		return errNotExecutable
	}
	return nil
}

var errDotfile = errors.New("a dotfile is never a script")

// selectScript finds the script for the request and the SCRIPT_NAME and
// PATH_INFO it runs with. A non-zero status is the answer when there is no
// script to run; the refusal is logged.
func (rn *Runner) selectScript(env environ.Env, log *zap.Logger) (s *script, scriptName, pathInfo string, status int) {
	s, seg, scriptName, pathInfo, status, err := choose(rn.root, rn.rootDir, rn.script, env)
	switch {
	case status == http.StatusBadRequest:
		// PATH_TRANSLATED would lead out of the root, and a script that
		// opens it (php-cgi, a template engine) would read or run a file
		// there.
		if ok, n := rn.pathLog.Allow(time.Now()); ok {
			log.Info("refused a path outside the root", zap.String("path_info", env["PATH_INFO"]), zap.Int64("suppressed", n))
		}
	case errors.Is(err, errDotfile):
		// .git, .env, .htaccess: not scripts, whatever their mode. Debug
		// only: scanners ask for them by the thousand, and the access log
		// has the 403.
		log.Debug("refused a dotfile as a script", zap.String("script", seg))
	case err != nil && status == http.StatusNotFound:
		log.Debug("no such script", zap.String("script", seg), zap.Error(err))
	case err != nil:
		log.Warn("refused to run script", zap.String("script", seg), zap.Int("status", status), zap.Error(err))
	}
	return s, scriptName, pathInfo, status
}

// resolveRoot is the root key made absolute, and with its symlinks
// resolved for the escape check; it must name a directory.
func resolveRoot(root string) (abs, real string, err error) {
	abs, err = filepath.Abs(root)
	if err == nil {
		real, err = filepath.EvalSymlinks(abs)
	}
	var fi os.FileInfo
	if err == nil {
		fi, err = os.Stat(real)
	}
	if err != nil {
		return "", "", fmt.Errorf("root %q: %w", root, err)
	}
	if !fi.IsDir() {
		return "", "", fmt.Errorf("root %q is not a directory", root)
	}
	return abs, real, nil
}

// fixedScript is the script key made a script: a relative name is under
// root (already absolute), which must then be set.
func fixedScript(key, root string) (*script, error) {
	p := key
	if !filepath.IsAbs(p) {
		if root == "" {
			return nil, fmt.Errorf("script %q must be an absolute path when root is not set", key)
		}
		p = filepath.Join(root, p)
	}
	s, err := newScript(p, filepath.Base(p), "")
	if err != nil {
		return nil, fmt.Errorf("script %q: %w", key, err)
	}
	return s, nil
}

// choose is the Runner's choice of script, running and logging nothing:
// the fixed script when the route names one, else the first segment of
// PATH_INFO under root (rootDir is root with its symlinks resolved). seg
// is that segment; a non-zero status is the answer when there is no
// script, and err says why when there is one to say.
func choose(root, rootDir string, fixed *script, env environ.Env) (s *script, seg, scriptName, pathInfo string, status int, err error) {
	sn, pi := env["SCRIPT_NAME"], env["PATH_INFO"]
	if strings.IndexByte(sn, 0) >= 0 || environ.IsEscapingPath(pi) {
		return nil, "", "", "", http.StatusBadRequest, errors.New("the path leads outside the root")
	}
	if fixed != nil {
		return fixed, "", sn, pi, 0, nil
	}
	if pi == "" || pi[0] != '/' {
		return nil, "", "", "", http.StatusNotFound, nil
	}
	seg, rest := pi[1:], ""
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg, rest = seg[:i], seg[i:]
	}
	if seg == "" || seg == "." || filepath.Base(seg) != seg {
		return nil, "", "", "", http.StatusNotFound, nil
	}
	if environ.IsDotfilePath(seg) {
		return nil, seg, "", "", http.StatusForbidden, errDotfile
	}
	s, err = newScript(filepath.Join(root, seg), seg, rootDir)
	if err != nil {
		status = http.StatusForbidden
		if errors.Is(err, fs.ErrNotExist) {
			status = http.StatusNotFound
		}
		return nil, seg, "", "", status, err
	}
	return s, seg, strings.TrimSuffix(sn, "/") + "/" + seg, rest, 0, nil
}

// Which says which script a cgi route runs for a request, as its Runner
// decides, without a Runner and running nothing (gatewayd explain): root
// and scriptKey are the route's root and script keys, env the request's environment after
// mounting. It gives the script's SCRIPT_FILENAME and the SCRIPT_NAME and
// PATH_INFO it runs with, or the status that answers instead and why (with
// the file refused, when there is one).
func Which(root, scriptKey string, env environ.Env) (filename, scriptName, pathInfo string, status int, why error) {
	var rootDir string
	if root != "" {
		abs, real, err := resolveRoot(root)
		if err != nil {
			return "", "", "", http.StatusInternalServerError, err
		}
		root, rootDir = abs, real
	}
	var fixed *script
	if scriptKey != "" {
		s, err := fixedScript(scriptKey, root)
		if err != nil {
			return "", "", "", http.StatusInternalServerError, err
		}
		fixed = s
	}
	s, seg, sn, pi, status, err := choose(root, rootDir, fixed, env)
	if s == nil {
		if seg != "" {
			filename = filepath.Join(root, seg) // the script refused
		}
		return filename, "", "", status, err
	}
	return s.filename, sn, pi, 0, nil
}

// isWithin reports whether path is strictly inside dir; both are clean and
// absolute.
func isWithin(dir, path string) bool {
	if !strings.HasPrefix(path, dir) || len(path) <= len(dir) {
		return false
	}
	return path[len(dir)] == filepath.Separator || strings.HasSuffix(dir, string(filepath.Separator))
}
