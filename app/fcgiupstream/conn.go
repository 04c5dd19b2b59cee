package fcgiupstream

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/yookoala/gofast"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// conn is one connection to the upstream. It is the net.Conn gofast's
// client talks through, and it reads along: it follows the record stream
// gofast reads, so that it knows what gofast does not tell (whether
// FCGI_END_REQUEST arrived and with which status, how many response bytes
// came, what went to FCGI_STDERR, and why the stream ended), and it renews
// the deadline of the connection at every read and write, so that an
// upstream that stays silent for the timeout ends the request.
type conn struct {
	net.Conn
	client  gofast.Client
	timeout time.Duration
	reused  bool      // served a request before
	idleAt  time.Time // when it went back to the pool
	// For the request that took the connection last: how long it waited
	// for a token, and how long dialing took (0 when reused).
	waited, dialed time.Duration

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
}

// streamState is what the connection saw during one request.
type streamState struct {
	endSeen     bool
	appStatus   uint32
	protoStatus fcgiwire.ProtocolStatus
	badVersion  bool
	stdout      int64 // FCGI_STDOUT content bytes
	readErr     error
	writeErr    error
}

func newConn(c net.Conn, timeout time.Duration) *conn {
	pc := &conn{Conn: c, timeout: timeout}
	// gofast's client owns the framing; it only ever sees this conn.
	pc.client, _ = gofast.SimpleClientFactory(func() (net.Conn, error) { return pc, nil })()
	return pc
}

// begin readies the connection for a request whose FCGI_STDERR goes to
// stderr.
func (c *conn) begin(stderr io.Writer) {
	c.mu.Lock()
	c.stderr = stderr
	c.st = streamState{}
	c.hn, c.remain, c.pad, c.en = 0, 0, 0, 0
	c.mu.Unlock()
}

// state returns what the connection saw since begin, and detaches stderr.
func (c *conn) state() streamState {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stderr = nil
	return c.st
}

func (c *conn) Read(p []byte) (int, error) {
	if c.timeout > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
	c.reading.Store(true)
	n, err := c.Conn.Read(p)
	c.reading.Store(false)
	c.activity.Add(1)
	c.mu.Lock()
	c.follow(p[:n])
	if err != nil && c.st.readErr == nil {
		c.st.readErr = err
	}
	c.mu.Unlock()
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
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
func (c *conn) follow(b []byte) {
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

func (c *conn) recordDone() {
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
func (c *conn) alive() bool {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return true
	}
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
