package fcgiupstream

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// queuePool is a pool of max tokens, all taken, and no connections: what
// the queue alone does, in a synctest bubble.
func queuePool(t *testing.T, max int, queueTimeout time.Duration) *pool {
	t.Helper()
	p := newPool("unix", "/nonexistent", poolConfig{maxConns: max, queueSize: 100, queueTimeout: queueTimeout,
		connectTimeout: time.Second, ioTimeout: time.Second, idleTimeout: -1}, nil)
	for range max {
		if !p.tryToken() {
			t.Fatal("no free token in a new pool")
		}
	}
	return p
}

// TestQueueFirstComeFirstServed: requests waiting for a connection get
// one in the order they came, however long they waited. A waiter used to
// lose its place every 50 ms, when it woke to look at its client's
// context, so that at 256 clients and 4 connections, a request that had
// waited longest could wait again behind the newest: the php-fpm bench's
// p99 was twice its mean wait.
func TestQueueFirstComeFirstServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := queuePool(t, 1, time.Minute)
		const n = 6
		got := make(chan int, n)
		for i := range n {
			go func() {
				if _, err := p.wait(context.Background()); err != nil {
					t.Errorf("waiter %d: %v", i, err)
					return
				}
				got <- i
			}()
			synctest.Wait() // i is in the queue before i+1 comes
		}
		// Long enough for every waiter to wake several times.
		time.Sleep(5 * watchDelay)
		for want := range n {
			p.release()
			synctest.Wait()
			select {
			case i := <-got:
				if i != want {
					t.Fatalf("token %d went to waiter %d, want %d", want, i, want)
				}
			default:
				t.Fatalf("token %d went to no waiter", want)
			}
		}
		if n := len(p.tokens); n != 1 {
			t.Errorf("%d tokens held, want the last waiter's 1", n)
		}
	})
}

// TestQueueLeaversGiveNothingAway: a waiter that gives up (queue_timeout,
// or its client gone) leaves the queue; a token given back after that goes
// to the next in line or back to the pool, not to the one that left.
func TestQueueLeaversGiveNothingAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := queuePool(t, 1, 200*time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 3)
		go func() { _, err := p.wait(context.Background()); errs <- err }() // times out
		synctest.Wait()
		go func() { _, err := p.wait(ctx); errs <- err }() // its client leaves
		synctest.Wait()
		cancel()
		time.Sleep(300 * time.Millisecond)
		synctest.Wait()
		for range 2 {
			if err := <-errs; err == nil {
				t.Error("a waiter that gave up got a token")
			} else if !errors.Is(err, ErrBusy) && !errors.Is(err, context.Canceled) {
				t.Errorf("waiter's error: %v", err)
			}
		}
		if len(p.queue) != 0 {
			t.Errorf("%d waiters left in the queue, want none", len(p.queue))
		}
		p.release()
		if n := len(p.tokens); n != 0 {
			t.Errorf("%d tokens held after the release, want 0", n)
		}
		// The next one takes the free token without waiting.
		go func() { _, err := p.wait(context.Background()); errs <- err }()
		synctest.Wait()
		if err := <-errs; err != nil {
			t.Errorf("a waiter with a free token: %v", err)
		}
	})
}

// TestFleetQueueFirstComeFirstServed: the fleet's queue keeps the order
// too, and a request that comes while others wait queues behind them even
// if a slot is free that instant. Each finished request used to wake every
// waiting one to race for its slot (at 256 clients, hundreds of wake-ups
// per request), and a newcomer could win it.
func TestFleetQueueFirstComeFirstServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := newFleet([]string{"unix:/nonexistent-a", "unix:/nonexistent-b"}, nil, 0,
			poolConfig{maxConns: 1, queueSize: 100, queueTimeout: time.Minute, connectTimeout: time.Second,
				ioTimeout: time.Second, idleTimeout: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var held []*member // slots taken, oldest first
		for range 2 {
			m, _, err := f.slot(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, m)
		}
		type served struct {
			i int
			m *member
		}
		const n = 6
		got := make(chan served, n)
		for i := range n {
			go func() {
				m, _, err := f.slot(context.Background(), nil)
				if err != nil {
					t.Errorf("waiter %d: %v", i, err)
					return
				}
				got <- served{i, m}
			}()
			synctest.Wait() // i is in the queue before i+1 comes
		}
		time.Sleep(5 * watchDelay) // every waiter wakes to look at its context
		free := func() {
			m := held[0]
			held = held[1:]
			m.p.release()
			f.finish(m, true, false)
		}
		for want := range n {
			free()
			if want == 0 {
				// A newcomer, right as the slot frees: behind the queue.
				var w *waiter
				if m, full := f.turn(&w, nil); m != nil || full || w == nil {
					t.Fatalf("a newcomer with %d queued: member %v, full %v, queued %v", n, m, full, w != nil)
				}
				f.leave(w)
			}
			synctest.Wait()
			select {
			case s := <-got:
				if s.i != want {
					t.Fatalf("slot %d went to waiter %d, want %d", want, s.i, want)
				}
				held = append(held, s.m)
			default:
				t.Fatalf("slot %d went to no waiter", want)
			}
		}
		if f.waiting.Load() != 0 || len(f.queue) != 0 {
			t.Errorf("%d waiting, %d queued after all were served", f.waiting.Load(), len(f.queue))
		}
	})
}
