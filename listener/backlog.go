package listener

import (
	"net"
	"sync"
	"syscall"
)

// maxBacklog bounds the connections a closing listener takes from its
// queue: Linux's default somaxconn. On TCP new connections can go on
// arriving while it drains; the bound keeps the close finite.
const maxBacklog = 4096

// rawListener is a listening socket whose file descriptor can be reached:
// *net.TCPListener and *net.UnixListener.
type rawListener interface {
	net.Listener
	SyscallConn() (syscall.RawConn, error)
}

// backlog keeps the connections a listener's Close took from the kernel's
// queue. Closing a listening socket resets every connection the kernel had
// already completed and queued for accept(): web servers log them as
// "upstream prematurely closed connection" (nginx) although they connected
// before the shutdown began. So Close first takes them (non-blocking
// accepts until the queue is empty), then closes the socket, and Accept
// hands them out after the close, before it reports net.ErrClosed. The
// servers go on serving what Accept returns while they shut down (net/http
// does; so do ours), so those connections get their answers.
type backlog struct {
	mu     sync.Mutex
	closed bool
	queued []net.Conn
}

// close stops l: stop (when set) makes new connections fail first (a unix
// socket's file is unlinked), then the queue is taken and l closed. A
// second close closes the connections nobody accepted.
func (b *backlog) close(l rawListener, stop func()) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		for _, c := range b.queued {
			_ = c.Close()
		}
		b.queued = nil
		return l.Close()
	}
	b.closed = true
	if stop != nil {
		stop()
	}
	b.queued = acceptQueued(l, maxBacklog)
	return l.Close()
}

// accept returns the next connection: from l while it is open, then the
// ones its close took from the queue, then l's error.
func (b *backlog) accept(l net.Listener) (net.Conn, error) {
	c, err := l.Accept()
	if err == nil {
		return c, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed && len(b.queued) > 0 {
		c, b.queued = b.queued[0], b.queued[1:]
		return c, nil
	}
	return nil, err
}

// drainingListener is a TCP listener or an abstract unix socket whose
// Close keeps its queued connections (see backlog).
type drainingListener struct {
	rawListener
	b backlog
}

func (l *drainingListener) Accept() (net.Conn, error) { return l.b.accept(l.rawListener) }
func (l *drainingListener) Close() error              { return l.b.close(l.rawListener, nil) }

var _ net.Listener = (*drainingListener)(nil)

// draining wraps l when its descriptor can be reached; others close as they
// always did.
func draining(l net.Listener) net.Listener {
	if rl, ok := l.(rawListener); ok {
		return &drainingListener{rawListener: rl}
	}
	return l
}
