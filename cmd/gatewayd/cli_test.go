package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/config"
)

func TestVersionFlag(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out, errs bytes.Buffer
		if code := run(args, &out, &errs); code != 0 || out.String() != "gatewayd "+config.Version+"\n" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errs.String())
		}
	}
}

// TestCGIHelp: `gatewayd cgi --help` typed by a person is help on stdout,
// not a CGI 500 page.
func TestCGIHelp(t *testing.T) {
	t.Setenv("GATEWAY_INTERFACE", "")
	for _, flag := range []string{"--help", "-h"} {
		var out, errs bytes.Buffer
		code := run([]string{"cgi", flag}, &out, &errs)
		if code != 0 || !strings.Contains(out.String(), "Usage:\n  gatewayd cgi [--config FILE]") || strings.Contains(out.String(), "Status:") {
			t.Errorf("cgi %s: exit %d, stdout %q, stderr %q", flag, code, out.String(), errs.String())
		}
	}
}

func TestUnknownSubcommandPrintsUsage(t *testing.T) {
	var out, errs bytes.Buffer
	code := run([]string{"frobnicate"}, &out, &errs)
	if code != 2 || !strings.Contains(errs.String(), `unknown command "frobnicate"`) || !strings.Contains(errs.String(), "Available Commands:") {
		t.Errorf("exit %d, stderr %q", code, errs.String())
	}
	errs.Reset()
	if code := run([]string{"serve", "--bogus"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "gatewayd serve [flags]") {
		t.Errorf("serve --bogus: exit %d, stderr %q", code, errs.String())
	}
}

// TestHelpTellsOverridesSignalsAndCompletion: the help a person reads first
// names the environment overrides, the signals and shell completion.
func TestHelpTellsOverridesSignalsAndCompletion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"--help"}, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, s := range []string{"GATEWAYD_CONFIG", "GATEWAYD_LOG_LEVEL=debug", "completion"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("gatewayd --help lacks %q:\n%s", s, out.String())
		}
	}
	out.Reset()
	run([]string{"serve", "--help"}, &out, &out)
	for _, s := range []string{"SIGTERM", "SIGHUP", "shutdown_timeout", "GATEWAYD_"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("gatewayd serve --help lacks %q:\n%s", s, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"completion", "bash"}, &out, &out); code != 0 || !strings.Contains(out.String(), "bash completion") {
		t.Errorf("completion bash: exit %d", code)
	}
}

// TestBadParam: request, probe and conform read --param alike; one without
// "=" or without a name is a usage error (exit 1) that names it.
func TestBadParam(t *testing.T) {
	for _, cmd := range [][]string{
		{"request", "--env", "fastcgi:///nowhere.sock", "/"},
		{"probe", "fastcgi:///nowhere.sock"},
		{"conform", "fastcgi:///nowhere.sock"},
	} {
		for _, p := range []string{"NOEQUALS", "=value"} {
			var out, errs bytes.Buffer
			args := append([]string{cmd[0], "--param", p}, cmd[1:]...)
			code := run(args, &out, &errs)
			if code != 1 || !strings.Contains(errs.String(), `--param "`+p+`": want NAME=VALUE`) {
				t.Errorf("%v: exit %d, stderr %q", args, code, errs.String())
			}
		}
	}
}

// TestTargetArgs: request, probe and conform check their arguments alike
// (targetArgs): a wrong count or a TARGET that does not parse is a usage
// error (exit 1) that says what was wanted.
func TestTargetArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"request"}, "want TARGET PATH, got 0 arguments"},
		{[]string{"request", "fastcgi:///x.sock", "/", "extra"}, "want TARGET PATH, got 3 arguments"},
		{[]string{"probe"}, "want TARGET [PATH], got 0 arguments"},
		{[]string{"probe", "fastcgi:///x.sock", "/", "extra"}, "want TARGET [PATH], got 3 arguments"},
		{[]string{"conform"}, "want TARGET, got 0 arguments"},
		{[]string{"conform", "fastcgi:///x.sock", "/"}, "want TARGET, got 2 arguments"},
		{[]string{"request", "ftp://x:1", "/"}, "ftp"},
		{[]string{"probe", "ftp://x:1"}, "ftp"},
		{[]string{"conform", "ftp://x:1"}, "ftp"},
	} {
		var out, errs bytes.Buffer
		if code := run(tc.args, &out, &errs); code != 1 || !strings.Contains(errs.String(), tc.says) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tc.args, code, errs.String(), tc.says)
		}
	}
}
