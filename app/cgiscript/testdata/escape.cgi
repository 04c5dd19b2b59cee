#!/bin/sh
# Starts a grandchild that outlives the script: the subshell that starts it
# exits at once (a double fork), so it is re-parented. Its pid goes to
# $PIDDIR/grandchild.pid. QUERY_STRING words:
#   setsid  the grandchild also leaves the script's session and group
#   hold    the grandchild keeps the script's stdout and stderr open
#   sleep   the script itself sleeps after answering (until killed)
echo $$ > "$PIDDIR/script.pid"
run=
case "$QUERY_STRING" in *setsid*) run=setsid ;; esac
case "$QUERY_STRING" in
*hold*) ( $run sh -c 'echo $$ > "$PIDDIR/grandchild.tmp"; mv "$PIDDIR/grandchild.tmp" "$PIDDIR/grandchild.pid"; exec sleep 60' & ) ;;
*) ( $run sh -c 'echo $$ > "$PIDDIR/grandchild.tmp"; mv "$PIDDIR/grandchild.tmp" "$PIDDIR/grandchild.pid"; exec sleep 60' >/dev/null 2>&1 & ) ;;
esac
while [ ! -s "$PIDDIR/grandchild.pid" ]; do sleep 0.01; done
printf 'Content-Type: text/plain\n\nok\n'
case "$QUERY_STRING" in *sleep*) exec sleep 60 ;; esac
