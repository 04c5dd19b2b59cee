package fcgiupstream

import (
	"bytes"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// followTests are record streams, as exact bytes, and what the connection
// must make of them.
var followTests = []struct {
	name   string
	in     []byte
	want   streamState
	stderr string
}{
	{
		name: "stdout then end",
		in: []byte{
			0x01, 0x06, 0x00, 0x01, 0x00, 0x02, 0x06, 0x00, 'h', 'i', 0, 0, 0, 0, 0, 0,
			0x01, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
			0x01, 0x03, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00,
		},
		want: streamState{endSeen: true, appStatus: 7, stdout: 2},
	},
	{
		name: "stderr, overloaded",
		in: []byte{
			0x01, 0x07, 0x00, 0x01, 0x00, 0x04, 0x04, 0x00, 'e', 'r', 'r', '\n', 0, 0, 0, 0,
			0x01, 0x03, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
		},
		want:   streamState{endSeen: true, protoStatus: 2},
		stderr: "err\n",
	},
	{
		name: "unpadded stdout, large app status",
		in: []byte{
			0x01, 0x06, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 'a', 'b', 'c',
			0x01, 0x03, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
		},
		want: streamState{endSeen: true, appStatus: 0x80000100, stdout: 3},
	},
	{
		name: "end request cut short",
		in:   []byte{0x01, 0x03, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00},
		want: streamState{},
	},
	{
		name: "end request with a short body is not an end",
		in:   []byte{0x01, 0x03, 0x00, 0x01, 0x00, 0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0},
		want: streamState{},
	},
	{
		name: "bad version",
		in:   []byte{0x02, 0x06, 0x00, 0x01, 0x00, 0x01, 0x07, 0x00, 'x', 0, 0, 0, 0, 0, 0, 0},
		want: streamState{badVersion: true, stdout: 1},
	},
	{
		name: "unknown type skipped",
		in: []byte{
			0x01, 0x0b, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x0c, 0, 0, 0, 0, 0, 0, 0,
			0x01, 0x06, 0x00, 0x01, 0x00, 0x01, 0x07, 0x00, 'x', 0, 0, 0, 0, 0, 0, 0,
		},
		want: streamState{stdout: 1},
	},
}

func followAll(chunks ...[]byte) (streamState, string) {
	var stderr bytes.Buffer
	c := &upstreamConn{stderr: &stderr}
	for _, b := range chunks {
		c.follow(b)
	}
	return c.st, stderr.String()
}

func TestFollow(t *testing.T) {
	for _, tt := range followTests {
		// Whole, split at every point, and a byte at a time: the same.
		st, stderr := followAll(tt.in)
		if st != tt.want || stderr != tt.stderr {
			t.Errorf("%s: %+v %q, want %+v %q", tt.name, st, stderr, tt.want, tt.stderr)
		}
		for i := range tt.in {
			if st, stderr := followAll(tt.in[:i], tt.in[i:]); st != tt.want || stderr != tt.stderr {
				t.Errorf("%s split at %d: %+v %q", tt.name, i, st, stderr)
			}
		}
		var bytewise [][]byte
		for i := range tt.in {
			bytewise = append(bytewise, tt.in[i:i+1])
		}
		if st, stderr := followAll(bytewise...); st != tt.want || stderr != tt.stderr {
			t.Errorf("%s a byte at a time: %+v %q", tt.name, st, stderr)
		}
	}
}

func FuzzFollow(f *testing.F) {
	for _, tt := range followTests {
		f.Add(tt.in, uint16(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		st, stderr := followAll(in)
		i := int(split) % (len(in) + 1)
		st2, stderr2 := followAll(in[:i], in[i:])
		if st != st2 || stderr != stderr2 {
			t.Errorf("split at %d: %+v %q, whole: %+v %q", i, st2, stderr2, st, stderr)
		}
		if st.stdout > int64(len(in)) || len(stderr) > len(in) {
			t.Errorf("more out than in: %+v", st)
		}
	})
}

func TestAlive(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dial := func() (*upstreamConn, net.Conn) {
		nc, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		peer, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return newConn(nc, time.Second, false), peer
	}
	c, peer := dial()
	if !c.alive() {
		t.Error("open connection seen dead")
	}
	peer.Write([]byte("x"))
	if c.alive() {
		t.Error("connection with unasked-for data seen alive")
	}
	c.Close()
	peer.Close()

	c, peer = dial()
	peer.Close()
	if c.alive() {
		t.Error("hung-up connection seen alive")
	}
	c.Close()
	if c.alive() {
		t.Error("closed connection seen alive")
	}
}
