# shellcheck shell=bash
# Case files: capture() assigns variables by name (SC2154), container-side commands are single-quoted
# on purpose (SC2016), and cleanup traps expand ids when set (SC2064).
# shellcheck disable=SC2154,SC2016,SC2064
# e2e/podman.sh — podman 4.x + conmon driving RUNTIME (`podman --runtime /abs/RUNTIME`).
# Private containers.conf / storage.conf: own graphroot, runroot, tmpdir and events log under
# E2E_TMP, vfs storage, no network namespace setup by podman (netns none: never touches iptables),
# cgroupfs manager, ulimits under this host's hard limits, every container under cgroup parent
# /E2E_TAG-podman so that nothing lands in cgroups we did not create.

IMG=localhost/busybox:e2e

pm() { t podman --runtime "$RUNTIME" "$@"; }
prun() { pm run --cgroup-parent "/$E2E_TAG-podman" "$@"; }
# pid of a container's init process, as podman knows it
ppid_of() { pm inspect -f '{{.State.Pid}}' "$1"; }
pstatus() { pm inspect -f '{{.State.Status}}' "$1"; }
pexit() { pm inspect -f '{{.State.ExitCode}}' "$1"; }
cid_of() { pm inspect -f '{{.Id}}' "$1"; }
# remove_on_exit NAME: the case's container goes away whatever the case's outcome
remove_on_exit() { trap "E2E_CASE_DEADLINE=; pm rm -f -t 0 $1 >/dev/null 2>&1 || true" EXIT; }
# wait until podman reports STATUS (podman's own cleanup runs asynchronously after an exit)
wait_status() { wait_for 20 sh -c "[ \"\$(podman --runtime $RUNTIME inspect -f '{{.State.Status}}' $1)\" = $2 ]"; }

