package metrics

import (
	"slices"
	"testing"
)

// FuzzLabelValues holds every label normalizer to its fixed set of values,
// whatever string a caller passes.
func FuzzLabelValues(f *testing.F) {
	for _, s := range []string{"", "ok", "FCGI_OVERLOADED", "fcgi_cant_mpx_conn", "Queue_Full", "protocolStatus 9", "other", "\xff"} {
		f.Add(s, 200)
	}
	f.Add("timeout", -1)
	f.Add("connect", 1<<40)
	sets := [][]string{refuseReasons, cgiExitClasses, cgiRejectReasons, upstreamErrKinds, upstreamOKOutcome}
	f.Fuzz(func(t *testing.T, s string, status int) {
		for _, set := range sets {
			v := oneOf(s, set)
			if v != other && !slices.Contains(set, v) {
				t.Fatalf("oneOf(%q) = %q, not in %v", s, v, set)
			}
			if i := index(s, set); i < 0 || i > len(set) || labelAt(set, i) != v {
				t.Fatalf("index(%q) = %d, label %q; oneOf %q", s, i, labelAt(set, i), v)
			}
		}
		c := codeClass(status)
		if c != other && !slices.Contains(codeClasses[:], c) {
			t.Fatalf("codeClass(%d) = %q", status, c)
		}
	})
}
