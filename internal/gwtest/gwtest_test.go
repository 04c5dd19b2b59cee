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
	if Eventually(20*time.Millisecond, func() bool { return false }) {
		t.Error("a condition that never holds was reported held")
	}
}
