package client

import (
	"bufio"
	"context"
	"io"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/scgiwire"
)

// doSCGI sends one SCGI request (CONTENT_LENGTH first, SCGI 1, the
// environment) and reads the response to the end of the connection.
func doSCGI(ctx context.Context, t Target, req Request, env environ.Env, out io.Writer) (*Response, error) {
	c, done, err := dial(ctx, t)
	if err != nil {
		return nil, err
	}
	defer done()
	n := int64(0)
	if req.Body != nil {
		n = req.BodyLen
	}
	delete(env, "CONTENT_LENGTH")
	if _, err := c.Write(scgiwire.AppendRequest(nil, env, n)); err != nil {
		return nil, ioError("sending the request", err)
	}
	if req.Body != nil {
		sent := make(chan error, 1)
		go func() {
			_, err := io.Copy(c, io.LimitReader(req.Body, req.BodyLen))
			sent <- err
		}()
		defer func() { _ = c.Close(); <-sent }()
	}
	br := bufio.NewReaderSize(&limited{r: c, max: req.maxBytes()}, 16<<10)
	resp, err := ReadHead(br, DefaultMaxHeadBytes)
	if err != nil {
		return nil, err
	}
	if req.OnHead != nil {
		req.OnHead(resp)
	}
	return resp, copyBody(resp, out, br)
}
