package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/logger"
)

// lockedBuffer is a log destination the test reads while the daemon writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRequestLogLinesAreValidJSONWithUniqueKeys: log shippers drop a line
// with a key twice; the lines of a failing request (the core's error line
// and the access line) once carried "protocol" twice.
func TestRequestLogLinesAreValidJSONWithUniqueKeys(t *testing.T) {
	var out lockedBuffer
	cfg, err := config.Parse("listeners:\n  - {protocol: http, address: \"127.0.0.1:0\"}\nmetrics: {address: \"\"}\nlog: {format: json}\n")
	if err != nil {
		t.Fatal(err)
	}
	log, _, err := logger.New(cfg.Log, &out)
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("the app fails") })
	d, err := New(cfg, Options{Log: log, App: app})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	resp, err := http.Get("http://" + d.Addrs()[0].String() + "/fail")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err := d.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 500 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		lines++
		if err := uniqueKeys(sc.Bytes()); err != nil {
			t.Errorf("%v: %s", err, sc.Text())
		}
	}
	if lines < 2 || !strings.Contains(out.String(), `"msg":"request"`) {
		t.Errorf("want the error line and the access line, got:\n%s", out.String())
	}
}

// uniqueKeys checks that line is one JSON object with no key twice.
func uniqueKeys(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("not a JSON object (%v)", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		k := tok.(string)
		if seen[k] {
			return fmt.Errorf("key %q twice", k)
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
	}
	return nil
}
