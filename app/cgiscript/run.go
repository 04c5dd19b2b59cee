package cgiscript

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
)

// flushDelay is how long the output may pause before what was written is
// pushed to the client: a script that writes in bursts streams, while one
// that writes its whole answer at once still gets a Content-Length.
const flushDelay = 10 * time.Millisecond

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// run starts the script, relays its response and waits for it.
func (rn *Runner) run(ctx context.Context, w http.ResponseWriter, method string, s *script, env []string, body *reqBody, info *handler.Info, free func(), log *zap.Logger) outcome {
	started := time.Now()
	p, err := start(rn.cont, s, env, body)
	if err != nil {
		log.Error("could not start the script", zap.String("path", s.path), zap.Error(err))
		httpError(w, http.StatusInternalServerError)
		return outcome{}
	}
	rn.obs.ScriptStarted(s.name)
	log.Debug("script started", zap.Int("pid", p.pid))
	info.ScriptStarted(s.name, p.pid)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.cancel = cancel
	p.freeSlot = free
	p.cutOutput = func() {
		// A client that stopped reading holds the write; a deadline in the
		// past ends it, where the front end's writer has one.
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now()); err != nil {
			log.Debug("cannot cut a blocked write to the client", zap.Error(err))
		}
	}

	go p.wait()
	var errs io.Writer
	if info := handler.InfoFrom(ctx); info != nil {
		errs = info.Errors
	}
	go p.logStderr(log, rn.obs, s.name, errs)
	if p.stdin != nil {
		go p.feed(body.stream, log)
	} else {
		close(p.fed)
	}
	go p.supervise(ctx, rn.cfg.Timeout, rn.cfg.KillGrace, rn.stop, rn.killNow)

	br := readerPool.Get().(*bufio.Reader)
	br.Reset(p)
	var r response
	if s.nph {
		r = rn.relayNPH(w, method, p, br, log)
	} else {
		r = rn.relay(w, p, br, log)
	}
	br.Reset(nil)
	readerPool.Put(br)
	p.finish()

	return rn.ended(w, s, p, r, time.Since(started), info, log)
}

// response is how relaying the script's output went.
type response struct {
	out outcome
	// relayed: the script's own response went to the client, so its death
	// by a signal makes the response incomplete.
	relayed bool
	// stopped: the output was cut off by gatewayd (reason says why);
	// headWritten tells whether the status was already given.
	stopped     bool
	headWritten bool
}

// ended logs how the script ended and finishes the answer of a stopped one.
func (rn *Runner) ended(w http.ResponseWriter, s *script, p *proc, r response, d time.Duration, info *handler.Info, log *zap.Logger) outcome {
	state := p.cmd.ProcessState
	code := state.ExitCode()
	sig, signaled := exitSignal(state)
	appStatus := code
	if signaled {
		appStatus = 128 + sig
	}
	if info != nil {
		info.AppStatus = appStatus
	}
	reason := p.reason.Load()
	class := ExitOK
	switch {
	case reason == reasonTimeout:
		class = ExitTimeout
	case reason != reasonNone && signaled:
		class = ExitCanceled
	case signaled:
		class = ExitSignal
	case code != 0:
		class = ExitError
	}
	fields := []zap.Field{zap.Int("exit_status", appStatus), zap.Duration("duration", d)}
	if signaled {
		fields = append(fields, zap.Int("signal", sig))
	}
	switch {
	case reason == reasonTimeout:
		rn.obs.ScriptTimedOut(s.name)
		log.Warn("script timed out", append(fields, zap.Duration("timeout", rn.cfg.Timeout))...)
	case reason == reasonShutdown:
		log.Warn("script stopped for shutdown", fields...)
	case reason != reasonNone:
		log.Info("script stopped: its output was no longer wanted", fields...)
	case class == ExitOK:
		log.Debug("script exited", fields...)
	default:
		log.Warn("script exited abnormally", fields...)
	}
	if p.killed.Load() {
		rn.obs.ScriptKilled(s.name)
		log.Warn("script needed SIGKILL after kill_grace", zap.Duration("kill_grace", rn.cfg.KillGrace))
	}
	rn.obs.ScriptEnded(s.name, class, d)

	out := r.out
	if r.stopped {
		switch {
		case r.headWritten:
			out.abort = true
		case reason == reasonTimeout:
			httpError(w, http.StatusGatewayTimeout)
		case reason == reasonShutdown:
			unavailable(w)
		default:
			// The client is gone or the output unwanted: nobody to answer.
			out.abort = true
		}
	} else if r.relayed && signaled && reason == reasonNone {
		out.abort = true
	}
	return out
}

