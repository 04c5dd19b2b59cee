package fastcgi

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Errors an app's body read returns, besides io.ErrUnexpectedEOF (the
// connection closed) and context.Canceled (FCGI_ABORT_REQUEST).
var (
	// ErrBodyTooLong: the web server sent more FCGI_STDIN than
	// CONTENT_LENGTH. The app reads CONTENT_LENGTH bytes, then this error.
	ErrBodyTooLong = errors.New("fastcgi: FCGI_STDIN longer than CONTENT_LENGTH")
	// ErrBodyTooLarge: a body spooled to disk went over MaxSpoolBytes.
	ErrBodyTooLarge = errors.New("fastcgi: request body over max spool bytes")
)

type bodyState int

const (
	bodyMemory  bodyState = iota // the bytes go to the memory buffer
	bodyFull                     // the buffer is full
	bodyDiscard                  // the request is over or its body failed
)

// bodyBuffer is a request's FCGI_STDIN as the app reads it. The connection's
// reader pushes records in; the app's goroutine reads them out. Up to the
// server's BodyBuffer bytes wait in memory; past that the reader either
// waits (a connection that carries only this request) or spools to an
// unlinked file, so that it can go on reading other requests' records.
type bodyBuffer struct {
	mu       sync.Mutex
	chunks   [][]byte
	head     int // first chunk not fully read
	off      int // read offset in chunks[head]
	buffered int
	eof      bool
	err      error
	closed   bool
	ready    chan struct{} // wakes a waiting Read
	room     chan struct{} // wakes the connection's reader waiting for room

	file       *os.File
	unlinked   bool
	wpos, rpos int64 // spooled bytes are file[rpos:wpos]
}

func signal(ch chan struct{}) {
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// state says where n more bytes go.
func (b *bodyBuffer) state(n, limit int) bodyState {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed || b.err != nil:
		return bodyDiscard
	case b.wpos > b.rpos:
		// Keep the order: once spooling, the rest follows in the file.
		return bodyFull
	case b.buffered == 0 || b.buffered+n <= limit:
		return bodyMemory
	}
	if b.room == nil {
		b.room = make(chan struct{}, 1)
	}
	return bodyFull
}

func (b *bodyBuffer) push(chunk []byte) {
	b.mu.Lock()
	if !b.closed {
		b.chunks = append(b.chunks, chunk)
		b.buffered += len(chunk)
		signal(b.ready)
	}
	b.mu.Unlock()
}

func (b *bodyBuffer) spool(chunk []byte, s *Server) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.err != nil {
		return nil
	}
	if b.wpos+int64(len(chunk)) > s.lim.maxSpool {
		b.err = ErrBodyTooLarge
		signal(b.ready)
		return ErrBodyTooLarge
	}
	if b.file == nil {
		f, unlinked, err := spoolFile(s.SpoolDir)
		if err != nil {
			b.err = err
			signal(b.ready)
			return err
		}
		b.file, b.unlinked = f, unlinked
	}
	if _, err := b.file.WriteAt(chunk, b.wpos); err != nil {
		b.err = err
		signal(b.ready)
		return err
	}
	b.wpos += int64(len(chunk))
	signal(b.ready)
	return nil
}

// end marks the end of the stream.
func (b *bodyBuffer) end() {
	b.mu.Lock()
	b.eof = true
	signal(b.ready)
	b.mu.Unlock()
}

// fail makes reads fail with err once the bytes before it are read.
func (b *bodyBuffer) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	signal(b.ready)
	signal(b.room)
	b.mu.Unlock()
}

// close drops what is left, when the request is over.
func (b *bodyBuffer) close() {
	b.mu.Lock()
	b.closed = true
	b.chunks, b.head, b.off, b.buffered = nil, 0, 0, 0
	if b.file != nil {
		b.file.Close()
		if !b.unlinked {
			os.Remove(b.file.Name())
		}
		b.file = nil
		b.wpos, b.rpos = 0, 0
	}
	signal(b.room)
	b.mu.Unlock()
}

func (b *bodyBuffer) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.closed {
			return 0, io.ErrClosedPipe
		}
		if b.buffered > 0 {
			n := 0
			for n < len(p) && b.buffered > 0 {
				c := b.chunks[b.head][b.off:]
				k := copy(p[n:], c)
				n += k
				b.off += k
				b.buffered -= k
				if k == len(c) {
					b.chunks[b.head] = nil
					b.head++
					b.off = 0
				}
			}
			if b.buffered == 0 {
				b.chunks, b.head = b.chunks[:0], 0
			}
			signal(b.room)
			return n, nil
		}
		if b.wpos > b.rpos {
			k := int(min(int64(len(p)), b.wpos-b.rpos))
			n, err := b.file.ReadAt(p[:k], b.rpos)
			b.rpos += int64(n)
			if b.rpos == b.wpos {
				// All read: the memory buffer takes over again and the
				// file is reused from its start.
				b.rpos, b.wpos = 0, 0
			}
			signal(b.room)
			if n == 0 && err != nil {
				return 0, err
			}
			return n, nil
		}
		if b.err != nil {
			return 0, b.err
		}
		if b.eof {
			return 0, io.EOF
		}
		if b.ready == nil {
			b.ready = make(chan struct{}, 1)
		}
		ready := b.ready
		b.mu.Unlock()
		<-ready
		b.mu.Lock()
	}
}

// spoolFile creates a temporary file for a request body, unlinked at once
// where the system allows it; unlinked reports whether it was.
func spoolFile(dir string) (f *os.File, unlinked bool, err error) {
	f, err = os.CreateTemp(dir, "gatewayd-fastcgi-body-*")
	if err != nil {
		return nil, false, fmt.Errorf("fastcgi: creating a body spool file: %w", err)
	}
	return f, os.Remove(f.Name()) == nil, nil
}
