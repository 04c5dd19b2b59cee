package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatewayd/gatewayd/client"
)

func probeCmd(stdout, stderr io.Writer, code *int) *cobra.Command {
	var (
		f      requestFlags
		expect string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "probe [flags] TARGET [PATH]",
		Short: "One health check of a FastCGI, SCGI or HTTP application, with a deadline and an exit code",
		Long: `One health check, one line of output.

FastCGI without PATH: an FCGI_GET_VALUES round trip. With PATH (php-fpm's
ping.path, say): a request whose status must match --expect; without --root,
SCRIPT_NAME and SCRIPT_FILENAME are both the path. SCGI and HTTP: PATH
defaults to /.

Exit codes: 0 ok, 1 usage, 2 cannot connect, 3 timeout, 4 unexpected status,
5 protocol violation, 6 overloaded (FCGI_OVERLOADED, a full listen backlog on a
unix socket, or a 503).`,
		RunE: func(c *cobra.Command, args []string) error {
			t, ok := targetArgs(c, stderr, code, args, 1, 2, "TARGET [PATH]")
			if !ok {
				return nil
			}
			if t.Scheme == client.CGI {
				usage(c, stderr, code, "probe takes fastcgi, scgi and http targets; run a script with request")
				return nil
			}
			req, err := f.request()
			if err != nil {
				usage(c, stderr, code, "%v", err)
				return nil
			}
			if !client.Expect(expect).Valid() {
				usage(c, stderr, code, "--expect %q: want codes or classes, as 200,204 or 2xx", expect)
				return nil
			}
			path := ""
			if len(args) == 2 {
				path = args[1]
			}
			ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
			defer cancel()
			res := client.Probe(ctx, t, path, client.Expect(expect), req)
			if asJSON {
				b, _ := json.Marshal(res)
				fmt.Fprintf(stdout, "%s\n", b)
			} else {
				fmt.Fprintln(stdout, res.Line())
			}
			*code = res.ExitCode
			return nil
		},
	}
	usageErrors(cmd, stderr, code)
	fs := cmd.Flags()
	f.add(fs, 2*time.Second)
	fs.StringVar(&expect, "expect", "", "statuses that pass: codes or classes, comma-separated (default 2xx)")
	fs.BoolVar(&asJSON, "json", false, "print a JSON object instead of the line")
	fs.SortFlags = false
	return cmd
}
