#!/bin/sh
# Writes to stderr and exits with status 3 after a complete response.
echo 'first line' >&2
printf 'second line\r\n' >&2
printf 'Content-Type: text/plain\n\nok\n'
exit 3
