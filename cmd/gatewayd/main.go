// Command gatewayd connects web servers to applications over CGI, FastCGI,
// SCGI and HTTP.
//
//	gatewayd serve [--config FILE]   run the daemon (no config: the demo app on 127.0.0.1:8000)
//	gatewayd check --config FILE     validate a config; exit 0, or 1 naming the bad key
//	gatewayd cgi [--config FILE]     answer one request as a CGI program
//	gatewayd version                 print the version (also: gatewayd --version)
//	gatewayd completion SHELL        print a completion script (bash, zsh, fish, powershell)
//
// Run with no subcommand by a web server (GATEWAY_INTERFACE set), it is a CGI
// program. The config file can also come from GATEWAYD_CONFIG.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/gatewayd/gatewayd/cgimode"
	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/daemon"
	"github.com/gatewayd/gatewayd/routes"
)

func main() {
	// Before anything runs: the Server header and gatewayd_build_info then
	// carry the version stamped from the VCS, as if it had been linked in.
	config.Version = stampedVersion()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	// A web server runs CGI programs with GATEWAY_INTERFACE set, and passes
	// the words of an ISINDEX query ("?serve") as arguments (RFC 3875 4.4):
	// those must never choose a subcommand. cgimode.Run takes "cgi --config FILE"
	// from a script wrapper and drops the query words. Skipping the command
	// line parser also keeps the per-request start-up lean.
	if os.Getenv("GATEWAY_INTERFACE") != "" {
		return cgimode.Run(args, os.Stdin, stdout, stderr, routes.WithGofast(daemon.Gofast))
	}
	code := 0
	root := &cobra.Command{
		Use:   "gatewayd",
		Short: "Connect web servers to applications over CGI, FastCGI, SCGI and HTTP",
		Long: `gatewayd connects web servers to applications over CGI, FastCGI, SCGI and HTTP.

Configuration: one YAML file (--config FILE, or GATEWAYD_CONFIG); without one,
serve runs the demo app over HTTP on 127.0.0.1:8000. Any scalar key can be
overridden by an environment variable: GATEWAYD_ and the key in upper case with
_ for . (GATEWAYD_LOG_LEVEL=debug, GATEWAYD_METRICS_ADDRESS=). An unknown
GATEWAYD_* variable is an error. Every key: docs/config.md.

Run by a web server with GATEWAY_INTERFACE set, plain gatewayd is a CGI program.`,
		Version:       config.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate(versionLine())
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)

	var configPath string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon",
		Long: `Run the daemon: open the config's listeners and serve its routes.

Signals:
  SIGTERM, SIGINT  stop accepting; requests in flight finish within
                   shutdown_timeout (default 30s); then CGI scripts still
                   running get SIGTERM and, after kill_grace, SIGKILL; exit 0
  SIGHUP           reload the config file: routes, apps, log level and access
                   log change without dropping a connection; a change that
                   needs a restart (listeners, metrics, log.format,
                   server_software) or an invalid file is refused, and the
                   running config stays

Under systemd (Type=notify) it reports READY, RELOADING and STOPPING and feeds
the watchdog. Environment: GATEWAYD_CONFIG and GATEWAYD_<KEY> overrides, as
in gatewayd --help.`,
		Args: cobra.NoArgs,
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
		Use:   "cgi [--config FILE]",
		Short: "Answer one request as a CGI program (run by a web server)",
		Long: `Answer one request as a CGI program: a web server (Apache mod_cgi, IIS) runs
gatewayd with the request in its environment (GATEWAY_INTERFACE, REQUEST_METHOD,
...) and its body on stdin; the answer goes to stdout in CGI form (NPH for
nph-* names). The config comes from --config FILE, else GATEWAYD_CONFIG, else
the defaults (the demo app); its routes decide which app answers, its
listeners are not used. Run by a web server, plain gatewayd does the same.`,
		// Under a web server, arguments can be a client's ISINDEX query
		// words: cgimode.Run reads them itself.
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if wantsHelp(args) {
				return c.Help()
			}
			code = cgimode.Run(args, os.Stdin, stdout, stderr, routes.WithGofast(daemon.Gofast))
			return nil
		},
	}
	version := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprint(stdout, versionLine())
		},
	}
	root.AddCommand(serve, check, cgi, version, genCommand(root))
	root.AddCommand(clientCommands(os.Stdin, stdout, stderr, &code)...)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "gatewayd: %v\n\n", err)
		// The usage of the command that was meant, or of gatewayd.
		cmd, _, ferr := root.Find(args)
		if ferr != nil || cmd == nil {
			cmd = root
		}
		fmt.Fprint(stderr, cmd.UsageString())
		return 2
	}
	return code
}

// versionLine is what gatewayd version and gatewayd --version print; the
// version itself is config.Version, set at link time or, by main, from the
// VCS (version.go).
func versionLine() string { return "gatewayd " + config.Version + "\n" }

// wantsHelp reports whether the arguments of a command that parses its own
// flags ask for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
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
	// Everything serve checks before it opens a socket, so that the unit's
	// ExecStartPre=gatewayd check proves what serve will find.
	warnings, err := daemon.Check(c, nil)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayd check: %s: %v\n", path, err)
		return 1
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "gatewayd check: warning: %s\n", w)
	}
	fmt.Fprintf(stdout, "%s: ok (%d listeners, %d routes)\n", path, len(c.Listeners), len(c.Routes))
	return 0
}
