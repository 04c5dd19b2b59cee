package fcgiupstream

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gatewayd/core/environ"
)

// relay is the http.ResponseWriter gofast writes the upstream's answer to.
// It holds the head and the first holdBytes of the body back, so that a
// response gofast could not parse, or one the upstream broke off early,
// becomes our 502 or 504 rather than gofast's 500 or a cut-off 200. It
// never fails a write: gofast only ends its goroutines once it has handed
// over everything it read, so after the client went away the rest is thrown
// away (and the request canceled, which closes the connection).
type relay struct {
	w       http.ResponseWriter
	header  http.Header
	status  int
	started bool // the head went to w
	failed  bool // w failed
	each    bool // flush every write: text/event-stream or X-Accel-Buffering: no
	onFail  func()
	held    *[]byte
	writing atomic.Bool   // inside a write to the client
	moved   atomic.Uint64 // writes handed to the client
}

// holdBytes is how much of the body the relay holds back.
const holdBytes = 16 << 10

var (
	relayBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	heldBufs  = sync.Pool{New: func() any { b := make([]byte, 0, holdBytes); return &b }}
)

func (rl *relay) Header() http.Header { return rl.header }

func (rl *relay) WriteHeader(code int) {
	if rl.status == 0 {
		rl.status = code
	}
}

// start sends the head, the upstream's fields less those a gateway must
// not pass on, and what was held back.
func (rl *relay) start() {
	rl.started = true
	h := rl.w.Header()
	for k, vs := range rl.header {
		if environ.IsHopByHop(k) || k == "Status" || k == "X-Accel-Buffering" {
			continue
		}
		h[k] = vs
	}
	if rl.status == 0 {
		rl.status = http.StatusOK
	}
	rl.each = streams(rl.header)
	rl.w.WriteHeader(rl.status)
	if rl.held != nil {
		rl.send(*rl.held)
		rl.release()
	}
}

func (rl *relay) Write(p []byte) (int, error) {
	if !rl.started {
		if rl.held == nil {
			rl.held = heldBufs.Get().(*[]byte)
		}
		if len(*rl.held)+len(p) <= holdBytes && !streams(rl.header) {
			*rl.held = append(*rl.held, p...)
			return len(p), nil
		}
		rl.start()
	}
	rl.send(p)
	return len(p), nil
}

func (rl *relay) send(p []byte) {
	if rl.failed || len(p) == 0 {
		return
	}
	rl.writing.Store(true)
	_, err := rl.w.Write(p)
	rl.writing.Store(false)
	rl.moved.Add(1)
	if err == nil && rl.each {
		err = http.NewResponseController(rl.w).Flush()
		if errors.Is(err, http.ErrNotSupported) {
			err = nil
		}
	}
	if err != nil {
		rl.failed = true
		rl.onFail()
	}
}

// release gives the held-back buffer back.
func (rl *relay) release() {
	if rl.held != nil {
		*rl.held = (*rl.held)[:0]
		heldBufs.Put(rl.held)
		rl.held = nil
	}
}

// ReadFrom copies the body in blocks as large as the upstream's records
// instead of the 1 KiB of gofast's header reader.
func (rl *relay) ReadFrom(src io.Reader) (int64, error) {
	bp := relayBufs.Get().(*[]byte)
	defer relayBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			_, _ = rl.Write(buf[:n])
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// stallCheck is how often a request is checked for a stall.
const stallCheck = 250 * time.Millisecond

// watchdog ends a request whose gofast side has stopped moving: gofast's
// response parser gives up on a bad head (a header line over 1 KiB, a line
// without a colon) without reading the rest of the upstream's output, and
// its reading goroutine then waits forever to hand that output over. Such a
// request is neither reading from the upstream nor writing to the client,
// and makes no progress; two checks in a row like that cancel it.
type watchdog struct {
	mu      sync.Mutex
	t       *time.Timer
	done    bool
	fired   bool
	last    uint64
	strikes int
	c       *upstreamConn
	rl      *relay
	cancel  func()
}

func startWatchdog(c *upstreamConn, rl *relay, cancel func()) *watchdog {
	wd := &watchdog{c: c, rl: rl, cancel: cancel}
	wd.t = time.AfterFunc(stallCheck, wd.check)
	return wd
}

func (wd *watchdog) check() {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if wd.done {
		return
	}
	progress := wd.c.activity.Load() + wd.rl.moved.Load()
	busy := wd.c.reading.Load() || wd.rl.writing.Load()
	if busy || progress != wd.last {
		wd.strikes = 0
	} else {
		wd.strikes++
	}
	wd.last = progress
	if wd.strikes >= 2 {
		wd.fired = true
		wd.cancel()
		return
	}
	wd.t.Reset(stallCheck)
}

// stop ends the checks and reports whether the watchdog canceled the
// request.
func (wd *watchdog) stop() bool {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	wd.done = true
	wd.t.Stop()
	return wd.fired
}

var _ http.ResponseWriter = (*relay)(nil)
