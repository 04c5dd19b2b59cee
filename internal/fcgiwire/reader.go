package fcgiwire

import (
	"bufio"
	"fmt"
	"io"
)

// Reader reads records from a bufio.Reader without allocating per record:
// a record that fits the bufio.Reader's buffer is returned in place, a larger
// one is read into a buffer the Reader keeps.
type Reader struct {
	br  *bufio.Reader
	buf []byte // for records larger than br's buffer
}

// NewReader returns a Reader reading from br.
func NewReader(br *bufio.Reader) *Reader { return &Reader{br: br} }

// Reset makes r read from br, keeping its buffer.
func (r *Reader) Reset(br *bufio.Reader) { r.br = br }

// Next reads the next record and returns its header and content; padding is
// skipped. The content is valid until the next call of Next or any other read
// of the bufio.Reader. The end of input between records is io.EOF, inside
// one io.ErrUnexpectedEOF; a version other than 1 is ErrVersion, with the
// record not consumed.
func (r *Reader) Next() (Header, []byte, error) {
	hb, err := r.br.Peek(HeaderLen)
	if err != nil {
		if err == io.EOF && len(hb) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return Header{}, nil, err
	}
	h := ParseHeader(hb)
	if h.Version != Version1 {
		return h, nil, fmt.Errorf("%w: %d", ErrVersion, h.Version)
	}
	r.br.Discard(HeaderLen)
	n := h.Len()
	if n <= r.br.Size() {
		b, err := r.br.Peek(n)
		if err != nil {
			return h, nil, unexpected(err)
		}
		r.br.Discard(n)
		return h, b[:h.ContentLength], nil
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, MaxContent+maxPadding)
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.br, b); err != nil {
		return h, nil, unexpected(err)
	}
	return h, b[:h.ContentLength], nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadRecord reads one whole record from r into buf, grown when it is too
// small, and returns its header and content, which aliases buf (or its
// replacement). It is for tests and one-shot clients; a connection that reads
// many records uses a Reader.
func ReadRecord(r io.Reader, buf []byte) (Header, []byte, error) {
	if cap(buf) < HeaderLen {
		buf = make([]byte, 0, 512)
	}
	if _, err := io.ReadFull(r, buf[:HeaderLen]); err != nil {
		return Header{}, nil, err
	}
	h := ParseHeader(buf[:HeaderLen])
	if h.Version != Version1 {
		return h, nil, fmt.Errorf("%w: %d", ErrVersion, h.Version)
	}
	n := h.Len()
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return h, nil, fmt.Errorf("fcgiwire: reading %v content: %w", h.Type, io.ErrUnexpectedEOF)
	}
	return h, buf[:h.ContentLength], nil
}
