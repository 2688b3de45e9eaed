#!/bin/bash
# containerd-shim-hull-v2 end to end: a private containerd 1.6 (own root, state, sockets, opt dir;
# CRI off) runs busybox with `ctr run --runtime io.containerd.hull.v2`.
#   - run --rm: output and exit code come back through the shim
#   - run -d: task RUNNING, its parent is the shim (subreaper); SIGKILL gives exit status 137
# With MEASURE=1 it also prints the idle shim's RSS/threads next to containerd's Go runc shim
# (io.containerd.runc.v2 with runc) running the same container.
# Environment: HULL_SHIM (shim binary), HULL_BIN (hull, default next to the shim), ROOTFS.
# Output: "ok"/"not ok" lines, exit 1 on any failure. Everything started here is stopped.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
HULL_SHIM=${HULL_SHIM:-$REPO/target/release/containerd-shim-hull-v2}
ROOTFS=${ROOTFS:-$REPO/build/rootfs}
MEASURE=${MEASURE:-0}

# shellcheck source=../../scripts/skip.sh
. "$REPO/scripts/skip.sh"
[ "$(id -u)" = 0 ] || skip_or_fail 0 "needs root"
command -v containerd >/dev/null && command -v ctr >/dev/null || skip_or_fail 0 "containerd/ctr not installed (apt-get install containerd)"
[ -x "$HULL_SHIM" ] || { echo "no shim at $HULL_SHIM (make release)"; exit 1; }
[ -x "$ROOTFS/bin/busybox" ] || { echo "no rootfs at $ROOTFS (make rootfs)"; exit 1; }
if [ -n "${HULL_BIN:-}" ] && [ "$(dirname "$(readlink -f "$HULL_SHIM")")/hull" != "$(readlink -f "$HULL_BIN")" ]; then
    echo "note: the shim uses the hull next to it: $(dirname "$(readlink -f "$HULL_SHIM")")/hull"
fi

T=$(mktemp -d /tmp/hull-shim-e2e.XXXXXX)
NS=hullshim-$$
CD_PID=
FAILED=0
# /run/containerd paths containerd 1.6 uses whatever its config says: remove only what we created
CREATED=()
for d in /run/containerd /run/containerd/s /run/containerd/fifo /run/containerd/runc /run/containerd/hull; do
    [ -e "$d" ] || CREATED=("$d" "${CREATED[@]}")
done

c() { timeout -k 5 60 ctr --address "$T/containerd.sock" --namespace "$NS" "$@"; }

