// Package workers runs functions on goroutines that outlive them. A server
// that starts a goroutine per connection or per request pays for growing
// each new goroutine's stack as the request goes deep into the app (about a
// tenth of the CPU of a small request); a worker that runs one function
// after another keeps the stack it grew.
package workers

import (
	"sync"
	"sync/atomic"
	"time"
)

// DefaultIdle is how long a worker waits for more work before it exits.
const DefaultIdle = 10 * time.Second

// DefaultMaxIdle is how many workers may wait for work at once. Go starts a
// worker whenever none is waiting at that instant, and on one P the
// workers that just finished have often not reached their wait yet: under
// churning connections the idle ones grew past the peak of busy ones
// (1,500 goroutines, 8.6 MB of stacks, behind 256 nginx connections). The
// rest exit as they finish.
const DefaultMaxIdle = 256

// Pool hands functions to idle workers, or starts a worker when none is
// idle: it never queues and never limits, so Go behaves like the go
// statement. The zero value is ready to use.
type Pool struct {
	// Idle is how long a worker waits for more work. Zero means DefaultIdle.
	Idle time.Duration
	// MaxIdle is how many workers may wait for work at once. Zero means
	// DefaultMaxIdle.
	MaxIdle int

	idle atomic.Int64 // workers waiting for work
	once sync.Once
	work chan func()
	quit chan struct{}
	stop sync.Once
}

func (p *Pool) init() {
	p.once.Do(func() {
		p.work = make(chan func())
		p.quit = make(chan struct{})
	})
}

// Go runs f on an idle worker, or on a new one.
func (p *Pool) Go(f func()) {
	p.init()
	select {
	case p.work <- f:
	default:
		go p.worker(f)
	}
}

// Close makes idle workers exit now, and busy ones once their function
// returns. Go still works after Close, without reusing workers.
func (p *Pool) Close() {
	p.init()
	p.stop.Do(func() { close(p.quit) })
}

func (p *Pool) worker(f func()) {
	idle := p.Idle
	if idle <= 0 {
		idle = DefaultIdle
	}
	maxIdle := int64(p.MaxIdle)
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdle
	}
	t := time.NewTimer(idle)
	defer t.Stop()
	for {
		f()
		select {
		case <-p.quit:
			return
		default:
		}
		if f = p.wait(t, idle, maxIdle); f == nil {
			return
		}
	}
}

// wait is a worker's wait for its next function: nil when it is to exit
// (too many wait already, the idle timeout passed, or the pool closed).
func (p *Pool) wait(t *time.Timer, idle time.Duration, maxIdle int64) func() {
	defer p.idle.Add(-1)
	if p.idle.Add(1) > maxIdle {
		return nil
	}
	t.Reset(idle)
	select {
	case f := <-p.work:
		return f
	case <-t.C:
		return nil
	case <-p.quit:
		return nil
	}
}
