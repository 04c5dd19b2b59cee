package cgiscript

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/internal/stderrlog"
)

// Why gatewayd stopped a script.
const (
	reasonNone      int32 = iota
	reasonTimeout         // Timeout passed
	reasonCanceled        // the request's context ended: the client went away
	reasonAbandoned       // the runner needs no more output (bad head, write error)
	reasonShutdown        // Runner.Shutdown
)

// exitDrain is how long the script's stdout and stderr are still read
// after it exited while nothing arrives: a process it left behind (one that
// its tree's kill could not reach) may hold them open, and the response
// ends with the script, not with that process.
const exitDrain = 500 * time.Millisecond

// proc is one running script and the goroutines around it: the waiter
// (reaps it), the supervisor (timeout, cancellation, shutdown), the stdin
// feeder and the stderr logger. The request's own goroutine reads stdout.
type proc struct {
	cmd    *exec.Cmd
	pid    int
	tree   *tree    // the script and everything it starts
	stdout *os.File // read end
	stderr *os.File // read end
	stdin  *os.File // write end; nil when the script reads a file or nothing

	stdinOnce sync.Once
	cancel    context.CancelFunc
	freeSlot  func()      // gives the concurrency slot back
	cutOutput func()      // ends a write to the client that blocks
	writing   atomic.Bool // the request is inside a write to the client

	mu          sync.Mutex
	reaped      bool      // the script was reaped: its pid may be reused
	interrupted bool      // stdout reads are being stopped
	drainBy     time.Time // once the script exited: when stdout reads give up if the pipe stays empty

	reason atomic.Int32
	killed atomic.Bool // SIGKILL was needed

	exited  chan struct{} // closed once the script is reaped
	done    chan struct{} // closed by the request when it is done with the script
	supDone chan struct{} // closed when the supervisor returns
	fed     chan struct{} // closed when the stdin feeder returns
	logged  chan struct{} // closed when stderr is drained
}

// start runs the script with its pipes, in a tree of its own (see
// tree_linux.go).
func start(c *containment, s *script, env []string, body *reqBody) (*proc, error) {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			_ = f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	stdoutR, stdoutW, err := pipe()
	if err != nil {
		return nil, err
	}
	stderrR, stderrW, err := pipe()
	if err != nil {
		closeAll()
		return nil, err
	}
	var stdinR, stdinW *os.File
	var stdin *os.File
	switch {
	case body.file != nil:
		stdin = body.file
	case body.stream != nil:
		if stdinR, stdinW, err = pipe(); err != nil {
			closeAll()
			return nil, err
		}
		stdin = stdinR
	}
	run := func(t *tree) (*exec.Cmd, error) {
		cmd := &exec.Cmd{
			Path:        s.path,
			Args:        []string{s.filename},
			Env:         env,
			Dir:         s.dir,
			Stdout:      stdoutW,
			Stderr:      stderrW,
			SysProcAttr: t.attr(),
		}
		if stdin != nil {
			cmd.Stdin = stdin
		}
		err := cmd.Start()
		if err != nil {
			t.started(nil)
			return nil, err
		}
		t.started(cmd.Process)
		return cmd, nil
	}
	t := c.newTree()
	cmd, err := run(t)
	if err != nil && t.inCgroup() {
		// The kernel may refuse the cgroup (an old kernel, a cgroup it
		// cannot enter): the script still runs, held by its session.
		first := err
		t = c.sessionOnly()
		if cmd, err = run(t); err == nil {
			c.cgroupFailed(first)
		}
	}
	if err != nil {
		closeAll()
		return nil, err
	}
	// The child has its ends now; ours would keep its reads from ending.
	_ = stdoutW.Close()
	_ = stderrW.Close()
	if stdinR != nil {
		_ = stdinR.Close()
	}
	return &proc{
		cmd: cmd, pid: cmd.Process.Pid, tree: t,
		stdout: stdoutR, stderr: stderrR, stdin: stdinW,
		exited:  make(chan struct{}),
		done:    make(chan struct{}),
		supDone: make(chan struct{}),
		fed:     make(chan struct{}),
		logged:  make(chan struct{}),
	}, nil
}

// wait reaps the script. What it left running in its tree is killed
// first, while its pid (its session's and group's id) cannot yet be
// reused; then the tree is waited for and the orphans reaped, so that no
// process of the request outlives it.
func (p *proc) wait() {
	if waitNoReap(p.pid) {
		p.mu.Lock()
		p.tree.kill()
		_ = p.cmd.Wait()
		p.reaped = true
		p.mu.Unlock()
	} else {
		_ = p.cmd.Wait()
		p.mu.Lock()
		p.reaped = true
		p.tree.kill()
		p.mu.Unlock()
	}
	p.tree.release()
	p.startExitDrain()
	close(p.exited)
}

// startExitDrain bounds the stdout reads still to come, now that the
// script has exited, where the pipe's fill level can be told.
func (p *proc) startExitDrain() {
	if _, ok := pipeBuffered(p.stdout); !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drainBy = time.Now().Add(exitDrain)
	if !p.interrupted {
		_ = p.stdout.SetReadDeadline(p.drainBy)
	}
}

