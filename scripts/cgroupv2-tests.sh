#!/bin/sh
# Guest side of `make test-cgroupv2`: check that this really is a pure cgroup v2 system, then run
# each test executable listed in $1 (one path per line). Stops at the first failing binary.
set -eu
fstype=$(stat -fc %T /sys/fs/cgroup)
if [ "$fstype" != cgroup2fs ]; then
    echo "not a cgroup v2 host: /sys/fs/cgroup is $fstype" >&2
    exit 1
fi
echo "cgroup v2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers); kernel $(uname -r)"
while read -r t; do
    [ -n "$t" ] || continue
    echo "== $t"
    "$t" --test-threads=2
done <"$1"
