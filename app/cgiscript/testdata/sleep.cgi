#!/bin/sh
# Writes its pid and its child's pid to $PIDDIR, then waits on the child.
# QUERY_STRING: "head" answers a head and some body first; "noterm"
# ignores SIGTERM (so does the child).
case "$QUERY_STRING" in *noterm*) trap '' TERM ;; esac
echo $$ > "$PIDDIR/script.pid"
sleep 30 &
echo $! > "$PIDDIR/child.pid"
case "$QUERY_STRING" in *head*)
    printf 'Content-Type: text/plain\n\n'
    head -c 20000 /dev/zero ;;
esac
wait