cleanup() {
    set +e
    if [ -n "$CD_PID" ]; then
        for id in $(c task ls -q 2>/dev/null); do c task kill -s SIGKILL "$id" >/dev/null 2>&1; done
        sleep 0.5
        for id in $(c task ls -q 2>/dev/null); do c task delete -f "$id" >/dev/null 2>&1; done
        for id in $(c container ls -q 2>/dev/null); do c container rm "$id" >/dev/null 2>&1; done
        kill "$CD_PID" 2>/dev/null
        wait "$CD_PID" 2>/dev/null
    fi
    # shims left behind by a failure: only processes naming our temp dir
    for p in $(pgrep -f "$T" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    grep -o " ${T}[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
    for d in "/run/containerd/runc/$NS" "/run/containerd/hull/$NS" "${CREATED[@]}"; do
        rmdir "$d" 2>/dev/null
    done
    for cg in /sys/fs/cgroup/*/"$NS" /sys/fs/cgroup/"$NS"; do
        [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; FAILED=1; }
check() { # check WHAT GOT WANT
    if [ "$2" = "$3" ]; then ok "$1 = '$3'"; else notok "$1: got '$2', want '$3'"; fi
}

mkdir -p "$T/opt/bin"
ln -s "$HULL_SHIM" "$T/opt/bin/containerd-shim-hull-v2"
cat >"$T/config.toml" <<CONF
version = 2
root = "$T/root"
state = "$T/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$T/containerd.sock"
[ttrpc]
  address = "$T/containerd.sock.ttrpc"
[debug]
  address = "$T/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/opt"
CONF
containerd --config "$T/config.toml" >"$T/containerd.log" 2>&1 &
CD_PID=$!
for _ in $(seq 100); do ctr --address "$T/containerd.sock" version >/dev/null 2>&1 && break; sleep 0.2; done
ctr --address "$T/containerd.sock" version >/dev/null 2>&1 || { tail -5 "$T/containerd.log"; notok "containerd came up"; exit 1; }

HS=(--runtime io.containerd.hull.v2)

# 1. run --rm: stdout through the fifo, exit code through Wait
out=$(c run --rm "${HS[@]}" --rootfs "$ROOTFS" hs-rm sh -c 'echo hello-from-hull-shim; exit 7' 2>&1)
rc=$?
check "run --rm output" "$out" "hello-from-hull-shim"
check "run --rm exit code" "$rc" 7
check "containers left after --rm" "$(c container ls -q)" ""

# 2. run -d: RUNNING, parent is the shim, SIGKILL → 137
c run -d "${HS[@]}" --rootfs "$ROOTFS" hs-idle /bin/sleep 1000 >/dev/null 2>&1 || notok "run -d"
st=$(c task ls | awk '$1 == "hs-idle" { print $3 }')
check "task status" "$st" RUNNING
pid=$(c task ls | awk '$1 == "hs-idle" { print $2 }')
shim_pid=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
check "container's parent" "$(cat "/proc/$shim_pid/comm" 2>/dev/null)" "containerd-shim"
# containerd decodes the shim's cgroup metrics (v1 or v2 type) into its table
metrics=$(c task metrics hs-idle 2>&1)
check "task metrics pids.current" "$(awk '$1 == "pids.current" { print $2 }' <<<"$metrics")" 1
if [ "$MEASURE" = 1 ]; then
    # memfig PID: "VmRSS kB (RssAnon anon + RssFile file), Pss kB, N threads"
    memfig() {
        local st=/proc/$1/status
        printf '%s kB (anon %s + file %s), Pss %s kB, %s threads' \
            "$(awk '/^VmRSS:/ { print $2 }' "$st")" "$(awk '/^RssAnon:/ { print $2 }' "$st")" \
            "$(awk '/^RssFile:/ { print $2 }' "$st")" "$(awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup")" \
            "$(awk '/^Threads:/ { print $2 }' "$st")"
    }
    c run -d --rootfs "$ROOTFS" rc-idle /bin/sleep 1000 >/dev/null 2>&1 || notok "run -d with the runc shim"
    rpid=$(c task ls | awk '$1 == "rc-idle" { print $2 }')
    rshim=$(awk '/^PPid:/ { print $2 }' "/proc/$rpid/status")
    sleep 2
    echo "# idle shim with one running container (/bin/sleep), VmRSS from /proc/PID/status:"
    echo "#   containerd-shim-hull-v2 (hull): $(memfig "$shim_pid")"
    echo "#     threads: $(cat /proc/"$shim_pid"/task/*/comm | sort | uniq -c | awk '{ printf "%s%s×%s", sep, $2, $1; sep=", " }')"
    echo "#   containerd-shim-runc-v2 (runc): $(memfig "$rshim")"
    echo "#   VmRSS ratio: $(awk -v a="$(awk '/^VmRSS:/ { print $2 }' /proc/"$shim_pid"/status)" \
        -v b="$(awk '/^VmRSS:/ { print $2 }' /proc/"$rshim"/status)" 'BEGIN { printf "%.2f", a / b }')"
    echo "#   binary size: hull shim $(stat -Lc %s "$HULL_SHIM") B, runc shim $(stat -Lc %s "$(readlink -f /proc/"$rshim"/exe)") B"
    c task kill -s SIGKILL rc-idle >/dev/null 2>&1
    # A pod: 1 sandbox + 3 containers with the CRI plugin's annotations, which both shims group
    # into one shim process (io.kubernetes.cri.sandbox-id).
    pod() { # pod PREFIX RUNTIME-ARGS...: start it, print the one shim's pid
        local p=$1 i
        shift
        c run -d "$@" --annotation io.kubernetes.cri.sandbox-id="${p}sb" \
            --annotation io.kubernetes.cri.container-type=sandbox --rootfs "$ROOTFS" "${p}sb" /bin/sleep 1000 >/dev/null 2>&1
        for i in 1 2 3; do
            c run -d "$@" --annotation io.kubernetes.cri.sandbox-id="${p}sb" \
                --annotation io.kubernetes.cri.container-type=container --rootfs "$ROOTFS" "${p}c$i" /bin/sleep 1000 >/dev/null 2>&1
        done
        for i in sb c1 c2 c3; do
            awk '/^PPid:/ { print $2 }' "/proc/$(c task ls | awk -v id="${p}$i" '$1 == id { print $2 }')/status"
        done | sort -u
    }
    hpod=$(pod hp- "${HS[@]}")
    rpod=$(pod rp-)
    check "hull shims for the pod" "$(echo "$hpod" | wc -l)" 1
    check "runc shims for the pod" "$(echo "$rpod" | wc -l)" 1
    sleep 2
    echo "# idle shim serving a pod of 1 sandbox + 3 containers (/bin/sleep):"
    echo "#   containerd-shim-hull-v2 (hull): $(memfig "$hpod")"
    echo "#   containerd-shim-runc-v2 (runc): $(memfig "$rpod")"
    echo "#   VmRSS ratio: $(awk -v a="$(awk '/^VmRSS:/ { print $2 }' /proc/"$hpod"/status)" \
        -v b="$(awk '/^VmRSS:/ { print $2 }' /proc/"$rpod"/status)" 'BEGIN { printf "%.2f", a / b }')"
    for id in hp-sb hp-c1 hp-c2 hp-c3 rp-sb rp-c1 rp-c2 rp-c3; do c task kill -s SIGKILL "$id" >/dev/null 2>&1; done
fi
c task kill -s SIGKILL hs-idle >/dev/null 2>&1 || notok "task kill"
for _ in $(seq 50); do [ "$(c task ls | awk '$1 == "hs-idle" { print $3 }')" = STOPPED ] && break; sleep 0.2; done
check "status after SIGKILL" "$(c task ls | awk '$1 == "hs-idle" { print $3 }')" STOPPED
del=$(c task delete hs-idle 2>&1)
check "task delete" "$?" 0
c container rm hs-idle >/dev/null 2>&1
for _ in $(seq 50); do kill -0 "$shim_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$shim_pid" 2>/dev/null; then notok "shim exits after delete (pid $shim_pid still alive) $del"; else ok "shim exited after delete"; fi

# 3. OOM: TaskOOM reaches containerd before the TaskExit of the killed init
c events >"$T/events" 2>&1 &
events_pid=$!
sleep 0.5
c run --rm "${HS[@]}" --memory-limit 16777216 --rootfs "$ROOTFS" hs-oom \
    dd if=/dev/zero of=/dev/null bs=64M count=1 >/dev/null 2>&1
check "OOM-killed init's exit code" "$?" 137
sleep 0.5
kill "$events_pid" 2>/dev/null; wait "$events_pid" 2>/dev/null
order=$(awk '/hs-oom/ { for (i = 1; i <= NF; i++) if ($i == "/tasks/oom" || $i == "/tasks/exit") print $i }' \
    "$T/events" | head -2 | tr '\n' ' ')
check "events for hs-oom" "$order" "/tasks/oom /tasks/exit "

# 4. binary:// log URI: the logging binary gets the container's stdout on fd 3
printf '#!/bin/sh\nexec 5>&-\n/bin/cat <&3 >"%s/logged.$CONTAINER_ID"\n' "$T" >"$T/logger.sh"
chmod +x "$T/logger.sh"
c run --rm "${HS[@]}" --log-uri "binary://$T/logger.sh?k=v" --rootfs "$ROOTFS" hs-log \
    sh -c 'echo to-the-logger' >/dev/null 2>&1
check "binary:// logger exit" "$?" 0
for _ in $(seq 50); do [ -s "$T/logged.hs-log" ] && break; sleep 0.1; done
check "binary:// logger output" "$(cat "$T/logged.hs-log" 2>/dev/null)" "to-the-logger"

[ "$FAILED" = 0 ] && echo "containerd-e2e: all passed" || echo "containerd-e2e: FAILED"
exit "$FAILED"
