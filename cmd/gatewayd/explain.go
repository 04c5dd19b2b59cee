package main

import (
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatewayd/gatewayd/client"
	"github.com/gatewayd/gatewayd/config"
)

func explainCmd(stdout, stderr io.Writer, code *int) *cobra.Command {
	var (
		configPath string
		method     string
		headers    []string
		protocol   string
		params     []string
	)
	cmd := &cobra.Command{
		Use:   "explain [--config FILE] [-X METHOD] [-H 'Name: value'] [--protocol http|fastcgi|scgi] [--param NAME=VALUE] URL",
		Short: "Show which route, app and environment a URL gets, without running any app",
		Long: `Show what gatewayd would do with a request under a config: the route that
matches, SCRIPT_NAME and PATH_INFO after mounting, the script or upstream and
SCRIPT_FILENAME for cgi and fastcgi routes (or the 403/404/400 gatewayd would
answer itself), and the full environment the app would get. With --protocol
fastcgi or scgi the request arrives as nginx's stock fastcgi_params or
scgi_params send it, and the path rule completes it. No app runs.`,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				usage(c, stderr, code, "want URL, got %d arguments", len(args))
				return nil
			}
			cfg := config.Default()
			if p := configFile(configPath); p != "" {
				var err error
				if cfg, err = config.Load(p); err != nil {
					usage(c, stderr, code, "%s: %v", p, err)
					return nil
				}
			}
			req := client.ExplainRequest{Method: method, URL: args[0], Protocol: protocol,
				Header: http.Header{}, Params: map[string]string{}}
			for _, h := range headers {
				name, value, ok := strings.Cut(h, ":")
				if !ok || strings.TrimSpace(name) == "" {
					usage(c, stderr, code, "-H %q: want 'Name: value'", h)
					return nil
				}
				req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
			}
			for _, p := range params {
				name, value, ok := strings.Cut(p, "=")
				if !ok || name == "" {
					usage(c, stderr, code, "--param %q: want NAME=VALUE", p)
					return nil
				}
				req.Params[name] = value
			}
			x, err := client.Explain(cfg, req)
			if err != nil {
				usage(c, stderr, code, "%v", err)
				return nil
			}
			_ = x.Write(stdout)
			return nil
		},
	}
	usageErrors(cmd, stderr, code)
	fs := cmd.Flags()
	fs.StringVar(&configPath, "config", "", "config file (default $GATEWAYD_CONFIG; none: the default config, the demo app on /)")
	fs.StringVarP(&method, "request", "X", "GET", "request method")
	fs.StringArrayVarP(&headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	fs.StringVar(&protocol, "protocol", "http", "how the request arrives: http, fastcgi (nginx's fastcgi_params) or scgi (nginx's scgi_params)")
	fs.StringArrayVar(&params, "param", nil, "set or override a variable the web server sends NAME=VALUE (repeatable)")
	fs.SortFlags = false
	return cmd
}
