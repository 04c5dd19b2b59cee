package workers

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestRunsEverythingAndReusesWorkers(t *testing.T) {
	var p Pool
	defer p.Close()
	var n atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		p.Go(func() {
			defer wg.Done()
			n.Add(1)
		})
		wg.Wait() // one at a time: the same worker can take each
	}
	if n.Load() != 1000 {
		t.Fatalf("ran %d of 1000", n.Load())
	}
}

func TestNeverBlocksWhenAllAreBusy(t *testing.T) {
	var p Pool
	defer p.Close()
	release := make(chan struct{})
	var started sync.WaitGroup
	for i := 0; i < 50; i++ {
		started.Add(1)
		p.Go(func() {
			started.Done()
			<-release
		})
	}
	done := make(chan struct{})
	go func() { started.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("50 blocking functions did not all start: Go queued work")
	}
	close(release)
}

// busy starts n workers at once and returns when each has run.
func busy(p *Pool, n int) {
	var started, wg sync.WaitGroup
	release := make(chan struct{})
	for i := 0; i < n; i++ {
		started.Add(1)
		wg.Add(1)
		p.Go(func() {
			defer wg.Done()
			started.Done()
			<-release
		})
	}
	started.Wait()
	close(release)
	wg.Wait()
}

// workersAlive counts the workers of this test's synctest bubble: every
// other test's pools may still be winding down outside it, so the process's
// goroutine count cannot tell.
func workersAlive() int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "synctest bubble") && strings.Contains(g, ".(*Pool).worker(") {
			n++
		}
	}
	return n
}

// The tests below run in a synctest bubble, where time is fake and
// synctest.Wait returns once every goroutine in it is blocked.

func TestIdleWorkersExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := Pool{Idle: 20 * time.Millisecond}
		busy(&p, 20)
		synctest.Wait()
		if n := workersAlive(); n != 20 {
			t.Fatalf("%d workers wait for work, want 20", n)
		}
		time.Sleep(20 * time.Millisecond) // fake time: the idle timeout passes
		synctest.Wait()
		if n := workersAlive(); n != 0 {
			t.Errorf("%d workers left after the idle timeout", n)
		}
	})
}

// TestMaxIdle: past MaxIdle waiting workers, a worker that finishes exits
// at once instead of waiting for the idle timeout; the others keep
// waiting and take the next functions.
func TestMaxIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := Pool{MaxIdle: 5}
		defer p.Close()
		busy(&p, 20)
		synctest.Wait() // no time passes: only the cap can have ended them
		if n := workersAlive(); n != 5 {
			t.Fatalf("%d workers wait for work, want 5", n)
		}
		busy(&p, 3)
		synctest.Wait()
		if n := workersAlive(); n != 5 {
			t.Errorf("%d workers wait for work after 3 more functions, want the same 5", n)
		}
	})
}

func TestCloseStopsIdleWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p Pool
		busy(&p, 20)
		p.Close()
		synctest.Wait() // no time passes: only Close can have ended them
		if n := workersAlive(); n != 0 {
			t.Errorf("%d workers left after Close", n)
		}
		ran := make(chan struct{})
		p.Go(func() { close(ran) })
		<-ran
	})
}

// deep grows the stack, as an app's call chain does.
func deep(n int) int {
	var pad [256]byte
	if n == 0 {
		return int(pad[0])
	}
	return deep(n-1) + int(pad[n%256])
}

func BenchmarkGoStatement(b *testing.B) {
	b.ReportAllocs()
	var wg sync.WaitGroup
	for b.Loop() {
		wg.Add(1)
		go func() { defer wg.Done(); deep(40) }()
		wg.Wait()
	}
}

func BenchmarkPool(b *testing.B) {
	var p Pool
	defer p.Close()
	b.ReportAllocs()
	var wg sync.WaitGroup
	for b.Loop() {
		wg.Add(1)
		p.Go(func() { defer wg.Done(); deep(40) })
		wg.Wait()
	}
}
