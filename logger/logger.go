// Package logger builds gatewayd's zap logger from the log section of a
// config, for the daemon, the library and the CGI program alike.
package logger

import (
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gatewayd/gatewayd/config"
)

// New builds the zap logger the config asks for, writing to w, and the
// level that daemon.Options.Level lets a reload change. log.format "auto" is
// console lines for a person when w is a terminal, JSON for a machine (the
// journal, a container runtime, a file) otherwise. Durations print in
// human units ("30s", "1.5ms") in both.
func New(lc config.Log, w io.Writer) (*zap.Logger, zap.AtomicLevel, error) {
	level, err := zap.ParseAtomicLevel(lc.Level)
	if err != nil {
		return nil, level, fmt.Errorf("log.level: %w", err)
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	ec.EncodeDuration = zapcore.StringDurationEncoder
	var enc zapcore.Encoder
	if ConsoleLogs(lc.Format, w) {
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		if isTerminal(w) {
			ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		enc = zapcore.NewJSONEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core), level, nil
}

// ConsoleLogs reports whether log.format asks for console lines on w.
func ConsoleLogs(format string, w io.Writer) bool {
	switch format {
	case "console":
		return true
	case "json":
		return false
	}
	return isTerminal(w)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && terminal(f)
}
