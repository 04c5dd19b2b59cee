package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/daemon"
)

func runServe(path string, stderr io.Writer) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayd: %v\n", err)
		return 1
	}
	log, level, err := newLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayd: %v\n", err)
		return 1
	}
	defer func() { _ = log.Sync() }()

	d, err := daemon.New(cfg, daemon.Options{ConfigPath: path, Log: log, Level: &level})
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	log.Info(startMessage(cfg, path, d), zap.String("version", config.Version),
		zap.String("config", path), zap.Int("pid", os.Getpid()))
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
	return msg
}

// newLogger builds the zap logger the config asks for, writing to w.
func newLogger(lc config.Log, w io.Writer) (*zap.Logger, zap.AtomicLevel, error) {
	level, err := zap.ParseAtomicLevel(lc.Level)
	if err != nil {
		return nil, level, fmt.Errorf("log.level: %w", err)
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if lc.Format == "console" {
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		enc = zapcore.NewJSONEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core), level, nil
}
