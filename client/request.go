package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/core/cgiresp"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/docroot"
)

// Defaults of Request's zero values.
const (
	DefaultMaxBytes = 64 << 20
	DefaultIndex    = docroot.DefaultIndex
	// DefaultMaxHeadBytes bounds a response head, as gatewayd's own
	// max_header_bytes does.
	DefaultMaxHeadBytes = cgiresp.DefaultMaxHeadBytes
)

// Request is one request to send. Only Path is required.
type Request struct {
	// Method is the request method. Default GET, or POST when there is a
	// body.
	Method string
	// Path is the request target: "/path?query", percent-encoded as a
	// client would send it.
	Path string
	// Header holds the request's header fields; they become HTTP_*
	// variables by gatewayd's rules (Authorization included: the user
	// asked for it). A Host field sets HTTP_HOST and SERVER_NAME.
	Header http.Header
	// Body is the request body, BodyLen bytes of it; nil means none.
	Body    io.Reader
	BodyLen int64
	// Params set or override raw CGI variables, after everything else.
	Params map[string]string
	// Root, for FastCGI, looks the script up under this directory exactly
	// as gatewayd's fastcgi app does and sets SCRIPT_FILENAME,
	// DOCUMENT_ROOT, SCRIPT_NAME and PATH_INFO from it. Empty: no lookup;
	// SCRIPT_NAME and SCRIPT_FILENAME are both the path (what php-fpm's
	// ping.path and status.path need).
	Root string
	// Index and Extensions are the fastcgi app's keys of the same names,
	// for Root. Default "index.php" and [".php"].
	Index      string
	Extensions []string
	// MaxBytes bounds the response, head and body, as the peer sent it.
	// Default 64 MiB; negative means no bound.
	MaxBytes int64
	// Stderr receives the application's FastCGI stderr stream or a CGI
	// script's stderr. Default: discarded.
	Stderr io.Writer
	// OnHead, when set, is called with the response head before the body
	// is written.
	OnHead func(*Response)
}

// Response is a response head.
type Response struct {
	// Status is the status code; 200 when a CGI response had no Status
	// field, 302 when it had only an absolute Location.
	Status int
	// Reason is the reason phrase as sent, or the standard one.
	Reason string
	// Header holds the fields, Status not among them.
	Header http.Header
	// Bytes counts the body bytes written.
	Bytes int64
	// AppStatus is FastCGI's appStatus from FCGI_END_REQUEST.
	AppStatus uint32
}

// WriteHead writes the head as an HTTP client would see it: an
// "HTTP/1.1 200 OK" status line, then the fields in sorted order, then a
// blank line.
func (r *Response) WriteHead(w io.Writer) error {
	reason := r.Reason
	if reason == "" {
		reason = http.StatusText(r.Status)
	}
	if _, err := fmt.Fprintf(w, "HTTP/1.1 %03d %s\r\n", r.Status, reason); err != nil {
		return err
	}
	if err := r.Header.WriteSubset(w, nil); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\r\n")
	return err
}

func (req *Request) maxBytes() int64 {
	switch {
	case req.MaxBytes == 0:
		return DefaultMaxBytes
	case req.MaxBytes < 0:
		return -1
	}
	return req.MaxBytes
}

func (req *Request) method() string {
	if req.Method != "" {
		return req.Method
	}
	if req.Body != nil {
		return http.MethodPost
	}
	return http.MethodGet
}

// Env is the environment req carries to t: what Do sends (for CGI, what
// the script runner starts from), and what `gatewayd request --env` prints.
func Env(t Target, req Request) (environ.Env, error) {
	if !strings.HasPrefix(req.Path, "/") {
		return nil, fail(Usage, "the path %q must start with /", req.Path)
	}
	u, err := url.ParseRequestURI(req.Path)
	if err != nil {
		return nil, fail(Usage, "the path %q: %w", req.Path, err)
	}
	r := &http.Request{
		Method:     req.method(),
		URL:        u,
		RequestURI: req.Path,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:     http.Header{},
		Host:       t.host(),
		RemoteAddr: "127.0.0.1",
	}
	for k, v := range req.Header {
		r.Header[http.CanonicalHeaderKey(k)] = v
	}
	if h := r.Header.Get("Host"); h != "" {
		r.Host = h
	}
	if req.Body != nil {
		r.ContentLength = req.BodyLen
		r.Header.Set("Content-Length", strconv.FormatInt(req.BodyLen, 10))
	}
	var local net.Addr
	if t.Network == "tcp" {
		local, _ = net.ResolveTCPAddr("tcp", t.Address)
	}
	env := environ.FromRequest(r, environ.Options{PassAuthorization: true, LocalAddr: local})

	switch t.Scheme {
	case FastCGI:
		if req.Root != "" {
			if env, err = rootEnv(env, req); err != nil {
				return nil, err
			}
			break
		}
		// No lookup: the whole path is the script, as php-fpm's ping.path
		// and status.path want, and as nginx's stock fastcgi_params send
		// it (gatewayd's FastCGI front end routes the same).
		env["SCRIPT_NAME"] = env["PATH_INFO"]
		env["SCRIPT_FILENAME"] = env["PATH_INFO"]
		delete(env, "PATH_INFO")
	case CGI:
		env["SCRIPT_FILENAME"] = t.Address
	}
	for k, v := range req.Params {
		env[k] = v
	}
	return env, nil
}

