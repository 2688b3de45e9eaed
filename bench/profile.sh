#!/bin/bash
# Where does one `RUNTIME run` of busybox `true` spend its time?
#   1. strace -c -f: syscall counts and time, the runtime and every process it forks;
#   2. perf stat (task-clock, page faults, context switches; 20 runs) and perf record -e cpu-clock
#      (where the CPU time goes, kernel included; 30 runs): this VM has no hardware counters;
#   3. valgrind --tool=callgrind: instructions executed (repeatable, unlike time), per process,
#      with the top functions of the runtime's own process.
# Runs in the same private mount namespace as the bench (cgroup2 at /sys/fs/cgroup/unified unmounted).
# usage: bench/profile.sh RUNTIME ROOTFS OUTDIR     (RUNTIME: name in PATH or path)
set -euo pipefail
rt=${1:?usage: profile.sh RUNTIME ROOTFS OUTDIR}
rootfs=$(realpath "${2:?rootfs}")
out=${3:?outdir}
if [ "${HULL_BENCH_IN_NS:-}" != 1 ]; then
    export HULL_BENCH_IN_NS=1
    exec unshare -m --propagation private "$0" "$@"
fi
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
    umount /sys/fs/cgroup/unified
fi
if [ "${rt#*/}" = "$rt" ]; then
    rt=$(command -v "$rt" || PATH=/usr/sbin:/sbin command -v "$rt") || { echo "profile: no runtime $1" >&2; exit 1; }
fi
[ -x "$rt" ] || { echo "profile: $rt is not an executable (build it: make release)" >&2; exit 1; }
name=$(basename "$rt")
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d /run/hull-profile.XXXXXX)
id="hbprof$$"
cleanup() {
    "$rt" --root "$work/root" kill "$id" KILL >/dev/null 2>&1 || true
    "$rt" --root "$work/root" delete --force "$id" >/dev/null 2>&1 || true
    for d in /sys/fs/cgroup/*/"$id"*; do if [ -d "$d" ]; then rmdir "$d" 2>/dev/null || true; fi; done
    if mountpoint -q "$work/ro" 2>/dev/null; then umount "$work/ro"; fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
mkdir -p "$work/bundle" "$work/root"
here=$(dirname "$(realpath "$0")")
sed "s|@ROOTFS@|$rootfs|" "$here/config.json" >"$work/bundle/config.json"

echo "== $name: sanity run"
"$rt" --root "$work/root" run --bundle "$work/bundle" "$id"
echo "ok"

echo
echo "== strace -c -f $name run (busybox true) -> $out/strace-$name.txt"
strace -c -f -o "$out/strace-$name.txt" "$rt" --root "$work/root" run --bundle "$work/bundle" "$id"
head -n 30 "$out/strace-$name.txt"
tail -n 1 "$out/strace-$name.txt"
echo "processes and threads (the runtime, its helpers, the container): $(strace -f -e trace=none -o /dev/stdout "$rt" --root "$work/root" run \
    --bundle "$work/bundle" "$id" 2>/dev/null | grep -c '+++ exited')"

echo
echo "== perf stat (software counters, the runtime and all its children), 20 runs"
perf stat -r 20 -e task-clock,page-faults,context-switches,cpu-migrations -o "$out/perfstat-$name.txt" \
    "$rt" --root "$work/root" run --bundle "$work/bundle" "$id" || echo "perf stat failed"
grep -E 'task-clock|page-faults|context-switches|cpu-migrations|elapsed' "$out/perfstat-$name.txt" || true

echo
echo "== perf record -e cpu-clock (sampling, kernel included; no hardware counters in this VM), 30 runs"
perf record -q -e cpu-clock -F 10000 -g -o "$out/perf-$name.data" -- \
    sh -c "for i in \$(seq 30); do '$rt' --root '$work/root' run --bundle '$work/bundle' '$id' || exit 1; done" \
    || echo "perf record failed"
{
    echo "-- by process and object"
    perf report -i "$out/perf-$name.data" --stdio --no-children -g none --percent-limit 1 \
        --sort comm,dso 2>/dev/null | grep -v '^#' | grep -v '^$'
    echo "-- top symbols"
    perf report -i "$out/perf-$name.data" --stdio --no-children -g none --percent-limit 0.7 \
        --sort sym 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 25
} >"$out/perf-$name.txt" || true
cat "$out/perf-$name.txt"
echo "(full: perf report -i $out/perf-$name.data)"

echo
echo "== valgrind --tool=callgrind $name run (busybox true) -> $out/callgrind.$name.<pid>"
rm -f "$out"/callgrind."$name".*
# Follow the runtime's own re-execs, but not the container's `true` (valgrind is not in the rootfs).
# crun and runc re-execute themselves from a sealed memfd (CVE-2019-5736) unless their binary sits
# on a read-only filesystem and _LIBCONTAINER_CLONED_BINARY is set; valgrind cannot follow an exec of
# a memfd, so here (only here) the runtime runs from a read-only tmpfs copy. Mind that this skips
# the copy they normally pay for (see the execveat in the strace above).
mkdir "$work/ro"
mount -t tmpfs -o size=256m tmpfs "$work/ro"
cp "$rt" "$work/ro/$name"
mount -o remount,ro "$work/ro"
set +e
_LIBCONTAINER_CLONED_BINARY=1 valgrind --tool=callgrind --trace-children=yes --trace-children-skip='*true,/bin/*,/sbin/*' \
    --callgrind-out-file="$out/callgrind.$name.%p" --log-file="$out/valgrind-$name.log" \
    "$work/ro/$name" --root "$work/root" run --bundle "$work/bundle" "$id"
rc=$?
set -e
echo "exit status under valgrind: $rc (log: $out/valgrind-$name.log)"
if [ "$rc" -ne 0 ]; then
    echo "  the run FAILED under valgrind: the counts below are incomplete. Log says:"
    grep -m3 -E 'Failed|rror|unhandled|Unsupported|impossible' "$out/valgrind-$name.log" | sed 's/^/    /' || true
    echo "  (valgrind 3.19 cannot follow crun's memfd re-exec, crashes on Go's runtime (runc), and"
    echo "   does not implement clone3 (ENOSYS): a runtime must fall back to clone to run under it)"
fi
total=0
biggest= ; bigir=0
for f in "$out"/callgrind."$name".*; do
    [ -f "$f" ] || continue
    ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
    cmd=$(awk -F': ' '/^cmd:/ {print $2; exit}' "$f")
    echo "  $(basename "$f"): ${ir:-?} instructions  ($cmd)"
    total=$((total + ${ir:-0}))
    if [ "${ir:-0}" -gt "$bigir" ]; then bigir=$ir; biggest=$f; fi
done
echo "  total: $total instructions"
if [ -n "$biggest" ]; then
    echo
    echo "== top functions (self) in $(basename "$biggest")"
    callgrind_annotate --threshold=95 "$biggest" 2>/dev/null | sed -n '1,45p' | grep -v '^--' || true
fi
"$rt" --root "$work/root" delete --force "$id" >/dev/null 2>&1 || true
exit 0
