package cgiscript

import (
	"time"

	"github.com/gatewayd/gatewayd/core/event"
)

// ExitClass says how a script ended. Its values, and RejectReason's, are
// written once in core/event, where observe/metrics reads them as label
// values; the names here keep the runner's code and library observers as
// they were.
type ExitClass = event.Exit

// The exit classes.
const (
	ExitOK       = event.ExitOK       // the script exited with status 0
	ExitError    = event.ExitError    // it exited with a non-zero status
	ExitSignal   = event.ExitSignal   // a signal gatewayd did not send ended it
	ExitTimeout  = event.ExitTimeout  // gatewayd stopped it at Timeout
	ExitCanceled = event.ExitCanceled // the client went away, its response was refused, or shutdown
)

// RejectReason says why a request got 503 without running a script.
type RejectReason = event.Rejection

// The reject reasons.
const (
	RejectQueueFull    = event.RejectQueueFull    // every slot was busy and the queue was full
	RejectQueueTimeout = event.RejectQueueTimeout // no slot came free within QueueTimeout
	RejectShutdown     = event.RejectShutdown     // the Runner is shutting down
)

// Observer is told what a Runner does, for metrics. script is the script's
// name under Root (only scripts that exist are reported), or the base name
// of the one Script. Methods are called from many goroutines at once and
// must not block.
type Observer interface {
	// ScriptStarted is called when a script process has started.
	ScriptStarted(script string)
	// ScriptEnded is called when a started script has been reaped.
	ScriptEnded(script string, class ExitClass, d time.Duration)
	// ScriptTimedOut is called when a script runs past Timeout.
	ScriptTimedOut(script string)
	// ScriptKilled is called when a script needed SIGKILL after KillGrace.
	ScriptKilled(script string)
	// QueueWait is called with the time a request waited for a slot (zero
	// when one was free).
	QueueWait(d time.Duration)
	// Rejected is called when a request is answered 503 without running.
	Rejected(reason RejectReason)
	// StderrLine is called for every line of a script's stderr that is
	// logged (at most 1,000 per request; see internal/stderrlog).
	StderrLine(script string)
}

// NopObserver does nothing. Embed it to implement only some of Observer.
type NopObserver struct{}

func (NopObserver) ScriptStarted(string)                         {}
func (NopObserver) ScriptEnded(string, ExitClass, time.Duration) {}
func (NopObserver) ScriptTimedOut(string)                        {}
func (NopObserver) ScriptKilled(string)                          {}
func (NopObserver) QueueWait(time.Duration)                      {}
func (NopObserver) Rejected(RejectReason)                        {}
func (NopObserver) StderrLine(string)                            {}

var _ Observer = NopObserver{}
