// Package gofastclient is fcgiupstream's compatibility transport
// (transport: gofast): the FastCGI client of github.com/yookoala/gofast
// v0.8.0 on one upstream connection.
//
// It is a package of its own so that only the programs that offer that
// transport link gofast and what gofast imports (net/http/httptest among
// them): the gatewayd binary does, through its daemon and `gatewayd cgi`;
// gatewayd-cgi, which a web server starts for every request and whose
// package initialisation each request pays, does not. It does not import
// fcgiupstream, whose own tests use it; the Upstream takes it through
// fcgiupstream.Config.Gofast.
package gofastclient

import (
	"io"
	"net"
	"net/http"

	"github.com/yookoala/gofast"
)

// Client is gofast's client on one connection. It runs one request at a
// time.
type Client struct {
	c gofast.Client
}

// New returns gofast's client on nc; its framing goes through nc only,
// so a wrapper of the connection sees every byte.
func New(nc net.Conn) *Client {
	// SimpleClientFactory's client fails only when its dial does: this
	// one hands out nc.
	c, _ := gofast.SimpleClientFactory(func() (net.Conn, error) { return nc, nil })()
	return &Client{c: c}
}

// Do sends r as a FastCGI responder request with params as its PARAMS and
// stdin (nil: no body) as its FCGI_STDIN, and writes the answer to w. The
// upstream's FCGI_STDERR is dropped here: the caller reads it off the
// connection, as it reads the rest of the record stream.
func (c *Client) Do(r *http.Request, params map[string]string, stdin io.ReadCloser, w http.ResponseWriter) error {
	req := &gofast.Request{Raw: r, Role: gofast.RoleResponder, Params: params, Stdin: stdin}
	resp, err := c.c.Do(req)
	if err != nil {
		return err
	}
	return resp.WriteTo(w, io.Discard)
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }
