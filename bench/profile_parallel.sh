#!/bin/bash
# CPU of P lifecycles at once, by phase: perf record -a -g (cpu-clock; this VM has no hardware
# counters) over BATCHES batches of P concurrent `RUNTIME run` of busybox true, then
# bench/phases.py attributes the runtime's samples to syscalls, page faults, libc start-up and
# user code. Same private mount namespace and config as the bench.
#   bench/profile_parallel.sh RUNTIME ROOTFS OUT.data [P=8] [BATCHES=15]
set -euo pipefail
if [ "${HULL_BENCH_IN_NS:-}" != 1 ]; then
    export HULL_BENCH_IN_NS=1
    exec unshare -m --propagation private "$0" "$@"
fi
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then umount /sys/fs/cgroup/unified; fi
rt=$(realpath "${1:?usage: profile_parallel.sh RUNTIME ROOTFS OUT.data [P] [BATCHES]}")
rootfs=$(realpath "${2:?rootfs}")
out=${3:?out.data}
par=${4:-8}
batches=${5:-15}
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d /run/hull-pprof.XXXXXX)
cleanup() {
    for c in $("$rt" --root "$work/root" list -q 2>/dev/null); do
        "$rt" --root "$work/root" delete --force "$c" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
mkdir -p "$work/bundle" "$work/root"
sed "s|@ROOTFS@|$rootfs|" "$here/config.json" >"$work/bundle/config.json"
cat >"$work/batches.sh" <<EOS
for b in \$(seq $batches); do
    for j in \$(seq $par); do "$rt" --root "$work/root" run --bundle "$work/bundle" "pp\$b-\$j" >/dev/null 2>&1 & done
    wait
done
EOS
bash "$work/batches.sh"   # warm-up round
perf record -a -g -e cpu-clock -F 2000 -o "$out" -- bash "$work/batches.sh" >/dev/null 2>&1
python3 "$here/phases.py" "$out" "$(basename "$rt")"
