#!/bin/bash
# hull checkpoint / restore through CRIU (make test-checkpoint, inside the cgroup v2 VM through
# scripts/vm-run.sh: criu 3.17 cannot start on this host's 6.18 kernel). A container counting into
# its /dev/shm, with pipes as stdio (what engines give it), is dumped with --leave-running (it goes
# on counting), dumped again without (it is gone: no state, no cgroup), restored from the images
# (the counter goes on from where it was, the output still reaches the same pipe), and deleted
# (nothing left). A restore from a missing image directory fails naming it and leaves no state.
# usage: scripts/tests/checkpoint.sh [HULL] [ROOTFS]   (root)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/skip.sh
. "$repo/scripts/skip.sh"
hull_bin=${1:-$repo/target/release/hull}
rootfs=${2:-$repo/build/rootfs}

[ "$(id -u)" = 0 ] || skip_or_fail 0 "checkpoint needs root"
[ -x "$hull_bin" ] || skip_or_fail 0 "$hull_bin not built (make release)"
[ -x "$rootfs/bin/busybox" ] || skip_or_fail 0 "no rootfs at $rootfs (make rootfs)"
command -v criu >/dev/null || skip_or_fail 0 "criu missing (.ci/packages/checkpoint.txt)"
command -v jq >/dev/null || skip_or_fail 0 "jq missing"
if ! why=$(criu check 2>&1); then
    skip_host 0 "criu check fails on this kernel ($(uname -r)): $(echo "$why" | tail -n1) (make test-checkpoint runs it in the VM)"
fi

t=$(mktemp -d /tmp/hull-cr.XXXXXX)
root=$t/state
id=cr-$$
# shellcheck source=scripts/tests/tap.sh
. "$repo/scripts/tests/tap.sh"
hull() { "$hull_bin" --root "$root" "$@"; }
cleanup() {
    hull delete -f "$id" >/dev/null 2>&1
    hull delete -f "$id-bad" >/dev/null 2>&1
    pkill -f "^sleep 1000$" 2>/dev/null
    grep -q " $t/" /proc/mounts && grep " $t/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
    rm -rf "$t"
}
trap cleanup EXIT

b=$t/bundle
mkdir -p "$b"
ln -s "$rootfs" "$b/rootfs"
hull spec --bundle "$b"
jq '.process.terminal = false
    | .process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >/dev/shm/n; echo tick $i; sleep 0.1; done"]' \
    "$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"

# with_pipes CMD...: CMD with a pipe as stdin (its writer a sleep that holds it open) and a pipe as
# stdout and stderr (drained into $t/ticks by a cat).
with_pipes() {
    "$@" < <(exec sleep 1000) > >(exec cat >>"$t/ticks") 2>&1
}
counter() { hull exec "$id" cat /dev/shm/n 2>/dev/null; }
cgroup_of() { hull state "$id" 2>/dev/null | jq -r .pid | xargs -I{} sed -n 's/^0:://p' /proc/{}/cgroup; }

with_pipes hull create --bundle "$b" "$id"
check "create with pipe stdio" test "$(hull state "$id" | jq -r .status)" = created
hull start "$id"
sleep 0.5
cg=$(cgroup_of)
check "running, in cgroup $cg" test -n "$cg" -a -d "/sys/fs/cgroup$cg"

# --- dump, leave running ---
hull checkpoint --leave-running --image-path "$t/img1" "$id" >"$t/ck1.log" 2>&1
rc=$?
check "checkpoint --leave-running exits 0" test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/#   /' "$t/ck1.log" | tail -n 30
check "the images hold an inventory and descriptors.json" test -s "$t/img1/inventory.img" -a -s "$t/img1/descriptors.json"
check "still running after the dump" test "$(hull state "$id" | jq -r .status)" = running
a=$(counter)
sleep 0.5
b2=$(counter)
check "it goes on counting ($a -> $b2)" test "${b2:-0}" -gt "${a:-0}"

# --- dump and stop ---
hull checkpoint --image-path "$t/img2" "$id" >"$t/ck2.log" 2>&1
rc=$?
check "checkpoint exits 0" test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/#   /' "$t/ck2.log" | tail -n 30
check "the container is gone after the dump" sh -c "! '$hull_bin' --root '$root' state '$id' >/dev/null 2>&1"
check "its cgroup is gone" test ! -d "/sys/fs/cgroup$cg"
ticks=$(grep -c tick "$t/ticks")
sleep 0.3
check "no more output once dumped ($ticks ticks)" test "$(grep -c tick "$t/ticks")" = "$ticks"

# --- restore ---
# (hull's own errors share the container's stderr: the pipe into $t/out)
with_pipes hull restore -d --bundle "$b" --image-path "$t/img2" "$id"
rc=$?
check "restore -d exits 0" test "$rc" = 0
[ "$rc" = 0 ] || { sleep 0.2; grep -v '^tick' "$t/ticks" | tail -n 30 | sed 's/^/#   /'; }
check "restored: running" test "$(hull state "$id" 2>/dev/null | jq -r .status)" = running
pid=$(hull state "$id" 2>/dev/null | jq -r .pid)
check "the restored init is a live process ($pid)" test -d "/proc/${pid:-none}"
sleep 0.5
c=$(counter)
check "the counter goes on from the dump ($b2 -> $c)" test "${c:-0}" -gt "${b2:-0}"
check "output reaches the new pipe" sh -c "test \$(grep -c tick '$t/ticks') -gt $ticks"
cg2=$(cgroup_of)
check "restored into a cgroup of its own ($cg2)" test -n "$cg2" -a -d "/sys/fs/cgroup$cg2"
check "the criu root bind is gone" sh -c "! grep -q criu-root /proc/mounts"
hull kill "$id" KILL
sleep 0.3
hull delete -f "$id" >/dev/null 2>&1
check "delete: no state" sh -c "! '$hull_bin' --root '$root' state '$id' >/dev/null 2>&1"
check "delete: no cgroup" test ! -d "/sys/fs/cgroup$cg2"

# --- bad input ---
hull restore -d --bundle "$b" --image-path "$t/nope" "$id-bad" >"$t/bad.log" 2>&1
rc=$?
check "restore from a missing image dir fails" test "$rc" != 0
check "... naming --image-path" grep -q -- "--image-path $t/nope" "$t/bad.log"
check "... and leaves no state" test ! -e "$root/$id-bad"

echo "1..$n"
exit "$failed"
