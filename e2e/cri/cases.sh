# shellcheck shell=bash
# e2e/cri/cases.sh — the crictl cases of `make cri`, run once per runtime handler (cri_suite H):
# a pod (pause) with containers c1 (traps SIGTERM), c2 (ignores SIGTERM) and c3 (exceeds
# its memory limit), driven the way kubelet drives CRI. Ids pass between cases in files under
# E2E_TMP/pods/H. Every case checks an observable effect (runtime state, namespaces, log file,
# cgroup numbers, exit codes and reasons, processes and kernel objects left).
# Case functions run inside run_case's `set -e` subshell (e2e/lib.sh); capture() sets variables by
# name (SC2154) and container-side commands are single-quoted on purpose (SC2016).
# shellcheck disable=SC2154,SC2016

H=
PD=

runtime_root() { # the state root the handler's shim gives its runtime binary
    case "$1" in
    runc) echo "$CRI_TMP/containerd/runtime-root/runc/$CRI_NS" ;;
    *) echo "$CRI_TMP/containerd/runtime-root/$1" ;;
    esac
}
runtime_bin() { case "$1" in runc) echo "${RUNC_BIN:-/usr/sbin/runc}" ;; *) echo "$HULL_BIN" ;; esac; }
id_of() { cat "$PD/$1.id" 2>/dev/null || fail "no id for $1 (an earlier case failed)"; }
cstate() { crictl_ inspect "$1" | jq -r '.status.state'; }
cwait_state() { # cwait_state ID STATE SECONDS
    local deadline=$((SECONDS + $3))
    until [ "$(cstate "$1")" = "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.3
    done
}
shim_count() { our_shims "$1" | grep -c . || true; }
no_shims() { [ "$(shim_count "$1")" = 0 ]; }

write_pod_json() { # write_pod_json HANDLER: pod config with its own log dir and cgroup parent
    mkdir -p "$PD/logs"
    jq -n --arg name "cri-$1" --arg uid "uid-$1-$$" --arg logdir "$PD/logs" \
        --arg cg "/$CRI_CGROUP_PARENT/$1" --arg host "pod-$1" \
        '{metadata: {name: $name, namespace: "hull-cri", uid: $uid, attempt: 0},
          hostname: $host, log_directory: $logdir,
          linux: {cgroup_parent: $cg}}' >"$PD/pod.json"
}
write_ctr_json() { # write_ctr_json NAME MEMORY-LIMIT(0=none) CMD...
    local name=$1 mem=$2 cmd
    shift 2
    cmd=$(jq -nc '$ARGS.positional' --args -- "$@")
    jq -n --arg name "$name" --arg img "$BUSYBOX_IMAGE" --argjson mem "$mem" --argjson cmd "$cmd" \
        '{metadata: {name: $name}, image: {image: $img}, command: $cmd,
          log_path: ($name + ".log"),
          linux: {resources: (if $mem > 0 then {memory_limit_in_bytes: $mem} else {} end)}}' \
        >"$PD/$name.json"
}

# ---------------------------------------------------------------- cases

