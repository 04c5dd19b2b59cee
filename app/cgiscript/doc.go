// Package cgiscript runs CGI scripts (RFC 3875) for gatewayd: it is the app
// behind a "cgi" route and gatewayd's replacement for fcgiwrap.
//
// A [Runner] is a plain http.Handler. It reads the request's environment
// from the context ([environ.FromContext]), where the router has put the mount
// prefix in SCRIPT_NAME and the rest of the path in PATH_INFO, and runs
// either the one configured script for the whole mount, or, from a root
// directory, the script named by the first segment of PATH_INFO.
//
// What it does, by section of RFC 3875:
//
//   - 4.1 meta-variables: the child gets the CGI variables of the original
//     request (not a re-derivation of them), the HTTP_* variables except
//     HTTP_PROXY, FCGI_ROLE when a FastCGI front end set it, the daemon
//     variables named in PassEnv and the configured Env — nothing else.
//   - 4.2 request body: streamed to the script's stdin while its output is
//     read; a body without a length (chunked) is spooled to a temporary file
//     first so that the script still gets CONTENT_LENGTH.
//   - 6 response: document, local redirect (served again inside gatewayd
//     through [Runner.Redirect]), client redirect and client redirect with
//     document; LF or CRLF line ends; NPH scripts (names starting "nph-")
//     write a whole HTTP response that is parsed and relayed. Field names
//     are relayed canonical, but Variable-NAME keeps its spelling.
//   - 7 system specifics: the script runs in its own directory, as the
//     root of a process tree that gatewayd holds whole: on Linux, [New]
//     makes the process a child subreaper (orphans of scripts are
//     re-parented to it and reaped, never a child that os/exec waits for),
//     and every script gets a cgroup of its own where cgroup v2 is
//     writable, else a session of its own (tree_linux.go says what each
//     reaches). A timeout, a client that goes away or [Runner.Shutdown]
//     sends SIGTERM to the tree and SIGKILL after a grace period; what the
//     script leaves running when it exits is killed and reaped before its
//     response is complete. PATH_INFO with a ".." segment is refused (400),
//     so PATH_TRANSLATED stays under Root.
//
// The FastCGI Authorizer role (FastCGI 1.0 section 6.3) is supported: a
// script behind a FastCGI listener sees FCGI_ROLE=AUTHORIZER, answers 200
// with Variable-NAME fields to grant (their names reach the web server
// byte-exact) or any other status to deny; see docs/authorizer.md.
//
// Not supported: the Filter role of FastCGI-wrapped scripts, scripts
// selected by a path deeper than one segment under Root, extension mapping
// (.php and friends: run those through an upstream), running scripts as
// another user (use systemd's User= for the whole daemon), and continuation
// lines in a script's response head (RFC 3875 forbids them; they answer
// 502). On platforms without process groups (Windows) the package builds
// but signals only the script itself.
package cgiscript
