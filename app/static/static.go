package static

import (
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
)

// ErrNoRoot is returned by [New] when Config.Root is empty.
var ErrNoRoot = errors.New("static: root is required")

// maxListEntries bounds a directory listing, so that a huge directory costs
// a bounded amount of memory.
const maxListEntries = 10000

// Config configures a [Static] app.
type Config struct {
	// Root is the directory files are served from. Required. Relative paths
	// are taken from the working directory when New is called.
	Root string
	// List answers a directory without index.html with an HTML listing of
	// its entries. Default false: such a directory is 403 Forbidden.
	List bool
	// AllowDotfiles serves paths with a segment starting with "." (.env,
	// .git/, .htaccess) like any other. Default false: they are 403
	// Forbidden and left out of listings, all but /.well-known/ at the top
	// of the root (see environ.IsDotfilePath). Security: a root that holds
	// a checkout or a deployed app usually holds secrets in dotfiles.
	AllowDotfiles bool
}

// Static serves the files under a root directory. It is safe for concurrent
// use.
type Static struct {
	root     *os.Root
	dir      string
	list     bool
	dotfiles bool // served
	log      *zap.Logger
}

var _ http.Handler = (*Static)(nil)

// New opens cfg.Root and returns the app. log may be nil. Close releases the
// root directory.
func New(cfg Config, log *zap.Logger) (*Static, error) {
	if cfg.Root == "" {
		return nil, ErrNoRoot
	}
	dir, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("static: root %q: %w", cfg.Root, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("static: opening root: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Static{root: root, dir: dir, list: cfg.List, dotfiles: cfg.AllowDotfiles, log: log}, nil
}

// Close closes the root directory. Requests served afterwards fail.
func (s *Static) Close() error { return s.root.Close() }

func (s *Static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		handler.Error(w, http.StatusMethodNotAllowed)
		return
	}
	var scriptName, pathInfo, query string
	if env, ok := environ.FromContext(r.Context()); ok {
		scriptName, pathInfo, query = env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]
	} else {
		pathInfo, query = r.URL.Path, r.URL.RawQuery
	}
	name, ok := cleanName(pathInfo)
	if !ok {
		s.log.Info("refused a path outside the root", zap.String("request_id", requestID(r)),
			zap.String("path_info", pathInfo))
		handler.Error(w, http.StatusBadRequest)
		return
	}
	if !s.dotfiles && environ.IsDotfilePath(name) {
		// Debug only: scanners ask for /.env by the thousand, and the access
		// log already has the 403.
		s.log.Debug("refused a dotfile", zap.String("request_id", requestID(r)), zap.String("name", name))
		handler.Error(w, http.StatusForbidden)
		return
	}
	f, fi, status := s.open(r, name)
	if status != 0 {
		handler.Error(w, status)
		return
	}
	defer f.Close()

	if fi.IsDir() {
		if !strings.HasSuffix(pathInfo, "/") {
			redirectSlash(w, scriptName, name, query)
			return
		}
		idx, ifi, status := s.open(r, path.Join(name, "index.html"))
		if status == 0 && ifi.Mode().IsRegular() {
			defer idx.Close()
			serveFile(w, r, idx, ifi)
			return
		}
		if idx != nil {
			idx.Close()
		}
		if !s.list {
			handler.Error(w, http.StatusForbidden)
			return
		}
		s.serveList(w, r, f, name, scriptName+pathInfo)
		return
	}
	if !fi.Mode().IsRegular() || strings.HasSuffix(pathInfo, "/") {
		// "/a.txt/" names a directory that is not there.
		handler.Error(w, http.StatusNotFound)
		return
	}
	serveFile(w, r, f, fi)
}

// cleanName turns a decoded PATH_INFO into a name relative to the root ("."
// for the root itself). It refuses NUL bytes and ".." segments: a path that
// climbs is never asked of the file system at all.
func cleanName(pathInfo string) (string, bool) {
	if environ.IsEscapingPath(pathInfo) {
		return "", false
	}
	name := path.Clean("/" + pathInfo)[1:]
	if name == "" {
		name = "."
	}
	return name, true
}

// open opens name under the root without blocking on FIFOs. It returns a
// status other than 0 when the file cannot be served.
func (s *Static) open(r *http.Request, name string) (*os.File, fs.FileInfo, int) {
	f, err := s.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, s.openStatus(r, name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, s.openStatus(r, name, err)
	}
	return f, fi, 0
}

