#!/bin/bash
# bench/pods.sh — the "pods" section of `make bench` (bench/pods_bench.py): kubelet-style pods
# through containerd's CRI (private containerd 1.6 of e2e/cri-daemon.sh, driven by crictl), for
# the runtime handlers "runc" (containerd-shim-runc-v2 + runc) and "hull" (containerd-shim-hull-v2
# + hull) of the same daemon.
#
#   bench/pods.sh [--rootfs DIR] [--hull BIN] [--shim BIN] [--runs N] [--rss-pods M]
#
# 1. pod start: wall time of RunPodSandbox + CreateContainer + StartContainer (three crictl
#    calls, busybox `sleep`), N times per handler, handlers alternating round-robin per
#    iteration; each pod torn down (stopp + rmp, shim gone) outside the timed part.
# 2. RSS per pod: M pods per handler (round-robin), one up at a time: pause + 3 `sleep`
#    containers, then the summed VmRSS (and Pss) of the runtime processes alive for it: the
#    pod's shim(s) and any process of the runtime binary (runc / hull) still running for the
#    daemon; the container processes themselves are not counted.
# stdout: one JSON object {"containerd", "crictl", "handlers": {H: {"start_ms": [...],
# "rss_kb": [...], "pss_kb": [...], "procs": [...], "error": null|"..."}}}; progress on stderr.
# Everything (daemon, shims, pods, netns, cgroups, mounts, temp dir) is removed on exit.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
ROOTFS=$REPO/build/rootfs
HULL_BIN=$REPO/target/release/hull
HULL_SHIM=$REPO/target/release/containerd-shim-hull-v2
RUNS=20
RSS_PODS=5
HANDLERS=(runc hull)
while [ $# -gt 0 ]; do
    case $1 in
    --rootfs) ROOTFS=$2 ;;
    --hull) HULL_BIN=$2 ;;
    --shim) HULL_SHIM=$2 ;;
    --runs) RUNS=$2 ;;
    --rss-pods) RSS_PODS=$2 ;;
    *) echo "pods.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift 2
done
STEP_TIMEOUT=${STEP_TIMEOUT:-60}

# stdout carries the JSON only: everything else goes to stderr
exec 3>&1 1>&2

# shellcheck source=e2e/lib.sh
. "$REPO/e2e/lib.sh"
# shellcheck source=e2e/image.sh
. "$REPO/e2e/image.sh"
# shellcheck source=e2e/cri-daemon.sh
. "$REPO/e2e/cri-daemon.sh"

# bench/run.sh unmounts cgroup2 (/sys/fs/cgroup/unified) in the bench's mount namespace: what a
# runtime mkdirs there is a plain directory on the cgroup tmpfs, hidden from the host by the
# real mount. remove_cgroup_tree only walks mounted hierarchies: remove those here.
pods_plain_cgroup_dirs() {
    local d=/sys/fs/cgroup/unified/${TAG:-}
    [ -n "${TAG:-}" ] || return 0
    if [ -d "$d" ] && ! mountpoint -q /sys/fs/cgroup/unified; then
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    fi
}