podman_setup() {
    local p=$E2E_TMP/podman
    mkdir -p "$p/vol" "$p/tmp"
    # Fixed paths podman 4.3 and runtimes use whatever the config says; removed later if we made them.
    remember_absent /var/lib/containers /run/containers /run/libpod /etc/containers/networks "/run/$RUNTIME_NAME"
    local nofile nproc
    nofile=$(ulimit -Hn)
    nproc=$(ulimit -Hu)
    [ "$nofile" = unlimited ] || [ "$nofile" -gt 1024 ] && nofile=1024
    [ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
    cat >"$p/containers.conf" <<CONF
[containers]
netns = "none"
log_driver = "k8s-file"
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
# conmon gets a fixed environment, not ours: without TMPDIR here a failed `exec -t` leaves its
# console socket (conmon-term.XXXXXX) in /tmp
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=$TMPDIR"]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$p/events.log"
tmp_dir = "$p/tmp"

[network]
network_config_dir = "$p/networks"
CONF
    cat >"$p/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$p/graph"
runroot = "$p/run"
CONF
    export CONTAINERS_CONF=$p/containers.conf CONTAINERS_STORAGE_CONF=$p/storage.conf
    on_exit podman_cleanup
    pm import --change 'CMD ["/bin/sh"]' "$E2E_TMP/rootfs.tar" "$IMG" >"$p/import.log" 2>&1 ||
        { cat "$p/import.log" >&2; return 1; }
}

podman_cleanup() {
    if [ -n "${CONTAINERS_CONF:-}" ]; then
        pm rm -a -f -t 0 || true
        pm rmi -a -f || true
    fi
    # last resort: processes whose command line names our temp dir (conmon), by pid
    kill_procs_naming "$E2E_TMP/podman"
    # mounts under our temp dir (shm of containers, ...), deepest first
    umount_under "$E2E_TMP/podman"
    remove_cgroup_tree "$E2E_TAG-podman"
    remove_if_we_created "/run/$RUNTIME_NAME"
    remove_if_we_created /var/lib/containers cache/blob-info-cache-v1.boltdb
    remove_if_we_created /run/containers
    remove_if_we_created /run/libpod alive alive.lck
    remove_if_we_created /etc/containers/networks netavark.lock
    unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF
}

# ---------------------------------------------------------------- cases

pc_run_rm() {
    capture out prun --rm "$IMG" sh -c 'echo hello-from-e2e; exit 7'
    expect_contains "output" "$out" hello-from-e2e
    expect_eq "exit code" "$out_rc" 7
    capture ps pm ps -a --format '{{.Names}}'
    expect_eq "containers left after --rm" "$ps" ""
}

pc_run_d() {
    capture out prun -d --name e2e-d "$IMG" sleep 600
    expect_eq "run -d exit code" "$out_rc" 0
    expect_eq "status" "$(pstatus e2e-d)" running
    local pid id
    pid=$(ppid_of e2e-d)
    id=$(cid_of e2e-d)
    if ! [ "$pid" -gt 0 ] || ! kill -0 "$pid"; then fail "init pid '$pid' is not alive"; fi
    expect_eq "host sees the container's process" "$(tr '\0' ' ' </proc/"$pid"/cmdline)" "sleep 600 "
    # the runtime under test (default root) knows the container and reports it running
    capture st t "$RUNTIME" state "$id"
    expect_contains "$RUNTIME_NAME state" "$st" '"running"'
    capture ps pm ps --format '{{.Names}} {{.Status}}'
    expect_contains "podman ps" "$ps" "e2e-d Up"
}

pc_exec() {
    capture out pm exec e2e-d sh -c 'echo $((6*7)); echo to-stderr >&2'
    expect_contains "exec output" "$out" 42
    expect_contains "exec stderr" "$out" to-stderr
    capture out pm exec e2e-d sh -c 'exit 5'
    expect_eq "exec exit code" "$out_rc" 5
    capture out pm exec --user 1000:1000 --workdir /tmp --env E2E_VAR=xyz e2e-d sh -c 'id -u; pwd; echo $E2E_VAR'
    expect_eq "exec --user/--workdir/--env" "$(oneline "$out")" "1000 /tmp xyz"
}

pc_exec_tty() {
    capture out t script -qec "podman --runtime $RUNTIME exec -t e2e-d sh -c 'tty; test -t 1 && echo stdout-is-tty'" /dev/null
    expect_contains "tty" "$out" /dev/pts/
    expect_contains "isatty" "$out" stdout-is-tty
}

pc_pause_unpause() {
    local pid f
    pid=$(ppid_of e2e-d)
    pm pause e2e-d
    expect_eq "status after pause" "$(pstatus e2e-d)" paused
    f=$(cg_file "$pid" freezer freezer.state cgroup.freeze)
    capture fr cat "$f"
    case "$fr" in FROZEN | 1) echo "checked: $f = $fr" ;; *) fail "$f: '$fr', want FROZEN/1" ;; esac
    grep -q '^State:.*(stopped)\|^State:.*(sleeping)\|^State:.*(D' /proc/"$pid"/status || true
    pm unpause e2e-d
    expect_eq "status after unpause" "$(pstatus e2e-d)" running
    capture fr cat "$f"
    case "$fr" in THAWED | 0) echo "checked: $f = $fr" ;; *) fail "$f: '$fr', want THAWED/0" ;; esac
    capture out pm exec e2e-d echo alive-again
    expect_contains "exec after unpause" "$out" alive-again
}

pc_top() {
    capture out pm top e2e-d
    expect_eq "top exit code" "$out_rc" 0
    expect_contains "top" "$out" "sleep 600"
}

pc_stats() {
    capture out pm stats --no-stream --format '{{.Name}} pids={{.PIDs}} mem={{.MemUsage}}' e2e-d
    expect_eq "stats exit code" "$out_rc" 0
    expect_contains "stats" "$out" "e2e-d pids=1 mem="
}

pc_logs() {
    remove_on_exit e2e-logs
    prun -d --name e2e-logs "$IMG" sh -c 'echo line-one; echo line-two >&2; exit 3' >/dev/null
    wait_status e2e-logs exited || true
    expect_eq "exit code" "$(pexit e2e-logs)" 3
    capture out pm logs e2e-logs
    expect_contains "logs" "$out" line-one
    expect_contains "logs" "$out" line-two
    pm rm e2e-logs >/dev/null
}

