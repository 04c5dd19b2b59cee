package peertest

import "testing"

// ApacheFastCGI is Apache; kept for the callers written before Apache
// learnt to skip compiled-in modules.
func ApacheFastCGI(t testing.TB, listen string, modules []string, body string) (*Process, string) {
	t.Helper()
	return Apache(t, listen, modules, body)
}
