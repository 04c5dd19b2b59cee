package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// doHTTP sends one HTTP/1.1 request on a connection of its own (closed
// after the response) and reads the answer with net/http's parser, under
// the same deadline and byte bound as the other protocols.
func doHTTP(ctx context.Context, t Target, req Request, out io.Writer) (*Response, error) {
	var body io.Reader
	if req.Body != nil {
		body = io.LimitReader(req.Body, req.BodyLen)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method(), "http://"+t.Address+req.Path, body)
	if err != nil {
		return nil, fail(Usage, "the path %q: %w", req.Path, err)
	}
	if body != nil {
		hr.ContentLength = req.BodyLen
	}
	for k, v := range req.Header {
		hr.Header[http.CanonicalHeaderKey(k)] = v
	}
	if h := hr.Header.Get("Host"); h != "" {
		hr.Host = h
	}
	hr.Close = true

	c, done, err := dial(ctx, t)
	if err != nil {
		return nil, err
	}
	defer done()
	// The request goes while the answer is read: a server may answer
	// before it has read the body.
	sent := make(chan error, 1)
	go func() { sent <- hr.Write(c) }()
	defer func() { _ = c.Close(); <-sent }()

	br := bufio.NewReaderSize(&limited{r: c, max: req.maxBytes()}, 16<<10)
	hresp, err := http.ReadResponse(br, hr)
	if err != nil {
		var e *Error
		switch {
		case errors.As(err, &e):
			return nil, err
		case isTimeout(err):
			return nil, &Error{Kind: Timeout, Err: fmt.Errorf("waiting for the response: %w", err)}
		}
		return nil, &Error{Kind: Protocol, Err: fmt.Errorf("%w: %w", ErrHead, err)}
	}
	defer hresp.Body.Close()
	if hresp.StatusCode < 200 || hresp.StatusCode > 999 {
		return nil, &Error{Kind: Protocol, Err: fmt.Errorf("%w: status %q", ErrHead, hresp.Status)}
	}
	resp := &Response{Status: hresp.StatusCode, Header: hresp.Header}
	_, resp.Reason, _ = strings.Cut(hresp.Status, " ")
	if req.OnHead != nil {
		req.OnHead(resp)
	}
	return resp, copyBody(resp, out, hresp.Body)
}
