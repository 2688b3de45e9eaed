# shellcheck shell=bash
# Trap strings expand ids when set (SC2064); capture() assigns variables by name (SC2154).
# shellcheck disable=SC2064,SC2154
# e2e/hullshim2.sh — containerd 2.x driving hull's shim: `ctr run --runtime io.containerd.hull.v2`
# against a private containerd 2 daemon (own root, state, sockets, config v3, CRI disabled).
#
# containerd 2 is not in Debian 12: the prebuilt binaries come from the shared tools folder
# (HULL_TOOLS if set, else ../shared/tools relative to the repo, else /work/shared/tools), unpacked into
# the run's temp dir. CD2_VERSION picks the build (default containerd-2.3.4). Without the tools
# every case is skipped with the reason; under CI=true that is a failure instead.
#
# The cases are the hullshim suite's (the same functions, with ctr, CD_DIR and CD_NS pointed at
# this daemon, ids prefixed "hs2-") plus what only containerd 2 does: `-info` (RuntimeInfo with
# features), the protobuf bootstrap (BootstrapParams in, BootstrapResult version 3 out, so the
# daemon speaks containerd.task.v3.Task to the shim).

if ! declare -F suite_hullshim >/dev/null; then
    # shellcheck source=e2e/hullshim.sh
    . "$E2E_DIR/hullshim.sh"
fi

CD2_VERSION=${CD2_VERSION:-containerd-2.3.4}
CD2_DIR=$E2E_TMP/containerd2
CD2_NS=$E2E_TAG-2
CD2_BIN=
CD2_PID=
CD2_SKIP=

