package routes

import (
	"fmt"
	"net"

	"github.com/gatewayd/gatewayd/app/fcgiupstream"
	"github.com/gatewayd/gatewayd/config"
)

// An Option gives the route table what its program links beyond the apps
// themselves.
type Option func(*options)

type options struct {
	gofast func(net.Conn) fcgiupstream.Client
}

// WithGofast offers fastcgi routes the gofast transport (transport: gofast),
// with newClient making its client on each upstream connection
// (gofastclient.New). The gatewayd binary passes it; gatewayd-cgi does not,
// so that it links neither gofast nor what gofast imports, and a route that
// asks for that transport is a config error there.
func WithGofast(newClient func(net.Conn) fcgiupstream.Client) Option {
	return func(o *options) { o.gofast = newClient }
}

// checkLinked refuses a route that needs what the program did not link, by
// its key, saying where to find it.
func checkLinked(cfg *config.Config, o options) error {
	for i, rc := range cfg.Routes {
		if rc.App == "fastcgi" && rc.Transport == fcgiupstream.TransportGofast && o.gofast == nil {
			return fmt.Errorf("%w: routes[%d].transport: gofast is not in this program (gatewayd-cgi leaves it out to start faster): "+
				"serve this route with the gatewayd binary (gatewayd cgi), or use transport: native", config.ErrInvalid, i)
		}
	}
	return nil
}
