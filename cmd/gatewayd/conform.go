package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatewayd/gatewayd/client"
	"github.com/gatewayd/gatewayd/client/conform"
)

func conformCmd(stdout, stderr io.Writer, code *int) *cobra.Command {
	var (
		opts     conform.Options
		params   []string
		asJSON   bool
		markdown string
		only     []string
	)
	cmd := &cobra.Command{
		Use:   "conform [flags] TARGET",
		Short: "Check a FastCGI or SCGI application against its specification",
		Long: `Run a conformance suite against a running FastCGI or SCGI application and
print one line a check: the result (PASS, FAIL, WARN), the level of the clause
(MUST, SHOULD, MAY), the clause, the check, and on failure what was sent and
what came back. Each check is bounded by --timeout; a target that hangs fails
that check. Exit 0 when no MUST failed, 1 otherwise (and for usage errors).`,
		RunE: func(c *cobra.Command, args []string) error {
			t, ok := targetArgs(c, stderr, code, args, 1, 1, "TARGET")
			if !ok {
				return nil
			}
			if t.Scheme != client.FastCGI && t.Scheme != client.SCGI {
				usage(c, stderr, code, "conform takes fastcgi and scgi targets")
				return nil
			}
			var err error
			if opts.Params, err = parseParams(params); err != nil {
				usage(c, stderr, code, "%v", err)
				return nil
			}
			if len(only) > 0 {
				opts.Only = map[string]bool{}
				for _, id := range only {
					opts.Only[id] = true
				}
			}
			results, err := conform.Run(context.Background(), t, opts)
			if err != nil {
				*code = exitFor(stderr, "conform", err)
				if *code != int(client.Usage) {
					*code = 1
				}
				return nil
			}
			switch {
			case asJSON:
				b, _ := json.MarshalIndent(map[string]any{"target": t.String(), "results": results,
					"must_failed": conform.MustFailed(results)}, "", "  ")
				fmt.Fprintf(stdout, "%s\n", b)
			case c.Flags().Changed("markdown"):
				title := markdown
				if title == "" {
					title = t.String()
				}
				_ = conform.Markdown(stdout, title, results)
			default:
				for _, r := range results {
					fmt.Fprintln(stdout, r.Line())
				}
			}
			if conform.MustFailed(results) {
				*code = 1
			}
			return nil
		},
	}
	usageErrors(cmd, stderr, code)
	fs := cmd.Flags()
	fs.StringVar(&opts.Path, "path", "/", "what the application is asked for")
	fs.StringVar(&opts.Root, "root", "", "FastCGI: look the script up under DIR, as request --root does")
	fs.StringVar(&opts.Index, "index", client.DefaultIndex, "with --root: the script run for a directory path")
	fs.StringArrayVar(&opts.Extensions, "ext", nil, "with --root: a file name ending that makes a file a script (repeatable; default .php)")
	fs.StringArrayVar(&params, "param", nil, "set or override a CGI variable NAME=VALUE in every request (repeatable)")
	fs.DurationVar(&opts.Timeout, "timeout", 2*time.Second, "bound on each check")
	fs.BoolVar(&asJSON, "json", false, "print the results as JSON")
	fs.StringVar(&markdown, "markdown", "", "print the results as a Markdown table under this heading (default the target)")
	fs.Lookup("markdown").NoOptDefVal = ""
	fs.StringSliceVar(&only, "only", nil, "run only these checks (comma-separated ids)")
	fs.SortFlags = false
	return cmd
}