func (s *Static) openStatus(r *http.Request, name string, err error) int {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return http.StatusNotFound
	case errors.Is(err, fs.ErrPermission):
		s.log.Info("permission denied", zap.String("request_id", requestID(r)),
			zap.String("name", name), zap.Error(err))
		return http.StatusForbidden
	}
	// Symbolic links that leave the root, loops, names too long: the file
	// is not there as far as the client is concerned.
	s.log.Info("cannot open", zap.String("request_id", requestID(r)),
		zap.String("name", name), zap.Error(err))
	return http.StatusNotFound
}

// redirectSlash sends a directory path without its trailing slash to the
// path with one, under the mount prefix (never "//host").
func redirectSlash(w http.ResponseWriter, scriptName, name, query string) {
	loc := environ.DirectoryLocation(scriptName, name, query)
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusMovedPermanently)
	fmt.Fprintf(w, "<a href=\"%s\">Moved Permanently</a>.\n", html.EscapeString(loc))
}

// serveFile answers with the file's content, ranges and conditionals
// included. The Range field is fitted to the file first (fitRange), where
// ServeContent alone would answer "bytes=-0" with an impossible 206.
func serveFile(w http.ResponseWriter, r *http.Request, f *os.File, fi fs.FileInfo) {
	h := w.Header()
	if _, ok := h["Etag"]; !ok {
		h.Set("Etag", ETag(fi))
	}
	if vs := r.Header["Range"]; len(vs) > 0 {
		fitted := ""
		if len(vs) == 1 {
			// Several Range fields are no valid request: ignored, the whole file.
			fitted = fitRange(vs[0], fi.Size())
		}
		if len(vs) != 1 || fitted != vs[0] {
			r2 := *r
			r2.Header = r.Header.Clone()
			r2.Header.Del("Range")
			if fitted != "" {
				r2.Header.Set("Range", fitted)
			}
			r = &r2
		}
	}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// ETag is the entity tag the app sends for a file: its modification time in
// nanoseconds and its size, in hexadecimal, as a strong validator (as nginx
// does with seconds). Two versions of a file with the same size written
// within the same nanosecond would share a tag.
func ETag(fi fs.FileInfo) string {
	return `"` + strconv.FormatInt(fi.ModTime().UnixNano(), 16) + "-" + strconv.FormatInt(fi.Size(), 16) + `"`
}

type listEntry struct {
	name string
	dir  bool
}

// serveList writes an HTML listing of the directory f (name under the root,
// shown as title).
func (s *Static) serveList(w http.ResponseWriter, r *http.Request, f *os.File, name, title string) {
	ents, err := f.ReadDir(maxListEntries)
	if err != nil && len(ents) == 0 && !errors.Is(err, io.EOF) {
		s.log.Warn("reading a directory", zap.String("request_id", requestID(r)),
			zap.String("name", name), zap.Error(err))
	}
	truncated := len(ents) == maxListEntries
	list := make([]listEntry, 0, len(ents))
	for _, e := range ents {
		if !s.dotfiles && environ.IsDotfilePath(path.Join(name, e.Name())) {
			continue
		}
		le := listEntry{name: e.Name(), dir: e.IsDir()}
		if e.Type()&fs.ModeSymlink != 0 {
			// Show a link as what it points to; leave out links that
			// leave the root or point nowhere.
			fi, err := s.root.Stat(path.Join(name, e.Name()))
			if err != nil {
				continue
			}
			le.dir = fi.IsDir()
		}
		list = append(list, le)
	}
	slices.SortFunc(list, func(a, b listEntry) int { return strings.Compare(a.name, b.name) })

	var b strings.Builder
	t := html.EscapeString(title)
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ")
	b.WriteString(t)
	b.WriteString("</title></head>\n<body><h1>Index of ")
	b.WriteString(t)
	b.WriteString("</h1>\n<ul>\n")
	if name != "." {
		b.WriteString("<li><a href=\"../\">../</a></li>\n")
	}
	for _, e := range list {
		n := e.name
		if e.dir {
			n += "/"
		}
		// "./" keeps a name like "a:b" from reading as a URL scheme.
		href := "./" + (&url.URL{Path: n}).EscapedPath()
		fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a></li>\n", html.EscapeString(href), html.EscapeString(n))
	}
	b.WriteString("</ul>\n")
	if truncated {
		fmt.Fprintf(&b, "<p>Only the first %d entries are shown.</p>\n", maxListEntries)
	}
	b.WriteString("</body></html>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

func requestID(r *http.Request) string {
	if info := handler.InfoFrom(r.Context()); info != nil {
		return info.ID
	}
	return ""
}
