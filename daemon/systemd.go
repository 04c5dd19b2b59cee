package daemon

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	sd "github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
)

// takeSystemdListeners returns the sockets systemd passed (LISTEN_FDS), by
// their FileDescriptorName. It unsets the LISTEN_* variables, so that CGI
// scripts and other children do not inherit them.
func takeSystemdListeners() (map[string][]net.Listener, error) {
	ls, err := activation.ListenersWithNames()
	if err != nil {
		return nil, fmt.Errorf("systemd socket activation: %w", err)
	}
	return ls, nil
}

// notify tells systemd (Type=notify) about a state change; it does nothing
// when gatewayd was not started by systemd.
func notify(log *zap.Logger, state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", zap.String("state", state), zap.Error(err))
	}
}

// reloadingState is what systemd's Type=notify-reload wants before a reload:
// RELOADING=1 and the time of the request. SdNotifyMonotonicUsec returns the
// whole "MONOTONIC_USEC=…\n" assignment, not only the number ("" where
// there is no monotonic clock).
func reloadingState() string {
	return strings.TrimSuffix(sd.SdNotifyReloading+"\n"+sd.SdNotifyMonotonicUsec(), "\n")
}

// watchdog pings systemd's watchdog at half its interval until stop closes,
// when WatchdogSec is set for the service.
func watchdog(log *zap.Logger, stop <-chan struct{}) {
	interval, err := sd.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			notify(log, sd.SdNotifyWatchdog)
		}
	}
}
