// Package stderrlog relays an error stream — a CGI script's stderr, a
// FastCGI upstream's FCGI_STDERR — into the log, a line per entry, with
// bounds, so that a program that floods its stderr cannot flood gatewayd's
// log or memory: a line longer than MaxLine bytes is logged in pieces of
// MaxLine, and after MaxLines entries for one request the rest is only
// counted, in one entry at the end. It is the one such relay in gatewayd;
// every app that runs programs or talks to them uses it.
package stderrlog

import (
	"bytes"

	"go.uber.org/zap"
)

// The bounds of one request's relay.
const (
	// MaxLine bounds one logged line; the rest of a longer line is
	// logged as the next entry.
	MaxLine = 8 << 10
	// MaxLines bounds the entries one request may put in the log.
	MaxLines = 1000
)

// Writer is an io.Writer that logs what is written a line at a time, at
// warn level under msg with the line in the field "line". Empty lines are
// left out and a CR before the LF is dropped. It is not safe for
// concurrent use; call Flush once the stream has ended.
type Writer struct {
	log     *zap.Logger
	msg     string
	onLine  func(line []byte)
	buf     []byte
	lines   int
	dropped int
}

// New returns a Writer logging to log under msg. onLine, when not nil, is
// also called with every line that is logged (without its line end; the
// slice is only valid during the call): to count lines for a metric or
// forward them to the web server's error log.
func New(log *zap.Logger, msg string, onLine func(line []byte)) *Writer {
	return &Writer{log: log, msg: msg, onLine: onLine}
}

// Write logs the complete lines in p and keeps a partial one for later. It
// never fails.
func (s *Writer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		end := len(p)
		if i >= 0 {
			end = i
		}
		if room := MaxLine - len(s.buf); end > room {
			s.buf = append(s.buf, p[:room]...)
			p = p[room:]
			s.emit()
			continue
		}
		s.buf = append(s.buf, p[:end]...)
		if i < 0 {
			break
		}
		p = p[i+1:]
		s.emit()
	}
	return n, nil
}

func (s *Writer) emit() {
	line := bytes.TrimRight(s.buf, "\r")
	s.buf = s.buf[:0]
	if len(line) == 0 {
		return
	}
	if s.lines >= MaxLines {
		s.dropped++
		return
	}
	s.lines++
	s.log.Warn(s.msg, zap.String("line", string(line)))
	if s.onLine != nil {
		s.onLine(line)
	}
}

// Flush logs a last line that had no line end, and how many lines were
// left out, under msg + " lines dropped".
func (s *Writer) Flush() {
	s.emit()
	if s.dropped > 0 {
		s.log.Warn(s.msg+" lines dropped", zap.Int("lines", s.dropped), zap.Int("max_lines", MaxLines))
		s.dropped = 0
	}
}
