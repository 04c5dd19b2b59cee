#!/bin/sh
# A 304 with a body it must not have, and a lot of it.
printf 'Status: 304 Not Modified\nETag: "x"\n\n'
head -c 200000 /dev/zero