// relay reads a CGI response (RFC 3875 section 6) and answers with it.
func (rn *Runner) relay(w http.ResponseWriter, p *proc, br *bufio.Reader, log *zap.Logger) response {
	h, err := readHead(br, rn.cfg.MaxHeaderBytes)
	if err != nil {
		if p.isInterrupted() {
			return response{stopped: true}
		}
		log.Error("bad response from the script; answered 502", zap.Error(err))
		p.abandon()
		httpError(w, http.StatusBadGateway)
		return response{}
	}
	loc := h.location
	if loc != "" && h.fields == 1 && loc[0] == '/' && !strings.HasPrefix(loc, "//") &&
		rn.Redirect != nil && rn.cfg.MaxRedirects > 0 {
		// Local redirect: the output has nothing more to say, but it is
		// read to the end before the path is served.
		r := p.drain(br, false)
		if !r.stopped {
			r = response{out: outcome{redirect: loc}}
		}
		return r
	}
	status := h.status
	switch {
	case loc != "" && status == 0:
		status = http.StatusFound
	case loc == "" && status == 0 && !h.hasType:
		log.Error("script response has no Content-Type (nor Status or Location); answered 502")
		p.abandon()
		httpError(w, http.StatusBadGateway)
		return response{}
	case status == 0:
		status = http.StatusOK
	}
	hdr := w.Header()
	for k, vs := range h.header {
		if environ.IsHopByHop(k) {
			log.Debug("dropped a hop-by-hop header from the script", zap.String("header", k))
			continue
		}
		hdr[k] = vs
	}
	w.WriteHeader(status)
	if (loc != "" && !h.hasType) || status == http.StatusNoContent || status == http.StatusNotModified {
		// A client redirect without a document, or a status without a
		// body: what the script wrote after the head is not sent.
		return p.drain(br, true)
	}
	return p.copyBody(w, br, false, log)
}

// drain reads the rest of the script's output, which is not sent, to the
// end: a script must be able to finish writing (RFC 3875 section 6.3).
func (p *proc) drain(r io.Reader, headWritten bool) response {
	if _, err := io.Copy(io.Discard, r); err != nil && p.isInterrupted() {
		return response{stopped: true, headWritten: headWritten}
	}
	return response{relayed: true}
}

// relayNPH reads the whole HTTP response of a non-parsed-header script
// (RFC 3875 section 5) and relays its status, header and body unbuffered.
func (rn *Runner) relayNPH(w http.ResponseWriter, method string, p *proc, br *bufio.Reader, log *zap.Logger) response {
	lim := &headLimit{r: p, n: rn.cfg.MaxHeaderBytes}
	br.Reset(lim)
	req := &http.Request{Method: method}
	var resp *http.Response
	var err error
	for range 4 { // interim responses are skipped
		resp, err = http.ReadResponse(br, req)
		if err != nil || resp.StatusCode >= 200 {
			break
		}
	}
	if err == nil && resp.StatusCode < 200 {
		err = errors.New("cgiscript: only interim responses")
	}
	if err != nil {
		if p.isInterrupted() {
			return response{stopped: true}
		}
		if lim.n <= 0 {
			err = errHeadTooLarge
		}
		log.Error("bad response from the nph script; answered 502", zap.Error(err))
		p.abandon()
		httpError(w, http.StatusBadGateway)
		return response{}
	}
	lim.off = true
	hdr := w.Header()
	for k, vs := range resp.Header {
		if !environ.IsHopByHop(k) {
			hdr[k] = vs
		}
	}
	w.WriteHeader(resp.StatusCode)
	r := p.copyBody(w, resp.Body, true, log)
	if r.relayed {
		// The body may end before the output does (HEAD, Content-Length).
		r = p.drain(br, true)
	}
	return r
}

// headLimit lets at most n bytes through until off is set.
type headLimit struct {
	r   io.Reader
	n   int
	off bool
}

func (l *headLimit) Read(b []byte) (int, error) {
	if l.off {
		return l.r.Read(b)
	}
	if l.n <= 0 {
		return 0, errHeadTooLarge
	}
	if len(b) > l.n {
		b = b[:l.n]
	}
	n, err := l.r.Read(b)
	l.n -= n
	return n, err
}

// copyBody copies the script's body to the client. It pushes what was
// written when the output pauses for flushDelay, or after every write when
// flushEach is set (NPH).
func (p *proc) copyBody(w http.ResponseWriter, src io.Reader, flushEach bool, log *zap.Logger) response {
	rc := http.NewResponseController(w)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	// The head counts as written: it too is pushed when the body is slow.
	pending, idle := true, false
	for {
		if pending && !idle && !flushEach {
			if !p.setReadDeadline(time.Now().Add(flushDelay)) {
				return response{stopped: true, headWritten: true}
			}
			idle = true
		}
		n, err := src.Read(buf)
		if n > 0 {
			p.writing.Store(true)
			if p.isInterrupted() {
				// Stopped: not one more write that could block.
				p.writing.Store(false)
				return response{stopped: true, headWritten: true}
			}
			_, werr := w.Write(buf[:n])
			p.writing.Store(false)
			if werr != nil {
				if p.isInterrupted() {
					return response{stopped: true, headWritten: true}
				}
				log.Info("writing the script's response failed; stopping the script", zap.Error(werr))
				p.abandon()
				return response{stopped: true, headWritten: true}
			}
			pending = true
			if flushEach {
				if ferr := flush(rc); ferr != nil {
					p.abandon()
					return response{stopped: true, headWritten: true}
				}
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && !p.isInterrupted() {
			if ferr := flush(rc); ferr != nil {
				p.abandon()
				return response{stopped: true, headWritten: true}
			}
			pending, idle = false, false
			if !p.setReadDeadline(time.Time{}) {
				return response{stopped: true, headWritten: true}
			}
			continue
		}
		if p.isInterrupted() {
			return response{stopped: true, headWritten: true}
		}
		if errors.Is(err, io.EOF) {
			return response{relayed: true}
		}
		log.Warn("reading the script's output failed", zap.Error(err))
		p.abandon()
		return response{stopped: true, headWritten: true}
	}
}

// flush pushes what was written to the client; a writer that cannot flush
// is not an error.
func flush(rc *http.ResponseController) error {
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}
