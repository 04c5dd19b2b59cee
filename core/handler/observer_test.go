package handler_test

import (
	"slices"
	"testing"

	"github.com/gatewayd/gatewayd/core/handler"
)

type recorder struct {
	name  string
	calls *[]string
}

func (r recorder) Begin(req *handler.Request, info *handler.Info) {
	*r.calls = append(*r.calls, r.name+" begin "+info.ID)
}

func (r recorder) End(req *handler.Request, info *handler.Info, res *handler.Result) {
	*r.calls = append(*r.calls, r.name+" end "+info.ID)
}

func TestMultiObserver(t *testing.T) {
	var calls []string
	a, b := recorder{"a", &calls}, recorder{"b", &calls}
	o := handler.MultiObserver(a, nil, b)
	info := &handler.Info{ID: "1"}
	o.Begin(nil, info)
	o.End(nil, info, &handler.Result{})
	want := []string{"a begin 1", "b begin 1", "a end 1", "b end 1"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
	if handler.MultiObserver() != nil || handler.MultiObserver(nil, nil) != nil {
		t.Error("MultiObserver of no observers is not nil")
	}
	if got := handler.MultiObserver(nil, a); got != handler.Observer(a) {
		t.Errorf("MultiObserver of one observer is %#v, want it unwrapped", got)
	}
}
