// Package writedeadline bounds how long one write of a response may wait
// for the peer to read, for every front end: the deadline bounds progress,
// not the whole response.
package writedeadline

import "time"

// Setter is what bounds a connection's writes: a net.Conn, or net/http's
// ResponseWriter (what http.ResponseController uses).
type Setter interface{ SetWriteDeadline(time.Time) error }

// Pacer moves a write deadline to Timeout from now before a write that may
// block. It moves it only when a quarter of Timeout has passed since the
// last move, so that most writes cost no timer update. The zero Pacer, or
// one with a Timeout of zero or less, never sets a deadline.
type Pacer struct {
	Timeout time.Duration
	set     time.Time // when the deadline was last moved
}

// Extend moves c's write deadline when due; force moves it regardless. It
// reports whether it moved it.
func (p *Pacer) Extend(c Setter, force bool) bool {
	if p.Timeout <= 0 {
		return false
	}
	if now := time.Now(); force || now.Sub(p.set) > p.Timeout/4 {
		p.set = now
		_ = c.SetWriteDeadline(now.Add(p.Timeout))
		return true
	}
	return false
}
