//go:build unix

package fcgiupstream

import (
	"errors"
	"syscall"
)

// peekIdle reports whether nothing is waiting on the idle socket fd and the
// peer has not hung up: a non-blocking one-byte peek must find no data.
func peekIdle(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	// Nothing to read is the only healthy answer: 0 bytes is a hang-up,
	// data is a protocol error, anything else is broken.
	return errors.Is(err, syscall.EAGAIN)
}
