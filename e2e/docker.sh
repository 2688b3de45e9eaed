# shellcheck shell=bash
# Case files: capture() assigns variables by name (SC2154), container-side commands are single-quoted
# on purpose (SC2016), and cleanup traps expand ids when set (SC2064).
# shellcheck disable=SC2154,SC2016,SC2064
# e2e/docker.sh — Docker (dockerd) driving RUNTIME, registered in daemon.json as runtime "hull":
#   {"runtimes": {"hull": {"path": "/abs/RUNTIME"}}}   and   docker run --runtime hull ...
# dockerd runs here with a private config against this run's own containerd (--containerd), with
# its own data-root, exec-root and socket, no iptables, no bridge, vfs storage, cgroupfs under
# /E2E_TAG-docker. Skipped when no dockerd is found: Debian's docker.io is not in the CI package
# list (its postinst would start a system daemon); point DOCKERD at a dockerd binary (docs/e2e.md
# shows how to extract one from the .deb without installing it).

if ! declare -F containerd_setup >/dev/null; then
    # shellcheck source=e2e/containerd.sh
    . "$E2E_DIR/containerd.sh"
fi
DOCKERD=${DOCKERD:-$(command -v dockerd || true)}
DK_DIR=$E2E_TMP/docker
DK_PID=
DK_SKIP=
DIMG=busybox:e2e

dk() { DOCKER_HOST=unix://$DK_DIR/docker.sock t docker "$@"; }
drun() { dk run --runtime hull --network none "$@"; }

docker_setup() {
    if [ -z "$DOCKERD" ] || [ ! -x "$DOCKERD" ]; then
        DK_SKIP="dockerd not installed (set DOCKERD=/path/to/dockerd)"
        return 0
    fi
    if ! command -v docker >/dev/null; then
        DK_SKIP="docker client not installed"
        return 0
    fi
    [ -n "$CD_PID" ] || containerd_setup
    mkdir -p "$DK_DIR"
    remember_absent /etc/docker /var/lib/docker /run/docker
    printf '{"runtimes": {"hull": {"path": "%s"}}}\n' "$RUNTIME" >"$DK_DIR/daemon.json"
    "$DOCKERD" --config-file "$DK_DIR/daemon.json" --containerd "$CD_DIR/containerd.sock" \
        --data-root "$DK_DIR/data" --exec-root "$DK_DIR/exec" --pidfile "$DK_DIR/docker.pid" \
        -H "unix://$DK_DIR/docker.sock" --iptables=false --ip6tables=false --ip-masq=false \
        --bridge=none --storage-driver vfs --cgroup-parent "/$E2E_TAG-docker" \
        --exec-opt native.cgroupdriver=cgroupfs >"$DK_DIR/dockerd.log" 2>&1 &
    DK_PID=$!
    on_exit docker_cleanup
    wait_for 30 env DOCKER_HOST="unix://$DK_DIR/docker.sock" docker version ||
        { tail -n 5 "$DK_DIR/dockerd.log" >&2; echo "dockerd did not come up" >&2; return 1; }
    dk import --change 'CMD ["/bin/sh"]' "$E2E_TMP/rootfs.tar" "$DIMG"
}

docker_cleanup() {
    local ids
    if [ -n "$DK_PID" ] && kill -0 "$DK_PID" 2>/dev/null; then
        ids=$(dk ps -aq 2>/dev/null)
        # shellcheck disable=SC2086
        [ -z "$ids" ] || dk rm -f $ids || true
        kill "$DK_PID" 2>/dev/null || true
        wait_for 15 sh -c "! kill -0 $DK_PID" || kill -9 "$DK_PID" 2>/dev/null || true
        wait "$DK_PID" 2>/dev/null || true
    fi
    remove_cgroup_tree "$E2E_TAG-docker"
    remove_if_we_created /etc/docker key.json
    remove_if_we_created /var/lib/docker
    remove_if_we_created /run/docker
}

dk_case() {
    [ -z "$DK_SKIP" ] || skip "$DK_SKIP"
    "$1"
}

dc_run_rm() {
    capture out drun --rm "$DIMG" sh -c 'echo hello-from-e2e; exit 7'
    expect_contains "output" "$out" hello-from-e2e
    expect_eq "exit code" "$out_rc" 7
}

dc_run_d_stop() {
    trap 'E2E_CASE_DEADLINE=; dk rm -f e2e-dd >/dev/null 2>&1 || true' EXIT
    drun -d --name e2e-dd "$DIMG" sh -c 'trap "echo got-sigterm; exit 0" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null
    expect_eq "status" "$(dk inspect -f '{{.State.Status}}' e2e-dd)" running
    expect_eq "runtime" "$(dk inspect -f '{{.HostConfig.Runtime}}' e2e-dd)" hull
    wait_for 10 sh -c "DOCKER_HOST=unix://$DK_DIR/docker.sock docker logs e2e-dd 2>&1 | grep -q ready" || fail "never ready"
    dk stop -t 30 e2e-dd >/dev/null
    expect_eq "exit code (trap ran)" "$(dk inspect -f '{{.State.ExitCode}}' e2e-dd)" 0
    capture logs dk logs e2e-dd
    expect_contains "logs" "$logs" got-sigterm
}

dc_exec() {
    trap 'E2E_CASE_DEADLINE=; dk rm -f e2e-dx >/dev/null 2>&1 || true' EXIT
    drun -d --name e2e-dx "$DIMG" sleep 600 >/dev/null
    capture out dk exec e2e-dx sh -c 'echo $((6*7)); exit 5'
    expect_contains "exec output" "$out" 42
    expect_eq "exec exit code" "$out_rc" 5
}

dc_tty_run() {
    capture out t script -qec "DOCKER_HOST=unix://$DK_DIR/docker.sock docker run --rm -t --runtime hull --network none $DIMG sh -c 'tty; exit 4'" /dev/null
    expect_contains "tty" "$out" /dev/pts/
    expect_eq "exit code" "$out_rc" 4
}

dc_missing_binary() {
    capture out drun --rm "$DIMG" /no/such/binary
    [ "$out_rc" != 0 ] || fail "exit code 0"
    expect_contains "error names the binary" "$out" /no/such/binary
}

docker_run_rm() { dk_case dc_run_rm; }
docker_run_d_stop() { dk_case dc_run_d_stop; }
docker_exec() { dk_case dc_exec; }
docker_tty_run() { dk_case dc_tty_run; }
docker_missing_binary() { dk_case dc_missing_binary; }

suite_docker() {
    local cases=(
        "docker/run-rm|docker run --rm --runtime hull: output and exit code|docker_run_rm"
        "docker/run-d-stop|run -d, stop: SIGTERM reaches a trap|docker_run_d_stop"
        "docker/exec|exec: output and exit code|docker_exec"
        "docker/tty-run|run -t: a terminal|docker_tty_run"
        "docker/missing-binary|error message names a missing binary|docker_missing_binary"
    )
    echo "# docker: dockerd ${DOCKERD:-(none)}, runtime \"hull\" = $RUNTIME in daemon.json"
    run_suite docker docker_setup "${cases[@]}"
}
