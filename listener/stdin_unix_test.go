//go:build unix

package listener

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestFCGIStdinChild is the child of TestFCGIStdin: with a listening socket
// on fd 0 it accepts one connection and says what it found.
func TestFCGIStdinChild(t *testing.T) {
	if os.Getenv("GATEWAYD_TEST_FD0_CHILD") != "1" {
		t.Skip("run by TestFCGIStdin")
	}
	l, err := FCGIStdin()
	if err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		return
	}
	defer l.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	// fd 0 now reads from /dev/null.
	var b [1]byte
	n, rerr := os.Stdin.Read(b[:])
	c.Write([]byte("accepted on " + l.Addr().String() + "; stdin " + map[bool]string{true: "null", false: "other"}[n == 0 && rerr != nil] + "\n"))
	c.Close()
}

func child(t *testing.T, stdin *os.File) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestFCGIStdinChild$", "-test.v")
	cmd.Env = append(os.Environ(), "GATEWAYD_TEST_FD0_CHILD=1")
	cmd.Stdin = stdin
	return cmd
}

func TestFCGIStdin(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := child(t, f)
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		<-done
		t.Fatalf("child did not answer: %v\n%s", err, out.String())
	}
	if want := "accepted on " + l.Addr().String() + "; stdin null\n"; line != want {
		t.Errorf("child said %q, want %q", line, want)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("child: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child did not exit")
	}
}

func TestFCGIStdinNotListening(t *testing.T) {
	// A pipe, and a connected socket, on fd 0.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	held := make(chan struct{})
	defer close(held)
	go func() {
		if c, err := l.Accept(); err == nil {
			<-held // hold the connection while the children look
			c.Close()
		}
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cf, err := conn.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	for name, f := range map[string]*os.File{"pipe": r, "connected socket": cf} {
		out, err := child(t, f).Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		if !strings.Contains(string(out), "error: "+ErrNotListening.Error()) {
			t.Errorf("%s: child said %q", name, out)
		}
	}
	// In this process fd 0 is whatever go test gave it; it must not listen.
	if _, err := FCGIStdin(); !errors.Is(err, ErrNotListening) {
		t.Errorf("FCGIStdin in the test process = %v", err)
	}
}
