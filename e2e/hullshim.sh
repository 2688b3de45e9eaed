# shellcheck shell=bash
# e2e/hullshim.sh — containerd driving hull's own shim: `ctr run --runtime io.containerd.hull.v2`.
#
# The shim is found as containerd-shim-hull-v2 in <opt path>/bin (containerd puts that dir first on
# its PATH); it picks the runtime binary itself (hull), so RUNTIME does not apply to this suite.
# The same case functions as the containerd suite run, with container ids prefixed "hs-".

if ! declare -F suite_containerd >/dev/null; then
    # shellcheck source=e2e/containerd.sh
    . "$E2E_DIR/containerd.sh"
fi

HULL_SHIM=${HULL_SHIM:-}
if [ -z "$HULL_SHIM" ]; then
    if [ -x "$(dirname "$RUNTIME")/containerd-shim-hull-v2" ]; then
        HULL_SHIM=$(dirname "$RUNTIME")/containerd-shim-hull-v2
    else
        HULL_SHIM=$REPO/target/release/containerd-shim-hull-v2
    fi
fi
HS_SKIP=

hullshim_setup() {
    local out
    if [ ! -x "$HULL_SHIM" ]; then
        HS_SKIP="hull shim not implemented ($HULL_SHIM not built)"
        return 0
    fi
    local rc=0
    out=$(timeout 5 "$HULL_SHIM" -v 2>&1) || rc=$?
    if [ "$rc" != 0 ]; then
        echo "$HULL_SHIM -v (exit $rc): $out"
        HS_SKIP="hull shim not implemented ($(basename "$HULL_SHIM") -v exits $rc)"
        return 0
    fi
    echo "shim: $out"
    [ -n "$CD_PID" ] || containerd_setup
    ln -sf "$HULL_SHIM" "$CD_DIR/opt/bin/containerd-shim-hull-v2"
}

cd_use_hull_shim() {
    CD_RUN_ARGS=(--runtime io.containerd.hull.v2)
    CP=hs-
    CD_RUNTIME_STATE=0 # the shim owns the runtime's state root
}

# every case first checks that the shim exists
hs_case() {
    [ -z "$HS_SKIP" ] || ci_skip "$HS_SKIP"
    "$1"
}
hs_run_rm() { hs_case cc_run_rm; }
hs_run_d() { hs_case cc_run_d; }
hs_exec() { hs_case cc_exec; }
hs_exec_tty() { hs_case cc_exec_tty; }
hs_pause_resume() { hs_case cc_pause_resume; }
hs_metrics() { hs_case cc_metrics; }
hs_kill_delete() { hs_case cc_kill_delete; }
hs_kill_sigkill() { hs_case cc_kill_sigkill; }
hs_tty_run() { hs_case cc_tty_run; }
hs_missing_binary() { hs_case cc_missing_binary; }
hs_pod() { hs_case hs_pod_case; }
hs_checkpoint() { hs_case hs_checkpoint_case; }

# One shim per pod: a sandbox and three containers annotated as the CRI plugin does
# (io.kubernetes.cri.sandbox-id / container-type) are all children of one shim process; a
# container naming a sandbox without a shim is refused; the shim goes with the last task.
HS_POD_ANN=(io.kubernetes.cri.sandbox-id io.kubernetes.cri.container-type)
hs_pod_case() {
    local sb=${CP}pod ids id i shim shims rss thr
    ids="$sb ${CP}pod-1 ${CP}pod-2 ${CP}pod-3"
    trap "set +e; E2E_CASE_DEADLINE=; for id in $ids ${CP}pod-orphan; do c task kill -s SIGKILL \$id; done >/dev/null 2>&1; sleep 0.3; for id in $ids ${CP}pod-orphan; do c task delete -f \$id; c container rm \$id; done >/dev/null 2>&1; true" EXIT
    crun_ -d --null-io --annotation "${HS_POD_ANN[0]}=$sb" --annotation "${HS_POD_ANN[1]}=sandbox" \
        "$CIMG" "$sb" sleep 1000
    for i in 1 2 3; do
        crun_ -d --null-io --annotation "${HS_POD_ANN[0]}=$sb" --annotation "${HS_POD_ANN[1]}=container" \
            "$CIMG" "${CP}pod-$i" sleep 1000
    done
    shims=$(for id in $ids; do ps -o ppid= -p "$(ctask_pid "$id")"; done | sort -u | tr -d ' ')
    expect_eq "distinct parents of the pod's 4 tasks" "$(echo "$shims" | wc -l)" 1
    shim=$shims
    expect_eq "the parent is hull's shim" "$(cat "/proc/$shim/comm")" containerd-shim
    expect_contains "its binary" "$(readlink "/proc/$shim/exe")" containerd-shim-hull-v2
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$shim/status")
    thr=$(awk '/^Threads/ { print $2 }' "/proc/$shim/status")
    echo "measured: shim serving 1 sandbox + 3 containers: VmRSS $rss kB, $thr threads"
    echo "$rss $thr" >"$E2E_TMP/${CP}pod-rss"

    capture out crun_ -d --null-io --annotation "${HS_POD_ANN[0]}=no-such-pod" \
        --annotation "${HS_POD_ANN[1]}=container" "$CIMG" "${CP}pod-orphan" true
    [ "$out_rc" != 0 ] || fail "a container of a sandbox without a shim started"
    expect_contains "the error names the sandbox" "$out" 'pod sandbox "no-such-pod"'
    expect_not_contains "task ls" "$(c task ls -q)" "${CP}pod-orphan"

    for i in 1 2 3; do
        c task kill -s SIGKILL "${CP}pod-$i"
        ctask_wait_status "${CP}pod-$i" STOPPED || fail "${CP}pod-$i not STOPPED"
        capture out c task delete "${CP}pod-$i"
        expect_contains "delete ${CP}pod-$i" "$out" "exit code 137"
    done
    sleep 0.5
    kill -0 "$shim" 2>/dev/null || fail "the shim went while the sandbox still runs"
    expect_eq "sandbox still" "$(ctask_status "$sb")" RUNNING
    c task kill -s SIGKILL "$sb"
    ctask_wait_status "$sb" STOPPED || fail "sandbox not STOPPED"
    c task delete "$sb"
    wait_for 10 sh -c "! kill -0 $shim" || fail "shim $shim still there after the last delete"
    echo "checked: the shim exited after the sandbox's delete"
    for id in $ids; do c container rm "$id"; done
}

