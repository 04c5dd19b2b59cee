//go:build !unix

package fcgiupstream

// peekIdle cannot peek without blocking here; a dead idle connection is
// found by the retry on first use instead.
func peekIdle(uintptr) bool { return true }
