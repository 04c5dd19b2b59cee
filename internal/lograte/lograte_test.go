package lograte

import (
	"sync"
	"testing"
	"time"
)

func TestAllowOnePerInterval(t *testing.T) {
	var l Limiter
	t0 := time.Unix(1000, 0)
	if ok, n := l.Allow(t0); !ok || n != 0 {
		t.Fatalf("first event: ok=%v suppressed=%d, want true 0", ok, n)
	}
	for i := range 5 {
		if ok, _ := l.Allow(t0.Add(time.Duration(i) * time.Second)); ok {
			t.Fatalf("event %d within the interval was let through", i)
		}
	}
	if ok, n := l.Allow(t0.Add(DefaultInterval)); !ok || n != 5 {
		t.Fatalf("after the interval: ok=%v suppressed=%d, want true 5", ok, n)
	}
	if ok, n := l.Allow(t0.Add(2 * DefaultInterval)); !ok || n != 0 {
		t.Fatalf("next interval: ok=%v suppressed=%d, want true 0", ok, n)
	}
}

func TestNegativeIntervalLogsAll(t *testing.T) {
	l := Limiter{Interval: -1}
	now := time.Unix(1000, 0)
	for i := range 3 {
		if ok, _ := l.Allow(now); !ok {
			t.Fatalf("event %d held back with a negative interval", i)
		}
	}
}

// TestConcurrentCountsEveryEvent: under -race, every event is either
// logged or counted, none lost.
func TestConcurrentCountsEveryEvent(t *testing.T) {
	l := Limiter{Interval: time.Hour}
	now := time.Unix(1000, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	logged := 0
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if ok, _ := l.Allow(now); ok {
					mu.Lock()
					logged++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	_, n := l.Allow(now.Add(time.Hour))
	if logged != 1 || n != 799 {
		t.Fatalf("logged %d, suppressed %d; want 1 and 799", logged, n)
	}
}
