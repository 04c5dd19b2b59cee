package writedeadline

import (
	"testing"
	"time"
)

type recorder struct{ sets []time.Time }

func (r *recorder) SetWriteDeadline(t time.Time) error {
	r.sets = append(r.sets, t)
	return nil
}

func TestPacerMovesTheDeadlineOncePerQuarter(t *testing.T) {
	var r recorder
	p := Pacer{Timeout: time.Hour}
	p.Extend(&r, false)
	if len(r.sets) != 1 || time.Until(r.sets[0]) < 59*time.Minute {
		t.Fatalf("first write: deadlines %v, want one an hour from now", r.sets)
	}
	p.Extend(&r, false)
	if len(r.sets) != 1 {
		t.Fatalf("a write within a quarter of the timeout moved the deadline: %v", r.sets)
	}
	p.Extend(&r, true)
	if len(r.sets) != 2 {
		t.Fatalf("a forced move did not move the deadline: %v", r.sets)
	}
	p.set = time.Now().Add(-16 * time.Minute)
	p.Extend(&r, false)
	if len(r.sets) != 3 {
		t.Fatalf("a write after a quarter of the timeout did not move the deadline: %v", r.sets)
	}
}

func TestPacerWithoutTimeoutSetsNothing(t *testing.T) {
	var r recorder
	for _, d := range []time.Duration{0, -1} {
		p := Pacer{Timeout: d}
		p.Extend(&r, true)
		p.Extend(&r, false)
	}
	if len(r.sets) != 0 {
		t.Fatalf("no timeout, yet deadlines %v", r.sets)
	}
}
