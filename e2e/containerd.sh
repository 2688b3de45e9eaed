# shellcheck shell=bash
# Case files: capture() assigns variables by name (SC2154), container-side commands are single-quoted
# on purpose (SC2016), and cleanup traps expand ids when set (SC2064).
# shellcheck disable=SC2154,SC2016,SC2064
# e2e/containerd.sh — containerd 1.6 (started here, private config) and its Go shim
# (io.containerd.runc.v2) driving RUNTIME via `ctr run --runc-binary /abs/RUNTIME`.
# Private root, state, sockets and opt dir under E2E_TMP; CRI disabled; a namespace named after
# the run's tag (so cgroups are /E2E_TAG/<id>); the runtime's state root (--runc-root) in E2E_TMP.
# containerd 1.6 still uses fixed /run/containerd/{s,fifo} (shim sockets hashed by our address,
# ctr's fifos in random subdirectories): removed afterwards only if this run created them.

CIMG=localhost/busybox:latest
CD_DIR=$E2E_TMP/containerd
CD_NS=$E2E_TAG
CD_PID=

# CTR: the ctr binary (the hullshim2 suite points it, CD_DIR and CD_NS at its containerd 2).
c() { t "${CTR:-ctr}" --address "$CD_DIR/containerd.sock" --namespace "$CD_NS" "$@"; }
# How `ctr run` picks the shim and runtime: the Go runc shim driving RUNTIME (suite containerd),
# or hull's own shim (suite hullshim, see hullshim.sh). CP prefixes container ids per suite.
CD_RUN_ARGS=()
CP=e2e-
CD_RUNTIME_STATE=1 # 1: the runtime's state dir is known here, check `RUNTIME state`
cd_use_runc_shim() {
    CD_RUN_ARGS=(--runc-binary "$RUNTIME" --runc-root "$CD_DIR/runtime-root")
    CP=e2e-
    CD_RUNTIME_STATE=1
}
crun_() { c run "${CD_RUN_ARGS[@]}" "$@"; }
# the same ctr command line as a string, for `script -qec`
ctr_cmdline() { echo "${CTR:-ctr} --address $CD_DIR/containerd.sock --namespace $CD_NS $*"; }
ctask_status() { c task ls | awk -v id="$1" '$1 == id { print $3 }'; }
ctask_pid() { c task ls | awk -v id="$1" '$1 == id { print $2 }'; }
ctask_wait_status() { # ctask_wait_status ID STATUS: poll up to 10 s
    local i
    for ((i = 0; i < 50; i++)); do
        [ "$(ctask_status "$1")" = "$2" ] && return 0
        sleep 0.2
    done
    return 1
}
# runtime state root as the Go shim computes it: <runc-root>/<namespace>
cd_runtime_root() { echo "$CD_DIR/runtime-root/$CD_NS"; }
# remove_task_on_exit ID: kill + delete the task and the container whatever the case's outcome
remove_task_on_exit() {
    trap "set +e; E2E_CASE_DEADLINE=; c task kill -s SIGKILL $1 >/dev/null 2>&1; sleep 0.2; c task delete -f $1 >/dev/null 2>&1; c container rm $1 >/dev/null 2>&1; true" EXIT
}

containerd_setup() {
    mkdir -p "$CD_DIR/opt/bin" "$CD_DIR/runtime-root"
    # (a shim given no runtime root, e.g. the hull-shim suite, may use /run/containerd/runc/<ns>)
    remember_absent /run/containerd /run/containerd/s /run/containerd/fifo /run/containerd/runc "/run/containerd/runc/$CD_NS"
    cat >"$CD_DIR/config.toml" <<CONF
version = 2
root = "$CD_DIR/root"
state = "$CD_DIR/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$CD_DIR/containerd.sock"

[ttrpc]
  address = "$CD_DIR/containerd.sock.ttrpc"

[debug]
  address = "$CD_DIR/debug.sock"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CD_DIR/opt"
CONF
    containerd --config "$CD_DIR/config.toml" --log-level info >"$CD_DIR/containerd.log" 2>&1 &
    CD_PID=$!
    on_exit containerd_cleanup
    wait_for 20 ctr --address "$CD_DIR/containerd.sock" version ||
        { tail -n 5 "$CD_DIR/containerd.log" >&2; echo "containerd did not come up" >&2; return 1; }
    c images import --base-name localhost/busybox "$E2E_TMP/busybox-oci.tar"
}

