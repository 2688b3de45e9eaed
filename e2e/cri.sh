#!/bin/bash
# e2e/cri.sh — kubelet-style use of containerd's CRI plugin, driven with crictl: the same cases for
# two runtime handlers of one private containerd 1.6: "runc" (io.containerd.runc.v2, containerd's
# Go shim + runc) and "hull" (io.containerd.hull.v2: hull's shim + hull). See docs/cri.md.
#
#   e2e/cri.sh                         (root; `make cri` builds what it needs first)
# Environment:
#   CRICTL         crictl binary (default: unpacked from ../shared/tools, else crictl on PATH)
#   HULL_SHIM      containerd-shim-hull-v2 (default target/release/containerd-shim-hull-v2)
#   HULL_BIN       hull (default target/release/hull)
#   ROOTFS         busybox rootfs (default build/rootfs)
#   CRI_HANDLERS   "runc hull" (default)
#   CRI_FILTER     bash regex on case names
#   E2E_KEEP=1     keep the temp dir (logs, containerd.log)
#   KNOWN_FAILURES file of "case reason" lines for hull (default e2e/known-failures-cri-hull.txt)
# Output: one line per case and handler, then a table case x handler. Exit 1 when a hull case
# fails that passes for runc (and is not a listed known failure), or when runc itself fails.
set -uo pipefail
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$E2E_DIR/.." && pwd)
ROOTFS=${ROOTFS:-$REPO/build/rootfs}
HULL_SHIM=${HULL_SHIM:-$REPO/target/release/containerd-shim-hull-v2}
HULL_BIN=${HULL_BIN:-$REPO/target/release/hull}
CRI_HANDLERS=${CRI_HANDLERS:-runc hull}
STEP_TIMEOUT=${STEP_TIMEOUT:-60}
CASE_TIMEOUT=${CASE_TIMEOUT:-120}

# shellcheck source=e2e/lib.sh
. "$E2E_DIR/lib.sh"
# shellcheck source=e2e/image.sh
. "$E2E_DIR/image.sh"

# shellcheck source=e2e/cri-daemon.sh
. "$E2E_DIR/cri-daemon.sh"
die() { cri_die "$@"; }
cri_init
E2E_KNOWN_FILE=${KNOWN_FAILURES:-$E2E_DIR/known-failures-cri-hull.txt}
load_known_failures "$E2E_KNOWN_FILE"

e2e_traps

# ---------------------------------------------------------------- helpers
# pod_json NAME HOSTNET(0|1) [PID-MODE] > file
pod_json() {
    # CRI NamespaceMode: 0 POD, 1 CONTAINER, 2 NODE. As kubelet: each container its own pid
    # namespace (shareProcessNamespace false), and no hostname for a host-network pod (it keeps
    # the node's UTS namespace).
    local net=0 host=", \"hostname\": \"$1-host\""
    [ "$2" = 1 ] && net=2 host=
    mkdir -p "$T/pods/$1"
    cat <<EOF
{"metadata": {"name": "$1", "namespace": "cri-test", "uid": "$1-uid", "attempt": 0},
 "log_directory": "$T/pods/$1"$host,
 "linux": {"cgroup_parent": "$CGPARENT/$1",
           "security_context": {"namespace_options": {"network": $net, "pid": ${3:-1}}}}}
EOF
}
# ctr_json NAME CMD-JSON [MEMORY-BYTES] [PID-MODE] > file
ctr_json() {
    local res=""
    [ -n "${3:-}" ] && res=", \"resources\": {\"memory_limit_in_bytes\": $3}"
    cat <<EOF
{"metadata": {"name": "$1"}, "image": {"image": "localhost/busybox:latest"},
 "command": $2, "log_path": "$1.log", "linux": {"security_context": {"namespace_options": {"pid": ${4:-1}}}$res}}
EOF
}
# run_pod NAME HOSTNET [PID-MODE]: prints the pod id; files $T/H-NAME.{pod,json}
run_pod() {
    local f=$T/$H-$1.pod.json
    pod_json "$H-$1" "$2" "${3:-1}" >"$f"
    cc runp --runtime "$H" "$f"
}
# start_ctr POD-NAME CTR-NAME CMD-JSON [MEM] [PID-MODE]: create + start, prints the container id
start_ctr() {
    local pf=$T/$H-$1.pod.json cf=$T/$H-$1-$2.json id
    ctr_json "$2" "$3" "${4:-}" "${5:-1}" >"$cf"
    id=$(cc create "$(cat "$T/$H-$1.id")" "$cf" "$pf") || return 1
    cc start "$id" >/dev/null || return 1
    echo "$id"
}
cstate() { cc inspect -o json "$1" | jq -r .status.state; }
wait_exited() { wait_for "${2:-20}" sh -c "[ \"\$('$CRICTL' --config '$T/crictl.yaml' inspect -o json $1 | jq -r .status.state)\" = CONTAINER_EXITED ]"; }
main_pod() { cat "$T/$H-main.id"; }

