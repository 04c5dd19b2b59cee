//go:build !linux

package logger

import "os"

// terminal reports whether f is a character device, the nearest portable
// sign of a terminal (/dev/null is one too: logs nobody reads).
func terminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
