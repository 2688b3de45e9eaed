#!/bin/sh
# Run bench/bench.py inside a private mount namespace in which the hybrid host's cgroup2 mount
# (/sys/fs/cgroup/unified) is unmounted, so that crun 1.8 accepts the host; every runtime runs in
# that same namespace, so the comparison stays fair. The host's own mounts are never changed:
# the namespace (and the umount) disappears when the bench exits.
# usage: bench/run.sh [bench.py options]      (see bench/bench.py --help)
set -eu
if [ "${HULL_BENCH_IN_NS:-}" != 1 ]; then
    export HULL_BENCH_IN_NS=1
    exec unshare -m --propagation private "$0" "$@"
fi
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
    umount /sys/fs/cgroup/unified
fi
exec python3 "$(dirname "$0")/bench.py" "$@"
