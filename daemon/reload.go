package daemon

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gatewayd/gatewayd/config"
)

// Reload reads the config file again and, when it is valid, swaps in its
// routes, apps and log level without touching a connection. Listener changes
// need a restart and are refused. On any error the running config stays.
func (d *Daemon) Reload(ctx context.Context) (err error) {
	if d.metrics != nil {
		defer func() { d.metrics.ConfigReloaded(time.Now(), err) }()
	}
	defer func() { d.status.ConfigReloaded(time.Now(), err) }()
	cfg, err := config.Load(d.opts.ConfigPath)
	if err != nil {
		return err
	}
	d.mu.Lock()
	old := d.cfg
	d.mu.Unlock()
	if !slices.EqualFunc(cfg.Listeners, old.Listeners, func(a, b config.Listener) bool {
		return a.Name == b.Name && a.Protocol == b.Protocol && a.Address == b.Address && a.RequestID == b.RequestID
	}) {
		return fmt.Errorf("reload: listeners changed; they need a restart")
	}
	var level zapcore.Level
	if err := level.Set(cfg.Log.Level); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if cfg.Metrics != old.Metrics {
		return fmt.Errorf("reload: metrics changed; it needs a restart")
	}
	apps, err := d.buildApps(cfg)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
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
	return nil
}