containerd_cleanup() {
    local id d
    if [ -n "$CD_PID" ] && kill -0 "$CD_PID" 2>/dev/null; then
        for id in $(c task ls -q 2>/dev/null); do
            c task kill -s SIGKILL "$id" || true
        done
        sleep 0.5
        for id in $(c task ls -q 2>/dev/null); do c task delete -f "$id" || true; done
        for id in $(c container ls -q 2>/dev/null); do c container rm "$id" || true; done
        kill "$CD_PID" 2>/dev/null || true
        wait_for 10 sh -c "! kill -0 $CD_PID" || kill -9 "$CD_PID" 2>/dev/null || true
        wait "$CD_PID" 2>/dev/null || true
    fi
    # shims and containers left by a crash: processes naming our temp dir, by pid
    kill_procs_naming "$CD_DIR"
    umount_under "$CD_DIR"
    remove_cgroup_tree "$CD_NS"
    for d in "/run/containerd/runc/$CD_NS" /run/containerd/runc /run/containerd/fifo /run/containerd/s /run/containerd; do
        remove_if_we_created "$d"
    done
}

# ---------------------------------------------------------------- cases

cc_run_rm() {
    capture out crun_ --rm "$CIMG" ${CP}rm sh -c 'echo hello-from-e2e; exit 7'
    expect_contains "output" "$out" hello-from-e2e
    expect_eq "exit code" "$out_rc" 7
    capture ls c container ls -q
    expect_not_contains "containers after --rm" "$ls" ${CP}rm
}

cc_run_d() {
    capture out crun_ -d --log-uri "file://$CD_DIR/${CP}d.log" "$CIMG" ${CP}d \
        sh -c 'trap "echo got-sigterm; exit 42" TERM; echo started; while :; do sleep 0.1; done'
    expect_eq "run -d exit code" "$out_rc" 0
    expect_eq "task status" "$(ctask_status ${CP}d)" RUNNING
    local pid
    pid=$(ctask_pid ${CP}d)
    wait_for 10 grep -q started "$CD_DIR/${CP}d.log" || fail "no output in the log file"
    expect_contains "host sees the container's process" "$(tr '\0' ' ' </proc/"$pid"/cmdline)" "sh -c trap"
    if [ "$CD_RUNTIME_STATE" = 1 ]; then
        capture st t "$RUNTIME" --root "$(cd_runtime_root)" state ${CP}d
        expect_contains "$RUNTIME_NAME state" "$st" '"running"'
    fi
}

cc_exec() {
    capture out c task exec --exec-id e1 ${CP}d sh -c 'echo $((6*7)); exit 5'
    expect_contains "exec output" "$out" 42
    expect_eq "exec exit code" "$out_rc" 5
    capture out c task exec --exec-id e2 --user 1000 --cwd /tmp ${CP}d sh -c 'id -u; pwd'
    expect_eq "exec --user/--cwd" "$(oneline "$out")" "1000 /tmp"
}

cc_exec_tty() {
    capture out t script -qec "$(ctr_cmdline task exec -t) --exec-id e3 ${CP}d sh -c 'tty; test -t 1 && echo stdout-is-tty; exit 3'" /dev/null
    expect_contains "tty" "$out" /dev/pts/
    expect_contains "isatty" "$out" stdout-is-tty
    expect_eq "exit code" "$out_rc" 3
}

cc_pause_resume() {
    local pid f
    pid=$(ctask_pid ${CP}d)
    c task pause ${CP}d
    expect_eq "status after pause" "$(ctask_status ${CP}d)" PAUSED
    f=$(cg_file "$pid" freezer freezer.state cgroup.freeze)
    capture fr cat "$f"
    case "$fr" in FROZEN | 1) echo "checked: $f = $fr" ;; *) fail "$f: '$fr', want FROZEN/1" ;; esac
    c task resume ${CP}d
    expect_eq "status after resume" "$(ctask_status ${CP}d)" RUNNING
    capture fr cat "$f"
    case "$fr" in THAWED | 0) echo "checked: $f = $fr" ;; *) fail "$f: '$fr', want THAWED/0" ;; esac
    capture out c task exec --exec-id e4 ${CP}d echo alive-again
    expect_contains "exec after resume" "$out" alive-again
}

