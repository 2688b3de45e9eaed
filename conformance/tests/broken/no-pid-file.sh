#!/bin/sh
# Broken runtime for the suite's own tests: runc, except that `create` drops --pid-file.
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
skip=0
for a in "$@"; do
    shift
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    case $a in
        --pid-file) skip=1; continue ;;
        --pid-file=*) continue ;;
    esac
    set -- "$@" "$a"
done
exec "$real" "$@"
