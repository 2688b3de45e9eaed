#!/bin/bash
# hull end-to-end suite: real engines (podman + conmon, containerd + its Go runc shim) driving a
# runc-compatible runtime binary. The same cases run against runc and hull:
#
#   e2e/run.sh                       RUNTIME=/abs/path/runtime (default: target/release/hull)
#   RUNTIME=/usr/sbin/runc e2e/run.sh
#
# Environment:
#   RUNTIME        absolute path of the runtime binary podman and containerd's shim must run
#   ROOTFS         busybox rootfs directory (default: build/rootfs, see `make rootfs`)
#   HULL_SHIM      containerd-shim-hull-v2 binary for the hull-shim section
#                  (default: next to RUNTIME, else target/release/containerd-shim-hull-v2)
#   KNOWN_FAILURES file of "case-id reason" lines reported as TODO instead of failures
#                  (default: e2e/known-failures-<basename of RUNTIME>.txt when it exists)
#   E2E_SUITES     space-separated subset of "podman containerd hullshim hullshim2 docker"
#                  (default: all; hullshim2 = containerd 2.x from ../shared/tools, see e2e/hullshim2.sh)
#   DOCKERD        dockerd binary for the docker suite (default: dockerd on PATH; none: skipped)
#   E2E_FILTER     bash regex on case ids (e.g. 'podman/(run|exec)')
#   STEP_TIMEOUT   seconds any single engine command may take (default 60)
#   E2E_KEEP=1     keep the temp dir (logs) after the run; everything started is still stopped
#   E2E_TMPBASE    where the temp dir goes (default /tmp; in the cgroup v2 VM use /run: 9p has no fifos)
#
# Output: TAP-like lines "ok N - id: what" / "not ok N - id: what", then
# "N passed, N failed, N skipped". Exit status 1 when anything failed (known failures excepted).
set -uo pipefail
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$E2E_DIR/.." && pwd)
RUNTIME=${RUNTIME:-$REPO/target/release/hull}
ROOTFS=${ROOTFS:-$REPO/build/rootfs}
E2E_SUITES=${E2E_SUITES:-podman containerd hullshim hullshim2 docker}

# shellcheck source=e2e/lib.sh
. "$E2E_DIR/lib.sh"
# shellcheck source=e2e/image.sh
. "$E2E_DIR/image.sh"

die() {
    echo "e2e: $*" >&2
    exit 2
}
[ "$(id -u)" = 0 ] || die "must run as root (engines create namespaces, cgroups and mounts)"
case "$RUNTIME" in /*) ;; *) RUNTIME=$(command -v "$RUNTIME" || echo "$PWD/$RUNTIME") ;; esac
[ -x "$RUNTIME" ] || die "RUNTIME=$RUNTIME is not an executable file (for hull: make release)"
[ -x "$ROOTFS/bin/busybox" ] || die "ROOTFS=$ROOTFS has no bin/busybox (run: make rootfs)"
RUNTIME_NAME=$(basename "$RUNTIME")
E2E_KNOWN_FILE=${KNOWN_FAILURES:-$E2E_DIR/known-failures-$RUNTIME_NAME.txt}
load_known_failures "$E2E_KNOWN_FILE"

# Everything this run creates lives under E2E_TMP; a unique tag names its cgroups and namespaces.
E2E_TMP=$(mktemp -d "${E2E_TMPBASE:-/tmp}/hull-e2e.XXXXXX")
E2E_TAG=hull-e2e-$$
mkdir -p "$E2E_TMP/logs" "$E2E_TMP/tmp"
export E2E_TMP
# podman, conmon (its console sockets), ctr and containerd put temporary files in TMPDIR
export TMPDIR=$E2E_TMP/tmp

e2e_traps

echo "# hull e2e: RUNTIME=$RUNTIME ($(timeout 10 "$RUNTIME" --version 2>&1 | head -n1))"
echo "# known failures: $([ -f "$E2E_KNOWN_FILE" ] && echo "$E2E_KNOWN_FILE (${#E2E_KNOWN[@]})" || echo none)"
echo "# temp dir $E2E_TMP, tag $E2E_TAG"

make_rootfs_tar "$ROOTFS" "$E2E_TMP/rootfs.tar"
make_oci_archive "$ROOTFS" "$E2E_TMP/busybox-oci.tar" latest

for suite in $E2E_SUITES; do
    case "$suite" in
    podman | containerd | hullshim | hullshim2 | docker)
        # shellcheck source=/dev/null
        . "$E2E_DIR/$suite.sh"
        "suite_$suite"
        ;;
    *) die "unknown suite '$suite' (podman, containerd, hullshim, hullshim2, docker)" ;;
    esac
done

summary
[ "$E2E_FAILED" = 0 ]
