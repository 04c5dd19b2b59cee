// Package workers runs functions on goroutines that outlive them. A server
// that starts a goroutine per connection or per request pays for growing
// each new goroutine's stack as the request goes deep into the app (about a
// tenth of the CPU of a small request); a worker that runs one function
// after another keeps the stack it grew.
package workers

import (
	"sync"
	"time"
)

// DefaultIdle is how long a worker waits for more work before it exits.
const DefaultIdle = 10 * time.Second

// Pool hands functions to idle workers, or starts a worker when none is
// idle: it never queues and never limits, so Go behaves like the go
// statement. The zero value is ready to use.
type Pool struct {
	// Idle is how long a worker waits for more work. Zero means DefaultIdle.
	Idle time.Duration

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
	t := time.NewTimer(idle)
	defer t.Stop()
	for {
		f()
		select {
		case <-p.quit:
			return
		default:
		}
		t.Reset(idle)
		select {
		case f = <-p.work:
		case <-t.C:
			return
		case <-p.quit:
			return
		}
	}
}
