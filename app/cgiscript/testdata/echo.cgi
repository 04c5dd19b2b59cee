#!/bin/sh
# Echoes the request body after a line with CONTENT_LENGTH.
printf 'Content-Type: application/octet-stream\n\n'
printf 'CONTENT_LENGTH=%s\n' "${CONTENT_LENGTH-unset}"
cat
