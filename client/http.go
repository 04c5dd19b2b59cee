package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// doHTTP sends one HTTP/1.1 request on a new connection.
func doHTTP(ctx context.Context, t Target, req Request, out io.Writer) (*Response, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, t.Network, t.Address)
			if err != nil {
				return nil, dialError(t, err)
			}
			return c, nil
		},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: DefaultMaxHeadBytes,
	}
	defer tr.CloseIdleConnections()
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
	hresp, err := tr.RoundTrip(hr)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		if isTimeout(err) || ctx.Err() != nil {
			return nil, &Error{Kind: Timeout, Err: fmt.Errorf("waiting for the response: %w", err)}
		}
		return nil, &Error{Kind: Protocol, Err: fmt.Errorf("%w: %w", ErrHead, err)}
	}
	defer hresp.Body.Close()
	resp := &Response{Status: hresp.StatusCode, Header: hresp.Header}
	if _, reason, ok := strings.Cut(hresp.Status, " "); ok {
		resp.Reason = reason
	}
	if req.OnHead != nil {
		req.OnHead(resp)
	}
	return resp, copyBody(resp, out, &limited{r: hresp.Body, max: req.maxBytes()})
}
