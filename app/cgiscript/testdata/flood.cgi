#!/bin/sh
# Floods stderr: a 20000-byte line, then 3000 short ones; then answers.
head -c 20000 /dev/zero | tr '\0' x >&2
echo >&2
i=0
while [ $i -lt 3000 ]; do echo "line $i" >&2; i=$((i+1)); done
printf 'Content-Type: text/plain\n\nok\n'
