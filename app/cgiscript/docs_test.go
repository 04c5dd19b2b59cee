package cgiscript

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// docExamples returns the YAML blocks of docs/app-cgi.md.
func docExamples(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(peertest.ModuleRoot(), "docs", "app-cgi.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		blocks = append(blocks, m[1])
	}
	if len(blocks) < 3 {
		t.Fatalf("%d YAML examples in docs/app-cgi.md, want the git, cgit and cgi-bin ones", len(blocks))
	}
	return blocks
}

// TestDocExamples: every example configuration on the page loads.
func TestDocExamples(t *testing.T) {
	for i, y := range docExamples(t) {
		if _, err := config.Parse(y); err != nil {
			t.Errorf("example %d: %v\n%s", i, err, y)
		}
	}
}

// fromRoute is the daemon's mapping of a cgi route to a Config.
func fromRoute(r config.Route) Config {
	return Config{
		Root: r.Root, Script: r.Script, Timeout: r.Timeout, KillGrace: r.KillGrace,
		MaxConcurrency: r.MaxConcurrency, QueueSize: r.QueueSize, QueueTimeout: r.QueueTimeout,
		PassEnv: r.PassEnv, Env: r.Env, MaxHeaderBytes: r.MaxHeaderBytes,
		MaxSpoolBytes: r.MaxSpoolBytes, AllowRoot: r.AllowRoot, MaxRedirects: r.MaxRedirects,
	}
}