# ---------------------------------------------------------------- cases (H = handler)
case_runp() {
    local id ip ns
    id=$(run_pod main 0)
    echo "$id" >"$T/$H-main.id"
    echo "pod $id"
    cc inspectp -o json "$id" >"$T/$H-main.inspectp"
    expect_eq "pod state" "$(jq -r .status.state "$T/$H-main.inspectp")" SANDBOX_READY
    ip=$(jq -r .status.network.ip "$T/$H-main.inspectp")
    expect_contains "pod IP (from CNI host-local $CRI_NET.0/24)" "$ip" "$CRI_NET."
    expect_eq "runtime handler" "$(jq -r '.status.runtimeHandler // .info.runtimeHandler' "$T/$H-main.inspectp")" "$H"
    ns=$(jq -r '.info.runtimeSpec.linux.namespaces[] | select(.type=="network") | .path' "$T/$H-main.inspectp")
    echo "$ns" >"$T/$H-main.netns"
    [ -e "$ns" ] || fail "pod netns $ns missing"
    expect_contains "pod netns" "$ns" /var/run/netns/
}

case_start() {
    local id
    id=$(start_ctr main sleeper '["sleep","1000"]')
    echo "$id" >"$T/$H-sleeper.id"
    wait_for 10 sh -c "'$CRICTL' --config '$T/crictl.yaml' ps -q --state Running | grep -q $id" ||
        fail "container $id not Running: $(cstate "$id")"
    expect_eq "state" "$(cstate "$id")" CONTAINER_RUNNING
    expect_contains "crictl ps names it" "$(cc ps --pod "$(main_pod)")" sleeper
}

case_exec() {
    local id spid out k
    id=$(cat "$T/$H-sleeper.id")
    capture out cc exec -s "$id" hostname
    expect_eq "exec hostname" "$out" "$H-main-host"
    # ExecSync: crictl exits 1 and names the command's exit code
    capture out cc exec -s "$id" sh -c 'echo out; echo err >&2; exit 5'
    expect_contains "ExecSync reports the exit code" "$out" "exited with 5"
    # streaming Exec (the stream server): crictl exits 1 and names the command's exit code
    capture out cc exec "$id" sh -c 'echo streamed-out; exit 7'
    expect_contains "streaming exec exit code" "$out" "exit code 7"
    expect_contains "streaming exec output" "$out" streamed-out
    capture out cc exec -i "$id" sh -c 'read l; echo "got:$l"' <<<"line-in"
    expect_contains "streaming exec with stdin" "$out" "got:line-in"
    # -t needs a terminal on crictl's side: script(1) (bsdutils, essential) gives it one
    capture out script -qec "'$CRICTL' --config '$T/crictl.yaml' exec -it $id sh -c 'test -t 0 && tty && echo is-a-tty'" /dev/null
    expect_contains "streaming exec with a tty" "$out" is-a-tty
    # an exec that cannot start: the error at once (containerd kills the never-started exec,
    # which must not leave it waiting a minute for an exit), not a crictl timeout
    capture out timeout -k 5 20 "$CRICTL" --config "$T/crictl.yaml" exec -s "$id" no-such-cmd-xyz
    [ "$out_rc" != 124 ] && [ "$out_rc" != 137 ] || fail "ExecSync of a missing command hung (rc $out_rc)"
    expect_contains "ExecSync of a missing command names it" "$out" no-such-cmd-xyz
    spid=$(cc inspectp -o json "$(main_pod)" | jq -r .info.pid)
    [ "$spid" -gt 0 ] || fail "no sandbox pid"
    for k in net ipc uts; do
        capture out cc exec -s "$id" readlink "/proc/self/ns/$k"
        expect_eq "container shares the pod's $k namespace" "$out" "$(readlink "/proc/$spid/ns/$k")"
    done
    capture out cc exec -s "$id" readlink /proc/self/ns/pid
    [ "$out" != "$(readlink "/proc/$spid/ns/pid")" ] || fail "pid namespace shared with the pause (want CONTAINER)"
    echo "checked: own pid namespace"
    capture out cc exec -s "$id" ip -4 addr show eth0
    expect_contains "eth0 has the pod IP" "$out" "$(jq -r .status.network.ip "$T/$H-main.inspectp")"
}

