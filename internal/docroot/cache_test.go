package docroot

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		root, err := os.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		write := func(name string) {
			t.Helper()
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		l := Lookup{Index: "index.php", Extensions: []string{".php"}}
		c := NewCache(l, root, 2, time.Second)

		// Not found is not kept: a script that appears runs at once.
		if got := c.Resolve("/a.php"); got.Status != http.StatusNotFound {
			t.Fatalf("missing: %+v", got)
		}
		write("a.php")
		if got := c.Resolve("/a.php/x"); got != (Target{Script: "a.php", PathInfo: "/x"}) {
			t.Fatalf("after it appeared: %+v", got)
		}
		// Kept for the ttl: the file system is not asked again.
		if err := os.Remove(filepath.Join(dir, "a.php")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second - time.Nanosecond) // fake time: the ttl all but passes
		if got := c.Resolve("/a.php/x"); got.Script != "a.php" {
			t.Errorf("within the ttl: %+v, want the kept lookup", got)
		}
		// And no longer.
		time.Sleep(time.Nanosecond) // fake time
		if got := c.Resolve("/a.php/x"); got.Status != http.StatusNotFound {
			t.Errorf("after the ttl: %+v, want 404", got)
		}

		// The bound holds, whatever the paths.
		for i := range 10 {
			name := fmt.Sprintf("s%d.php", i)
			write(name)
			if got := c.Resolve("/" + name); got.Script != name {
				t.Fatalf("%s: %+v", name, got)
			}
			if n := c.Len(); n > 2 {
				t.Fatalf("%d lookups kept, bound 2", n)
			}
		}
		// Long paths are not kept at all.
		long := "/s0.php/" + strings.Repeat("x", maxCachedPath)
		c2 := NewCache(l, root, 0, 0)
		if got := c2.Resolve(long); got.Script != "s0.php" || c2.Len() != 0 {
			t.Errorf("long path: %+v, %d kept", got, c2.Len())
		}
		// Off: nothing kept.
		off := NewCache(l, root, -1, 0)
		off.Resolve("/s1.php")
		if err := os.Remove(filepath.Join(dir, "s1.php")); err != nil {
			t.Fatal(err)
		}
		if got := off.Resolve("/s1.php"); got.Status != http.StatusNotFound || off.Len() != 0 {
			t.Errorf("cache off: %+v, %d kept", got, off.Len())
		}
	})
}
