// Package listener opens the sockets gatewayd serves on:
//
//   - "host:port": a TCP listener;
//   - "unix:/path": a unix socket whose file gets a mode of its own
//     (listeners[].socket_mode, default 0660) from the moment it appears, a
//     stale file left by a crashed run replaced, and a live one refused
//     with [ErrInUse]; "unix:@name" is a Linux abstract socket;
//   - the FastCGI listening socket a web server hands over on fd 0
//     (FCGI_LISTENSOCK_FILENO, FastCGI 1.0 section 3.2): [FCGIStdin]; with
//     [ParseWebServerAddrs] and [AllowOnly] for FCGI_WEB_SERVER_ADDRS.
//
// Closing a listener from [Open] does not reset the connections the kernel
// had already queued on it: it removes a unix socket's file first (new
// connects fail), takes the queue, closes the socket, and Accept hands the
// queued connections out before it reports [net.ErrClosed]; a second Close
// closes any nobody took. The servers of gatewayd's front ends serve them
// during their Shutdown. (Linux; elsewhere Close resets them as before.)
//
// systemd socket activation is not here: the daemon takes those sockets from
// github.com/coreos/go-systemd/v22/activation.
//
// Not supported: FCGI_LISTENSOCK_FILENO on Windows (FCGIStdin returns
// [ErrUnsupported]), and FCGI_WEB_SERVER_ADDRS on unix sockets, which have no
// peer address (their file mode is their access control).
package listener
