// Package lograte keeps a peer that can repeat a fault at will from
// flooding the log with it: a Limiter lets one line through per interval and
// counts the ones it held back, so that the next line can say how many there
// were. Metrics count every event; the log only has to show that it happens.
package lograte

import (
	"sync"
	"time"
)

// DefaultInterval is a Limiter's interval when Interval is zero.
const DefaultInterval = 10 * time.Second

// Limiter lets one event in Interval be logged. The zero value is ready to
// use and lets the first event through. It is safe for concurrent use.
type Limiter struct {
	// Interval is the least time between two logged events. Zero means
	// DefaultInterval; negative logs every event.
	Interval time.Duration

	mu         sync.Mutex
	next       time.Time
	suppressed int64
}

// Allow reports whether the event happening at now may be logged and, when
// it may, how many events were held back since the last one logged (for a
// "suppressed" field on the line).
func (l *Limiter) Allow(now time.Time) (ok bool, suppressed int64) {
	iv := l.Interval
	if iv == 0 {
		iv = DefaultInterval
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if iv > 0 && now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	l.next = now.Add(iv)
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}
