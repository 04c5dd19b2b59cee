package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/daemon"
	"github.com/gatewayd/gatewayd/logger"
)

func runServe(path string, stderr io.Writer) int {
	// Before the listeners open: a SIGTERM from then on is a graceful stop
	// (cmd/gatewayd TestConsoleLogsOnATerminal stops it that early).
	signals := daemon.NotifySignals()
	defer signal.Stop(signals)
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayd: %v\n", err)
		return 1
	}
	log, level, err := logger.New(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayd: %v\n", err)
		return 1
	}
	defer func() { _ = log.Sync() }()

	d, err := daemon.New(cfg, daemon.Options{ConfigPath: path, Log: log, Level: &level, Signals: signals})
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	metricsURL := d.MetricsURL()
	log.Info(startMessage(cfg, path, d), zap.String("version", config.Version),
		zap.String("config", path), zap.String("metrics", metricsURL), zap.Int("pid", os.Getpid()))
	if err := d.Run(); err != nil {
		return 1
	}
	return 0
}

// startMessage is the first log line: what is served where.
func startMessage(cfg *config.Config, path string, d *daemon.Daemon) string {
	var where []string
	for i, a := range d.Addrs() {
		where = append(where, strings.ToUpper(cfg.Listeners[i].Protocol)+" on "+a.String())
	}
	apps := make([]string, 0, len(cfg.Routes))
	for _, r := range cfg.Routes {
		apps = append(apps, r.App+" at "+r.Prefix)
	}
	msg := "serving " + strings.Join(apps, ", ") + " over " + strings.Join(where, ", ")
	if path == "" {
		msg += " (no config file: defaults)"
	}
	if u := d.MetricsURL(); u != "" {
		msg += "; metrics on " + u
	} else {
		msg += "; metrics off"
	}
	return msg
}
