package environ

import (
	"path"
	"strings"
	"testing"
)

func TestIsEscapingPath(t *testing.T) {
	for p, want := range map[string]bool{
		"":                   false,
		"/":                  false,
		"/a/b":               false,
		"/a/./b":             false,
		"//a//b":             false,
		"/a..b/c":            false,
		"/...":               false,
		"/..a":               false,
		"/.env":              false, // a dotfile, not a climb: IsDotfilePath
		"..":                 true,
		"/..":                true,
		"/../x":              true,
		"/a/../b":            true,
		"/a/..":              true,
		"a/../../etc/passwd": true,
		`/a\..\..\etc`:       true,
		`\..`:                true,
		`/..\`:               true,
		"/a\x00b":            true,
	} {
		if got := IsEscapingPath(p); got != want {
			t.Errorf("IsEscapingPath(%q) = %v, want %v", p, got, want)
		}
	}
}

func FuzzIsEscapingPath(f *testing.F) {
	for _, s := range []string{"/a/b", "/../x", `\..\`, "/a\x00", "a/./../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if IsEscapingPath(p) {
			return
		}
		// What passes stays under the root it is joined to, with either
		// separator.
		joined := path.Join("/root", strings.ReplaceAll(p, `\`, "/"))
		if joined != "/root" && !strings.HasPrefix(joined, "/root/") {
			t.Fatalf("%q passed but leads to %q", p, joined)
		}
		if strings.IndexByte(p, 0) >= 0 {
			t.Fatalf("%q passed with a NUL", p)
		}
	})
}
