package fastcgi

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/internal/sockaddr"
	"github.com/gatewayd/gatewayd/protocol/internal/writedeadline"
)

// readBufferSize is the connection's read buffer; larger records are read
// straight into their destination. It is net/http's size: a web server's
// parameters fit (nginx's are about a kilobyte), and a connection holds it
// as long as it is open, so at 256 connections 16 KiB cost 8 MB of heap
// (the pool's spares counted) for nothing a small request needed.
const readBufferSize = 4 << 10

var errConnClosed = errors.New("fastcgi: connection closed")

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// conn is one connection from a web server. One goroutine (serve) reads
// records and dispatches them; one (writeLoop) writes what the requests'
// goroutines queued, in as few writes as it can.
type conn struct {
	srv    *Server
	rwc    net.Conn
	log    atomic.Pointer[zap.Logger] // made by logger on first use
	refuse bool                       // over MaxConns: every request is answered FCGI_OVERLOADED
	// lingering: the answers are complete and the connection drains
	// before its close, outside MaxConns (Server.startLinger). Guarded by
	// the server's mu.
	lingering bool

	// Owned by the reading goroutine.
	br       *bufio.Reader
	waiting  []*request // begun, not started yet: their heads are timed
	first    time.Time  // deadline of the connection's first record
	deadline time.Time  // the read deadline in force
	served   int        // requests started (read by connDone after serve)
	scratch  []byte

	wpace writedeadline.Pacer // the writer's (flushLocked) write deadline

	lingerUntil atomic.Int64 // the lingering close's deadline (unix ns), once it began

	wake chan struct{} // tells writeLoop that output is queued
	done chan struct{} // closed when the connection is torn down

	mu       sync.Mutex
	room     sync.Cond // output has room again, or the connection failed
	reqs     map[uint16]*request
	out      []byte // queued output
	spare    []byte // the buffer writeLoop wrote last
	writing  bool   // a goroutine is in flushLocked
	closing  bool   // no more output; close once what is queued is written
	draining bool   // server shutdown: close when no request is left
	begun    bool   // a request began: until then a draining connection waits for its first
	werr     error  // the connection's write failed
	handlers sync.WaitGroup
}

func newConn(s *Server, rwc net.Conn, refuse bool) *conn {
	c := &conn{
		srv:    s,
		rwc:    rwc,
		refuse: refuse,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		reqs:   make(map[uint16]*request),
		wpace:  writedeadline.Pacer{Timeout: s.lim.writeTimeout},
	}
	c.room.L = &c.mu
	c.first = time.Now().Add(s.lim.readTimeout)
	return c
}

// logger is the connection's logger, made when first needed: zap's With
// encodes its fields at once, which cost about a kilobyte and five
// allocations for every connection, and most connections never log.
func (c *conn) logger() *zap.Logger {
	if l := c.log.Load(); l != nil {
		return l
	}
	c.log.CompareAndSwap(nil, c.srv.log.With(zap.String("remote", sockaddr.Peer(c.rwc.RemoteAddr()))))
	return c.log.Load()
}

// protocolError is a fault of the web server that ends the connection.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "fastcgi: " + e.msg }

func (c *conn) serve() {
	c.br = readers.Get().(*bufio.Reader)
	c.br.Reset(c.rwc)
	c.srv.workers.Go(c.writeLoop)
	var err error
	for err == nil {
		err = c.readRecord()
	}
	c.teardown(err)
	c.br.Reset(nil)
	readers.Put(c.br)
	c.srv.connDone(c)
}

// teardown ends the connection after the reader stopped: requests still
// running are cancelled, and serve returns once their handlers have.
func (c *conn) teardown(err error) {
	if c.lingerUntil.Load() == 0 {
		// Otherwise the answers were complete; what ended was the drain
		// after them (the web server closed, or cut a record it no longer
		// needed).
		c.readEnded(err)
	}
	c.mu.Lock()
	c.closing = true
	if c.werr == nil {
		c.werr = errConnClosed
	}
	reqs := make([]*request, 0, len(c.reqs))
	for _, r := range c.reqs {
		reqs = append(reqs, r)
	}
	c.room.Broadcast()
	c.mu.Unlock()
	for _, r := range reqs {
		r.cancel()
		r.stdin.fail(io.ErrUnexpectedEOF)
	}
	c.rwc.Close()
	close(c.done)
	c.handlers.Wait()
	for _, r := range c.waiting {
		r.releaseParams()
	}
}

// readEnded logs why reading a connection ended before its answers were
// complete. It is apart from teardown because errors.As's targets escape:
// two allocations that a connection closed after its answers need not pay.
func (c *conn) readEnded(err error) {
	var pe *protocolError
	var ne net.Error
	switch {
	case errors.As(err, &pe):
		c.peerFault("fastcgi: protocol error; closing connection", zap.Error(err))
	case errors.As(err, &ne) && ne.Timeout():
		c.peerFault("fastcgi: request head not complete within read_timeout; closing connection",
			zap.Duration("read_timeout", c.srv.lim.readTimeout))
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, errConnClosed):
	default:
		c.logger().Debug("fastcgi: connection read failed", zap.Error(err))
	}
}

// drain asks the connection to close once no request is left.
func (c *conn) drain() {
	c.mu.Lock()
	c.draining = true
	c.closeIdleLocked()
	c.mu.Unlock()
}

// closeIdleLocked closes a draining connection that has no request left.
// One that has not begun its first is not idle: the web server connected
// before the shutdown and its request is on the way (or already in the
// socket), so it is served; the first record's read_timeout bounds the
// wait. c.mu is held.
func (c *conn) closeIdleLocked() {
	if c.draining && c.begun && len(c.reqs) == 0 {
		c.closing = true
		c.kick()
	}
}

// kick wakes writeLoop. c.mu is held.
func (c *conn) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}
