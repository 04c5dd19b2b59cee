package daemon

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/listener"
	"github.com/gatewayd/gatewayd/routes"
)

// LibraryMetrics turns the metrics listener off unless the config file or
// GATEWAYD_METRICS_ADDRESS names an address: a library opens no port its
// program did not ask for (two programs on one host would both bind the
// default 127.0.0.1:9464). gatewayd.Serve applies it, and so does Reload
// for a daemon serving Options.App.
func LibraryMetrics(cfg *config.Config) {
	if !cfg.Given("metrics.address") {
		cfg.Metrics.Address = ""
	}
}

// Check does what New does before it opens a socket — builds every app
// (roots that open, scripts that can run, allow_root when running as root)
// and resolves the sockets' owners and groups — and releases it all again.
// It returns the first error New would return, and, as warnings, what it
// cannot know from here: `gatewayd check` runs as whoever runs it, not
// necessarily as the service will.
func Check(cfg *config.Config, log *zap.Logger) (warnings []string, err error) {
	if log == nil {
		log = zap.NewNop()
	}
	apps, err := routes.Build(cfg, log, nil, routes.WithGofast(Gofast))
	if err != nil {
		return nil, err
	}
	_ = apps.Close(context.Background())
	for i, lc := range cfg.Listeners {
		if _, _, err := listener.LookupOwner(lc.SocketOwner, lc.SocketGroup); err != nil {
			return nil, fmt.Errorf("listeners[%d] (%s): %w", i, lc.Name, err)
		}
		if lc.Address == "" {
			warnings = append(warnings, fmt.Sprintf("listeners[%d] has no address: serve needs systemd to pass it a socket named %q (FileDescriptorName=)", i, lc.Name))
		}
		if p, ok := strings.CutPrefix(lc.Address, "unix:/"); ok {
			dir := filepath.Dir("/" + p)
			if _, err := os.Stat(dir); err != nil {
				warnings = append(warnings, fmt.Sprintf("listeners[%d]: the socket's directory %s does not exist now; serve fails unless it is made first (docs/deploy.md)", i, dir))
			}
		}
	}
	// Under systemd (ExecStartPre=) check runs as the service's own user:
	// then it knows, and says nothing.
	if os.Getenv("INVOCATION_ID") == "" {
		who := fmt.Sprintf("uid %d", os.Geteuid())
		if u, err := user.Current(); err == nil {
			who = u.Username
		}
		warnings = append(warnings, "checked as "+who+": serve running as another user (User= in the unit) may be refused files, scripts and sockets this user may use")
	}
	return warnings, nil
}
