#!/bin/bash
# hull's CRI suite: Kubernetes' CRI (crictl, critest) through containerd's CRI plugin, with the
# runtime handlers `runc` (io.containerd.runc.v2, validates the bed) and `hull`
# (io.containerd.hull.v2 = containerd-shim-hull-v2 driving hull) on the same daemon.
#
#   e2e/cri.sh            crictl: a pod of 2 containers (+1 OOM container) per handler   (make cri)
#   e2e/cri.sh critest    critest for each handler, table in build/critest.md            (make critest)
#
# Environment:
#   CRI_CONTAINERD  2.3.4 (default: ../shared/tools/containerd-2.3.4) or 1.6 (Debian's containerd)
#   CRI_HANDLERS    handlers to run, in order (default "runc hull")
#   HULL_BIN        hull binary given to the shim as BinaryName (default target/release/hull)
#   HULL_SHIM       containerd-shim-hull-v2 (default target/release/containerd-shim-hull-v2)
#   ROOTFS          busybox rootfs (default build/rootfs)
#   E2E_FILTER      bash regex on case ids;  STEP_TIMEOUT (60 s), CASE_TIMEOUT (180 s)
#   CRITEST_FOCUS / CRITEST_SKIP   ginkgo regexes for critest; CRITEST_TIMEOUT (default 20m per handler)
#   E2E_KEEP=1      keep the temp dir (logs);  CI=true: a missing tool fails instead of skipping
# Output: TAP lines and "N passed, N failed, N skipped"; exit 1 if a case failed, 2 on setup problems.
set -uo pipefail
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$E2E_DIR/.." && pwd)
MODE=${1:-crictl}
CRI_CONTAINERD=${CRI_CONTAINERD:-2.3.4}
CRI_HANDLERS=${CRI_HANDLERS:-runc hull}
HULL_BIN=${HULL_BIN:-$REPO/target/release/hull}
HULL_SHIM=${HULL_SHIM:-$REPO/target/release/containerd-shim-hull-v2}
ROOTFS=${ROOTFS:-$REPO/build/rootfs}
CASE_TIMEOUT=${CASE_TIMEOUT:-180}

# shellcheck source=e2e/lib.sh
. "$E2E_DIR/lib.sh"
# shellcheck source=e2e/cri/bed.sh
. "$E2E_DIR/cri/bed.sh"

die() {
    echo "cri: $*" >&2
    exit 2
}
# a tool this machine lacks: a skip with the reason, or under CI=true a failure
missing() {
    if [ "${CI:-}" = true ]; then
        echo "not ok 1 - cri/setup: $*"
        exit 1
    fi
    echo "ok 1 - cri/setup # skip $*"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
}
[ "$(id -u)" = 0 ] || die "must run as root (containerd, namespaces, cgroups, CNI)"
case "$MODE" in crictl | critest) ;; *) die "unknown mode '$MODE' (want crictl or critest)" ;; esac
for b in "$HULL_BIN" "$HULL_SHIM"; do [ -x "$b" ] || die "$b is not an executable file (make release)"; done
[ -x "$ROOTFS/bin/busybox" ] || die "ROOTFS=$ROOTFS has no bin/busybox (make rootfs)"
for x in docker-registry skopeo curl gcc; do
    command -v "$x" >/dev/null || missing "$x not installed (see .ci/packages/cri.txt)"
done
[ -x /usr/lib/cni/bridge ] || missing "CNI plugins not installed (Debian package containernetworking-plugins)"
reason=$(find_tools 2>&1) || missing "$reason"
find_tools

E2E_TMP=$(mktemp -d "${E2E_TMPBASE:-/tmp}/hull-cri.XXXXXX")
CRI_TMP=$E2E_TMP
CRI_CGROUP_PARENT=hull-cri-$$
mkdir -p "$E2E_TMP/logs" "$E2E_TMP/tmp" "$E2E_TMP/pods"
export E2E_TMP TMPDIR=$E2E_TMP/tmp
finish() {
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
trap finish EXIT
trap 'echo "# interrupted" >&2; exit 3' INT TERM

echo "# hull CRI suite ($MODE): containerd $CRI_CONTAINERD, handlers: $CRI_HANDLERS"
echo "# hull $("$HULL_BIN" --version 2>&1 | head -n1); shim $("$HULL_SHIM" -v 2>&1 | head -n1)"
echo "# temp dir $E2E_TMP"
if ! bed_setup >"$E2E_TMP/logs/bed-setup.log" 2>&1; then
    echo "not ok 1 - cri/setup: $(tail -n1 "$E2E_TMP/logs/bed-setup.log")"
    sed 's/^/#   /' "$E2E_TMP/logs/bed-setup.log" | tail -n 20
    exit 1
fi
sed 's/^/# /' "$E2E_TMP/logs/bed-setup.log" | grep -v '^# \$' | tail -n 4

if [ "$MODE" = critest ]; then
    # shellcheck source=e2e/cri/critest.sh
    . "$E2E_DIR/cri/critest.sh"
    run_critest
    exit $?
fi
# shellcheck source=e2e/cri/cases.sh
. "$E2E_DIR/cri/cases.sh"
for h in $CRI_HANDLERS; do
    cri_suite "$h"
done
cri_bad_input
summary
[ "$E2E_FAILED" = 0 ]
