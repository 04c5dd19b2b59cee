package cgiscript

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

var (
	errQueueFull    = errors.New("cgiscript: queue full")
	errQueueTimeout = errors.New("cgiscript: no slot within queue_timeout")
	errStopped      = errors.New("cgiscript: shutting down")
)

// limiter caps the scripts running at once, with a short queue in front.
type limiter struct {
	slots     chan struct{}
	waiting   atomic.Int64
	queueSize int64
	timeout   time.Duration
}

func newLimiter(slots, queue int, timeout time.Duration) limiter {
	return limiter{slots: make(chan struct{}, slots), queueSize: int64(queue), timeout: timeout}
}

// acquire takes a slot, waiting in the queue when all are busy (and calling
// queued once it waits). It returns how long it waited.
func (l *limiter) acquire(ctx context.Context, stop <-chan struct{}, queued func()) (time.Duration, error) {
	select {
	case l.slots <- struct{}{}:
		return 0, nil
	default:
	}
	if l.waiting.Add(1) > l.queueSize {
		l.waiting.Add(-1)
		return 0, errQueueFull
	}
	defer l.waiting.Add(-1)
	queued()
	start := time.Now()
	t := time.NewTimer(l.timeout)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return time.Since(start), nil
	case <-t.C:
		return time.Since(start), errQueueTimeout
	case <-stop:
		return time.Since(start), errStopped
	case <-ctx.Done():
		return time.Since(start), ctx.Err()
	}
}

func (l *limiter) release() { <-l.slots }

// Stats are a Runner's concurrency numbers at one moment, for the status
// page. They are read without a lock, so a Runner whose every script is
// stuck still reports them.
type Stats struct {
	// MaxConcurrency is the number of slots; Running the slots taken.
	MaxConcurrency, Running int
	// QueueSize is how many may wait for a slot; Queued how many do.
	QueueSize, Queued int
}

// Stats returns the Runner's slots and queue as they are now.
func (rn *Runner) Stats() Stats {
	q := int(rn.lim.queueSize)
	return Stats{
		MaxConcurrency: cap(rn.lim.slots), Running: len(rn.lim.slots),
		// waiting briefly counts a request turned away from a full queue.
		QueueSize: q, Queued: min(int(rn.lim.waiting.Load()), q),
	}
}
