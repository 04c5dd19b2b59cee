package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestTroubleshootingQuotesRealLogLines: every "msg" a JSON line in
// docs/troubleshooting.md quotes is a message gatewayd's code logs, so the
// guide's lines can be searched for in a real log.
func TestTroubleshootingQuotesRealLogLines(t *testing.T) {
	root := peertest.ModuleRoot()
	doc, err := os.ReadFile(filepath.Join(root, "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		src.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := regexp.MustCompile(`"msg":"([^"]+)"`).FindAllStringSubmatch(string(doc), -1)
	if len(msgs) < 5 {
		t.Fatalf("only %d quoted log lines", len(msgs))
	}
	for _, m := range msgs {
		if !strings.Contains(src.String(), `"`+m[1]+`"`) {
			t.Errorf("docs/troubleshooting.md quotes %q, which no code logs", m[1])
		}
	}
}

// TestTroubleshootingDurationTrap runs the guide's `gatewayd check` on the
// duration trap and compares the error it quotes.
func TestTroubleshootingDurationTrap(t *testing.T) {
	bin := peertest.Gatewayd(t)
	doc, _ := os.ReadFile(filepath.Join(peertest.ModuleRoot(), "docs", "troubleshooting.md"))
	m := regexp.MustCompile(`gatewayd check: gatewayd.yaml: (config: invalid: routes\[0\].timeout: [^\n]+)`).FindStringSubmatch(string(doc))
	if m == nil {
		t.Fatal("the guide quotes no check error for the duration trap")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "s.cgi")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", "routes:\n  - {prefix: /, app: cgi, script: "+script+", allow_root: true, timeout: 5}\n")
	out, err := exec.Command(bin, "check", "--config", cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), m[1]) {
		t.Errorf("check: %v %q\nthe guide: %q", err, out, m[1])
	}
}

// TestTroubleshootingClientMistakes runs the guide's probe of a socket that
// is not there and its request under the wrong root, and compares what the
// binary prints and its exit code with what the guide says.
func TestTroubleshootingClientMistakes(t *testing.T) {
	bin := peertest.Gatewayd(t)
	doc, _ := os.ReadFile(filepath.Join(peertest.ModuleRoot(), "docs", "troubleshooting.md"))
	// The guide's paths live under a directory of the test's own, so that
	// nothing on this machine answers them.
	dir := t.TempDir()
	at := func(s, path string) string { return strings.ReplaceAll(s, path, dir+path) }

	probe := regexp.MustCompile("\\$ gatewayd probe (fastcgi://(\\S+))\n(connect fastcgi://\\S+) [0-9.]+[µm]?s(: [^\n]+)").FindStringSubmatch(string(doc))
	if probe == nil {
		t.Fatal("the guide quotes no probe of a missing socket")
	}
	sock := probe[2]
	out, err := exec.Command(bin, "probe", at(probe[1], sock)).CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), at(probe[3], sock)) || !strings.Contains(string(out), at(probe[4], sock)) {
		t.Errorf("probe: exit %d %q\nthe guide: %q … %q", code, out, probe[3], probe[4])
	}

	req := regexp.MustCompile("\\$ gatewayd request --root (\\S+) (fastcgi://\\S+) (\\S+)\n(gatewayd request: [^\n]+)").FindStringSubmatch(string(doc))
	if req == nil {
		t.Fatal("the guide quotes no request under the wrong root")
	}
	root := req[1]
	if err := os.MkdirAll(dir+root, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(bin, "request", "--root", dir+root, at(req[2], "/run"), req[3]).CombinedOutput()
	if code := exitCode(err); code == 0 || !strings.Contains(string(out), at(req[4], root)) {
		t.Errorf("request: exit %d %q\nthe guide: %q", code, out, req[4])
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
