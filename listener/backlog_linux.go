package listener

import (
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// acceptQueued accepts, without waiting, up to max connections the kernel
// has queued on l. The descriptors are close-on-exec from the start: CGI
// scripts are forked meanwhile and must not inherit them.
func acceptQueued(l rawListener, max int) []net.Conn {
	rc, err := l.SyscallConn()
	if err != nil {
		return nil
	}
	var conns []net.Conn
	for len(conns) < max {
		var nfd int
		var aerr error
		// The descriptor is non-blocking: an empty queue is EAGAIN, which
		// ends the drain. (A listener's RawConn has no Read; Control is
		// the way to its descriptor.)
		if err := rc.Control(func(fd uintptr) {
			for {
				nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
				if aerr != unix.EINTR {
					return
				}
			}
		}); err != nil || aerr != nil {
			// ECONNABORTED: that one gave up in the queue; the rest may not.
			if err == nil && aerr == unix.ECONNABORTED {
				continue
			}
			break
		}
		f := os.NewFile(uintptr(nfd), "")
		c, err := net.FileConn(f)
		f.Close()
		if err == nil {
			conns = append(conns, c)
		}
	}
	return conns
}
