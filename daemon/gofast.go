package daemon

import (
	"net"

	"github.com/gatewayd/gatewayd/app/fcgiupstream"
	"github.com/gatewayd/gatewayd/app/fcgiupstream/gofastclient"
)

// Gofast makes the gofast transport's client on an upstream connection,
// as routes.WithGofast takes it: the gatewayd binary offers transport:
// gofast in every mode (serve, check, cgi); gatewayd-cgi, which does not
// link this package, does not.
func Gofast(c net.Conn) fcgiupstream.Client { return gofastclient.New(c) }
