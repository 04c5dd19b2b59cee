// Command gatewayd connects web servers to applications over CGI, FastCGI,
// SCGI and HTTP.
//
//	gatewayd serve [--config FILE]   run the daemon (no config: the demo app on 127.0.0.1:8000)
//	gatewayd check --config FILE     validate a config; exit 0, or 1 naming the bad key
//	gatewayd cgi [--config FILE]     answer one request as a CGI program
//	gatewayd version                 print the version
//
// Run with no subcommand by a web server (GATEWAY_INTERFACE set), it is a CGI
// program. The config file can also come from GATEWAYD_CONFIG.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/gatewayd/gatewayd/config"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main without the exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	// A web server runs CGI programs with GATEWAY_INTERFACE set, and passes
	// the words of an ISINDEX query ("?serve") as arguments (RFC 3875 4.4):
	// those must never choose a subcommand. runCGI takes "cgi --config FILE"
	// from a script wrapper and drops the query words. Skipping the command
	// line parser also keeps the per-request start-up lean.
	if os.Getenv("GATEWAY_INTERFACE") != "" {
		return runCGI(args, stdout, stderr)
	}
	code := 0
	root := &cobra.Command{
		Use:           "gatewayd",
		Short:         "Connect web servers to applications over CGI, FastCGI, SCGI and HTTP",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)

	var configPath string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			code = runServe(configFile(configPath), stderr)
			return nil
		},
	}
	serve.Flags().StringVar(&configPath, "config", "", "config file (default $GATEWAYD_CONFIG; none: the demo app on 127.0.0.1:8000)")

	var checkPath string
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate a config file",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			code = runCheck(configFile(checkPath), stdout, stderr)
			return nil
		},
	}
	check.Flags().StringVar(&checkPath, "config", "", "config file to check (default $GATEWAYD_CONFIG)")

	cgi := &cobra.Command{
		Use:                "cgi [--config FILE]",
		Short:              "Answer one request as a CGI program (run by a web server)",
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			code = runCGI(args, stdout, stderr)
			return nil
		},
	}
	version := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(stdout, "gatewayd %s\n", config.Version)
		},
	}
	root.AddCommand(serve, check, cgi, version)
	root.AddCommand(clientCommands(os.Stdin, stdout, stderr, &code)...)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "gatewayd: %v\n", err)
		return 2
	}
	return code
}

// configFile is the flag's value, else GATEWAYD_CONFIG.
func configFile(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("GATEWAYD_CONFIG")
}

func runCheck(path string, stdout, stderr io.Writer) int {
	if path == "" {
		fmt.Fprintln(stderr, "gatewayd check: no config file: pass --config FILE or set GATEWAYD_CONFIG")
		return 2
	}
	c, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayd check: %s: %v\n", path, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d listeners, %d routes)\n", path, len(c.Listeners), len(c.Routes))
	return 0
}
