#!/bin/sh
# Answers the way a FastCGI authorizer does: Variable- names whose spelling
# the web server keeps, one of them telling the role the script was given.
printf 'Status: 200 OK\r\n'
printf 'Variable-AUTH_USER: alice\r\n'
printf 'variable-Gw_Tier: gold\r\n'
printf 'Variable-ROLE: %s %s\r\n' "${FCGI_ROLE-unset}" "${FCGI_APACHE_ROLE-unset}"
printf 'x-other: 1\r\n\r\n'