case_exit_code() {
    local id j
    id=$(start_ctr main exit3 '["sh","-c","exit 3"]')
    wait_exited "$id" || fail "not exited: $(cstate "$id")"
    j=$(cc inspect -o json "$id")
    expect_eq "exitCode" "$(jq -r .status.exitCode <<<"$j")" 3
    expect_eq "reason" "$(jq -r .status.reason <<<"$j")" Error
    id=$(start_ctr main exit0 '["true"]')
    wait_exited "$id" || fail "not exited: $(cstate "$id")"
    j=$(cc inspect -o json "$id")
    expect_eq "exitCode" "$(jq -r .status.exitCode <<<"$j")" 0
    expect_eq "reason" "$(jq -r .status.reason <<<"$j")" Completed
}

case_stop_grace() {
    local a b t0 dt j
    a=$(start_ctr main trapper '["sh","-c","trap \"echo got-term; exit 0\" TERM; while :; do sleep 0.2; done"]')
    b=$(start_ctr main stubborn '["sleep","1000"]')
    sleep 1
    t0=$(date +%s%N)
    cc stop -t 20 "$a"
    dt=$((($(date +%s%N) - t0) / 1000000))
    echo "measured: stop of a TERM-trapping container took ${dt} ms"
    [ "$dt" -lt 10000 ] || fail "SIGTERM was not delivered (stop took ${dt} ms)"
    j=$(cc inspect -o json "$a")
    expect_eq "trapper exitCode" "$(jq -r .status.exitCode <<<"$j")" 0
    t0=$(date +%s%N)
    cc stop -t 2 "$b"
    dt=$((($(date +%s%N) - t0) / 1000000))
    echo "measured: stop -t 2 of a TERM-ignoring PID 1 took ${dt} ms"
    [ "$dt" -ge 1900 ] || fail "killed before the grace period (${dt} ms)"
    j=$(cc inspect -o json "$b")
    expect_eq "stubborn exitCode (SIGKILL)" "$(jq -r .status.exitCode <<<"$j")" 137
}

case_logs() {
    local id f out
    id=$(start_ctr main logger '["sh","-c","echo hello-stdout; echo hello-stderr >&2; printf partial"]')
    wait_exited "$id" || fail "not exited"
    f=$T/pods/$H-main/logger.log
    [ -f "$f" ] || fail "no log file $f"
    cat "$f"
    grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+) stdout F hello-stdout$' "$f" || fail "no CRI stdout line"
    grep -Eq '^[^ ]+ stderr F hello-stderr$' "$f" || fail "no CRI stderr line"
    grep -Eq '^[^ ]+ stdout [PF] partial$' "$f" || fail "no line for the unterminated output"
    echo "checked: CRI log format lines in $f"
    capture out cc logs "$id"
    expect_contains "crictl logs" "$out" hello-stdout
}

case_stats() {
    local id j
    id=$(cat "$T/$H-sleeper.id")
    j=$(cc stats -o json --id "$id")
    echo "$j"
    expect_eq "stats row id" "$(jq -r '.stats[0].attributes.id' <<<"$j")" "$id"
    [ "$(jq -r '.stats[0].memory.workingSetBytes.value // 0' <<<"$j")" -gt 0 ] || fail "no memory working set"
    [ -n "$(jq -r '.stats[0].cpu.usageCoreNanoSeconds.value // empty' <<<"$j")" ] || fail "no cpu usage"
    echo "checked: memory and cpu in the row"
    # ListContainerStats: every running container of the pod has a row
    j=$(cc stats -o json --pod "$(main_pod)")
    expect_contains "ListContainerStats ids" "$(jq -r '.stats[].attributes.id' <<<"$j")" "$id"
    # ListPodSandboxStats: the pod's own row, with its containers
    j=$(cc statsp -o json --id "$(main_pod)")
    echo "$j" | head -c 2000
    expect_eq "pod stats row" "$(jq -r '.stats[0].attributes.id' <<<"$j")" "$(main_pod)"
    expect_contains "containers in the pod's stats" "$(jq -r '.stats[0].linux.containers[].attributes.id' <<<"$j")" "$id"
    [ "$(jq -r '.stats[0].linux.memory.workingSetBytes.value // 0' <<<"$j")" -gt 0 ] || fail "no pod memory working set"
    echo "checked: ListContainerStats and ListPodSandboxStats"
}

case_oom() {
    local id j
    id=$(start_ctr main hog '["sh","-c","x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done"]' $((32 << 20)))
    wait_exited "$id" 30 || fail "memory hog still $(cstate "$id")"
    j=$(cc inspect -o json "$id")
    expect_eq "reason" "$(jq -r .status.reason <<<"$j")" OOMKilled
    expect_eq "exitCode" "$(jq -r .status.exitCode <<<"$j")" 137
}

case_hostnet() {
    local pod id out
    pod=$(run_pod hostnet 1)
    echo "$pod" >"$T/$H-hostnet.id"
    expect_eq "hostnet pod state" "$(cc inspectp -o json "$pod" | jq -r .status.state)" SANDBOX_READY
    id=$(start_ctr hostnet hn '["sleep","1000"]')
    capture out cc exec -s "$id" readlink /proc/self/ns/net
    expect_eq "container in the host's net namespace" "$out" "$(readlink /proc/$$/ns/net)"
    cc stopp "$pod" >/dev/null
    cc rmp "$pod" >/dev/null
    expect_not_contains "pods after rmp" "$(cc pods -q)" "$pod"
}

# a host-PID pod (kubelet's hostPID: true): no pid namespace for the pause nor the container
case_hostpid() {
    local pod id out
    pod=$(run_pod hostpid 0 2) || { fail "runp of a host-PID pod failed"; return; }
    echo "$pod" >"$T/$H-hostpid.id"
    expect_eq "hostpid pod state" "$(cc inspectp -o json "$pod" | jq -r .status.state)" SANDBOX_READY
    id=$(start_ctr hostpid hp '["sleep","1000"]' "" 2) || { fail "container in a host-PID pod did not start"; return; }
    capture out cc exec -s "$id" readlink /proc/self/ns/pid
    expect_eq "container in the host's pid namespace" "$out" "$(readlink /proc/$$/ns/pid)"
    capture out cc exec -s "$id" cat /proc/1/comm
    expect_eq "PID 1 seen from the container" "$out" "$(cat /proc/1/comm)"
    cc stopp "$pod" >/dev/null
    cc rmp "$pod" >/dev/null
    expect_not_contains "pods after rmp" "$(cc pods -q)" "$pod"
}

# one shim per pod: with the pause and 3 containers running, exactly one shim of this handler
# serves the pod; its RSS is the "RSS per pod" figure (runc's: the Go shim; runc itself exits)
shim_pids() { # shim_pids HANDLER POD-ID: shims started for that pod
    pgrep -f -- "containerd-shim-$1-v2 .*-id $2" || true
}
case_pod_shim() {
    local pod a b n pids pid rss id
    pod=$(main_pod)
    a=$(start_ctr main extra1 '["sleep","1000"]')
    b=$(start_ctr main extra2 '["sleep","1000"]')
    pids=$(shim_pids "$H" "$pod")
    n=$(printf '%s\n' "$pids" | grep -c .)
    echo "shims for pod $pod: $(oneline "$pids")"
    expect_eq "$H shims serving the pod (pause + sleeper + extra1 + extra2)" "$n" 1
    # the pod's shim is the parent of every container's init
    for id in "$a" "$b" "$(cat "$T/$H-sleeper.id")"; do
        pid=$(cc inspect -o json "$id" | jq -r .info.pid)
        expect_eq "parent of $id's init" "$(awk '{print $4}' "/proc/$pid/stat")" "$pids"
    done
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pids/status")
    echo "measured: $H shim RSS for a pod of 1 pause + 3 containers: $rss kB"
    echo "$rss" >"$T/$H-pod-shim-rss"
    cc stop -t 0 "$a" "$b" >/dev/null
    cc rm "$a" "$b" >/dev/null
    expect_eq "shims after removing two containers" "$(shim_pids "$H" "$pod" | grep -c .)" 1
}

case_update() {
    local id pid f
    id=$(cat "$T/$H-sleeper.id")
    pid=$(cc inspect -o json "$id" | jq -r .info.pid)
    cc update --memory $((96 << 20)) --cpu-period 100000 --cpu-quota 50000 "$id"
    f=$(cg_file "$pid" memory memory.limit_in_bytes memory.max)
    expect_eq "memory limit in $f" "$(cat "$f")" $((96 << 20))
    f=$(cg_file "$pid" cpu cpu.cfs_quota_us cpu.max)
    case $f in
    */cpu.max) expect_eq "cpu.max" "$(cat "$f")" "50000 100000" ;;
    *) expect_eq "cfs quota in $f" "$(cat "$f")" 50000 ;;
    esac
    expect_eq "CRI reports the new limit" \
        "$(cc inspect -o json "$id" | jq -r '.status.resources.linux.memoryLimitInBytes // .info.runtimeSpec.linux.resources.memory.limit')" $((96 << 20))
}

# Attach with stdin_once: containerd closes its end of the stdin fifo and sends CloseIO right
# after the line; the line must still reach the container (a shim that closes the container's
# stdin on CloseIO before draining the fifo loses it, as hull's did on containerd 2).
case_attach() {
    local pf=$T/$H-main.pod.json cf=$T/$H-main-attached.json id out
    jq -n '{metadata: {name: "attached"}, image: {image: "localhost/busybox:latest"},
        command: ["sh", "-c", "read l; echo \"attached:$l\"; exit 3"],
        stdin: true, stdin_once: true, log_path: "attached.log",
        linux: {security_context: {namespace_options: {pid: 1}}}}' >"$cf"
    id=$(cc create "$(main_pod)" "$cf" "$pf")
    cc start "$id" >/dev/null
    # the attach lasts until the container exits (after its one line); crictl ignores SIGTERM
    capture out timeout -k 2 20 "$CRICTL" --config "$T/crictl.yaml" attach -i "$id" <<<"hello-attach"
    expect_contains "attach output (the container's stdout)" "$out" "attached:hello-attach"
    wait_for 10 grep -q "attached:hello-attach" "$T/pods/$H-main/attached.log" ||
        fail "the line sent through attach is not in the log: $(cat "$T/pods/$H-main/attached.log")"
    echo "checked: stdin through Attach reached the container, its reply came back and is logged"
    wait_exited "$id"
    expect_eq "exit code after attach" "$(cc inspect -o json "$id" | jq -r .status.exitCode)" 3
    cc rm "$id" >/dev/null
    # with a tty: the container's stdin is the pty (script(1) gives crictl a terminal)
    cf=$T/$H-main-attached-tty.json
    jq -n '{metadata: {name: "attached-tty"}, image: {image: "localhost/busybox:latest"},
        command: ["sh", "-c", "read l; test -t 0 && echo \"tty-attached:$l\"; exit 4"],
        stdin: true, stdin_once: true, tty: true, log_path: "attached-tty.log",
        linux: {security_context: {namespace_options: {pid: 1}}}}' >"$cf"
    id=$(cc create "$(main_pod)" "$cf" "$pf")
    cc start "$id" >/dev/null
    capture out timeout -k 2 20 script -qec "'$CRICTL' --config '$T/crictl.yaml' attach -i -t $id" /dev/null <<<"tty-line"
    expect_contains "attach with a tty" "$out" "tty-attached:tty-line"
    wait_exited "$id"
    expect_eq "exit code after tty attach" "$(cc inspect -o json "$id" | jq -r .status.exitCode)" 4
    echo "checked: Attach with a tty: the container's stdin is a terminal, input and output pass"
    cc rm "$id" >/dev/null
}

