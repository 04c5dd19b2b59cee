package scgi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gatewayd/gatewayd/core/environ"
)

// ErrMalformed is wrapped by every error about a request head that breaks
// the protocol.
var ErrMalformed = errors.New("scgi: malformed request")

// ErrHeaderTooLarge is returned (wrapped) when the netstring length is over
// the server's MaxHeaderBytes.
var ErrHeaderTooLarge = errors.New("scgi: header block too large")

// readHead reads one request head from br: the netstring header block, at
// most max bytes of it. It returns the environment as the peer sent it and
// the body length. A peer that closes before the first byte gets io.EOF
// unwrapped.
func readHead(br *bufio.Reader, max int) (environ.Env, int64, error) {
	n, err := readLength(br, max)
	if err != nil {
		return nil, 0, err
	}
	var block string
	if n <= br.Size() {
		// The block fits the reader's buffer: one copy, into the string the
		// names and values share.
		b, err := br.Peek(n)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: reading the %d-byte header block: %w", ErrMalformed, n, noEOF(err))
		}
		block = string(b)
		_, _ = br.Discard(n)
	} else {
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, 0, fmt.Errorf("%w: reading the %d-byte header block: %w", ErrMalformed, n, noEOF(err))
		}
		block = string(b)
	}
	c, err := br.ReadByte()
	if err != nil {
		return nil, 0, fmt.Errorf("%w: reading the netstring's closing comma: %w", ErrMalformed, noEOF(err))
	}
	if c != ',' {
		return nil, 0, fmt.Errorf("%w: header block of %d bytes not followed by ',' but %q", ErrMalformed, n, c)
	}
	return parseHeaders(block)
}

// readLength reads the netstring's "LEN:" prefix.
func readLength(br *bufio.Reader, max int) (int, error) {
	n := 0
	for i := 0; ; i++ {
		c, err := br.ReadByte()
		if err != nil {
			if i == 0 && err == io.EOF {
				return 0, io.EOF
			}
			return 0, fmt.Errorf("%w: reading the netstring length: %w", ErrMalformed, noEOF(err))
		}
		switch {
		case c == ':' && i > 0:
			return n, nil
		case c == ':':
			return 0, fmt.Errorf("%w: netstring without a length", ErrMalformed)
		case c < '0' || c > '9':
			return 0, fmt.Errorf("%w: netstring length holds %q", ErrMalformed, c)
		case i == 1 && n == 0:
			return 0, fmt.Errorf("%w: netstring length has a leading zero", ErrMalformed)
		}
		n = n*10 + int(c-'0')
		if n > max {
			return 0, fmt.Errorf("%w: the netstring announces more than %d bytes", ErrHeaderTooLarge, max)
		}
	}
}

// noEOF turns io.EOF in the middle of a head into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseHeaders splits the header block into the environment and checks the
// protocol's rules: NUL-terminated pairs, non-empty names, CONTENT_LENGTH
// first and decimal, SCGI "1", no name twice.
func parseHeaders(block string) (environ.Env, int64, error) {
	if block == "" {
		return nil, 0, fmt.Errorf("%w: empty header block (CONTENT_LENGTH is required)", ErrMalformed)
	}
	if block[len(block)-1] != 0 {
		return nil, 0, fmt.Errorf("%w: header block does not end in NUL", ErrMalformed)
	}
	nuls := strings.Count(block, "\x00")
	if nuls%2 != 0 {
		return nil, 0, fmt.Errorf("%w: header block ends inside a name (a name without a value)", ErrMalformed)
	}
	// Room for the variables the normalisation may add.
	env := make(environ.Env, nuls/2+6)
	var length int64 = -1
	rest := block
	for first := true; rest != ""; first = false {
		i := strings.IndexByte(rest, 0)
		name := rest[:i]
		rest = rest[i+1:]
		j := strings.IndexByte(rest, 0)
		value := rest[:j]
		rest = rest[j+1:]
		if name == "" {
			return nil, 0, fmt.Errorf("%w: empty header name", ErrMalformed)
		}
		if first {
			if name != "CONTENT_LENGTH" {
				return nil, 0, fmt.Errorf("%w: first header is %q, not CONTENT_LENGTH", ErrMalformed, name)
			}
			n, ok := environ.ParseContentLength(value)
			if !ok {
				return nil, 0, fmt.Errorf("%w: CONTENT_LENGTH %q is not a decimal number", ErrMalformed, value)
			}
			length = n
			if value[0] == '0' && len(value) > 1 {
				value = strconv.FormatInt(n, 10)
			}
		}
		if _, dup := env[name]; dup {
			return nil, 0, fmt.Errorf("%w: header %q sent twice", ErrMalformed, name)
		}
		env[name] = value
	}
	switch v, ok := env["SCGI"]; {
	case !ok:
		return nil, 0, fmt.Errorf("%w: no SCGI header", ErrMalformed)
	case v != "1":
		return nil, 0, fmt.Errorf("%w: SCGI is %q, not \"1\"", ErrMalformed, v)
	}
	return env, length, nil
}
