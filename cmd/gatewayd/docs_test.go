package main

import (
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