pc_stop_graceful() {
    remove_on_exit e2e-trap
    prun -d --name e2e-trap "$IMG" sh -c 'trap "echo got-sigterm; exit 0" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null
    wait_for 10 sh -c "podman --runtime $RUNTIME logs e2e-trap 2>&1 | grep -q ready" || fail "container never became ready"
    capture out pm stop -t 30 e2e-trap
    expect_eq "stop exit code" "$out_rc" 0
    expect_eq "status" "$(pstatus e2e-trap)" exited
    expect_eq "exit code (trap ran)" "$(pexit e2e-trap)" 0
    capture logs pm logs e2e-trap
    expect_contains "logs" "$logs" got-sigterm
    pm rm e2e-trap >/dev/null
}

pc_stop_timeout() {
    # sh as PID 1 ignores SIGTERM (no handler): stop must fall back to SIGKILL after -t
    remove_on_exit e2e-stubborn
    prun -d --name e2e-stubborn "$IMG" sh -c 'while :; do sleep 0.1; done' >/dev/null
    capture out pm stop -t 1 e2e-stubborn
    expect_eq "stop exit code" "$out_rc" 0
    expect_eq "status" "$(pstatus e2e-stubborn)" exited
    expect_eq "exit code (SIGKILL)" "$(pexit e2e-stubborn)" 137
    pm rm e2e-stubborn >/dev/null
}

pc_kill() {
    remove_on_exit e2e-kill
    prun -d --name e2e-kill "$IMG" sh -c 'trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.1; done' >/dev/null
    wait_for 10 sh -c "podman --runtime $RUNTIME logs e2e-kill 2>&1 | grep -q ready" || fail "container never became ready"
    pm kill -s USR1 e2e-kill >/dev/null
    wait_for 10 sh -c "podman --runtime $RUNTIME logs e2e-kill 2>&1 | grep -q got-usr1" || fail "USR1 not delivered"
    echo "checked: USR1 delivered to the trap"
    expect_eq "still running after USR1" "$(pstatus e2e-kill)" running
    pm kill e2e-kill >/dev/null
    wait_status e2e-kill exited || true
    expect_eq "status" "$(pstatus e2e-kill)" exited
    expect_eq "exit code (SIGKILL)" "$(pexit e2e-kill)" 137
    pm rm e2e-kill >/dev/null
}

pc_rm_f() {
    local pid id
    pid=$(ppid_of e2e-d)
    id=$(cid_of e2e-d)
    capture out pm rm -f -t 0 e2e-d
    expect_eq "rm -f exit code" "$out_rc" 0
    capture ps pm ps -a --format '{{.Names}}'
    expect_not_contains "podman ps -a" "$ps" e2e-d
    wait_for 10 sh -c "! kill -0 $pid" || fail "init process $pid still alive"
    echo "checked: process $pid is gone"
    capture st t "$RUNTIME" state "$id"
    [ "$st_rc" != 0 ] || fail "$RUNTIME_NAME state still knows $id"
    echo "checked: $RUNTIME_NAME no longer knows the container"
}

pc_tty_run() {
    capture out t script -qec "podman --runtime $RUNTIME run --rm -t --cgroup-parent /$E2E_TAG-podman $IMG sh -c 'tty; test -t 0 && echo stdin-is-tty; exit 4'" /dev/null
    expect_contains "tty" "$out" /dev/pts/
    expect_contains "isatty" "$out" stdin-is-tty
    expect_eq "exit code" "$out_rc" 4
}

pc_read_only() {
    capture out prun --rm --read-only "$IMG" sh -c 'touch /etc/e2e 2>&1; touch /tmp/ok && echo tmp-writable'
    expect_contains "write to /etc" "$out" "Read-only file system"
    expect_contains "tmpfs on /tmp" "$out" tmp-writable
}

pc_user() {
    capture out prun --rm --user 1000:1000 "$IMG" sh -c 'echo $(id -u):$(id -g); touch /root/x 2>&1'
    expect_contains "uid:gid" "$out" 1000:1000
    expect_contains "no root powers" "$out" "Permission denied"
}

pc_cap_drop() {
    capture out prun --rm --cap-drop ALL "$IMG" grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status
    expect_contains "CapEff" "$out" "CapEff:	0000000000000000"
    expect_contains "CapBnd" "$out" "CapBnd:	0000000000000000"
    capture out prun --rm --cap-drop ALL "$IMG" sh -c 'chown 1:1 /tmp 2>&1'
    expect_contains "chown without CAP_CHOWN" "$out" "Operation not permitted"
}

