//go:build unix && !linux

package cgiscript

// waitNoReap is not available here: the process is reaped first and its
// group signalled after, which leaves a small window for pid reuse.
func waitNoReap(int) bool { return false }
