#!/bin/sh
# A local redirect to itself.
printf 'Location: %s\n\n' "$SCRIPT_NAME"
