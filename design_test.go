package gatewayd_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestDesignNamesRealPaths holds docs/design.md's map of the house to the
// tree: every folder or Go file it names in backquotes (`core/handler`,
// `protocol/fastcgi`, `core/environ/gateway.go`, …) exists, so that a
// package moved or renamed takes its row along.
func TestDesignNamesRealPaths(t *testing.T) {
	root := peertest.ModuleRoot()
	b, err := os.ReadFile(filepath.Join(root, "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	tops := []string{"app/", "cmd/", "config/", "core/", "daemon/", "internal/", "listener/", "observe/", "protocol/"}
	named := 0
	for _, m := range regexp.MustCompile("`([a-z][a-z0-9_./]*)`").FindAllStringSubmatch(string(b), -1) {
		p := strings.TrimSuffix(m[1], "/")
		top := false
		for _, t := range tops {
			top = top || strings.HasPrefix(p+"/", t)
		}
		if !top || strings.Contains(p, "*") {
			continue
		}
		named++
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("docs/design.md names %s, which is not in the tree", m[1])
		}
	}
	if named < 20 {
		t.Errorf("found %d paths in docs/design.md; the pattern no longer matches how it names them", named)
	}
}
