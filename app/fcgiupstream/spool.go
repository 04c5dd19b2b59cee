package fcgiupstream

import (
	"errors"
	"fmt"
	"io"

	bodyspool "github.com/gatewayd/gatewayd/internal/spool"
)

// memSpool is how much of a body is kept in memory before it goes to a
// temporary file.
const memSpool = bodyspool.MemBytes

// spooled is a request body read to its end by the one spooler
// (internal/spool), to be sent (and sent again) with a known length.
type spooled struct {
	*bodyspool.Body
	size int64
}

// spool reads body to its end: in memory first, the rest in an unlinked
// temporary file in dir. More than limit bytes is ErrTooLarge.
func spool(body io.Reader, limit int64, dir string) (*spooled, error) {
	b, err := bodyspool.Read(body, limit, dir)
	switch {
	case errors.Is(err, bodyspool.ErrTooLarge) || errors.Is(err, bodyspool.ErrLengthRequired):
		return nil, ErrTooLarge
	case err != nil:
		return nil, fmt.Errorf("fcgiupstream: %w", err)
	}
	return &spooled{Body: b, size: b.Size()}, nil
}

// rewind makes the next Read start from the beginning again.
func (s *spooled) rewind() error { return s.Rewind() }

func (s *spooled) close() { _ = s.Close() }