cd2_tools() {
    local d dirs=("$REPO/../shared/tools" /work/shared/tools)
    # HULL_TOOLS, when set, is the only place looked at
    [ -z "${HULL_TOOLS:-}" ] || dirs=("$HULL_TOOLS")
    for d in "${dirs[@]}"; do
        if [ -n "$d" ] && [ -x "$d/unpack" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

# cd2 CMD...: run CMD with this suite's daemon as the one the shared case functions talk to.
cd2() {
    CD_DIR=$CD2_DIR CD_NS=$CD2_NS CTR=$CD2_BIN/ctr "$@"
}

hullshim2_setup() {
    local tools why
    if [ ! -x "$HULL_SHIM" ]; then
        echo "$HULL_SHIM not built (make release)"
        return 1
    fi
    if ! tools=$(cd2_tools); then
        why="no prebuilt containerd 2: no shared tools folder (${HULL_TOOLS:-$REPO/../shared/tools, /work/shared/tools})"
        if [ "${CI:-}" = true ]; then
            echo "CI=true: $why"
            return 1
        fi
        CD2_SKIP=$why
        return 0
    fi
    "$tools/unpack" "$E2E_TMP/ctrd2" "$CD2_VERSION" || {
        echo "$tools/unpack $CD2_VERSION failed"
        return 1
    }
    CD2_BIN=$E2E_TMP/ctrd2/$CD2_VERSION/bin
    [ -x "$CD2_BIN/containerd" ] && [ -x "$CD2_BIN/ctr" ] || {
        echo "$CD2_BIN lacks containerd/ctr"
        return 1
    }
    echo "containerd 2: $("$CD2_BIN/containerd" --version)"
    mkdir -p "$CD2_DIR/opt/bin"
    ln -sf "$HULL_SHIM" "$CD2_DIR/opt/bin/containerd-shim-hull-v2"
    # containerd 2 asks shims for sockets in /run/containerd/s (BootstrapParams.socket_dir)
    remember_absent /run/containerd /run/containerd/s /run/containerd/fifo /run/containerd/runc "/run/containerd/runc/$CD2_NS"
    cat >"$CD2_DIR/config.toml" <<CONF
version = 3
root = "$CD2_DIR/root"
state = "$CD2_DIR/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.cri.v1.images",
  "io.containerd.cri.v1.runtime",
  "io.containerd.podsandbox.controller.v1.podsandbox",
  "io.containerd.nri.v1.nri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.erofs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$CD2_DIR/containerd.sock"

[ttrpc]
  address = "$CD2_DIR/containerd.sock.ttrpc"

[debug]
  address = "$CD2_DIR/debug.sock"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CD2_DIR/opt"
CONF
    PATH=$CD2_BIN:$PATH containerd --config "$CD2_DIR/config.toml" --log-level info >"$CD2_DIR/containerd.log" 2>&1 &
    CD2_PID=$!
    on_exit cd2_cleanup
    wait_for 20 "$CD2_BIN/ctr" --address "$CD2_DIR/containerd.sock" version ||
        { tail -n 5 "$CD2_DIR/containerd.log" >&2; echo "containerd 2 did not come up" >&2; return 1; }
    cd2 c images import --base-name localhost/busybox "$E2E_TMP/busybox-oci.tar"
}

cd2_cleanup() {
    [ -n "$CD2_BIN" ] || return 0
    # containerd_cleanup with this daemon's pid, dirs and namespace, in a subshell
    (
        CD_PID=$CD2_PID CD_DIR=$CD2_DIR CD_NS=$CD2_NS CTR=$CD2_BIN/ctr
        containerd_cleanup
    )
}

# Cases run in their own subshell: point the shared functions at this daemon for good there
# (their EXIT traps too).
hs2_case() {
    [ -z "$CD2_SKIP" ] || ci_skip "$CD2_SKIP"
    cd_use_hull_shim
    CP=hs2-
    CD_DIR=$CD2_DIR
    CD_NS=$CD2_NS
    CTR=$CD2_BIN/ctr
    # ctr 2.2+ warns on every call that cgroup v1 is deprecated (this host is hybrid)
    export CONTAINERD_SUPPRESS_DEPRECATION_WARNINGS=1
    "$@"
}

# -info: containerd 2 asks the shim about the runtime; ctr shows the answer.
hs2_info_case() {
    capture out c plugins inspect-runtime --runtime io.containerd.hull.v2
    expect_eq "inspect-runtime exit code" "$out_rc" 0
    expect_contains "name" "$out" '"Name": "io.containerd.hull.v2"'
    expect_contains "the runtime's features" "$out" '"ociVersionMin"'
    expect_contains "hull's own features annotation" "$out" io.github.hull.version
    expect_not_contains "daemon log" "$(cat "$CD_DIR/containerd.log")" "failed to load runtime info"
}

# The protobuf bootstrap: the daemon connects with version 3, i.e. containerd.task.v3.Task.
hs2_protocol_case() {
    capture out crun_ --rm "$CIMG" ${CP}proto sh -c 'echo over-v3'
    expect_contains "output" "$out" over-v3
    capture line grep -F "connecting to shim ${CP}proto" "$CD_DIR/containerd.log"
    expect_contains "bootstrap version" "$line" "version=3"
    expect_contains "protocol" "$line" "protocol=ttrpc"
    expect_contains "socket in the dir containerd named" "$line" "unix:///run/containerd/s/"
}

hs2_run_rm() { hs2_case cc_run_rm; }
hs2_run_d() { hs2_case cc_run_d; }
hs2_exec() { hs2_case cc_exec; }
hs2_exec_tty() { hs2_case cc_exec_tty; }
hs2_pause_resume() { hs2_case cc_pause_resume; }
hs2_metrics() { hs2_case cc_metrics; }
hs2_kill_delete() { hs2_case cc_kill_delete; }
hs2_kill_sigkill() { hs2_case cc_kill_sigkill; }
hs2_tty_run() { hs2_case cc_tty_run; }
hs2_missing_binary() { hs2_case cc_missing_binary; }
hs2_pod() { hs2_case hs_pod_case; }
hs2_info() { hs2_case hs2_info_case; }
hs2_protocol() { hs2_case hs2_protocol_case; }

suite_hullshim2() {
    local cases=(
        "hullshim2/info|-info: RuntimeInfo with hull's features (ctr plugins inspect-runtime)|hs2_info"
        "hullshim2/protocol|start answers BootstrapResult v3: the daemon speaks task v3|hs2_protocol"
        "hullshim2/run-rm|ctr run --rm: output and exit code|hs2_run_rm"
        "hullshim2/run-d|ctr run -d: task ls RUNNING|hs2_run_d"
        "hullshim2/exec|task exec: output, exit code, --user/--cwd|hs2_exec"
        "hullshim2/exec-tty|task exec -t: a terminal|hs2_exec_tty"
        "hullshim2/pause-resume|task pause/resume: cgroup frozen then thawed|hs2_pause_resume"
        "hullshim2/metrics|task metrics: pids and memory|hs2_metrics"
        "hullshim2/kill-delete|task kill SIGTERM to a trap, task delete: exit status 42|hs2_kill_delete"
        "hullshim2/kill-sigkill|PID 1 sh ignores SIGTERM; SIGKILL: exit status 137|hs2_kill_sigkill"
        "hullshim2/tty-run|ctr run -t: a terminal|hs2_tty_run"
        "hullshim2/missing-binary|failing start: the error names the missing binary|hs2_missing_binary"
        "hullshim2/pod|one shim for a sandbox + 3 containers; orphan refused; exits with the last|hs2_pod"
    )
    echo "# containerd 2 ($CD2_VERSION, shared tools) with hull's shim ($HULL_SHIM)"
    run_suite hullshim2 hullshim2_setup "${cases[@]}"
}
