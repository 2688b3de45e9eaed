#!/bin/sh
# Broken runtime for the suite's own tests: runc, except that `create`/`run` ignore "hostname"
# (the key is removed from the bundle's config.json, which the suite writes one key a line).
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
case $sub in
    create | run)
        bundle=.
        prev=
        for a in "$@"; do
            case $prev in --bundle | -b) bundle=$a ;; esac
            case $a in --bundle=*) bundle=${a#--bundle=} ;; esac
            prev=$a
        done
        sed -i '/^  "hostname":/d' "$bundle/config.json"
        ;;
esac
exec "$real" "$@"