finish() {
    local rc=$?
    trap - EXIT INT TERM
    run_cleanups
    pods_plain_cgroup_dirs
    if [ -z "${T:-}" ]; then
        :
    elif [ "${E2E_KEEP:-0}" = 1 ]; then
        echo "# pods: logs kept in $T" >&2
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap finish EXIT
trap 'echo "# pods: interrupted" >&2; exit 3' INT TERM

T= TAG=
cri_init

declare -A START=() RSS=() PSS=() PROCS=() ERR=()
for h in "${HANDLERS[@]}"; do START[$h]= RSS[$h]= PSS[$h]= PROCS[$h]= ERR[$h]=; done

# json_out: the result object on fd 3 (start times are kept in microseconds until here)
json_out() {
    local h parts=()
    for h in "${HANDLERS[@]}"; do
        parts+=("$(jq -cn --arg h "$h" --arg s "${START[$h]}" --arg r "${RSS[$h]}" --arg p "${PSS[$h]}" \
            --arg n "${PROCS[$h]}" --arg e "${ERR[$h]}" '
            def nums($x): $x | split(" ") | map(select(. != "") | tonumber);
            {($h): {start_ms: (nums($s) | map(. / 1000)), rss_kb: nums($r), pss_kb: nums($p),
                    procs: nums($n), error: (if $e == "" then null else $e end)}}')")
    done
    printf '%s\n' "${parts[@]}" | jq -cs --arg cv "$(containerd --version 2>/dev/null | awk '{print $3}')" \
        --arg crv "$("$CRICTL" --version 2>/dev/null | awk '{print $3}')" --arg setup "${SETUP_ERR:-}" \
        '{containerd: $cv, crictl: $crv, error: (if $setup == "" then null else $setup end),
          handlers: add}' >&3
}

if ! cri_setup >"$T/logs/setup.log" 2>&1; then
    SETUP_ERR="containerd/CRI setup failed: $(tail -n 1 "$T/logs/setup.log")"
    tail -n 20 "$T/logs/setup.log" >&2
    tail -n 20 "$T/containerd.log" >&2
    json_out
    exit 1
fi
echo "# pods: containerd up (temp $T), $RUNS pod starts and $RSS_PODS RSS pods per handler" >&2


# pod_json NAME > file: as kubelet (e2e/cri.sh): own pid namespace per container, pod network
pod_json() {
    mkdir -p "$T/pods/$1"
    cat <<EOF
{"metadata": {"name": "$1", "namespace": "bench", "uid": "$1-uid", "attempt": 0},
 "log_directory": "$T/pods/$1", "hostname": "$1",
 "linux": {"cgroup_parent": "$CGPARENT/$1",
           "security_context": {"namespace_options": {"network": 0, "pid": 1}}}}
EOF
}
ctr_json() { # ctr_json NAME > file
    cat <<EOF
{"metadata": {"name": "$1"}, "image": {"image": "localhost/busybox:latest"},
 "command": ["sleep", "3600"], "log_path": "$1.log",
 "linux": {"security_context": {"namespace_options": {"pid": 1}}}}
EOF
}

# binaries whose processes count as the runtime overhead of a pod
declare -A SHIM_EXE RT_EXE
SHIM_EXE=([runc]=$(readlink -f "$(command -v containerd-shim-runc-v2 || echo /usr/bin/containerd-shim-runc-v2)")
    [hull]=$(readlink -f "$HULL_SHIM"))
RT_EXE=([runc]=$(readlink -f /usr/sbin/runc) [hull]=$(readlink -f "$HULL_BIN"))
# runtime_pids HANDLER POD-ID: live processes of that handler's shim naming the pod (containerd
# starts one shim per pod: -id POD), and of its runtime binary naming our temp dir (--root is
# under $T for both handlers)
runtime_pids() {
    local h=$1 pod=$2 f pid exe cmd
    for f in /proc/[0-9]*; do
        pid=${f#/proc/}
        exe=$(readlink "$f/exe" 2>/dev/null) || continue
        [ "$exe" = "${SHIM_EXE[$h]}" ] || [ "$exe" = "${RT_EXE[$h]}" ] || continue
        cmd=$(tr '\0' ' ' <"$f/cmdline" 2>/dev/null) || continue
        if [ "$exe" = "${SHIM_EXE[$h]}" ]; then
            case $cmd in *"-id $pod"*) echo "$pid" ;; esac
        else
            case $cmd in *"$T"*) echo "$pid" ;; esac
        fi
    done
}

# teardown POD HANDLER: stopp + rmp, then wait (10 s at most) until no shim of the pod is left
teardown() {
    cc stopp "$1" >/dev/null || true
    cc rmp -f "$1" >/dev/null || return 1
    # a function, not `sh -c "pgrep ..."`: that sh's own command line would match the pattern
    no_runtime_procs() { [ -z "$(runtime_pids "$2" "$1")" ]; }
    wait_for 10 no_runtime_procs "$@" ||
        echo "# pods: shim of $2 pod $1 still running 10 s after rmp" >&2
}

