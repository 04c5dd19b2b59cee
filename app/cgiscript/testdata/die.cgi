#!/bin/sh
# Starts a response and dies of SIGKILL in the middle of it.
# QUERY_STRING is how many body bytes to write first. Only shell builtins:
# no fork between the head and the death, so that a short answer is not
# pushed out (after 10 ms of quiet) before the script dies.
printf 'Content-Type: text/plain\n\n'
printf "%${QUERY_STRING:-20000}s" ""
kill -9 $$
