package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gatewayd/gatewayd/config"
)

// needRestart reports whether a changed key is one a running daemon cannot
// apply: the listeners' sockets and front ends, the metrics listener, the
// log's encoder and the Server value the front ends were built with.
func needRestart(key string) bool {
	return strings.HasPrefix(key, "listeners") || strings.HasPrefix(key, "metrics") ||
		key == "log.format" || key == "server_software"
}

// Reload reads the config file again and, when it is valid, swaps in its
// routes, apps, log level, access log, validate and shutdown_timeout
// without touching a connection. It returns the keys that changed. A change
// it cannot apply (needRestart) refuses the whole reload, naming the keys:
// a reload either applies every change or none. On any error the running
// config stays.
func (d *Daemon) Reload(ctx context.Context) (changed []string, err error) {
	if d.metrics != nil {
		defer func() { d.metrics.ConfigReloaded(time.Now(), err) }()
	}
	defer func() { d.status.ConfigReloaded(time.Now(), err) }()
	cfg, err := config.Load(d.opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	old := d.cfg
	d.mu.Unlock()
	if d.opts.App != nil {
		// A library program's listeners come from its code or from systemd,
		// not from the file, and its routes are its handler.
		cfg.Listeners, cfg.Routes = old.Listeners, old.Routes
		LibraryMetrics(cfg)
	}
	changed = config.Diff(old, cfg)
	if fixed := slices.DeleteFunc(slices.Clone(changed), func(k string) bool { return !needRestart(k) }); len(fixed) > 0 {
		return nil, fmt.Errorf("reload: %s changed, which needs a restart; nothing was applied", strings.Join(fixed, ", "))
	}
	var level zapcore.Level
	if err := level.Set(cfg.Log.Level); err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	apps, err := d.buildApps(cfg)
	if err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	d.mu.Lock()
	oldApps := d.apps
	d.apps, d.cfg = apps, cfg
	d.mu.Unlock()
	d.app.set(apps)
	d.status.SetRoutes(statusRoutes(apps))
	d.status.SetSlowRequest(cfg.Log.SlowRequest)
	if d.opts.Level != nil {
		d.opts.Level.SetLevel(level)
	}
	d.access.Store(cfg.Log.Access)
	// Requests already in the old apps finish there (up to
	// shutdown_timeout); then their resources go.
	go func() {
		ctx, cancel := context.WithTimeout(ctx, cfg.ShutdownTimeout)
		defer cancel()
		if err := oldApps.Retire(ctx); err != nil {
			d.opts.Log.Warn("closing the apps of the previous config", zap.Error(err))
		}
	}()
	return changed, nil
}
