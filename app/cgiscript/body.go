package cgiscript

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/spool"
)

// bufSize is the size of the buffers that carry bodies: the stdin feeder
// and the stdout copy.
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
	spool   *spool.Body // the body read to its end, when it had no length
}

func (b *reqBody) close() {
	if b.spool != nil {
		_ = b.spool.Close()
	}
}

// prepareBody decides how the body reaches the script. A body with
// CONTENT_LENGTH is streamed; one without (chunked) is read to its end by
// the spooler (internal/spool: memory, then an unlinked temporary file that
// becomes the script's stdin), so that the script gets a CONTENT_LENGTH
// (RFC 3875 section 4.2). A non-zero status is the answer when the body
// cannot be taken.
func (rn *Runner) prepareBody(env environ.Env, r *http.Request, log *zap.Logger) (*reqBody, int) {
	b := &reqBody{}
	hasBody := r.Body != nil && r.Body != http.NoBody
	if cl := env["CONTENT_LENGTH"]; cl != "" {
		n, ok := environ.ParseContentLength(cl)
		if !ok {
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
	b.spooled = true
	sp, err := spool.Read(r.Body, rn.cfg.MaxSpoolBytes, "")
	if err != nil {
		status := spool.Status(err)
		switch status {
		case http.StatusRequestEntityTooLarge:
			log.Info("request body without a length is larger than max_spool_bytes; answered 413",
				zap.Int64("max_spool_bytes", rn.cfg.MaxSpoolBytes))
		case http.StatusLengthRequired:
			log.Debug("request body without a length refused (max_spool_bytes is negative); answered 411")
		case http.StatusBadRequest:
			log.Info("reading a request body without a length", zap.Error(err))
		default:
			log.Error("spooling a request body without a length", zap.Error(err))
		}
		return b, status
	}
	b.spool = sp
	if sp.Size() > 0 {
		b.length = strconv.FormatInt(sp.Size(), 10)
		if f := sp.File(); f != nil {
			b.file = f
			log.Debug("spooled a request body without a length to a file", zap.Int64("bytes", sp.Size()))
		} else {
			b.stream = sp
		}
	}
	return b, 0
}

// writerOnly hides a ReaderFrom, so that io.CopyBuffer uses the buffer it
// is given.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }
