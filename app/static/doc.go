// Package static is gatewayd's static file app: it serves the files under a
// root directory by the request's PATH_INFO, so that the same app works
// mounted at "/" or under any prefix (SCRIPT_NAME).
//
// What it does, by RFC 9110 and RFC 9111 as net/http's ServeContent
// implements them: Content-Type from the file name's extension (else by
// sniffing), Last-Modified and a strong ETag made of the file's size and
// modification time, conditional requests (If-None-Match, If-Modified-Since,
// If-Match, If-Unmodified-Since, If-Range) and byte ranges, one or several
// (multipart/byteranges). HEAD is a GET without the body. A directory is
// answered with its index.html; a directory path without a trailing slash is
// redirected (301) to the same path with one, under the mount prefix.
//
// Nothing outside the root is ever served: every open goes through
// [os.Root], so neither ".." nor a symbolic link that leaves the root can
// reach outside it, and a PATH_INFO with a ".." segment or a NUL byte is
// refused (400) before anything is opened. Only regular files and
// directories are served; devices, sockets and FIFOs are not found.
// Dotfiles (a path segment starting with ".", all but /.well-known/) are
// 403 unless Config.AllowDotfiles is set.
//
// Ranges are fitted to the file before ServeContent sees them (RFC 9110
// section 14): "bytes=-0" and every other unsatisfiable or malformed Range
// is 416 with "Content-Range: bytes */LENGTH", unsatisfiable ranges beside
// satisfiable ones are dropped, and another unit, an empty file or more
// than 200 ranges get the whole file.
//
// Not supported: methods other than GET and HEAD (405), directory listings
// unless Config.List is set (otherwise 403), content negotiation and
// precompressed variants (.gz, .br), Cache-Control policies.
package static