cri_runp() {
    write_pod_json "$H"
    capture out crictl_ runp --runtime "$H" "$PD/pod.json"
    expect_eq "runp exit code" "$out_rc" 0
    local pod=${out##*$'\n'}
    echo "$pod" >"$PD/pod.id"
    capture info crictl_ inspectp "$pod"
    expect_eq "pod state" "$(jq -r .status.state <<<"$info")" SANDBOX_READY
    expect_eq "pod runtime handler" "$(jq -r '.status.runtimeHandler // .info.runtimeHandler' <<<"$info")" "$H"
    local ip netns cg
    ip=$(jq -r .status.network.ip <<<"$info")
    expect_contains "pod IP $ip in the CNI subnet $CNI_SUBNET" "${ip%.*}.0" "${CNI_SUBNET%.0/24}"
    netns=$(jq -r '.info.runtimeSpec.linux.namespaces[] | select(.type == "network") | .path' <<<"$info")
    cg=$(jq -r '.info.runtimeSpec.linux.cgroupsPath' <<<"$info")
    echo "$netns" >"$PD/netns"
    echo "$cg" >"$PD/cgroup"
    [ -e "$netns" ] || fail "pod netns $netns does not exist"
    echo "checked: pod netns $netns exists"
    capture st t "$(runtime_bin "$H")" --root "$(runtime_root "$H")" state "$pod"
    expect_contains "$H's runtime state of the sandbox" "$st" '"running"'
    expect_eq "$H shims serving the pod" "$(shim_count "$H")" 1
}

cri_create_start() {
    local pod
    pod=$(id_of pod)
    write_ctr_json c1 0 sh -c 'trap "echo got-sigterm; exit 0" TERM; echo hello-from-c1; echo err-from-c1 >&2; while :; do sleep 0.1; done'
    write_ctr_json c2 0 sh -c 'trap "" TERM; echo c2-up; while :; do sleep 1; done'
    local c
    for c in c1 c2; do
        capture out crictl_ create "$pod" "$PD/$c.json" "$PD/pod.json"
        expect_eq "create $c" "$out_rc" 0
        echo "${out##*$'\n'}" >"$PD/$c.id"
        capture out crictl_ start "$(id_of $c)"
        expect_eq "start $c" "$out_rc" 0
    done
    for c in c1 c2; do
        cwait_state "$(id_of $c)" CONTAINER_RUNNING 10 || fail "$c not running: $(cstate "$(id_of $c)")"
        echo "checked: $c CONTAINER_RUNNING"
    done
    capture st t "$(runtime_bin "$H")" --root "$(runtime_root "$H")" state "$(id_of c1)"
    expect_contains "$H's runtime state of c1" "$st" '"running"'
}

cri_namespaces() {
    local a b host
    local c1 c2
    c1=$(id_of c1)
    c2=$(id_of c2)
    capture a crictl_ exec "$c1" sh -c 'for n in net ipc uts; do readlink /proc/self/ns/$n; done; hostname'
    capture b crictl_ exec "$c2" sh -c 'for n in net ipc uts; do readlink /proc/self/ns/$n; done; hostname'
    expect_eq "exec rc" "$a_rc/$b_rc" 0/0
    expect_eq "c1 and c2 share net, ipc, uts (and hostname)" "$(oneline "$a")" "$(oneline "$b")"
    expect_contains "hostname" "$a" "pod-$H"
    host=$(readlink /proc/self/ns/net)
    expect_not_contains "pod net namespace is not the host's" "$a" "$host"
}

cri_exec() {
    local c1 c2
    c1=$(id_of c1)
    c2=$(id_of c2)
    # streaming exec (kubectl exec's path): crictl reports the exit code in its error line
    capture out crictl_ exec "$c1" sh -c 'echo $((6*7)); exit 3'
    expect_contains "exec output" "$out" 42
    expect_contains "exec exit code" "$out" "command terminated with exit code 3"
    # ExecSync (probes' path): crictl exits with the process's exit code
    capture out crictl_ exec -s --timeout 5 "$c2" sh -c 'echo sync-$((2+3))'
    expect_eq "exec -s exit code" "$out_rc" 0
    expect_contains "exec -s output" "$out" sync-5
    capture out crictl_ exec -s --timeout 5 "$c2" sh -c 'exit 4'
    expect_contains "exec -s exit code" "$out" "exited with 4"
}

cri_logs() {
    local c1
    c1=$(id_of c1)
    capture out crictl_ logs "$c1"
    expect_contains "crictl logs stdout" "$out" hello-from-c1
    expect_contains "crictl logs stderr" "$out" err-from-c1
    local f=$PD/logs/c1.log
    [ -f "$f" ] || fail "no CRI log file $f"
    grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+) stdout F hello-from-c1$' "$f" ||
        fail "$f has no CRI line 'TIME stdout F hello-from-c1': $(head -c 300 "$f")"
    grep -Eq ' stderr F err-from-c1$' "$f" || fail "$f has no 'stderr F err-from-c1' line"
    echo "checked: CRI log file $f has the stdout and stderr lines"
}

