package gatewayd_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestMain lets the tests run this test binary as a program that calls
// gatewayd.Serve, started the way a web server or systemd would start it.
func TestMain(m *testing.M) {
	if os.Getenv("GATEWAYD_TEST_LIBRARY_CHILD") == "authorizer" {
		serveAuthorizer()
	}
	if os.Getenv("GATEWAYD_TEST_LIBRARY_CHILD") == "1" {
		if err := gatewayd.Serve(http.HandlerFunc(hello)); err != nil {
			os.Stderr.WriteString("serve: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child(args ...string) *exec.Cmd {
	self, _ := os.Executable()
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), "GATEWAYD_TEST_LIBRARY_CHILD=1", "GATEWAYD_CONFIG=", "GATEWAYD_METRICS_ADDRESS=")
	return cmd
}

// TestServeFastCGIOnStdin: spawned with a listening socket on fd 0, as
// mod_fcgid and spawn-fcgi do, the program serves FastCGI on it; libfcgi's
// cgi-fcgi is the web server.
func TestServeFastCGIOnStdin(t *testing.T) {
	cgiFCGI := peertest.Need(t, "cgi-fcgi")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(*net.TCPListener).File()
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := child()
	cmd.Stdin = f
	p := peertest.Start(t, cmd)
	f.Close()
	addr := l.Addr().String()
	peertest.WaitReady(t, p, "the FastCGI child", peertest.Dial(addr))

	req := exec.Command(cgiFCGI, "-bind", "-connect", addr)
	req.Env = []string{"REQUEST_METHOD=GET", "SCRIPT_NAME=", "PATH_INFO=/fd0", "QUERY_STRING=",
		"SERVER_NAME=localhost", "SERVER_PORT=80", "SERVER_PROTOCOL=HTTP/1.1", "GATEWAY_INTERFACE=CGI/1.1"}
	out, err := req.Output()
	if err != nil {
		t.Fatalf("cgi-fcgi: %v\n%s", err, p.Output())
	}
	if !strings.HasPrefix(string(out), "Status: 200 OK\r\n") || !strings.HasSuffix(string(out), "hello from /fd0 over CGI/1.1\n") {
		t.Errorf("answer %q", out)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(10 * time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// TestServeFastCGIWebServerAddrs: with FCGI_WEB_SERVER_ADDRS set, a
// connection from any other address is closed unanswered.
func TestServeFastCGIWebServerAddrs(t *testing.T) {
	cgiFCGI := peertest.Need(t, "cgi-fcgi")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := l.(*net.TCPListener).File()
	l.Close()
	cmd := child()
	cmd.Stdin = f
	cmd.Env = append(cmd.Env, "FCGI_WEB_SERVER_ADDRS=192.0.2.10,192.0.2.11")
	p := peertest.Start(t, cmd)
	f.Close()
	addr := l.Addr().String()
	peertest.WaitReady(t, p, "the FastCGI child", peertest.Dial(addr))
	req := exec.Command(cgiFCGI, "-bind", "-connect", addr)
	req.Env = []string{"REQUEST_METHOD=GET", "PATH_INFO=/x", "SERVER_NAME=h", "SERVER_PORT=80", "SERVER_PROTOCOL=HTTP/1.1"}
	out, _ := req.Output()
	if strings.Contains(string(out), "hello") {
		t.Errorf("a connection from 127.0.0.1 was served: %q", out)
	}
	// The refusal's log line may land after cgi-fcgi saw the connection
	// close: wait for it rather than read the output once.
	peertest.WaitReady(t, p, "the refusal's log line", func() error {
		if !strings.Contains(p.Output(), "not in FCGI_WEB_SERVER_ADDRS") {
			return errors.New("the refusal was not logged")
		}
		return nil
	})
}

// TestServeSystemdSocket: under systemd-socket-activate the program serves
// HTTP on the passed socket, its protocol taken from the socket's name.
func TestServeSystemdSocket(t *testing.T) {
	activate := peertest.Need(t, "systemd-socket-activate")
	addr := peertest.FreeAddr(t)
	self, _ := os.Executable()
	cmd := exec.Command(activate, "-l", addr, "--fdname=http-main", "-E", "GATEWAYD_TEST_LIBRARY_CHILD=1",
		"-E", "GATEWAYD_CONFIG=", "-E", "GATEWAYD_METRICS_ADDRESS=", self)
	p := peertest.Start(t, cmd)
	peertest.WaitReady(t, p, "systemd-socket-activate", peertest.Dial(addr))
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/sd")
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Output())
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello from /sd over CGI/1.1\n" {
		t.Errorf("answer %q", b)
	}
}

// TestServeStandalone: with nothing inherited the program serves HTTP on
// the configured listener.
func TestServeStandalone(t *testing.T) {
	addr := peertest.FreeAddr(t)
	cfg := peertest.WriteFile(t, t.TempDir(), "g.yaml", "listeners:\n  - {protocol: http, address: \""+addr+"\"}\nmetrics: {address: \"\"}\n")
	cmd := child()
	cmd.Env = append(cmd.Env, "GATEWAYD_CONFIG="+cfg)
	cmd.Stdin = nil // /dev/null: not a socket
	p := peertest.Start(t, cmd)
	peertest.WaitReady(t, p, "the program", peertest.Dial(addr))
	resp, err := http.Get("http://" + addr + "/alone")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello from /alone over CGI/1.1\n" {
		t.Errorf("answer %q", b)
	}
}

func TestServeNilHandler(t *testing.T) {
	if err := gatewayd.Serve(nil); err != gatewayd.ErrNoHandler {
		t.Errorf("err %v", err)
	}
}