// rootEnv looks the script up under req.Root with docroot, as the fastcgi
// app does. A path the app would answer itself (301, 400, 403, 404) is an
// error of kind Status, naming that answer.
func rootEnv(env environ.Env, req Request) (environ.Env, error) {
	dir, err := filepath.Abs(req.Root)
	if err != nil {
		return nil, fail(Usage, "--root %q: %w", req.Root, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fail(Usage, "--root: %w", err)
	}
	defer root.Close()
	index, exts := req.Index, req.Extensions
	if index == "" {
		index = DefaultIndex
	}
	if len(exts) == 0 {
		exts = docroot.DefaultExtensions()
	}
	// Dotfiles are refused, as the fastcgi app refuses them by default.
	tg := docroot.Lookup{Index: index, Extensions: exts}.Resolve(root, env["PATH_INFO"])
	if tg.Status != 0 {
		why := map[int]string{
			http.StatusMovedPermanently: "names a directory; gatewayd redirects to " + env["PATH_INFO"] + "/",
			http.StatusBadRequest:       "leaves the root or holds a NUL",
			http.StatusForbidden:        "names a file that is not a script (" + strings.Join(exts, ", ") + "), or a directory without " + index,
			http.StatusNotFound:         "names no file",
		}[tg.Status]
		return nil, fail(Status, "%s under --root %s %s: gatewayd's fastcgi app would answer %d", env["PATH_INFO"], dir, why, tg.Status)
	}
	return docroot.Params(env, dir, tg), nil
}

// Do sends req to t and writes the response body to out. The context's
// deadline bounds the whole exchange, connection set-up included.
func Do(ctx context.Context, t Target, req Request, out io.Writer) (*Response, error) {
	env, err := Env(t, req)
	if err != nil {
		return nil, err
	}
	if req.Stderr == nil {
		req.Stderr = io.Discard
	}
	switch t.Scheme {
	case FastCGI:
		return doFastCGI(ctx, t, req, env, out)
	case SCGI:
		return doSCGI(ctx, t, req, env, out)
	case HTTP:
		return doHTTP(ctx, t, req, out)
	case CGI:
		return doCGI(ctx, t, req, env, out)
	}
	return nil, fail(Usage, "%w: scheme %q", ErrTarget, t.Scheme)
}

// dial connects to t within ctx and arms the connection with ctx's
// deadline, and with a close when ctx ends early.
func dial(ctx context.Context, t Target) (net.Conn, func(), error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, t.Network, t.Address)
	if err != nil {
		return nil, nil, dialError(t, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	return c, func() { stop(); _ = c.Close() }, nil
}

// limited counts what is read from r and fails with ErrTooLarge past max
// (negative: no bound). The failure sticks, and nothing past max is
// returned: bufio.Reader reads on after an error while it has data.
type limited struct {
	r   io.Reader
	n   int64
	max int64
	err error
}

func (l *limited) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.max >= 0 && int64(len(p)) > l.max-l.n+1 {
		p = p[:l.max-l.n+1]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.max >= 0 && l.n > l.max {
		l.err = &Error{Kind: Protocol, Err: fmt.Errorf("%w (%d bytes)", ErrTooLarge, l.max)}
		return n - int(l.n-l.max), l.err
	}
	return n, err
}

// copyBody copies the body to out, counting it in resp.
func copyBody(resp *Response, out io.Writer, body io.Reader) error {
	n, err := io.Copy(out, body)
	resp.Bytes += n
	if err != nil {
		return ioError("reading the response body", err)
	}
	return nil
}
