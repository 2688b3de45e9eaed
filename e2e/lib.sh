# shellcheck shell=bash
# e2e/lib.sh — TAP output, case runner, step timeouts, cleanup registry.
# Sourced by e2e/run.sh; every function here is runtime-agnostic.

# shellcheck source=scripts/skip.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/skip.sh"

E2E_PASSED=0
E2E_FAILED=0
E2E_SKIPPED=0
E2E_TODO=0
E2E_N=0
STEP_TIMEOUT=${STEP_TIMEOUT:-60}
CASE_TIMEOUT=${CASE_TIMEOUT:-120}
E2E_CASE_DEADLINE=

# Known failures: lines "case-id<spaces or tab>reason"; '#' starts a comment.
declare -A E2E_KNOWN=()
load_known_failures() {
    local file=$1 id reason
    [ -n "$file" ] && [ -f "$file" ] || return 0
    while read -r id reason; do
        case "$id" in '' | '#'*) continue ;; esac
        E2E_KNOWN[$id]=${reason:-no reason given}
    done <"$file"
}

# t CMD...: run one step bounded by STEP_TIMEOUT (SIGKILL 5 s later if it ignores SIGTERM), and by
# what is left of the current case's CASE_TIMEOUT budget, so that a hanging runtime cannot make a
# case (and the whole run) take longer than CASE_TIMEOUT per case.
t() {
    local limit=$STEP_TIMEOUT left
    if [ -n "$E2E_CASE_DEADLINE" ]; then
        left=$((E2E_CASE_DEADLINE - SECONDS))
        if [ "$left" -le 0 ]; then
            echo "FAIL: case time budget (${CASE_TIMEOUT}s) used up before: $*" >&2
            return 124
        fi
        [ "$left" -lt "$limit" ] && limit=$left
    fi
    timeout -k 5 "$limit" "$@"
}

# Assertions (used inside cases, which run in a `set -e` subshell).
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# skip REASON: the case cannot run on any machine like this one (an optional engine that is no CI
# package, a kernel feature). ci_skip REASON: a prerequisite CI provides is missing (a binary `make`
# builds, a package in .ci/packages): a skip here, a failure under CI=true (scripts/skip.sh).
skip() { skip_host 77 "$@"; }
ci_skip() { skip_or_fail 77 "$@"; }
expect_eq() { # expect_eq WHAT GOT WANT
    [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
    echo "checked: $1 = '$3'"
}
expect_contains() { # expect_contains WHAT HAYSTACK NEEDLE
    case "$2" in *"$3"*) echo "checked: $1 contains '$3'" ;; *) fail "$1: '$2' does not contain '$3'" ;; esac
}
expect_not_contains() {
    case "$2" in *"$3"*) fail "$1: '$2' contains '$3'" ;; *) echo "checked: $1 lacks '$3'" ;; esac
}
# capture VAR CMD...: run CMD, store combined output in VAR and exit code in VAR_rc; never fails.
capture() {
    local __v=$1 __out __rc __t0=$SECONDS
    shift
    __out=$("$@" 2>&1) && __rc=0 || __rc=$?
    printf -v "$__v" '%s' "$__out"
    printf -v "${__v}_rc" '%s' "$__rc"
    printf '$ %s\n%s\n(rc=%s, %ss)\n' "$*" "$__out" "$__rc" "$((SECONDS - __t0))"
}
# oneline TEXT: TEXT with runs of blanks and newlines squeezed to single spaces
oneline() { printf '%s' "$1" | tr '\n\t' '  ' | tr -s ' ' | sed 's/^ //; s/ $//'; }
# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# run_case ID DESCRIPTION FUNCTION: run FUNCTION in a `set -e` subshell, print one TAP line.
run_case() {
    local id=$1 desc=$2 fn=$3 log rc reason t0=$SECONDS
    if [ -n "${E2E_FILTER:-}" ] && ! [[ $id =~ $E2E_FILTER ]]; then return 0; fi
    E2E_N=$((E2E_N + 1))
    log=$E2E_TMP/logs/$(printf '%s' "$id" | tr '/' '_').log
    (
        set -eE -o pipefail
        E2E_CASE_DEADLINE=$((SECONDS + CASE_TIMEOUT))
        "$fn"
    ) >"$log" 2>&1
    rc=$?
    echo "(case took $((SECONDS - t0))s, rc=$rc)" >>"$log"
    if [ "$rc" = 77 ]; then
        reason=$(sed -n 's/^SKIP: //p' "$log" | tail -n1)
        echo "ok $E2E_N - $id: $desc # skip ${reason:-no reason}"
        E2E_SKIPPED=$((E2E_SKIPPED + 1))
    elif [ "$rc" = 0 ]; then
        if [ -n "${E2E_KNOWN[$id]:-}" ]; then
            echo "ok $E2E_N - $id: $desc # TODO known failure now passes: remove it from $E2E_KNOWN_FILE"
        else
            echo "ok $E2E_N - $id: $desc"
        fi
        E2E_PASSED=$((E2E_PASSED + 1))
    else
        if [ -n "${E2E_KNOWN[$id]:-}" ]; then
            echo "not ok $E2E_N - $id: $desc # TODO ${E2E_KNOWN[$id]}"
            E2E_TODO=$((E2E_TODO + 1))
        else
            echo "not ok $E2E_N - $id: $desc"
            E2E_FAILED=$((E2E_FAILED + 1))
        fi
        [ "$rc" = 124 ] && echo "#   (a step timed out: STEP_TIMEOUT=${STEP_TIMEOUT}s, CASE_TIMEOUT=${CASE_TIMEOUT}s)"
        tail -n "${E2E_LOG_LINES:-25}" "$log" | sed 's/^/#   /'
    fi
}

