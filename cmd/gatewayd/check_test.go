package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestCheckRunsWhatServeRuns: each config below passes the config's own
// validation but makes serve fail before it opens a socket; check must
// fail on it too, with serve's reason.
func TestCheckRunsWhatServeRuns(t *testing.T) {
	dir := t.TempDir()
	notExec := peertest.WriteFile(t, dir, "cgi-bin/hello.cgi", "#!/bin/sh\necho\n") // mode 0644
	exec := filepath.Join(dir, "cgi-bin", "ok.cgi")
	if err := os.WriteFile(exec, []byte("#!/bin/sh\necho\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, yaml, want string }{
		{"missing static root", "routes:\n  - {prefix: /, app: static, root: " + filepath.Join(dir, "nope") + "}\n", "no such file or directory"},
		{"script not executable", "routes:\n  - {prefix: /, app: cgi, script: " + notExec + ", allow_root: true}\n", "hello.cgi"},
		{"bare-number timeout", "routes:\n  - {prefix: /, app: cgi, script: " + exec + ", allow_root: true, timeout: 5}\n", "routes[0].timeout: 5 has no unit"},
		{"unknown socket group", "listeners:\n  - {protocol: fastcgi, address: \"unix:" + filepath.Join(dir, "s.sock") + "\", socket_group: no-such-group-here}\n", `socket_group "no-such-group-here": no such group`},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, struct{ name, yaml, want string }{"cgi as root without allow_root",
			"routes:\n  - {prefix: /, app: cgi, script: " + exec + "}\n", "allow_root"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := peertest.WriteFile(t, t.TempDir(), "g.yaml", tc.yaml+"metrics: {address: \"\"}\n")
			var out, errs bytes.Buffer
			code := run([]string{"check", "--config", cfg}, &out, &errs)
			if code != 1 || !strings.Contains(errs.String(), tc.want) {
				t.Errorf("check: exit %d, stdout %q, stderr %q; want exit 1 naming %q", code, out.String(), errs.String(), tc.want)
			}
			var serveErrs bytes.Buffer
			if code := run([]string{"serve", "--config", cfg}, &out, &serveErrs); code != 1 {
				t.Errorf("serve accepted what check refused: exit %d", code)
			}
		})
	}
}

// TestCheckWarnsWhatItCannotKnow: check runs as whoever runs it, and the
// socket directory may only appear at boot.
func TestCheckWarnsWhatItCannotKnow(t *testing.T) {
	t.Setenv("INVOCATION_ID", "")
	cfg := peertest.WriteFile(t, t.TempDir(), "g.yaml", "listeners:\n  - {protocol: fastcgi, address: \"unix:/nonexistent-dir/g.sock\"}\n  - {name: web, protocol: http}\n")
	var out, errs bytes.Buffer
	if code := run([]string{"check", "--config", cfg}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, w := range []string{"warning: checked as ", "warning: listeners[0]: the socket's directory /nonexistent-dir does not exist now",
		`warning: listeners[1] has no address: serve needs systemd to pass it a socket named "web"`} {
		if !strings.Contains(errs.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, errs.String())
		}
	}
	if !strings.HasSuffix(out.String(), ": ok (2 listeners, 1 routes)\n") {
		t.Errorf("stdout %q", out.String())
	}
}
