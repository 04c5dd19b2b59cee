// Package spool reads a request body that came without a length (HTTP
// chunked, nginx with fastcgi_request_buffering off) to its end, so that an
// app can pass it on with one: a CGI script needs CONTENT_LENGTH (RFC 3875
// section 4.2), a FastCGI upstream such as php-fpm reads STDIN only up to
// it. The body is kept in memory up to MemBytes and beyond that in a
// temporary file that is unlinked as soon as it is made, so nothing is
// left behind even after a crash. It is the one spooler in gatewayd; the
// answers its errors stand for (411, 413, 400, 500) are the same for every
// app.
package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// MemBytes is how much of a body is kept in memory before it goes to a
// temporary file.
const MemBytes = 64 << 10

// DefaultMaxBytes is the default bound on a spooled body: the cgi and
// fastcgi apps' max_spool_bytes and the FastCGI front end's MaxSpoolBytes
// take it from here.
const DefaultMaxBytes = 64 << 20

var (
	// ErrTooLarge: the body is larger than the limit (413).
	ErrTooLarge = errors.New("spool: request body larger than the limit")
	// ErrLengthRequired: bodies without a length are refused (a negative
	// limit) and this one is not empty (411).
	ErrLengthRequired = errors.New("spool: request body without a length refused")
	// ErrRead wraps a failure to read the body: the client's (400).
	ErrRead = errors.New("spool: reading the request body")
	// ErrWrite wraps a failure to write the temporary file: ours (500).
	ErrWrite = errors.New("spool: writing the request body to a temporary file")
)

// Body is a request body read to its end. Read it, Rewind it to send it
// again, Close it when done.
type Body struct {
	mem  *bytes.Reader
	file *os.File
	size int64
}

// Read reads body to its end: up to MemBytes in memory, the rest in an
// unlinked temporary file in dir ("" for os.TempDir). More than limit bytes
// is ErrTooLarge; a negative limit refuses any body that is not empty with
// ErrLengthRequired. An empty body costs no allocation of a buffer.
func Read(body io.Reader, limit int64, dir string) (*Body, error) {
	// Front ends hand over an empty body without a length for most GETs
	// (nginx sends CONTENT_LENGTH ""): find that out before allocating.
	var first [1]byte
	if n, err := io.ReadFull(body, first[:]); n == 0 {
		if err == io.EOF {
			return &Body{mem: bytes.NewReader(nil)}, nil
		}
		return nil, fmt.Errorf("%w: %w", ErrRead, err)
	}
	switch {
	case limit < 0:
		return nil, ErrLengthRequired
	case limit < 1:
		return nil, ErrTooLarge
	}
	buf := make([]byte, min(MemBytes, limit)+1) // one more byte tells whether it ends there
	buf[0] = first[0]
	n, err := io.ReadFull(body, buf[1:])
	n++
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		if int64(n) > limit {
			return nil, ErrTooLarge
		}
		return &Body{mem: bytes.NewReader(buf[:n]), size: int64(n)}, nil
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrRead, err)
	}
	if int64(n) > limit {
		return nil, ErrTooLarge
	}
	f, err := os.CreateTemp(dir, "gatewayd-spool-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	// Nobody else needs the name; the file goes when it is closed.
	_ = os.Remove(f.Name())
	b := &Body{file: f}
	if _, err := f.Write(buf); err != nil {
		b.Close()
		return nil, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	m, err := io.CopyBuffer(writerOnly{f}, io.LimitReader(body, limit-int64(n)+1), buf)
	if err != nil {
		b.Close()
		if errors.Is(err, errWrite) {
			return nil, fmt.Errorf("%w: %w", ErrWrite, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrRead, err)
	}
	b.size = int64(n) + m
	if b.size > limit {
		b.Close()
		return nil, ErrTooLarge
	}
	if err := b.Rewind(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Status is the HTTP answer for an error of Read: 411, 413, 400 for the
// client's read failures, 500 otherwise.
func Status(err error) int {
	switch {
	case errors.Is(err, ErrLengthRequired):
		return http.StatusLengthRequired
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrRead):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// Size is the body's length.
func (b *Body) Size() int64 { return b.size }

// File is the temporary file that holds the body, positioned at its start
// (a CGI script can have it as its stdin), or nil when the body is in
// memory.
func (b *Body) File() *os.File { return b.file }

func (b *Body) Read(p []byte) (int, error) {
	if b.file != nil {
		return b.file.Read(p)
	}
	return b.mem.Read(p)
}

// Rewind makes the next Read start from the beginning again.
func (b *Body) Rewind() error {
	if b.file != nil {
		if _, err := b.file.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("%w: rewinding: %w", ErrWrite, err)
		}
		return nil
	}
	_, _ = b.mem.Seek(0, io.SeekStart)
	return nil
}

// Close releases the temporary file, if there is one.
func (b *Body) Close() error {
	if b.file != nil {
		return b.file.Close()
	}
	return nil
}

// errWrite marks a failed write to the file, so that Read can tell it from
// a failed read of the body.
var errWrite = errors.New("spool: write")

// writerOnly hides the file's ReadFrom, so that io.CopyBuffer uses the
// buffer it is given, and marks its failures.
type writerOnly struct{ f *os.File }

func (w writerOnly) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = fmt.Errorf("%w: %w", errWrite, err)
	}
	return n, err
}
