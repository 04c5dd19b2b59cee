package fcgiupstream

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// memSpool is how much of a body without a length is kept in memory before
// it goes to a temporary file.
const memSpool = 64 << 10

// spooled is a request body read to its end, to be sent (and sent again) with
// a known length.
type spooled struct {
	mem  *bytes.Reader
	file *os.File
	size int64
}

// spool reads body to its end: up to memSpool bytes in memory, the rest in
// an unlinked temporary file in dir. More than limit bytes is ErrTooLarge.
func spool(body io.Reader, limit int64, dir string) (*spooled, error) {
	// Front ends hand over an empty body without a length for most GETs
	// (nginx sends CONTENT_LENGTH ""): find that out before allocating.
	var first [1]byte
	if n, err := io.ReadFull(body, first[:]); n == 0 {
		if err == io.EOF {
			return &spooled{mem: bytes.NewReader(nil)}, nil
		}
		return nil, fmt.Errorf("fcgiupstream: reading the request body: %w", err)
	}
	if limit < 1 {
		return nil, ErrTooLarge
	}
	buf := make([]byte, min(memSpool, limit+1))
	buf[0] = first[0]
	n, err := io.ReadFull(body, buf[1:])
	n++
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		return &spooled{mem: bytes.NewReader(buf[:n]), size: int64(n)}, nil
	case nil:
	default:
		return nil, fmt.Errorf("fcgiupstream: reading the request body: %w", err)
	}
	if int64(n) > limit {
		return nil, ErrTooLarge
	}
	f, err := os.CreateTemp(dir, "gatewayd-spool-*")
	if err != nil {
		return nil, fmt.Errorf("fcgiupstream: spooling the request body: %w", err)
	}
	// Nobody else needs the name; the file goes when it is closed.
	_ = os.Remove(f.Name())
	s := &spooled{file: f}
	if _, err := f.Write(buf); err != nil {
		s.close()
		return nil, fmt.Errorf("fcgiupstream: spooling the request body: %w", err)
	}
	m, err := io.Copy(f, io.LimitReader(body, limit-int64(n)+1))
	if err != nil {
		s.close()
		return nil, fmt.Errorf("fcgiupstream: spooling the request body: %w", err)
	}
	s.size = int64(n) + m
	if s.size > limit {
		s.close()
		return nil, ErrTooLarge
	}
	if err := s.rewind(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *spooled) Read(p []byte) (int, error) {
	if s.file != nil {
		return s.file.Read(p)
	}
	return s.mem.Read(p)
}

// rewind makes the next Read start from the beginning again.
func (s *spooled) rewind() error {
	if s.file != nil {
		if _, err := s.file.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("fcgiupstream: rewinding the spooled body: %w", err)
		}
		return nil
	}
	_, _ = s.mem.Seek(0, io.SeekStart)
	return nil
}

func (s *spooled) close() {
	if s.file != nil {
		_ = s.file.Close()
	}
}
