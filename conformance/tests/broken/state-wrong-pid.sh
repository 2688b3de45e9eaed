#!/bin/sh
# Broken runtime for the suite's own tests: runc, except that `state` reports pid 1 (the host's
# init) instead of the container process.
real=${HULL_REAL_RUNTIME:-/usr/sbin/runc}
# the subcommand: the first word after the global options
sub=
prev=
for a in "$@"; do
    case $prev in --root | --log | --log-format) prev=; continue ;; esac
    case $a in -*) prev=$a; continue ;; esac
    sub=$a
    break
done
if [ "$sub" = state ]; then
    out=$("$real" "$@") || exit $?
    printf '%s\n' "$out" | sed 's/"pid": *[0-9][0-9]*/"pid": 1/'
    exit 0
fi
exec "$real" "$@"
