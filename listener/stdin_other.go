//go:build !unix

package listener

import (
	"fmt"
	"net"
)

// FCGIStdin is not available here: FastCGI's listening socket on fd 0 is a
// unix convention.
func FCGIStdin() (net.Listener, error) {
	return nil, fmt.Errorf("%w: FCGI_LISTENSOCK_FILENO", ErrUnsupported)
}
