package listener

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

func TestParseSocketMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want fs.FileMode
		err  bool
	}{
		{"", 0o660, false},
		{"0660", 0o660, false},
		{"600", 0o600, false},
		{"0777", 0o777, false},
		{"0o660", 0o660, false},
		{"0888", 0, true},
		{"1777", 0, true},
		{"rw", 0, true},
	} {
		got, err := ParseSocketMode(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSocketMode(%q) = %o, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrSocketMode) {
			t.Errorf("ParseSocketMode(%q): %v is not ErrSocketMode", tc.in, err)
		}
	}
}

func TestOpenTCP(t *testing.T) {
	l, err := Open(context.Background(), "127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// A relative socket path is refused as the config refuses it (it used
	// to be opened relative to the working directory).
	for _, bad := range []string{"nonsense", "unix:", "127.0.0.1", "unix:relative.sock"} {
		if _, err := Open(context.Background(), bad, Options{}); !errors.Is(err, ErrAddress) {
			t.Errorf("Open(%q) = %v, want ErrAddress", bad, err)
		}
	}
}

func TestOpenUnix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.sock")
	for _, mode := range []fs.FileMode{0, 0o600, 0o666} {
		l, err := Open(context.Background(), "unix:"+path, Options{SocketMode: mode})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		want := mode
		if want == 0 {
			want = DefaultSocketMode
		}
		if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != want {
			t.Errorf("socket file mode %v, want socket %o", fi.Mode(), want)
		}
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		l.Close()
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket file left after Close: %v", err)
		}
	}
	// Nothing else is left in the directory either.
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in %s: %v", dir, ents)
	}
}

func TestOpenUnixStaleAndLive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	// A stale file: a socket whose server is gone, as after a crash.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	l, err := Open(context.Background(), "unix:"+path, Options{Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer l.Close()
	// A live one is refused, and left alone.
	if _, err := Open(context.Background(), "unix:"+path, Options{}); !errors.Is(err, ErrInUse) {
		t.Errorf("second Open = %v, want ErrInUse", err)
	}
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		t.Fatalf("the live server lost its socket: %v", err)
	}
	c.Close()
	// A regular file is not touched.
	file := filepath.Join(t.TempDir(), "data")
	os.WriteFile(file, []byte("keep me"), 0o600)
	if _, err := Open(context.Background(), "unix:"+file, Options{}); !errors.Is(err, ErrNotSocket) {
		t.Errorf("Open on a regular file = %v, want ErrNotSocket", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Error("regular file changed")
	}
}

func TestOpenUnixAbstract(t *testing.T) {
	if _, err := os.Stat("/proc/self/net/unix"); err != nil {
		t.Skip("abstract sockets are Linux-only")
	}
	name := "@gatewayd-test-" + filepath.Base(t.TempDir())
	l, err := Open(context.Background(), "unix:"+name, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("unix", name)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestParseWebServerAddrs(t *testing.T) {
	got, err := ParseWebServerAddrs(" 127.0.0.1, ::1,,::ffff:10.0.0.1 ")
	want := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"), netip.MustParseAddr("10.0.0.1")}
	if err != nil || len(got) != len(want) {
		t.Fatalf("got %v, %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("addr %d = %v, want %v", i, got[i], want[i])
		}
	}
	if got, err := ParseWebServerAddrs(""); err != nil || got != nil {
		t.Errorf("empty: %v, %v", got, err)
	}
	if _, err := ParseWebServerAddrs("127.0.0.1,example.com"); !errors.Is(err, ErrAddress) {
		t.Errorf("host name: %v, want ErrAddress", err)
	}
}

func TestAllowOnly(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	l := AllowOnly(inner, []netip.Addr{netip.MustParseAddr("127.0.0.2")}, zap.New(core))
	defer l.Close()
	var refused atomic.Int64
	l.(interface{ OnRefused(func()) }).OnRefused(func() { refused.Add(1) })
	accepted := make(chan net.Addr, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c.RemoteAddr()
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	dial := func(from string) (string, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: time.Second}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var b [2]byte
		n, err := c.Read(b[:])
		return string(b[:n]), err
	}
	// 127.0.0.1 is not allowed: closed without a byte, every time, with one
	// log line for the lot (it used to be one line per connection).
	for range 10 {
		if got, err := dial("127.0.0.1"); got != "" || err == nil {
			t.Errorf("from 127.0.0.1: %q, %v; want closed", got, err)
		}
	}
	// Every one is counted (the daemon's refused-connections metric),
	// the ones the log leaves out included.
	if n := refused.Load(); n != 10 {
		t.Errorf("%d refusals counted, want 10", n)
	}
	if n := logs.FilterMessageSnippet("not in FCGI_WEB_SERVER_ADDRS").Len(); n != 1 {
		t.Errorf("%d log lines for 10 refused connections, want 1", n)
	}
	// 127.0.0.2 is.
	if got, err := dial("127.0.0.2"); got != "hi" {
		t.Errorf("from 127.0.0.2: %q, %v", got, err)
	}
	if a := <-accepted; a.(*net.TCPAddr).IP.String() != "127.0.0.2" {
		t.Errorf("accepted %v", a)
	}
	if AllowOnly(inner, nil, nil) != inner {
		t.Error("AllowOnly without addresses must return the listener itself")
	}
}
