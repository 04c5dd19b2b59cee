#!/bin/sh
# A FastCGI authorizer as a CGI script, for a gatewayd "cgi" route behind
# Apache's mod_authnz_fcgi (docs/authorizer.md). It grants the request
# that carries "X-Token: alice-token", asks for a token when there is none,
# and denies the rest. The web server sends it no body.
if [ "$FCGI_ROLE" != AUTHORIZER ]; then
	# Reached as a responder (a plain request): this script only authorizes.
	printf 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n'
	printf 'this program only authorizes\n'
	exit 0
fi
case "$HTTP_X_TOKEN" in
"")
	printf 'Status: 401 Unauthorized\r\n'
	printf 'WWW-Authenticate: Bearer realm="gatewayd"\r\n'
	printf 'Content-Type: text/plain\r\n\r\n'
	printf 'a token is required\n'
	;;
alice-token)
	# 200 grants. Each Variable-NAME becomes the variable NAME of the
	# request, spelled exactly so: AUTH_USER here, REMOTE_USER by UserExpr.
	printf 'Status: 200 OK\r\n'
	printf 'Variable-AUTH_USER: alice\r\n'
	printf 'Variable-GW_TIER: gold\r\n\r\n'
	;;
*)
	printf 'Status: 403 Forbidden\r\nContent-Type: text/plain\r\n\r\n'
	printf 'that token is not welcome\n'
	;;
esac
