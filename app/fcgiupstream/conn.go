package fcgiupstream

import (
	"bufio"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// upstreamConn is one connection to the upstream (the front end's incoming
// connection is protocol/fastcgi's conn). It is the net.Conn gofast's
// client talks through, and it reads along: it follows the record stream
// gofast reads, so that it knows what gofast does not tell (whether
// FCGI_END_REQUEST arrived and with which status, how many response bytes
// came, what went to FCGI_STDERR, and why the stream ended), and it renews
// the deadline of the connection at every read and write, so that an
// upstream that stays silent for the timeout ends the request.
type upstreamConn struct {
	net.Conn
	client  Client // the gofast transport's, made by its first request
	timeout time.Duration
	reused  bool      // served a request before
	idleAt  time.Time // when it went back to the pool
	// For the request that took the connection last: how long it waited
	// for a token, and how long dialing took (0 when reused).
	waited, dialed time.Duration

	// The native transport's state: a read buffer that lives as long as
	// the connection, the record reader on it, and the deadline bookkeeping
	// of nativeReader.
	br        *bufio.Reader
	rr        fcgiwire.Reader
	nr        nativeReader
	ex        nativeExchange // the request's, kept here: it is not an allocation of its own
	closeFn   func()         // closes Conn, for context.AfterFunc: made once, not per request
	writeArm  time.Time      // when the write deadline was last set
	hold      []byte         // body held back with the head
	member    *member        // the fleet member it belongs to, while a request holds it
	lastWrite atomic.Int64   // unix nanoseconds of the body writer's last progress

	reading  atomic.Bool   // a Read is waiting on the upstream
	activity atomic.Uint64 // reads and writes done

	mu     sync.Mutex
	stderr io.Writer // the current request's, or nil
	st     streamState
	hdr    [fcgiwire.HeaderLen]byte
	hn     int
	typ    fcgiwire.Type
	remain int     // content bytes left in the current record
	pad    int     // padding bytes left
	end    [8]byte // FCGI_END_REQUEST's body
	en     int
	hs     int // where the head scan stands: 0 in a line, 1 at a line's start, 2 after a CR there
}

// streamState is what the connection saw during one request.
type streamState struct {
	endSeen     bool
	appStatus   uint32
	protoStatus fcgiwire.ProtocolStatus
	badVersion  bool
	stdout      int64 // FCGI_STDOUT content bytes
	headEnded   bool  // the blank line that ends the response head went by
	headTooBig  bool  // maxHeadBytes of FCGI_STDOUT went by without it
	readErr     error
	writeErr    error
}

func newConn(c net.Conn, timeout time.Duration, native bool) *upstreamConn {
	pc := &upstreamConn{Conn: c, timeout: timeout}
	pc.closeFn = func() { _ = pc.Conn.Close() }
	if native {
		pc.nr.c = pc
		pc.br = bufio.NewReaderSize(&pc.nr, readBufSize)
		pc.rr.Reset(pc.br)
	}
	return pc
}

// close closes the connection, whichever transport it serves.
func (c *upstreamConn) close() error {
	if c.client != nil {
		return c.client.Close()
	}
	return c.Conn.Close()
}

// begin readies the connection for a request whose FCGI_STDERR goes to
// stderr.
func (c *upstreamConn) begin(stderr io.Writer) {
	c.mu.Lock()
	c.stderr = stderr
	c.st = streamState{}
	c.hn, c.remain, c.pad, c.en, c.hs = 0, 0, 0, 0, 1
	c.mu.Unlock()
}

// state returns what the connection saw since begin, and detaches stderr.
func (c *upstreamConn) state() streamState {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stderr = nil
	return c.st
}

func (c *upstreamConn) Read(p []byte) (int, error) {
	if c.timeout > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
	c.reading.Store(true)
	n, err := c.Conn.Read(p)
	c.reading.Store(false)
	c.activity.Add(1)
	c.mu.Lock()
	c.follow(p[:n])
	if c.st.headTooBig {
		// gofast would buffer a head without end for ever: its parser only
		// gives up on a line over 1 KiB.
		n, err = 0, errHeadTooLarge
	}
	if err != nil && c.st.readErr == nil {
		c.st.readErr = err
	}
	c.mu.Unlock()
	return n, err
}

func (c *upstreamConn) Write(p []byte) (int, error) {
	if c.timeout > 0 {
		// Progress either way counts: the upstream reading a long body is
		// not silent.
		_ = c.Conn.SetDeadline(time.Now().Add(c.timeout))
	}
	n, err := c.Conn.Write(p)
	c.activity.Add(1)
	if err != nil {
		c.mu.Lock()
		if c.st.writeErr == nil {
			c.st.writeErr = err
		}
		c.mu.Unlock()
	}
	return n, err
}

// follow walks the record stream through b. Called with mu held.
func (c *upstreamConn) follow(b []byte) {
	for len(b) > 0 {
		if c.hn < len(c.hdr) {
			k := copy(c.hdr[c.hn:], b)
			c.hn += k
			b = b[k:]
			if c.hn < len(c.hdr) {
				return
			}
			h := fcgiwire.ParseHeader(c.hdr[:])
			if h.Version != fcgiwire.Version1 {
				c.st.badVersion = true
			}
			c.typ = h.Type
			c.remain = int(h.ContentLength)
			c.pad = int(h.PaddingLength)
			c.en = 0
			if c.remain == 0 && c.pad == 0 {
				c.recordDone()
			}
			continue
		}
		if c.remain > 0 {
			k := min(c.remain, len(b))
			chunk := b[:k]
			switch c.typ {
			case fcgiwire.TypeStdout:
				c.st.stdout += int64(k)
				if !c.st.headEnded {
					c.scanHead(chunk)
				}
			case fcgiwire.TypeStderr:
				if c.stderr != nil {
					_, _ = c.stderr.Write(chunk)
				}
			case fcgiwire.TypeEndRequest:
				c.en += copy(c.end[c.en:], chunk)
			}
			c.remain -= k
			b = b[k:]
		} else {
			k := min(c.pad, len(b))
			c.pad -= k
			b = b[k:]
		}
		if c.remain == 0 && c.pad == 0 {
			c.recordDone()
		}
	}
}

// scanHead looks for the blank line that ends the response head in the
// FCGI_STDOUT bytes b, and marks a head that grows past maxHeadBytes.
// Called with mu held.
func (c *upstreamConn) scanHead(b []byte) {
	start := c.st.stdout - int64(len(b))
	for i, x := range b {
		switch {
		case c.hs == 0 && x == '\n':
			c.hs = 1
		case c.hs == 0:
		case x == '\n':
			c.st.headEnded = true
			return
		case c.hs == 1 && x == '\r':
			c.hs = 2
		default:
			c.hs = 0
		}
		if start+int64(i)+1 > maxHeadBytes {
			c.st.headTooBig = true
			return
		}
	}
}

func (c *upstreamConn) recordDone() {
	if c.typ == fcgiwire.TypeEndRequest {
		if er, err := fcgiwire.ParseEndRequest(c.end[:c.en]); err == nil {
			c.st.endSeen = true
			c.st.appStatus = er.AppStatus
			c.st.protoStatus = er.ProtocolStatus
		}
	}
	c.hn = 0
}

// alive reports whether the upstream still holds its end of an idle
// connection: no hang-up, no reset, and no unasked-for bytes waiting.
func (c *upstreamConn) alive() bool {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return true
	}
	// A read deadline left by the last exchange (the client watch's, or a
	// long one) may have passed while the connection was idle; the peek
	// would report that instead of the socket. The next exchange arms its
	// own.
	_ = c.Conn.SetReadDeadline(time.Time{})
	c.nr.armed = time.Time{}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	err = rc.Read(func(fd uintptr) bool {
		ok = peekIdle(fd)
		return true
	})
	return err == nil && ok
}
