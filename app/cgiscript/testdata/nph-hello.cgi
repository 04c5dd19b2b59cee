#!/bin/sh
# A non-parsed-header script: the whole HTTP response, chunked body included.
printf 'HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nX-Nph: yes\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
printf '4\r\nnph \r\n5\r\nbody\n\r\n0\r\n\r\n'