cri_stats() {
    local out ws cpu c1
    c1=$(id_of c1)
    capture out crictl_ stats -o json --id "$c1"
    expect_eq "stats exit code" "$out_rc" 0
    ws=$(jq -r '.stats[0].memory.workingSetBytes.value // 0' <<<"$out")
    cpu=$(jq -r '.stats[0].cpu.usageCoreNanoSeconds.value // 0' <<<"$out")
    [ "$ws" -gt 0 ] || fail "memory workingSetBytes is $ws"
    echo "checked: memory workingSetBytes $ws > 0"
    [ "$cpu" -gt 0 ] || fail "cpu usageCoreNanoSeconds is $cpu"
    echo "checked: cpu usageCoreNanoSeconds $cpu > 0"
}

cri_oom() {
    local pod c3 st
    pod=$(id_of pod)
    # 16 MiB limit; PID 1 (sh) itself reads 256 MiB into a variable until the cgroup OOM-kills it
    write_ctr_json c3 16777216 sh -c 'echo filling; x=$(head -c 256m /dev/zero | tr "\\0" a); echo survived'
    capture out crictl_ create "$pod" "$PD/c3.json" "$PD/pod.json"
    expect_eq "create c3" "$out_rc" 0
    c3=${out##*$'\n'}
    echo "$c3" >"$PD/c3.id"
    capture out crictl_ start "$c3"
    expect_eq "start c3" "$out_rc" 0
    cwait_state "$c3" CONTAINER_EXITED 30 || fail "c3 did not exit: $(cstate "$c3")"
    capture st crictl_ inspect "$c3"
    expect_eq "c3 reason" "$(jq -r .status.reason <<<"$st")" OOMKilled
    expect_eq "c3 exit code" "$(jq -r .status.exitCode <<<"$st")" 137
    expect_not_contains "c3 log" "$(cat "$PD/logs/c3.log")" survived
}

cri_one_shim() {
    id_of pod >/dev/null
    # pause + c1 + c2 + c3: kubelet's pod, one shim as containerd's runc shim does
    local n
    n=$(shim_count "$H")
    expect_eq "containerd-shim-$H-v2 processes for the pod (pause, c1, c2, c3)" "$n" 1
}

cri_stop_grace() {
    local c1 t0 st
    c1=$(id_of c1)
    t0=$SECONDS
    capture out crictl_ stop --timeout 20 "$c1"
    expect_eq "stop exit code" "$out_rc" 0
    [ $((SECONDS - t0)) -lt 15 ] || fail "stop took $((SECONDS - t0)) s: SIGTERM not delivered to the trap"
    capture st crictl_ inspect "$c1"
    expect_eq "c1 state" "$(jq -r .status.state <<<"$st")" CONTAINER_EXITED
    expect_eq "c1 exit code (trap ran)" "$(jq -r .status.exitCode <<<"$st")" 0
    wait_for 5 grep -q 'stdout F got-sigterm' "$PD/logs/c1.log" || fail "no got-sigterm in the log"
    echo "checked: the trap's got-sigterm is in the CRI log"
}

cri_stop_timeout() {
    local c2 t0 dt st
    c2=$(id_of c2)
    expect_eq "c2 state before stop" "$(cstate "$c2")" CONTAINER_RUNNING
    t0=$(date +%s%N)
    capture out crictl_ stop --timeout 2 "$c2"
    dt=$((($(date +%s%N) - t0) / 1000000))
    expect_eq "stop exit code" "$out_rc" 0
    capture st crictl_ inspect "$c2"
    expect_eq "c2 exit code (SIGKILL after the grace period)" "$(jq -r .status.exitCode <<<"$st")" 137
    [ "$dt" -ge 1900 ] || fail "stop returned after $dt ms, before the 2 s grace period"
    echo "checked: stop waited the grace period ($dt ms >= 2000)"
}

cri_rmp() {
    local pod netns cg mp n
    pod=$(id_of pod)
    netns=$(cat "$PD/netns")
    cg=$(cat "$PD/cgroup")
    capture out crictl_ stopp "$pod"
    expect_eq "stopp exit code" "$out_rc" 0
    capture out crictl_ rmp "$pod"
    expect_eq "rmp exit code" "$out_rc" 0
    capture out crictl_ pods -q --name "cri-$H"
    expect_eq "pods named cri-$H" "$out" ""
    capture out crictl_ ps -a -q --pod "$pod"
    expect_eq "containers of the pod" "$out" ""
    wait_for 10 no_shims "$H" ||
        fail "containerd-shim-$H-v2 still running: $(our_shims "$H" | tr '\n' ' ')"
    echo "checked: no containerd-shim-$H-v2 left"
    [ ! -e "$netns" ] || fail "pod netns $netns left"
    echo "checked: netns $netns gone"
    n=$(grep -cF "$pod" /proc/self/mountinfo || true)
    expect_eq "mounts naming the pod id" "$n" 0
    for mp in $(cgroup_mounts); do
        [ ! -d "$mp$cg" ] || fail "cgroup $mp$cg left"
    done
    echo "checked: cgroup $cg gone in every hierarchy"
    expect_eq "veths on $CRI_BRIDGE" "$(ip -o link show master "$CRI_BRIDGE" 2>/dev/null | wc -l)" 0
    expect_eq "$H runtime state dir entries" "$(find "$(runtime_root "$H")" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" 0
}

cri_suite() {
    H=$1
    PD=$E2E_TMP/pods/$H
    mkdir -p "$PD"
    run_case "$H/runp" "RunPodSandbox on handler $H: ready, CNI IP, netns, runtime state" cri_runp
    run_case "$H/create-start" "two containers created and started in the pod" cri_create_start
    run_case "$H/namespaces" "containers share the pod's net/ipc/uts namespaces and hostname" cri_namespaces
    run_case "$H/exec" "crictl exec: output and exit code 3; exec -s" cri_exec
    run_case "$H/logs" "crictl logs and the CRI log file (stdout and stderr lines)" cri_logs
    run_case "$H/stats" "crictl stats: working set and CPU usage" cri_stats
    run_case "$H/oom" "container over its memory limit: reason OOMKilled, exit 137" cri_oom
    run_case "$H/one-shim" "exactly one containerd-shim-$H-v2 serves the pod" cri_one_shim
    run_case "$H/stop-grace" "stop --timeout 20: SIGTERM trap runs, exit 0" cri_stop_grace
    run_case "$H/stop-timeout" "stop --timeout 2 on a process ignoring SIGTERM: SIGKILL (137) after 2 s" cri_stop_timeout
    run_case "$H/rmp" "stopp + rmp leave no pod, shim, netns, mount, cgroup, veth, state" cri_rmp
    # whatever failed above: this handler's pod does not outlive its suite
    local pod
    pod=$(cat "$PD/pod.id" 2>/dev/null) || return 0
    crictl_ rmp -f "$pod" >/dev/null 2>&1 || true
}

cri_bad_unknown_handler() {
    local before after
    PD=$E2E_TMP/pods/bad
    mkdir -p "$PD"
    write_pod_json nosuch
    before=$(crictl_ pods -q | wc -l)
    capture out crictl_ runp --runtime nosuch "$PD/pod.json"
    [ "$out_rc" != 0 ] || fail "runp with an unknown handler succeeded"
    echo "checked: runp exit code $out_rc"
    expect_contains "error names the handler" "$out" nosuch
    after=$(crictl_ pods -q | wc -l)
    expect_eq "pods after" "$after" "$before"
    expect_eq "shims" "$(shim_count hull)/$(shim_count runc)" 0/0
    expect_eq "veths on $CRI_BRIDGE" "$(ip -o link show master "$CRI_BRIDGE" 2>/dev/null | wc -l)" 0
}

cri_bad_input() {
    run_case "bad/unknown-handler" "runp --runtime nosuch: clear error, nothing left" cri_bad_unknown_handler
}