# bad input: an unknown handler, a container for a pod whose shim died, a pod removed with its
# containers running; each a clear error or a full cleanup, nothing left
case_bad_input() {
    local out pod id shim ns mp
    pod_json "$H-nohandler" 0 >"$T/$H-nohandler.pod.json"
    capture out cc runp --runtime no-such-handler "$T/$H-nohandler.pod.json"
    [ "$out_rc" != 0 ] || fail "runp with an unknown handler succeeded"
    expect_contains "unknown handler error" "$out" no-such-handler
    # a pod whose shim was SIGKILLed
    pod=$(run_pod dead 0)
    echo "$pod" >"$T/$H-dead.id"
    shim=$(shim_pids "$H" "$pod")
    [ -n "$shim" ] || fail "no shim for pod $pod"
    kill -9 "$shim"
    capture out start_ctr dead c1 '["sleep","1000"]'
    [ "$out_rc" != 0 ] || fail "a container started in a pod whose shim is dead"
    # containerd 1.6: "failed to get sandbox container task"; 2.x: "sandbox container ... is not running"
    [[ $out =~ sandbox\ container\ task|sandbox\ container\ .*is\ not\ running ]] ||
        fail "refusal does not name the sandbox container: $out"
    echo "checked: container in a pod with a dead shim refused"
    cc stopp "$pod" >/dev/null || true
    # containerd 2.3 with its runc shim: the first RemovePodSandbox after the shim's death can
    # fail ("ttrpc: closed"); kubelet retries, so does this
    cc rmp -f "$pod" >/dev/null || { sleep 1 && cc rmp -f "$pod" >/dev/null; }
    expect_not_contains "pods after rmp" "$(cc pods -q)" "$pod"
    no_cgroup_procs() { # no_cgroup_procs POD-NAME: no process left in the pod's cgroups
        local mp f
        for mp in $(cgroup_mounts); do
            [ -d "$mp$CGPARENT/$1" ] || continue
            for f in $(find "$mp$CGPARENT/$1" -name cgroup.procs); do
                [ -z "$(cat "$f")" ] || return 1
            done
        done
    }
    wait_for 10 no_cgroup_procs "$H-dead" || fail "processes left in the cgroups of the pod whose shim died"
    echo "checked: after rmp -f of the pod whose shim died, no process in its cgroups (pause killed)"
    # a pod removed (rmp -f) while its containers run
    pod=$(run_pod busy 0)
    echo "$pod" >"$T/$H-busy.id"
    ns=$(cc inspectp -o json "$pod" | jq -r '.info.runtimeSpec.linux.namespaces[] | select(.type=="network") | .path')
    id=$(start_ctr busy c1 '["sleep","1000"]')
    cc rmp -f "$pod"
    expect_not_contains "pods after rmp -f" "$(cc pods -q)" "$pod"
    expect_not_contains "containers after rmp -f" "$(cc ps -a -q)" "$id"
    no_shim() { [ -z "$(shim_pids "$H" "$pod")" ]; }
    wait_for 10 no_shim || fail "shim of the removed pod still runs: $(shim_pids "$H" "$pod")"
    [ ! -e "$ns" ] || fail "netns $ns still there"
    for mp in $(cgroup_mounts); do
        [ ! -d "$mp$CGPARENT/$H-busy" ] || [ -z "$(find "$mp$CGPARENT/$H-busy" -mindepth 1 -type d)" ] ||
            fail "cgroups left under $mp$CGPARENT/$H-busy"
    done
    echo "checked: rmp -f of a running pod: no shim, netns or cgroup left"
}

