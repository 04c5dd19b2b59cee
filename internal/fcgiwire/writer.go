package fcgiwire

import "io"

// Writer writes a byte stream (FCGI_STDIN, FCGI_STDOUT, …) of one request as
// records, one write on w per MaxChunk of input. It is for streams too long
// to append to one buffer, such as a large request body sent while the
// response is read; short streams are cheaper appended with AppendStream.
type Writer struct {
	w   io.Writer
	t   Type
	id  uint16
	buf []byte
}

// NewWriter returns a Writer of records of type t for request id on w.
func NewWriter(w io.Writer, t Type, id uint16) *Writer {
	return &Writer{w: w, t: t, id: id}
}

// Write writes p as records. An empty p writes nothing: only Close ends the
// stream.
func (sw *Writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), MaxChunk)
		sw.buf = AppendRecord(sw.buf[:0], sw.t, sw.id, p[:k])
		if _, err := sw.w.Write(sw.buf); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

// Close writes the empty record that ends the stream. It does not close w.
func (sw *Writer) Close() error {
	sw.buf = AppendRecord(sw.buf[:0], sw.t, sw.id, nil)
	_, err := sw.w.Write(sw.buf)
	return err
}
