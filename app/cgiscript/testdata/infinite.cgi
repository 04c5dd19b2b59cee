#!/bin/sh
# Writes its pid to $PIDDIR and then output without end.
echo $$ > "$PIDDIR/script.pid"
printf 'Content-Type: text/plain\n\n'
exec yes 'infinite output'
