package cgiscript

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
)

// bufSize is the size of the buffers that carry bodies: the spool's memory
// part, the stdin feeder and the stdout copy.
const bufSize = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// reqBody is how the request body reaches the script.
type reqBody struct {
	// length is CONTENT_LENGTH for the script; "" when there is no body.
	length string
	// stream is copied to the script's stdin through a pipe; nil for none.
	stream io.Reader
	// file is a spooled body, given to the script as its stdin.
	file *os.File
	// spooled reports that the body arrived without a length.
	spooled bool
	buf     *[]byte // the pooled buffer behind a body spooled in memory
}

func (b *reqBody) close() {
	if b.file != nil {
		name := b.file.Name()
		_ = b.file.Close()
		_ = os.Remove(name) // already gone where an open file can be unlinked
	}
	if b.buf != nil {
		bufPool.Put(b.buf)
		b.buf = nil
	}
}

// prepareBody decides how the body reaches the script. A body with
// CONTENT_LENGTH is streamed; one without (chunked) is read first, in
// memory up to bufSize and in a temporary file beyond, so that the script
// gets a CONTENT_LENGTH (RFC 3875 section 4.2). A non-zero status is the
// answer when the body cannot be taken.
func (rn *Runner) prepareBody(env environ.Env, r *http.Request, log *zap.Logger) (*reqBody, int) {
	b := &reqBody{}
	hasBody := r.Body != nil && r.Body != http.NoBody
	if cl := env["CONTENT_LENGTH"]; cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			log.Warn("bad CONTENT_LENGTH in the request", zap.String("content_length", cl))
			return b, http.StatusBadRequest
		}
		b.length = strconv.FormatInt(n, 10)
		if n > 0 && hasBody {
			b.stream = io.LimitReader(r.Body, n)
		}
		return b, 0
	}
	if !hasBody {
		return b, 0
	}
	max := rn.cfg.MaxSpoolBytes
	if max < 0 {
		return b, http.StatusLengthRequired
	}
	b.spooled = true
	body := io.LimitReader(r.Body, max+1)
	b.buf = bufPool.Get().(*[]byte)
	n, err := io.ReadFull(body, *b.buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		if int64(n) > max {
			return b, http.StatusRequestEntityTooLarge
		}
		if n > 0 {
			b.length = strconv.Itoa(n)
			b.stream = bytes.NewReader((*b.buf)[:n])
		}
		return b, 0
	case err != nil:
		log.Info("reading a request body without a length", zap.Error(err))
		return b, http.StatusBadRequest
	}

	f, err := os.CreateTemp("", "gatewayd-cgi-body-*")
	if err != nil {
		log.Error("spooling a request body without a length", zap.Error(err))
		return b, http.StatusInternalServerError
	}
	b.file = f
	_ = os.Remove(f.Name()) // unlinked while open: nothing is left behind on a crash
	if _, err := f.Write((*b.buf)[:n]); err != nil {
		log.Error("spooling a request body without a length", zap.Error(err))
		return b, http.StatusInternalServerError
	}
	rest, err := io.CopyBuffer(writerOnly{f}, body, *b.buf)
	if err != nil {
		// A read error is the client's; a write error the disk's.
		log.Info("spooling a request body without a length", zap.Error(err))
		return b, http.StatusBadRequest
	}
	total := int64(n) + rest
	if total > max {
		log.Info("request body without a length is larger than max_spool_bytes; answered 413",
			zap.Int64("max_spool_bytes", max))
		return b, http.StatusRequestEntityTooLarge
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		log.Error("spooling a request body without a length", zap.Error(err))
		return b, http.StatusInternalServerError
	}
	bufPool.Put(b.buf)
	b.buf = nil
	b.length = strconv.FormatInt(total, 10)
	log.Debug("spooled a request body without a length to a file", zap.Int64("bytes", total))
	return b, 0
}

// writerOnly hides a ReaderFrom, so that io.CopyBuffer uses the buffer it
// is given.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }
