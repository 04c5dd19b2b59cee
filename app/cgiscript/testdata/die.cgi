#!/bin/sh
# Starts a response and dies of SIGKILL in the middle of it.
# QUERY_STRING is how many body bytes to write first.
printf 'Content-Type: text/plain\n\n'
head -c "${QUERY_STRING:-20000}" /dev/zero
kill -9 $$
