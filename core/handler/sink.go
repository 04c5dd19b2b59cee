package handler

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// A Sink receives a response from the handler: the head once, then the body.
// The handler has applied every response rule before it calls WriteHead; a
// Sink only frames what it is given for its wire.
type Sink interface {
	// WriteHead sends the status and the final header.
	WriteHead(status int, header http.Header) error
	// Write sends body bytes.
	Write(p []byte) (int, error)
	// Flush pushes what was written to the client now; the app asked for it.
	Flush() error
	// Finish is called once when the response is complete and nothing more
	// will be written. A buffered sink flushes here.
	Finish() error
}

// A HeaderSink keeps the response's header map itself, as net/http's
// ResponseWriter does. The core lets the app set its headers in that map
// directly, sparing a map and a copy per response, and always hands the
// same map to WriteHead: for the core's own pages (the 500 page, the 400
// page) it is cleared and filled again.
type HeaderSink interface {
	Sink
	Header() http.Header
}

// streamSink frames the response as bytes: "Status: 200 OK" (gateway) or an
// HTTP/1.x status line with Date and Server (origin server).
type streamSink struct {
	w      *bufio.Writer
	out    io.Writer // what w writes to
	origin bool
	// proto is the status line's version, "HTTP/1.0" or "HTTP/1.1"; "" for an
	// HTTP/0.9 client, which gets the body alone.
	proto string
	h     *Handler
}

func (s *streamSink) WriteHead(status int, header http.Header) error {
	w := s.w
	if s.origin {
		if s.proto == "" {
			return nil
		}
		w.WriteString(s.proto)
		w.WriteByte(' ')
	} else {
		w.WriteString("Status: ")
	}
	w.WriteString(strconv.Itoa(status))
	w.WriteByte(' ')
	w.WriteString(reason(status))
	w.WriteString("\r\n")
	if s.origin {
		if _, ok := header["Content-Length"]; !ok && s.proto == "HTTP/1.1" && bodyAllowed(status) {
			// Nothing else delimits the body: the end of the connection must.
			w.WriteString("Connection: close\r\n")
		}
		if _, ok := header["Date"]; !ok {
			w.WriteString("Date: ")
			w.WriteString(s.h.date())
			w.WriteString("\r\n")
		}
	}
	writeHeader(w, header)
	w.WriteString("\r\n")
	return nil
}

func (s *streamSink) Write(p []byte) (int, error) { return s.w.Write(p) }

// Flush is the app's: after the buffer, out is flushed too when it can
// be, so that a front end that holds small writes back (FastCGI, to send
// a response's last bytes and its end in one write) sends them now.
func (s *streamSink) Flush() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	if f, ok := s.out.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

func (s *streamSink) Finish() error { return s.w.Flush() }

// SetWriteDeadline reaches the front end's writer, where it can bound its
// writes (SCGI's connection), so that an app can cut a blocked write there
// as over HTTP.
func (s *streamSink) SetWriteDeadline(t time.Time) error {
	if d, ok := s.out.(WriteDeadliner); ok {
		return d.SetWriteDeadline(t)
	}
	return http.ErrNotSupported
}

// writeHeader writes the header in sorted order, "Name: value" a line.
func writeHeader(w *bufio.Writer, header http.Header) {
	var keys [32]string
	ks := sortedKeys(keys[:0], header)
	for _, k := range ks {
		for _, v := range header[k] {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
}

func sortedKeys(dst []string, h http.Header) []string {
	for k := range h {
		dst = append(dst, k)
	}
	// Insertion sort: a response has few headers, and this does not allocate.
	for i := 1; i < len(dst); i++ {
		for j := i; j > 0 && dst[j] < dst[j-1]; j-- {
			dst[j], dst[j-1] = dst[j-1], dst[j]
		}
	}
	return dst
}

// reason is the reason phrase for a status, net/http's wording for codes it
// does not know.
func reason(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "status code " + strconv.Itoa(status)
}

// dateCache holds the IMF-fixdate of the current second.
type dateCache struct {
	v atomic.Pointer[cachedDate]
}

type cachedDate struct {
	sec  int64
	text string
}

func (c *dateCache) format(now time.Time) string {
	sec := now.Unix()
	if d := c.v.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &cachedDate{sec: sec, text: now.UTC().Format(http.TimeFormat)}
	c.v.Store(d)
	return d.text
}

var _ Sink = (*streamSink)(nil)
