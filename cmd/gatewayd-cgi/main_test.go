package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain runs main instead of the tests when a test starts this test
// binary as the program (GATEWAYD_TEST_MAIN=1), so that the tests see what
// the program does: its exit code, stdout and stderr.
func TestMain(m *testing.M) {
	if os.Getenv("GATEWAYD_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// runMain runs the program with args and the CGI environment env.
func runMain(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{"GATEWAYD_TEST_MAIN=1", "PATH=" + os.Getenv("PATH")}, env...)
	var out, errs strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errs.String()
}

var cgiEnv = []string{
	"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SERVER_PROTOCOL=HTTP/1.1",
	"SERVER_NAME=localhost", "SERVER_PORT=80", "SCRIPT_NAME=/gw.cgi", "PATH_INFO=/", "REMOTE_ADDR=127.0.0.1",
}

// TestDemo: the program answers a request from its config file.
func TestDemo(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "gatewayd.yaml")
	if err := os.WriteFile(conf, []byte("routes:\n  - prefix: /\n    app: demo\nlog: {level: warn}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runMain(t, append(cgiEnv, "GATEWAYD_CONFIG="+conf))
	if code != 0 || !strings.HasPrefix(out, "Status: 200 OK\r\n") || !strings.Contains(out, "\r\n\r\nHello world!\n") {
		t.Errorf("exit %d\nstdout %q\nstderr %s", code, out, errs)
	}
}

// TestGofastTransportRefused: gatewayd-cgi does not link gofast, so a
// route with transport: gofast is a config error that names the key and
// the binary to use — not a route that fails at its first request.
func TestGofastTransportRefused(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "gatewayd.yaml")
	text := "routes:\n  - prefix: /\n    app: fastcgi\n    transport: gofast\n    upstream: unix:" + dir + "/php.sock\n    root: " + dir + "\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runMain(t, cgiEnv, "--config", conf)
	if code != 1 || !strings.HasPrefix(out, "Status: 500 Internal Server Error\r\n") {
		t.Errorf("exit %d, stdout %q; want 1 and the 500 page", code, out)
	}
	for _, want := range []string{"routes[0].transport: gofast", "gatewayd binary", "transport: native"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr %q does not say %q", errs, want)
		}
	}
}
