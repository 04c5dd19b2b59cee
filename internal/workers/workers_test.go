package workers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
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

func TestIdleWorkersExit(t *testing.T) {
	before := runtime.NumGoroutine()
	p := Pool{Idle: 20 * time.Millisecond}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		p.Go(wg.Done)
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines left, %d before", g, before)
	}
}

func TestCloseStopsIdleWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
	var p Pool
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		p.Go(wg.Done)
	}
	wg.Wait()
	p.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines left after Close, %d before", g, before)
	}
	ran := make(chan struct{})
	p.Go(func() { close(ran) })
	<-ran
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