cc_metrics() {
    capture out c task metrics ${CP}d
    expect_eq "metrics exit code" "$out_rc" 0
    local pids
    pids=$(echo "$out" | awk '$1 == "pids.current" { print $2 }')
    if [ -z "$pids" ] || [ "$pids" -lt 1 ]; then fail "pids.current is '$pids', want >= 1"; fi
    echo "checked: pids.current = $pids"
    expect_contains "memory metrics" "$out" memory.usage
}

cc_kill_delete() {
    local pid
    pid=$(ctask_pid ${CP}d)
    c task kill -s SIGTERM ${CP}d # PID 1's trap exits 42
    ctask_wait_status ${CP}d STOPPED ||
        fail "task not STOPPED after SIGTERM (status $(ctask_status ${CP}d))"
    echo "checked: task STOPPED"
    capture out c task delete ${CP}d
    expect_contains "delete reports the exit status" "$out" "exit code 42"
    expect_contains "the trap ran" "$(cat "$CD_DIR/${CP}d.log")" got-sigterm
    capture ls c task ls -q
    expect_not_contains "task ls" "$ls" ${CP}d
    if [ "$CD_RUNTIME_STATE" = 1 ]; then
        capture st t "$RUNTIME" --root "$(cd_runtime_root)" state ${CP}d
        [ "$st_rc" != 0 ] || fail "$RUNTIME_NAME state still knows ${CP}d"
        echo "checked: $RUNTIME_NAME no longer knows the container"
    fi
    ! kill -0 "$pid" 2>/dev/null || fail "process $pid still alive"
    c container rm ${CP}d
}

cc_kill_sigkill() {
    remove_task_on_exit ${CP}k
    crun_ -d --null-io "$CIMG" ${CP}k sh -c 'while :; do sleep 0.1; done'
    c task kill -s SIGTERM ${CP}k # ignored: sh is PID 1 without a handler
    sleep 0.5
    expect_eq "PID 1 sh ignores SIGTERM" "$(ctask_status ${CP}k)" RUNNING
    c task kill -s SIGKILL ${CP}k
    ctask_wait_status ${CP}k STOPPED ||
        fail "task not STOPPED after SIGKILL"
    capture out c task delete ${CP}k
    expect_contains "delete reports the exit status" "$out" "exit code 137"
}

cc_tty_run() {
    capture out t script -qec "$(ctr_cmdline run --rm -t "${CD_RUN_ARGS[@]}") $CIMG ${CP}tty sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 4'" /dev/null
    expect_contains "tty" "$out" /dev/pts/
    expect_contains "isatty" "$out" stdin-is-tty
    expect_eq "exit code" "$out_rc" 4
}

cc_missing_binary() {
    remove_task_on_exit ${CP}fail
    capture out crun_ --rm "$CIMG" ${CP}fail /no/such/binary
    [ "$out_rc" != 0 ] || fail "exit code 0"
    echo "checked: exit code $out_rc"
    # the Go shim shows the last error line of the runtime's --log file
    expect_contains "error names the binary" "$out" /no/such/binary
    capture ls c task ls -q
    expect_not_contains "task ls" "$ls" ${CP}fail
}

suite_containerd() {
    local cases=(
        "containerd/run-rm|ctr run --rm: output and exit code|cc_run_rm"
        "containerd/run-d|ctr run -d: task ls RUNNING, runtime state agrees|cc_run_d"
        "containerd/exec|task exec: output, exit code, --user/--cwd|cc_exec"
        "containerd/exec-tty|task exec -t: a terminal|cc_exec_tty"
        "containerd/pause-resume|task pause/resume: cgroup frozen then thawed|cc_pause_resume"
        "containerd/metrics|task metrics: pids and memory|cc_metrics"
        "containerd/kill-delete|task kill SIGTERM to a trap, task delete: exit status 42|cc_kill_delete"
        "containerd/kill-sigkill|PID 1 sh ignores SIGTERM; SIGKILL: exit status 137|cc_kill_sigkill"
        "containerd/tty-run|ctr run -t: a terminal|cc_tty_run"
        "containerd/missing-binary|failing start: the error names the missing binary|cc_missing_binary"
    )
    echo "# containerd $(containerd --version | awk '{print $3}'), Go shim io.containerd.runc.v2 with --runc-binary $RUNTIME"
    cd_use_runc_shim
    run_suite containerd containerd_setup "${cases[@]}"
}
