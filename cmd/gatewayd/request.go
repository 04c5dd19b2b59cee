package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatewayd/gatewayd/client"
)

// clientCommands are the commands that use gatewayd as a client of other
// applications: request, probe, conform, explain. Each sets *code to its
// exit status; a bad flag or argument count is a usage error, exit 1.
func clientCommands(stdin io.Reader, stdout, stderr io.Writer, code *int) []*cobra.Command {
	return []*cobra.Command{
		requestCmd(stdin, stdout, stderr, code),
		probeCmd(stdout, stderr, code),
		conformCmd(stdout, stderr, code),
		explainCmd(stdout, stderr, code),
	}
}

// usageErrors makes flag errors exit 1 with the command's usage, instead of
// the root's exit 2.
func usageErrors(cmd *cobra.Command, stderr io.Writer, code *int) {
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		fmt.Fprintf(stderr, "gatewayd %s: %v\n%s", c.Name(), err, c.UsageString())
		*code = 1
		return nil
	})
	cmd.Args = cobra.ArbitraryArgs
}

func usage(c *cobra.Command, stderr io.Writer, code *int, format string, a ...any) {
	fmt.Fprintf(stderr, "gatewayd %s: %s\n%s", c.Name(), fmt.Sprintf(format, a...), c.UsageString())
	*code = int(client.Usage)
}

// targetArgs is how request, probe and conform start: between least and
// most arguments (want names them), the first a TARGET. On a usage error it
// has said so and set the exit code, and ok is false.
func targetArgs(c *cobra.Command, stderr io.Writer, code *int, args []string, least, most int, want string) (t client.Target, ok bool) {
	if len(args) < least || len(args) > most {
		usage(c, stderr, code, "want %s, got %d arguments", want, len(args))
		return t, false
	}
	t, err := client.ParseTarget(args[0])
	if err != nil {
		usage(c, stderr, code, "%v", err)
		return t, false
	}
	return t, true
}

// requestFlags are the flags request and probe share.
type requestFlags struct {
	headers []string
	params  []string
	root    string
	index   string
	exts    []string
	timeout time.Duration
	max     int64
}

func (f *requestFlags) add(fs *pflag.FlagSet, timeout time.Duration) {
	fs.StringArrayVarP(&f.headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	fs.StringArrayVar(&f.params, "param", nil, "set or override a raw CGI variable NAME=VALUE (repeatable)")
	fs.StringVar(&f.root, "root", "", "FastCGI: look the script up under DIR as the fastcgi app does (SCRIPT_FILENAME, DOCUMENT_ROOT, PATH_INFO)")
	fs.StringVar(&f.index, "index", client.DefaultIndex, "with --root: the script run for a directory path")
	fs.StringArrayVar(&f.exts, "ext", nil, "with --root: a file name ending that makes a file a script (repeatable; default .php)")
	fs.DurationVar(&f.timeout, "timeout", timeout, "bound on the whole exchange, connect included")
	fs.Int64Var(&f.max, "max-bytes", client.DefaultMaxBytes, "largest response accepted; beyond it stop reading and exit 5")
}

// request builds the client.Request the flags describe.
func (f *requestFlags) request() (client.Request, error) {
	req := client.Request{Header: http.Header{}, Root: f.root,
		Index: f.index, Extensions: f.exts, MaxBytes: f.max}
	if f.max <= 0 {
		return req, fmt.Errorf("--max-bytes must be positive")
	}
	if f.timeout <= 0 {
		return req, fmt.Errorf("--timeout must be positive")
	}
	for _, h := range f.headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return req, fmt.Errorf("-H %q: want 'Name: value'", h)
		}
		req.Header.Add(name, strings.TrimSpace(value))
	}
	params, err := parseParams(f.params)
	req.Params = params
	return req, err
}

// parseParams reads --param NAME=VALUE flags, the later of two for a name
// winning.
func parseParams(params []string) (map[string]string, error) {
	m := map[string]string{}
	for _, p := range params {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return m, fmt.Errorf("--param %q: want NAME=VALUE", p)
		}
		m[name] = value
	}
	return m, nil
}

