package config

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReadFile: readFile reads and fails as os.ReadFile does, whatever the
// size (none given by stat: /proc), and says the same when it fails.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, []byte(strings.Repeat("# comment line\n", 5000)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{empty, big, "/proc/self/status", filepath.Join(dir, "missing.yaml"), dir} {
		got, err := readFile(p)
		want, wantErr := os.ReadFile(p)
		if p == "/proc/self/status" {
			if runtime.GOOS != "linux" {
				continue
			}
			// Two reads of it differ (its own numbers); its length does not
			// come from stat, so the read loop must find the end.
			if err != nil || !bytes.HasPrefix(got, []byte("Name:")) {
				t.Errorf("%s: %.40q, %v", p, got, err)
			}
			continue
		}
		if !bytes.Equal(got, want) || (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Errorf("%s: %d bytes, %v; os.ReadFile: %d bytes, %v", p, len(got), err, len(want), wantErr)
		}
	}
}