// Read reads the script's stdout. Once the script has exited, a read that
// found the pipe empty for exitDrain ends the output with io.EOF; what is
// still in the pipe is read first, however long the client takes.
func (p *proc) Read(b []byte) (int, error) {
	for {
		n, err := p.stdout.Read(b)
		if n > 0 || err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		p.mu.Lock()
		due := !p.interrupted && !p.drainBy.IsZero() && !time.Now().Before(p.drainBy)
		if due {
			if n, _ := pipeBuffered(p.stdout); n > 0 {
				p.drainBy = time.Now().Add(exitDrain)
				_ = p.stdout.SetReadDeadline(p.drainBy)
				p.mu.Unlock()
				continue
			}
		}
		p.mu.Unlock()
		if due {
			return 0, io.EOF
		}
		return n, err
	}
}

// signal sends sig to the script's tree unless it was reaped.
func (p *proc) signal(sig signal) {
	p.mu.Lock()
	if !p.reaped {
		p.tree.signal(sig)
	}
	p.mu.Unlock()
}

// supervise stops the script when the timeout passes, the request's
// context ends or the runner shuts down: stdout reads stop, the group gets
// SIGTERM, and SIGKILL after grace (or at once when killNow closes).
func (p *proc) supervise(ctx context.Context, timeout, grace time.Duration, stop, killNow <-chan struct{}) {
	defer close(p.supDone)
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-p.done:
		return
	case <-tc:
		p.reason.CompareAndSwap(reasonNone, reasonTimeout)
	case <-ctx.Done():
		p.reason.CompareAndSwap(reasonNone, reasonCanceled)
	case <-stop:
		p.reason.CompareAndSwap(reasonNone, reasonShutdown)
	}
	p.interrupt()
	if r := p.reason.Load(); (r == reasonTimeout || r == reasonShutdown) && p.writing.Load() {
		// The response is under way and the client does not take it: it
		// is cut short now, as it would be once the script is gone.
		p.cutOutput()
	}
	p.signal(sigTerm)
	g := time.NewTimer(grace)
	defer g.Stop()
	select {
	case <-p.exited:
		p.freeSlot()
		return
	case <-g.C:
	case <-killNow:
	}
	p.killed.Store(true)
	p.signal(sigKill)
	<-p.exited
	p.freeSlot()
}

// abandon stops the script because its output is no longer wanted.
func (p *proc) abandon() {
	p.reason.CompareAndSwap(reasonNone, reasonAbandoned)
	p.cancel()
}

// interrupt makes the pending and every later stdout read fail.
func (p *proc) interrupt() {
	p.mu.Lock()
	p.interrupted = true
	_ = p.stdout.SetReadDeadline(time.Now())
	p.mu.Unlock()
}

// setReadDeadline sets the stdout deadline unless reads were interrupted;
// it reports whether they were not.
func (p *proc) setReadDeadline(t time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.interrupted {
		return false
	}
	if !p.drainBy.IsZero() && (t.IsZero() || t.After(p.drainBy)) {
		t = p.drainBy
	}
	_ = p.stdout.SetReadDeadline(t)
	return true
}

func (p *proc) isInterrupted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.interrupted
}

func (p *proc) closeStdin() {
	if p.stdin != nil {
		p.stdinOnce.Do(func() { _ = p.stdin.Close() })
	}
}

// feed copies the body to the script's stdin and closes it. It stops when
// the script closes stdin or exits (the write fails) or the body ends.
func (p *proc) feed(body io.Reader, log *zap.Logger) {
	defer close(p.fed)
	bp := bufPool.Get().(*[]byte)
	_, err := io.CopyBuffer(writerOnly{p.stdin}, body, *bp)
	bufPool.Put(bp)
	p.closeStdin()
	if err != nil && !errors.Is(err, os.ErrClosed) {
		log.Debug("stopped feeding the request body to the script", zap.Error(err))
	}
}

// logStderr logs the script's stderr a line at a time, through the one
// bounded relay (internal/stderrlog: 8 KiB a line, 1,000 lines a request).
// Each logged line also goes to the request's error stream when it has one
// (the web server's error log, through FCGI_STDERR), as fcgiwrap does.
func (p *proc) logStderr(log *zap.Logger, obs Observer, name string, errs io.Writer) {
	defer close(p.logged)
	w := stderrlog.New(log, "script stderr", func(line []byte) {
		obs.StderrLine(name)
		if errs != nil {
			_, _ = errs.Write(append(line[:len(line):len(line)], '\n'))
		}
	})
	defer w.Flush()
	var buf [4096]byte
	for {
		n, err := p.stderr.Read(buf[:])
		_, _ = w.Write(buf[:n])
		if err != nil {
			// finish's deadline means "nothing came for exitDrain", as for
			// stdout (Read): what the script wrote before it exited is
			// still in the pipe when this reader fell behind (a slow log
			// on a loaded machine), and is read first.
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if m, _ := pipeBuffered(p.stderr); m > 0 {
					_ = p.stderr.SetReadDeadline(time.Now().Add(exitDrain))
					continue
				}
			}
			return
		}
	}
}

// finish waits for the script and its goroutines once the request is done
// reading stdout.
func (p *proc) finish() {
	_ = p.stdout.Close() // further writes by the script fail
	<-p.exited
	close(p.done)
	<-p.supDone
	p.closeStdin()
	<-p.fed
	_ = p.stderr.SetReadDeadline(time.Now().Add(exitDrain))
	<-p.logged
	_ = p.stderr.Close()
}
