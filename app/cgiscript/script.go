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

// selectScript finds the script for the request and the SCRIPT_NAME and
// PATH_INFO it runs with. A non-zero status is the answer when there is no
// script to run.
func (rn *Runner) selectScript(env environ.Env, log *zap.Logger) (s *script, scriptName, pathInfo string, status int) {
	sn, pi := env["SCRIPT_NAME"], env["PATH_INFO"]
	if strings.IndexByte(sn, 0) >= 0 || environ.IsEscapingPath(pi) {
		// PATH_TRANSLATED would lead out of the root, and a script that
		// opens it (php-cgi, a template engine) would read or run a file
		// there.
		if ok, n := rn.pathLog.Allow(time.Now()); ok {
			log.Info("refused a path outside the root", zap.String("path_info", pi), zap.Int64("suppressed", n))
		}
		return nil, "", "", http.StatusBadRequest
	}
	if rn.script != nil {
		return rn.script, sn, pi, 0
	}
	if pi == "" || pi[0] != '/' {
		return nil, "", "", http.StatusNotFound
	}
	seg, rest := pi[1:], ""
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg, rest = seg[:i], seg[i:]
	}
	if seg == "" || seg == "." || filepath.Base(seg) != seg {
		return nil, "", "", http.StatusNotFound
	}
	if environ.IsDotfilePath(seg) {
		// .git, .env, .htaccess: not scripts, whatever their mode. Debug
		// only: scanners ask for them by the thousand, and the access log
		// has the 403.
		log.Debug("refused a dotfile as a script", zap.String("script", seg))
		return nil, "", "", http.StatusForbidden
	}
	s, err := rn.lookup(seg)
	if err != nil {
		status = http.StatusForbidden
		if errors.Is(err, fs.ErrNotExist) {
			status = http.StatusNotFound
		}
		if status == http.StatusNotFound {
			log.Debug("no such script", zap.String("script", seg), zap.Error(err))
		} else {
			log.Warn("refused to run script", zap.String("script", seg), zap.Int("status", status), zap.Error(err))
		}
		return nil, "", "", status
	}
	return s, strings.TrimSuffix(sn, "/") + "/" + seg, rest, 0
}

// lookup resolves a script name under Root, refusing what would escape it.
func (rn *Runner) lookup(name string) (*script, error) {
	return newScript(filepath.Join(rn.root, name), name, rn.rootDir)
}

// isWithin reports whether path is strictly inside dir; both are clean and
// absolute.
func isWithin(dir, path string) bool {
	if !strings.HasPrefix(path, dir) || len(path) <= len(dir) {
		return false
	}
	return path[len(dir)] == filepath.Separator || strings.HasSuffix(dir, string(filepath.Separator))
}
