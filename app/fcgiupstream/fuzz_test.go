package fcgiupstream

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
)

// replayConn is an upstream connection that answers with fixed bytes and
// takes whatever is written.
type replayConn struct {
	net.Conn // nil: only the methods below are used
	r        *bytes.Reader
}

func (c *replayConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *replayConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzNativeResponse feeds the native transport's response decoder (records,
// then the head in them) arbitrary upstream answers, seeded from php-fpm's
// real ones in testdata. Whatever comes, the request ends with an answer: a
// complete response only for a well-formed one, and never a panic.
func FuzzNativeResponse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.fcgi")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(helloAnswer)
	f.Add(append(record(typeStdout, 2, []byte("Content-Type: a/b\r\n\r\n")), endRequest(2, 0, 0)...))
	f.Add(endRequest(1, 0, 3))
	u, err := New(Config{Upstream: "unix:/nonexistent", Root: f.TempDir()}, zap.NewNop())
	if err != nil {
		f.Fatal(err)
	}
	defer u.Close()
	f.Fuzz(func(t *testing.T, answer []byte) {
		c := newConn(&replayConn{r: bytes.NewReader(answer)}, time.Minute, true)
		env := environ.Env{"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/a.php"}
		ps := u.paramSet(env, target{script: "a.php"})
		wr, err := u.encode(&ps, nil, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer wr.release()
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/a.php", nil)
		ex := u.exchangeNative(context.Background(), c, rec, r, env, &wr, &reqLog{base: zap.NewNop()})
		switch ex.outcome {
		case OutcomeOK:
			if rec.Code < 200 || rec.Code > 999 {
				t.Errorf("status %d", rec.Code)
			}
			if len(rec.Header()["X-Accel-Buffering"]) > 0 {
				t.Errorf("X-Accel-Buffering passed on")
			}
		case OutcomeProtocol, OutcomeTimeout:
			if ex.cause == nil {
				t.Errorf("%s without a cause", ex.outcome)
			}
		default:
			t.Errorf("outcome %q", ex.outcome)
		}
		if ex.outcome == OutcomeOK && !bytes.Contains(answer, []byte{1, 3, 0, 1}) {
			t.Errorf("complete without an FCGI_END_REQUEST for request 1")
		}
	})
}
