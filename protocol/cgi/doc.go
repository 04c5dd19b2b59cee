// Package cgi is gatewayd's CGI front end: gatewayd run by a web server as a
// CGI/1.1 program (RFC 3875), one request per process.
//
// [Serve] reads the request from the process: the environment (every
// variable, as the web server set it; values are bytes and reach the app
// unchanged, valid UTF-8 or not), exactly CONTENT_LENGTH bytes of standard
// input, and writes the response to standard output through the core
// ([handler.Handler.Serve]), with the error stream on standard error.
// [ServeEnv] is the same with the environment and streams passed in.
//
// The response is in gateway form ("Status: 200 OK", headers, blank line,
// body), which the web server turns into its own answer. It is in origin
// form, a complete HTTP response ("HTTP/1.1 200 OK", Date, Server) that the
// web server passes through unmodified, for a non-parsed-header (NPH)
// script: when the script's name starts with "nph-" (the last segment of
// SCRIPT_NAME, or the base name of SCRIPT_FILENAME) or [Options].NPH is set.
// Apache decides NPH by the file name alone, so the file it runs must be
// named nph-something too (a symlink to gatewayd will do).
//
// IIS, without allowPathInfo on its handler mapping, repeats SCRIPT_NAME at
// the front of PATH_INFO ("/app.cgi" and "/app.cgi/users/7");
// [Options].IISPathDedup removes the copy with [environ.DedupIISPath], the
// rule of wsgiref's IISCGIHandler. PATH_TRANSLATED is left as IIS sent it.
//
// Empty CONTENT_LENGTH and CONTENT_TYPE are dropped, as CGI leaves them
// unset for a request without them.
//
// Not supported: telling the web server that a response was cut short. CGI
// has no way to: when the app fails after the head went out, the output
// simply ends, the failure is logged to standard error and Serve returns an
// error (gatewayd exits with status 1). Also not supported: ISINDEX command
// line arguments (the query is in QUERY_STRING), and a request body without
// CONTENT_LENGTH, which RFC 3875 leaves to the server to de-chunk.
//
// Nothing here is specific to one operating system; the package builds and
// runs on Windows for IIS. There, the environment is UTF-16 and Go converts it
// to UTF-8, so bytes that are not valid UTF-8 cannot occur.
package cgi
