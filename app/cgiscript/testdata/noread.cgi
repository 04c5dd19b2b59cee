#!/bin/sh
# Answers without reading its stdin; "close" closes stdin and takes a
# moment first.
case "$QUERY_STRING" in close) exec 0<&-; sleep 0.2 ;; esac
printf 'Content-Type: text/plain\n\nok\n'