func requestCmd(stdin io.Reader, stdout, stderr io.Writer, code *int) *cobra.Command {
	var (
		f       requestFlags
		method  string
		data    string
		head    bool
		envOnly bool
		failing bool
	)
	cmd := &cobra.Command{
		Use:   "request [flags] TARGET PATH",
		Short: "Send one request to a FastCGI, SCGI or HTTP application, or run a CGI script once",
		Long: `Send one request and write the response body to stdout.

TARGET is fastcgi://HOST:PORT, fastcgi:///path/to.sock, scgi://HOST:PORT,
scgi:///path/to.sock, http://HOST:PORT or cgi:///path/to/script. PATH is the
request path with its query. The environment is the one gatewayd's own apps
send for that path.

Exit codes: 0 ok, 1 usage, 2 cannot connect, 3 timeout, 4 status >= 400 with
--fail, 5 protocol violation or response over --max-bytes, 6 overloaded.`,
		RunE: func(c *cobra.Command, args []string) error {
			t, ok := targetArgs(c, stderr, code, args, 2, 2, "TARGET PATH")
			if !ok {
				return nil
			}
			req, err := f.request()
			if err != nil {
				usage(c, stderr, code, "%v", err)
				return nil
			}
			req.Method, req.Path, req.Stderr = method, args[1], stderr
			if c.Flags().Changed("data") {
				body, n, closeBody, err := openData(data, stdin)
				if err != nil {
					usage(c, stderr, code, "-d: %v", err)
					return nil
				}
				defer closeBody()
				req.Body, req.BodyLen = body, n
				if req.Header.Get("Content-Type") == "" {
					// As curl -d does.
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
			}
			if envOnly {
				env, err := client.Env(t, req)
				if err != nil {
					*code = exitFor(stderr, "request", err)
					return nil
				}
				for _, name := range env.Names() {
					fmt.Fprintf(stdout, "%s=%s\n", name, env[name])
				}
				return nil
			}
			out := stdout
			req.OnHead = func(r *client.Response) {
				if failing && r.Status >= 400 {
					out = io.Discard
					return
				}
				if head {
					_ = r.WriteHead(stdout)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
			defer cancel()
			resp, err := client.Do(ctx, t, req, writerFunc(func(p []byte) (int, error) { return out.Write(p) }))
			if err != nil {
				*code = exitFor(stderr, "request", err)
				return nil
			}
			if failing && resp.Status >= 400 {
				k := client.Status
				if resp.Status == http.StatusServiceUnavailable {
					k = client.Overloaded
				}
				fmt.Fprintf(stderr, "gatewayd request: status %d\n", resp.Status)
				*code = int(k)
			}
			return nil
		},
	}
	usageErrors(cmd, stderr, code)
	fs := cmd.Flags()
	f.add(fs, 10*time.Second)
	fs.StringVarP(&method, "request", "X", "", "request method (default GET, or POST with -d)")
	fs.StringVarP(&data, "data", "d", "", "request body: DATA, @FILE, or @- for stdin (sent as is, with CONTENT_LENGTH)")
	fs.BoolVarP(&head, "include", "i", false, "write the response head too, as an HTTP client sees it")
	fs.BoolVar(&envOnly, "env", false, "print the environment that would be sent, sorted, and send nothing")
	fs.BoolVar(&failing, "fail", false, "exit 4 on a status >= 400 (6 on 503), without writing the body")
	fs.SortFlags = false
	return cmd
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// openData opens -d's body: DATA, @FILE or @- (stdin, read whole for its
// length).
func openData(data string, stdin io.Reader) (io.Reader, int64, func(), error) {
	name, ok := strings.CutPrefix(data, "@")
	switch {
	case !ok:
		return strings.NewReader(data), int64(len(data)), func() {}, nil
	case name == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("reading stdin: %w", err)
		}
		return strings.NewReader(string(b)), int64(len(b)), func() {}, nil
	}
	fh, err := os.Open(name)
	if err != nil {
		return nil, 0, nil, err
	}
	st, err := fh.Stat()
	if err != nil || !st.Mode().IsRegular() {
		_ = fh.Close()
		if err == nil {
			err = fmt.Errorf("%s is not a regular file", name)
		}
		return nil, 0, nil, err
	}
	return fh, st.Size(), func() { _ = fh.Close() }, nil
}

// exitFor prints err and returns its exit code.
func exitFor(stderr io.Writer, cmd string, err error) int {
	k := client.KindOf(err)
	fmt.Fprintf(stderr, "gatewayd %s: %s: %v\n", cmd, k, err)
	return int(k)
}
