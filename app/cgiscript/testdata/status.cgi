#!/bin/sh
# Status without Content-Type or body, as git http-backend answers 404.
printf 'Status: 404 Not Found\r\nCache-Control: no-cache\r\n\r\n'
