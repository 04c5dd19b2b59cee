//go:build unix

package listener

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// FCGIStdin returns the listening socket a web server handed this process on
// fd 0 (FCGI_LISTENSOCK_FILENO), as mod_fcgid, cgi-fcgi -start and spawn-fcgi
// do. The test is FastCGI's own: getpeername(0) fails with ENOTCONN; fd 0
// must also be a stream socket that listens. Afterwards fd 0 reads from
// /dev/null, so that nothing takes the socket for standard input.
// ErrNotListening is returned when fd 0 is anything else.
func FCGIStdin() (net.Listener, error) {
	_, err := unix.Getpeername(0)
	if err == nil {
		return nil, fmt.Errorf("%w: it is a connected socket", ErrNotListening)
	}
	if !errors.Is(err, unix.ENOTCONN) {
		return nil, fmt.Errorf("%w: getpeername: %w", ErrNotListening, err)
	}
	if typ, err := unix.GetsockoptInt(0, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_STREAM {
		return nil, fmt.Errorf("%w: not a stream socket", ErrNotListening)
	}
	if !acceptsConns(0) {
		return nil, fmt.Errorf("%w: the socket does not listen", ErrNotListening)
	}
	l, err := net.FileListener(os.Stdin)
	if err != nil {
		return nil, fmt.Errorf("listener: fd 0: %w", err)
	}
	null, err := os.Open(os.DevNull)
	if err == nil {
		err = dup2(int(null.Fd()), 0)
		null.Close()
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("listener: replacing fd 0 with %s: %w", os.DevNull, err)
	}
	return l, nil
}
