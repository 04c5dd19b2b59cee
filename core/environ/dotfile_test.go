package environ

import "testing"

func TestIsDotfilePath(t *testing.T) {
	for p, want := range map[string]bool{
		"":                          false,
		"/":                         false,
		"/a.txt":                    false,
		"/a/b.c/d":                  false,
		"/./a":                      false,
		"/.env":                     true,
		"/.git/config":              true,
		"/.git/":                    true,
		"/.htaccess":                true,
		"/docs/.htpasswd":           true,
		"/a/.ssh/id_rsa":            true,
		"//.env":                    true,
		"/./.env":                   true,
		"/..":                       true,
		"/...":                      true,
		"/.well-known/acme/tok":     false,
		"/.well-known/":             false,
		"/.well-known":              false,
		"//.well-known/x":           false,
		"/.well-known/.x":           true,
		"/a/.well-known/x":          true,
		"/.well-known-not/x":        true,
		"/.WELL-KNOWN/x":            true,
		"a/.b":                      true,
		"/security.txt":             false,
		"/.well-known/security.txt": false,
	} {
		if got := IsDotfilePath(p); got != want {
			t.Errorf("IsDotfilePath(%q) = %v, want %v", p, got, want)
		}
	}
}