# A suite whose setup failed: every case of it is reported as failed (or TODO) with the reason.
fail_suite_cases() { # fail_suite_cases REASON id:desc...
    local entry
    # global: run_case's own `local reason` would hide a local of this name from the case
    E2E_SUITE_FAILURE=$1
    shift
    for entry in "$@"; do
        # shellcheck disable=SC2317
        _failing_case() { fail "$E2E_SUITE_FAILURE"; }
        run_case "${entry%%|*}" "${entry#*|}" _failing_case
    done
}

summary() {
    [ "$E2E_TODO" = 0 ] || echo "# $E2E_TODO known failure(s) reported as TODO (listed in $E2E_KNOWN_FILE), not counted as passed"
    echo "$E2E_PASSED passed, $E2E_FAILED failed, $E2E_SKIPPED skipped"
}

# ---- cleanup registry: run in reverse order on EXIT, whatever happened ----
E2E_CLEANUPS=()
on_exit() { E2E_CLEANUPS+=("$*"); }
run_cleanups() {
    local i
    for ((i = ${#E2E_CLEANUPS[@]} - 1; i >= 0; i--)); do
        echo "$(date +%T) cleanup: ${E2E_CLEANUPS[$i]}" >>"$E2E_TMP/cleanup.log"
        eval "${E2E_CLEANUPS[$i]}" >>"$E2E_TMP/cleanup.log" 2>&1 ||
            echo "# cleanup step failed: ${E2E_CLEANUPS[$i]} (see $E2E_TMP/cleanup.log)" >&2
    done
    E2E_CLEANUPS=()
}

# e2e_traps: EXIT/INT/TERM traps for a standalone suite: run_cleanups, then $E2E_TMP removed
# (kept with E2E_KEEP=1 or an exit status above 1); an interrupt exits 3.
e2e_finish() {
    local rc=$?
    trap - EXIT INT TERM
    run_cleanups
    if [ "${E2E_KEEP:-0}" = 1 ] || [ "$rc" -gt 1 ]; then
        echo "# logs kept in $E2E_TMP" >&2
    else
        rm -rf "$E2E_TMP"
    fi
    exit "$rc"
}
e2e_traps() {
    trap e2e_finish EXIT
    trap 'echo "# interrupted" >&2; exit 3' INT TERM
}

# Fixed host paths that podman/containerd/runtimes create outside our temp dir. Remember which
# did not exist before the run; remove only those afterwards, and only if nothing else is in them.
E2E_CREATED_PATHS=()
remember_absent() {
    local p
    for p in "$@"; do [ -e "$p" ] || E2E_CREATED_PATHS+=("$p"); done
}
remove_if_we_created() { # remove_if_we_created PATH [KNOWN-FILE...]: delete known leftovers, then rmdir up
    local p=$1 f ours=0 q
    shift
    for q in "${E2E_CREATED_PATHS[@]}"; do [ "$q" = "$p" ] && ours=1; done
    [ "$ours" = 1 ] && [ -d "$p" ] || return 0
    for f in "$@"; do rm -f "$p/$f" 2>/dev/null || true; done
    # deepest first; rmdir refuses anything that still holds files we do not know
    find "$p" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    [ ! -e "$p" ] || echo "# note: $p was created during the run but is not empty; left in place" >&2
}

# Last resort after a crash: SIGKILL the processes whose command line names DIR (our temp dir:
# conmon, shims, daemons started with our config), by pid, never ourselves.
kill_procs_naming() {
    local dir=$1 f pid
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        if [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ]; then continue; fi
        if grep -qsF "$dir" "$f"; then kill -9 "$pid" 2>/dev/null || true; fi
    done
}
# Lazily unmount every mount point under DIR, deepest first.
umount_under() {
    local m
    awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" || true; done
}

# cgroup mount points (v1 hierarchies and cgroup2), from mountinfo.
# Prints "FSTYPE MOUNTPOINT SUPEROPTS" per cgroup mount (fields after the "-" separator).
cgroup_mount_table() {
    awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break;
           if ($(i + 1) == "cgroup" || $(i + 1) == "cgroup2") print $(i + 1), $5, $(i + 3) }' /proc/self/mountinfo
}
cgroup_mounts() { cgroup_mount_table | awk '{ print $2 }'; }
# Remove a cgroup subtree we own (by relative path) in every hierarchy. Processes still in it are
# ours (started into cgroups this run created): they get SIGKILL first. Only empty cgroups go.
remove_cgroup_tree() {
    local rel=$1 mp pids
    [ -n "$rel" ] && [ "$rel" != / ] || return 0
    pids=$(for mp in $(cgroup_mounts); do
        [ -d "$mp/$rel" ] && find "$mp/$rel" -name cgroup.procs -exec cat {} + 2>/dev/null
    done | sort -u)
    if [ -n "$pids" ]; then
        echo "# killing processes left in cgroup $rel: $(oneline "$pids")" >&2
        # a frozen cgroup (v1) must be thawed for SIGKILL to take effect
        for mp in $(cgroup_mounts); do
            [ -d "$mp/$rel" ] || continue
            find "$mp/$rel" -name freezer.state -exec sh -c 'echo THAWED > "$1"' _ {} \; 2>/dev/null
            find "$mp/$rel" -name cgroup.freeze -exec sh -c 'echo 0 > "$1"' _ {} \; 2>/dev/null
        done
        # shellcheck disable=SC2086
        kill -9 $pids 2>/dev/null || true
        sleep 0.5
    fi
    for mp in $(cgroup_mounts); do
        [ -d "$mp/$rel" ] || continue
        find "$mp/$rel" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        [ ! -d "$mp/$rel" ] || echo "# note: cgroup $mp/$rel still busy; left in place" >&2
    done
}

# Host path of a process's cgroup file: cg_file PID V1-CONTROLLER FILE-V1 FILE-V2
# Uses the v1 hierarchy of the controller when mounted, else cgroup2.
cg_file() {
    local pid=$1 ctl=$2 f1=$3 f2=$4 mp rel
    mp=$(cgroup_mount_table | awk -v c="$ctl" '$1 == "cgroup" && ("," $3 ",") ~ ("," c ",") { print $2; exit }')
    if [ -n "$mp" ]; then
        rel=$(awk -F: -v c="$ctl" '("," $2 ",") ~ ("," c ",") { print $3; exit }' "/proc/$pid/cgroup")
        echo "$mp$rel/$f1"
    else
        mp=$(cgroup_mount_table | awk '$1 == "cgroup2" { print $2; exit }')
        rel=$(awk -F: '$1 == "0" { print $3; exit }' "/proc/$pid/cgroup")
        echo "$mp$rel/$f2"
    fi
}

# run_suite NAME SETUP-FN "id|description|function"...: run SETUP-FN (output to logs/NAME-setup.log);
# if it fails, every case is reported failed with the setup's last line; else run the cases.
run_suite() {
    local name=$1 setup=$2 x rest list=() reason
    shift 2
    if ! "$setup" >"$E2E_TMP/logs/$name-setup.log" 2>&1; then
        reason="$name setup failed: $(tail -n1 "$E2E_TMP/logs/$name-setup.log")"
        for x in "$@"; do list+=("${x%|*}"); done
        fail_suite_cases "$reason" "${list[@]}"
        return
    fi
    for x in "$@"; do
        rest=${x#*|}
        run_case "${x%%|*}" "${rest%|*}" "${x##*|}"
    done
}