# after stopp + rmp: no process (shim, pause, container) naming the pod or its containers, the
# pod's netns gone, no cgroup of the pod left
case_teardown() {
    local pod ids ns mp left
    pod=$(main_pod)
    ids="$pod $(cc ps -a -q --pod "$pod" | tr '\n' ' ')"
    echo "pod and containers: $ids"
    ns=$(cat "$T/$H-main.netns")
    cc stopp "$pod"
    cc rmp "$pod"
    expect_not_contains "pods after rmp" "$(cc pods -q)" "$pod"
    # the shims exit after the last delete: give them a few seconds
    procs_naming() {
        local id
        for id in $ids; do pgrep -af -- "$id"; done
    }
    no_procs() { [ -z "$(procs_naming)" ]; }
    wait_for 10 no_procs || fail "processes still name the pod or its containers: $(procs_naming)"
    echo "checked: no process names the pod or its containers (shim gone)"
    [ ! -e "$ns" ] || fail "netns $ns still there"
    echo "checked: netns $ns removed"
    for mp in $(cgroup_mounts); do
        [ -d "$mp$CGPARENT/$H-main" ] || continue
        left=$(find "$mp$CGPARENT/$H-main" -mindepth 1 -type d)
        [ -z "$left" ] || fail "cgroups left: $left"
    done
    echo "checked: no cgroup left under $CGPARENT/$H-main"
}

CASES=(runp start pod_shim exec attach update exit_code stop_grace logs stats oom hostnet hostpid bad_input teardown)
declare -A RES=()

cri_case() { # cri_case HANDLER CASE
    local h=$1 name=$2 log rc
    log=$T/logs/$h-$name.log
    (
        set -eE -o pipefail
        H=$h
        E2E_CASE_DEADLINE=$((SECONDS + CASE_TIMEOUT))
        "case_$name"
    ) >"$log" 2>&1
    rc=$?
    case $rc in
    0) RES[$h/$name]=pass ;;
    77) RES[$h/$name]=skip ;;
    *) RES[$h/$name]=FAIL ;;
    esac
    echo "${RES[$h/$name]} $h/$name"
    [ "$rc" = 0 ] || [ "$rc" = 77 ] || tail -n "${E2E_LOG_LINES:-15}" "$log" | sed 's/^/#   /'
}

echo "# CRI test bed: containerd $("${CRI_BIN_DIR:+$CRI_BIN_DIR/}containerd" --version | awk '{print $3}'), crictl $("$CRICTL" --version | awk '{print $3}'), temp $T"
if ! cri_setup >"$T/logs/setup.log" 2>&1; then
    tail -n 20 "$T/logs/setup.log" >&2
    tail -n 20 "$T/containerd.log" >&2
    E2E_KEEP=1
    die "setup failed (logs in $T)"
fi
for h in $CRI_HANDLERS; do
    for n in "${CASES[@]}"; do
        if [ -n "${CRI_FILTER:-}" ] && ! [[ $n =~ $CRI_FILTER ]]; then continue; fi
        cri_case "$h" "$n"
    done
done

# the table
rc=0
printf '\n%-12s' case
for h in $CRI_HANDLERS; do printf ' %-6s' "$h"; done
printf ' note\n'
for n in "${CASES[@]}"; do
    [ -n "${RES[runc/$n]:-}${RES[hull/$n]:-}" ] || continue
    printf '%-12s' "$n"
    for h in $CRI_HANDLERS; do printf ' %-6s' "${RES[$h/$n]:--}"; done
    note=
    if [ "${RES[hull/$n]:-}" = FAIL ] && [ "${RES[runc/$n]:-pass}" = pass ]; then
        if [ -n "${E2E_KNOWN[$n]:-}" ]; then note="known: ${E2E_KNOWN[$n]}"; else note="REGRESSION vs runc"; rc=1; fi
    fi
    [ "${RES[runc/$n]:-}" = FAIL ] && { note="${note:+$note; }runc fails (test bed problem?)"; rc=1; }
    printf ' %s\n' "$note"
done
[ "$rc" = 0 ] || E2E_KEEP=${E2E_KEEP:-0}
exit "$rc"
