package fastcgi

import (
	"time"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// mayBlock reports whether reading the next record may wait for the network.
func (c *conn) mayBlock() bool {
	b := c.br.Buffered()
	if b < fcgiwire.HeaderLen {
		return true
	}
	hb, _ := c.br.Peek(fcgiwire.HeaderLen)
	h := fcgiwire.ParseHeader(hb)
	return b < fcgiwire.HeaderLen+int(h.ContentLength)+int(h.PaddingLength)
}

// armDeadline sets the read deadline to the earliest head still expected:
// the first record of a new connection, the parameters of a request, or the
// rest of a record that has begun.
func (c *conn) armDeadline(midRecord bool) {
	var d time.Time
	if !c.first.IsZero() {
		d = c.first
	}
	if midRecord || c.br.Buffered() > 0 {
		if p := time.Now().Add(c.srv.lim.readTimeout); d.IsZero() || p.Before(d) {
			d = p
		}
	}
	if len(c.waiting) > 0 {
		if w := c.waiting[0].deadline; d.IsZero() || w.Before(d) {
			d = w
		}
	}
	if ld := c.lingerDeadline(); !ld.IsZero() && (d.IsZero() || ld.Before(d)) {
		d = ld
	}
	if !d.Equal(c.deadline) {
		c.deadline = d
		c.rwc.SetReadDeadline(d)
		// writeLoop may have started the lingering close meanwhile: its
		// deadline must stay in force.
		if ld := c.lingerDeadline(); !ld.IsZero() && (d.IsZero() || ld.Before(d)) {
			c.deadline = ld
			c.rwc.SetReadDeadline(ld)
		}
	}
}

// lingerDeadline is the end of the lingering close, zero before it.
func (c *conn) lingerDeadline() time.Time {
	if ns := c.lingerUntil.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}