# ctr c checkpoint --task (leaves it running) and ctr c restore --live: the restored task counts on
# from the dumped value. CRIU 3.17 cannot start on every kernel (`criu check`): make
# e2e-checkpoint runs this case in the VM.
hs_checkpoint_case() {
    command -v criu >/dev/null || ci_skip "criu missing (.ci/packages/checkpoint.txt)"
    local why
    why=$(criu check 2>&1) || skip "criu check fails on $(uname -r): $(echo "$why" | tail -n1) (make e2e-checkpoint runs it in the VM)"
    local id=${CP}ck ref=localhost/hull-e2e-ckpt:$$
    capture out crun_ -d "$CIMG" $id sh -c 'i=0; while :; do i=$((i+1)); echo $i >/dev/shm/n; sleep 0.1; done'
    expect_eq "run -d exit code" "$out_rc" 0
    sleep 2
    capture out c container checkpoint --task $id $ref
    expect_eq "ctr c checkpoint --task exit code" "$out_rc" 0
    [ "$out_rc" = 0 ] || { echo "$out"; fail "checkpoint failed"; }
    expect_eq "still running after the checkpoint" "$(ctask_status $id)" RUNNING
    local v0
    v0=$(c task exec --exec-id ck0 $id cat /dev/shm/n)
    [ "${v0:-0}" -ge 15 ] || fail "the counter is at '$v0' after 2 s"
    c task kill -s SIGKILL $id
    ctask_wait_status $id STOPPED || fail "task not STOPPED after SIGKILL"
    c task delete $id >/dev/null
    c container rm $id
    capture out c container restore --live $id $ref
    expect_eq "ctr c restore --live exit code" "$out_rc" 0
    [ "$out_rc" = 0 ] || { echo "$out"; fail "restore failed"; }
    ctask_wait_status $id RUNNING || fail "restored task not RUNNING (status $(ctask_status $id))"
    echo "checked: restored task RUNNING"
    sleep 0.5
    local v1
    v1=$(c task exec --exec-id ck1 $id cat /dev/shm/n)
    [ "${v1:-0}" -ge "$v0" ] || fail "restored counter '$v1' below the dumped one ($v0): a fresh start, not a restore"
    echo "checked: counter $v0 at the dump, $v1 after the restore"
    c task kill -s SIGKILL $id
    ctask_wait_status $id STOPPED || fail "restored task not STOPPED after SIGKILL"
    c task delete $id >/dev/null
    c container rm $id
    c image rm $ref >/dev/null
}

suite_hullshim() {
    local cases=(
        "hullshim/run-rm|ctr run --rm: output and exit code|hs_run_rm"
        "hullshim/run-d|ctr run -d: task ls RUNNING|hs_run_d"
        "hullshim/exec|task exec: output, exit code, --user/--cwd|hs_exec"
        "hullshim/exec-tty|task exec -t: a terminal|hs_exec_tty"
        "hullshim/pause-resume|task pause/resume: cgroup frozen then thawed|hs_pause_resume"
        "hullshim/metrics|task metrics: pids and memory|hs_metrics"
        "hullshim/kill-delete|task kill SIGTERM to a trap, task delete: exit status 42|hs_kill_delete"
        "hullshim/kill-sigkill|PID 1 sh ignores SIGTERM; SIGKILL: exit status 137|hs_kill_sigkill"
        "hullshim/tty-run|ctr run -t: a terminal|hs_tty_run"
        "hullshim/missing-binary|failing start: the error names the missing binary|hs_missing_binary"
        "hullshim/checkpoint|ctr c checkpoint --task, ctr c restore --live: the counter goes on|hs_checkpoint"
        "hullshim/pod|one shim for a sandbox + 3 containers; orphan refused; exits with the last|hs_pod"
    )
    echo "# containerd with hull's own shim: --runtime io.containerd.hull.v2 ($HULL_SHIM)"
    cd_use_hull_shim
    run_suite hullshim hullshim_setup "${cases[@]}"
}
