// Package cgiresp is the response side of CGI/1.1 (RFC 3875 section 6) that
// every app which runs a script shares: the response head (header fields up
// to a blank line, with a bound on its size), and the local redirect
// (section 6.2.2), which is served again inside gatewayd rather than sent to
// the client. The CGI script runner (app/cgiscript) reads heads from a
// script's stdout; the FastCGI upstream (app/fcgiupstream) parses them from
// FCGI_STDOUT records; both use this one parser and this one redirect rule,
// so that a script answers the same way whichever runs it, and the count of
// redirects a request followed is one count across apps.
package cgiresp
