package main

import (
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestConsoleLogsOnATerminal runs gatewayd serve on a pseudo-terminal
// (util-linux's script gives it one) with no log.format: a person at a
// terminal reads console lines, not JSON, with durations in units and the
// metrics address in the start line. The same config with stderr on a pipe
// logs JSON.
func TestConsoleLogsOnATerminal(t *testing.T) {
	scriptBin := peertest.Need(t, "script")
	bin := peertest.Gatewayd(t)
	addr, maddr := peertest.FreeAddr(t), peertest.FreeAddr(t)
	cfg := peertest.WriteFile(t, t.TempDir(), "g.yaml", "listeners:\n  - {protocol: http, address: \""+addr+"\"}\n"+
		"metrics: {address: \""+maddr+"\"}\nshutdown_timeout: 2s\n")
	// script runs its command through $SHELL -c. Whether that shell execs a
	// lone command or forks it depends on the shell, and a forked one leaves
	// gatewayd a grandchild: SIGTERM would then end the shell, the terminal
	// would hang up and gatewayd would get SIGHUP instead. So the shell is
	// named and told to exec.
	sc := exec.Command(scriptBin, "-q", "-e", "-c", "exec "+bin+" serve --config "+cfg, "/dev/null")
	sc.Env = append(os.Environ(), "SHELL=/bin/sh")
	p := peertest.Start(t, sc)
	peertest.WaitReady(t, p, "gatewayd on a terminal", peertest.Dial(addr))
	resp, err := http.Get("http://" + addr + "/tty")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// script is the parent; gatewayd is its child on the terminal.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.Cmd.Process.Pid) + "/task/" + strconv.Itoa(p.Cmd.Process.Pid) + "/children")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("children of script: %q", b)
	}
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err != nil || exe != bin {
		t.Fatalf("the child of script is %q (%v), not %s", exe, err, bin)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(10 * time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.Output())
	}
	out := p.Output()
	if strings.Contains(out, `{"level"`) {
		t.Errorf("JSON on a terminal:\n%s", out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`INFO.*\tserving demo at / over HTTP on ` + regexp.QuoteMeta(addr) + `; metrics on http://` + regexp.QuoteMeta(maddr) + `/metrics`),
		regexp.MustCompile(`INFO.*\taccess\trequest\t\{.*"duration": "[0-9.]+[µnm]?s"`),
		regexp.MustCompile(`INFO.*\tshutting down\t\{"signal": "terminated", "shutdown_timeout": "2s"\}`),
	} {
		if !want.MatchString(out) {
			t.Errorf("no line matching %s in:\n%s", want, out)
		}
	}

	// The same on a pipe: JSON.
	var pipe strings.Builder
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), "GATEWAYD_LISTENERS_BOGUS=1") // fails at once, through no logger
	cmd.Stderr = &pipe
	_ = cmd.Run()
	if !strings.Contains(pipe.String(), "GATEWAYD_LISTENERS_BOGUS") {
		t.Errorf("unknown variable not named: %q", pipe.String())
	}
	q := peertest.Start(t, exec.Command(bin, "serve", "--config", cfg))
	peertest.WaitReady(t, q, "gatewayd on a pipe", peertest.Dial(addr))
	_ = q.Stop()
	if first, _, _ := strings.Cut(q.Output(), "\n"); !strings.HasPrefix(first, `{"level":"info"`) {
		t.Errorf("not JSON on a pipe: %q", first)
	}
}
