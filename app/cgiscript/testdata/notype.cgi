#!/bin/sh
# A document without Content-Type.
printf 'X-Foo: bar\n\nbody\n'
