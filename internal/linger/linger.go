// Package linger closes a connection that may still have unread input
// without destroying the answer written on it.
//
// Closing a TCP or unix stream socket whose receive queue holds bytes makes
// the kernel reset the connection, and a peer that has not read the whole
// response yet loses it (nginx: "readv() failed (104: Connection reset by
// peer)", a 502). A web server still sending a request body the app did not
// want is exactly that peer. The cure is the "lingering close" of Apache and
// net/http: shut the write side, so that the peer has the whole response and
// an end of file, read and drop what it still sends for a bounded time, then
// close. Every front end that closes a connection uses this package.
package linger

import (
	"io"
	"net"
	"time"
)

// Timeout bounds the drain: a peer that goes on sending longer than this
// after the response is cut off (it gets the reset it asked for).
const Timeout = 2 * time.Second

// Start shuts the write side of c and sets its read deadline to the end of
// the drain: Timeout from now, or max when that is shorter and positive. It
// returns that deadline; ok is false when c cannot be half-closed (a
// connection that is not TCP or unix), and the caller should close it.
func Start(c net.Conn, max time.Duration) (deadline time.Time, ok bool) {
	cw, can := c.(interface{ CloseWrite() error })
	if !can {
		return time.Time{}, false
	}
	if err := cw.CloseWrite(); err != nil {
		return time.Time{}, false
	}
	d := Timeout
	if max > 0 && max < d {
		d = max
	}
	deadline = time.Now().Add(d)
	_ = c.SetReadDeadline(deadline)
	return deadline, true
}

// Close ends c after a complete response when r, the rest of the request's
// input, may hold bytes nobody read: it starts the lingering close, reads r
// to its end (or to the deadline, or to the peer's close), then closes c.
// A nil r closes c at once.
func Close(c net.Conn, r io.Reader, max time.Duration) {
	if r != nil {
		if _, ok := Start(c, max); ok {
			_, _ = io.Copy(io.Discard, r)
		}
	}
	_ = c.Close()
}
