#!/bin/sh
# Counts the bytes of the request body.
printf 'Content-Type: text/plain\n\n'
wc -c | tr -d ' '
