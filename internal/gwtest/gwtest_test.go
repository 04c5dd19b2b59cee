package gwtest

import (
	"testing"
	"time"
)

func TestEventually(t *testing.T) {
	calls := 0
	if !Eventually(10*time.Second, func() bool { calls++; return calls == 3 }) || calls != 3 {
		t.Errorf("a condition that holds at the third look: %d looks", calls)
	}
	calls = 0
	if Eventually(20*time.Millisecond, func() bool { calls++; return false }) {
		t.Error("a condition that never holds was reported held")
	}
	if calls < 2 {
		t.Errorf("looked %d times in 20ms, want more than once", calls)
	}
}
