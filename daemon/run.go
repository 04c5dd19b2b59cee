package daemon

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/config"
)

// Run serves until SIGTERM or SIGINT, then shuts down within the config's
// shutdown_timeout; SIGHUP reloads the config file. It keeps systemd
// informed (READY, RELOADING, STOPPING, the watchdog) when systemd started
// gatewayd. It returns nil after a clean shutdown and the error otherwise.
func (d *Daemon) Run() error {
	log := d.opts.Log
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)

	d.Start()
	notify(log, sd.SdNotifyReady)
	stopWatchdog := make(chan struct{})
	defer close(stopWatchdog)
	go watchdog(log, stopWatchdog)

	for {
		select {
		case err := <-d.Err():
			log.Error("a listener failed; shutting down", zap.Error(err))
			notify(log, sd.SdNotifyStopping)
			_ = d.shutdownWithTimeout()
			return err
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				notify(log, reloadingState())
				if changed, err := d.Reload(context.Background()); err != nil {
					log.Error("reload refused; the running config stays", zap.Error(err))
				} else {
					log.Info(reloadedMessage(changed), zap.String("config", d.opts.ConfigPath), zap.Strings("changed", changed))
				}
				notify(log, sd.SdNotifyReady)
				continue
			}
			log.Info("shutting down", zap.String("signal", sig.String()),
				zap.Duration("shutdown_timeout", d.config().ShutdownTimeout))
			notify(log, sd.SdNotifyStopping)
			return d.shutdownWithTimeout()
		}
	}
}

// config returns the configuration in force.
func (d *Daemon) config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

func (d *Daemon) shutdownWithTimeout() error {
	timeout := d.config().ShutdownTimeout
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := d.Shutdown(ctx)
	if n := d.cutShort.Load(); n > 0 {
		d.opts.Log.Warn(cutShortMessage(n, timeout), zap.Int64("requests", n), zap.Duration("shutdown_timeout", timeout))
	} else if err != nil {
		d.opts.Log.Warn("shutdown: "+err.Error(), zap.Duration("shutdown_timeout", timeout))
	}
	d.opts.Log.Info("stopped")
	return nil
}

// reloadedMessage says what a reload changed, for a person reading the log.
func reloadedMessage(changed []string) string {
	if len(changed) == 0 {
		return "reloaded: nothing changed"
	}
	return "reloaded: " + strings.Join(changed, ", ") + " changed"
}

// cutShortMessage is the shutdown's account of the requests it stopped.
func cutShortMessage(n int64, timeout time.Duration) string {
	noun := "requests"
	if n == 1 {
		noun = "request"
	}
	return fmt.Sprintf("%d %s cut short after shutdown_timeout %s", n, noun, timeout)
}
