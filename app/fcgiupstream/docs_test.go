package fcgiupstream

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestDocShowsRecipe keeps the php-fpm configuration shown in
// docs/app-fastcgi.md the one the tests run: the recipe less its comments.
func TestDocShowsRecipe(t *testing.T) {
	root := peertest.ModuleRoot()
	recipe, err := os.ReadFile(filepath.Join(root, "docs", "recipes", "php-fpm.conf"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "app-fastcgi.md"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, line := range strings.Split(string(recipe), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, ";") {
			want = append(want, line)
		}
	}
	_, block, ok := strings.Cut(string(doc), "```ini\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("docs/app-fastcgi.md has no ```ini block")
	}
	var got []string
	for _, line := range strings.Split(block, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			got = append(got, line)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("docs/app-fastcgi.md shows:\n%s\nthe recipe is:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