pc_memory() {
    remove_on_exit e2e-mem
    prun -d --name e2e-mem --memory 32m "$IMG" sleep 600 >/dev/null
    local pid f
    pid=$(ppid_of e2e-mem)
    f=$(cg_file "$pid" memory memory.limit_in_bytes memory.max)
    capture v cat "$f"
    expect_eq "$f" "$v" 33554432
    pm rm -f -t 0 e2e-mem >/dev/null
}

pc_pids_limit() {
    remove_on_exit e2e-pids
    prun -d --name e2e-pids --pids-limit 42 "$IMG" sleep 600 >/dev/null
    local pid f
    pid=$(ppid_of e2e-pids)
    f=$(cg_file "$pid" pids pids.max pids.max)
    capture v cat "$f"
    expect_eq "$f" "$v" 42
    pm rm -f -t 0 e2e-pids >/dev/null
}

pc_seccomp() {
    capture out prun --rm --security-opt "seccomp=$E2E_DIR/seccomp-deny-mkdir.json" "$IMG" \
        sh -c 'grep ^Seccomp: /proc/self/status; mkdir /tmp/nope 2>&1; touch /tmp/file && echo touch-ok'
    expect_contains "seccomp mode" "$out" "Seccomp:	2"
    expect_contains "mkdir denied" "$out" "Operation not permitted"
    expect_contains "other syscalls allowed" "$out" touch-ok
}

pc_volume() {
    local d=$E2E_TMP/podman/vol
    echo from-host >"$d/in.txt"
    capture out prun --rm -v "$d:/data" "$IMG" sh -c 'cat /data/in.txt; echo from-container > /data/out.txt'
    expect_contains "host file seen inside" "$out" from-host
    expect_eq "container file seen on host" "$(cat "$d/out.txt")" from-container
}

pc_missing_binary() {
    capture out prun --rm "$IMG" /no/such/binary
    [ "$out_rc" != 0 ] || fail "exit code 0"
    echo "checked: exit code $out_rc"
    expect_contains "error names the binary" "$out" /no/such/binary
    capture ps pm ps -a --format '{{.Names}}'
    expect_eq "containers left" "$ps" ""
}

suite_podman() {
    local cases=(
        "podman/run-rm|run --rm: output and exit code|pc_run_rm"
        "podman/run-d|run -d: running, runtime state agrees|pc_run_d"
        "podman/exec|exec: output, exit code, --user/--workdir/--env|pc_exec"
        "podman/exec-tty|exec -t: a terminal|pc_exec_tty"
        "podman/pause-unpause|pause/unpause: cgroup frozen then thawed|pc_pause_unpause"
        "podman/top|top lists the container's process|pc_top"
        "podman/stats|stats --no-stream|pc_stats"
        "podman/rm-f|rm -f of a running container|pc_rm_f"
        "podman/logs|logs: stdout and stderr, exit code|pc_logs"
        "podman/stop-graceful|stop: SIGTERM reaches a trapping process|pc_stop_graceful"
        "podman/stop-timeout|stop -t 1: SIGKILL after the timeout|pc_stop_timeout"
        "podman/kill|kill -s USR1, then kill|pc_kill"
        "podman/tty-run|run -t: a terminal|pc_tty_run"
        "podman/read-only|--read-only rootfs|pc_read_only"
        "podman/user|--user 1000:1000|pc_user"
        "podman/cap-drop-all|--cap-drop ALL: CapEff is 0|pc_cap_drop"
        "podman/memory|--memory 32m: cgroup limit|pc_memory"
        "podman/pids-limit|--pids-limit 42: cgroup limit|pc_pids_limit"
        "podman/seccomp|--security-opt seccomp: mkdir gets EPERM|pc_seccomp"
        "podman/volume|bind volume -v hostdir:/data|pc_volume"
        "podman/missing-binary|error message names a missing binary|pc_missing_binary"
    )
    echo "# podman $(podman --version | awk '{print $3}') with conmon, --runtime $RUNTIME"
    run_suite podman podman_setup "${cases[@]}"
}