# start_pod HANDLER NAME NCTR: runp + (create + start) x NCTR; prints the pod id
start_pod() {
    local h=$1 name=$2 n=$3 pf=$T/$2.pod.json cf pod id k
    pod_json "$name" >"$pf"
    pod=$(cc runp --runtime "$h" "$pf") || return 1
    echo "$pod"
    for ((k = 0; k < n; k++)); do
        cf=$T/$name-c$k.json
        ctr_json "c$k" >"$cf"
        id=$(cc create "$pod" "$cf" "$pf") || return 1
        cc start "$id" >/dev/null || return 1
    done
}

rotated() { # rotated I: the handlers still ok, rotated by I
    local ok=() h n k
    for h in "${HANDLERS[@]}"; do [ -z "${ERR[$h]}" ] && ok+=("$h"); done
    n=${#ok[@]}
    [ "$n" -gt 0 ] || return 0
    k=$(($1 % n))
    echo "${ok[@]:k}" "${ok[@]:0:k}"
}

# ---- 1. pod start
for ((i = 0; i < RUNS; i++)); do
    for h in $(rotated "$i"); do
        name=$h-s$i
        pod_json "$name" >"$T/$name.pod.json"
        ctr_json c0 >"$T/$name-c0.json"
        t0=${EPOCHREALTIME/./}
        pod=$(cc runp --runtime "$h" "$T/$name.pod.json") &&
            id=$(cc create "$pod" "$T/$name-c0.json" "$T/$name.pod.json") &&
            cc start "$id" >/dev/null
        rc=$?
        t1=${EPOCHREALTIME/./}
        if [ "$rc" = 0 ]; then
            START[$h]+=" $((t1 - t0))"
        else
            ERR[$h]="pod start $i failed (rc $rc)"
        fi
        [ -n "${pod:-}" ] && { teardown "$pod" "$h" || ERR[$h]=${ERR[$h]:-"rmp of pod $pod failed"}; }
        pod=
    done
done
for h in "${HANDLERS[@]}"; do
    echo "# pods: $h pod start (us):${START[$h]} ${ERR[$h]}" >&2
done

# ---- 2. RSS per pod (pause + 3 containers), one pod up at a time
for ((i = 0; i < RSS_PODS; i++)); do
    for h in $(rotated "$i"); do
        name=$h-m$i
        pod=$(start_pod "$h" "$name" 3 | head -n 1)
        if [ -z "$pod" ] || [ "$(cc ps -q --pod "$pod" --state Running | grep -c .)" != 3 ]; then
            ERR[$h]="RSS pod $i: pod with 3 running containers did not come up"
        else
            sleep 1 # let the shim settle after the last start
            pids=$(runtime_pids "$h" "$pod")
            rss=0 pss=0 n=0
            for p in $pids; do
                r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
                s=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
                [ -n "$r" ] || continue
                rss=$((rss + r)) pss=$((pss + ${s:-0})) n=$((n + 1))
                echo "# pods: $h pod $i: pid $p $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-120): VmRSS $r kB, Pss ${s:-?} kB" >&2
            done
            if [ "$n" = 0 ]; then
                ERR[$h]="RSS pod $i: no shim process found for pod $pod"
            else
                RSS[$h]+=" $rss" PSS[$h]+=" $pss" PROCS[$h]+=" $n"
            fi
        fi
        [ -n "$pod" ] && { teardown "$pod" "$h" || ERR[$h]=${ERR[$h]:-"rmp of pod $pod failed"}; }
    done
done
for h in "${HANDLERS[@]}"; do
    echo "# pods: $h RSS per pod (kB):${RSS[$h]} (processes:${PROCS[$h]}) ${ERR[$h]}" >&2
done
json_out
exit 0
