// Command gatewayd-cgi is gatewayd's CGI mode alone: a web server (Apache
// mod_cgi, IIS) runs it for each request, and the routes of its config file
// answer — the apps, IIS path de-duplication, NPH and logging of
// `gatewayd cgi`, without what only a long-running daemon needs (metrics,
// the status page, systemd, the command tree), whose package
// initialisation every request would pay.
//
//	gatewayd-cgi [--config FILE]
//
// The config comes from --config, else GATEWAYD_CONFIG, else the defaults
// (the demo app at /). docs/cgi.md and docs/iis.md show the set-up.
package main

import (
	"fmt"
	"os"

	"github.com/gatewayd/gatewayd/cgimode"
)

const usage = `usage: gatewayd-cgi [--config FILE]

Answers one request as a CGI program: a web server runs it with the request
in its environment (GATEWAY_INTERFACE, REQUEST_METHOD, ...) and its body on
stdin; the answer goes to stdout. The config comes from --config FILE, else
GATEWAYD_CONFIG, else the defaults (the demo app).
`

func main() {
	// Help only when no web server runs it: a client's ISINDEX query words
	// ("?--help") reach the arguments too (RFC 3875 4.4).
	if os.Getenv("GATEWAY_INTERFACE") == "" && len(os.Args) == 2 {
		switch os.Args[1] {
		case "-h", "-help", "--help", "help":
			fmt.Print(usage)
			return
		}
	}
	os.Exit(cgimode.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
