#!/bin/sh
# A header line of QUERY_STRING bytes.
printf 'Content-Type: text/plain\nX-Big: '
head -c "$QUERY_STRING" /dev/zero | tr '\0' 'a'
printf '\n\nok\n'
