#!/bin/bash
# Rootless hull in a delegated cgroup v2 subtree (make test-rootless-v2, inside the pure cgroup v2
# VM through scripts/vm-run.sh). Root delegates /sys/fs/cgroup/hull-deleg-N to an unprivileged
# uid the way systemd delegates a user's subtree (the directory and its cgroup.procs,
# cgroup.subtree_control and cgroup.threads chowned to the user, the user's shell moved into a leaf
# below it); then, as that uid (setpriv: no passwd entry needed), `hull run` of a `spec --rootless`
# bundle whose cgroupsPath is inside the subtree and which asks for memory and pids limits must
# put the container there with those limits; a cgroupsPath outside the subtree must fail naming
# the path and leave nothing behind; delete removes the container's cgroup.
# usage: scripts/tests/rootless-v2.sh [HULL]   (root, on a cgroup v2 host; HULL: target/release/hull)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/skip.sh
. "$repo/scripts/skip.sh"
hull_src=${1:-$repo/target/release/hull}

[ "$(id -u)" = 0 ] || skip_or_fail 0 "the delegation test chowns a cgroup: needs root"
[ -x "$hull_src" ] || skip_or_fail 0 "$hull_src not built (make release)"
command -v setpriv >/dev/null || skip_or_fail 0 "setpriv missing (util-linux)"
[ -x /bin/busybox ] || skip_or_fail 0 "busybox-static missing"
[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] ||
    skip_host 0 "/sys/fs/cgroup is not cgroup2 here (run it in the VM: make test-rootless-v2)"

uid=$((40000 + $$ % 10000))
deleg=/sys/fs/cgroup/hull-deleg-$$
t=$(mktemp -d /tmp/hull-rlv2.XXXXXX)
chmod 755 "$t"
# shellcheck source=scripts/tests/tap.sh
. "$repo/scripts/tests/tap.sh"
as_user() { # CMD... as uid/gid $uid, no supplementary groups, its own XDG_RUNTIME_DIR
    setpriv --reuid "$uid" --regid "$uid" --clear-groups --inh-caps=-all \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$t/home" XDG_RUNTIME_DIR="$t/xdg" "$@"
}

cleanup() {
    for c in $(as_user "$t/hull" list -q 2>/dev/null); do as_user "$t/hull" delete -f "$c" >/dev/null 2>&1; done
    pkill -9 -U "$uid" 2>/dev/null
    sleep 0.2
    # Leaves first, then the subtree (only what this script made).
    if [ -d "$deleg" ]; then
        find "$deleg" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
        rmdir "$deleg" 2>/dev/null
    fi
    rm -rf "$t"
}
trap cleanup EXIT

mkdir -p "$t/home" "$t/xdg"
install -m 0755 "$hull_src" "$t/hull"
chown "$uid:$uid" "$t/home" "$t/xdg"
chmod 700 "$t/xdg"

# The delegation, as systemd's Delegate=yes does it.
for c in memory pids; do
    grep -qw "$c" /sys/fs/cgroup/cgroup.controllers || skip_host 0 "controller $c not available"
done
echo "+memory +pids" >/sys/fs/cgroup/cgroup.subtree_control
mkdir "$deleg" "$deleg/session"
chown "$uid:$uid" "$deleg" "$deleg/cgroup.procs" "$deleg/cgroup.subtree_control" "$deleg/cgroup.threads"
chown -R "$uid:$uid" "$deleg/session"
echo "+memory +pids" >"$deleg/cgroup.subtree_control"
echo "# uid $uid, delegated $deleg, kernel $(uname -r)"

# The user's bundle: its own rootfs copy and `spec --rootless`, with a cgroupsPath in the subtree.
b=$t/home/b
mkdir -p "$b"
cp -a "$repo/build/rootfs" "$b/rootfs" 2>/dev/null || "$repo/scripts/mkrootfs.sh" "$b/rootfs" >/dev/null
chown -R "$uid:$uid" "$b"
check "hull spec --rootless as uid $uid" as_user sh -c "cd '$b' && '$t/hull' spec --rootless"
rel=${deleg#/sys/fs/cgroup}
as_user python3 - "$b/config.json" "$rel/ctr" <<'PY'
import json, sys
p, cg = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["sleep", "1000"]
c["linux"]["cgroupsPath"] = cg
c["linux"]["resources"] = {"memory": {"limit": 67108864}, "pids": {"limit": 42}}
json.dump(c, open(p, "w"))
PY

# Everything the user runs starts in its leaf (a migration needs write access to cgroup.procs of
# the common ancestor of the old and new cgroup: the delegated directory, not the root).
in_leaf() { (echo "$BASHPID" >"$deleg/session/cgroup.procs" && "$@"); }

id1=rlv2-$$
if in_leaf as_user "$t/hull" run -d --bundle "$b" "$id1" >"$t/run.log" 2>&1; then ok "run -d as uid $uid with cgroupsPath $rel/ctr"; else
    notok "run -d as uid $uid with cgroupsPath $rel/ctr"
    sed 's/^/#   /' "$t/run.log"
fi
pid=$(as_user "$t/hull" state "$id1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null)
check "the container's init is in $rel/ctr" grep -qx "0::$rel/ctr" "/proc/${pid:-0}/cgroup"
check "memory.max is the spec's 64 MiB" test "$(cat "$deleg/ctr/memory.max" 2>&1)" = 67108864
check "pids.max is the spec's 42" test "$(cat "$deleg/ctr/pids.max" 2>&1)" = 42
check "the container's cgroup belongs to uid $uid" test "$(stat -c %u "$deleg/ctr" 2>&1)" = "$uid"
check "delete -f" as_user "$t/hull" delete -f "$id1"
check "delete removed $rel/ctr" test ! -e "$deleg/ctr"

# Bad input: a cgroupsPath outside the delegated subtree.
as_user python3 - "$b/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["linux"]["cgroupsPath"] = "/hull-not-delegated-to-anyone"
json.dump(c, open(p, "w"))
PY
id2=rlv2-bad-$$
in_leaf as_user "$t/hull" create --bundle "$b" "$id2" >"$t/bad.log" 2>&1
rc=$?
check "create with a cgroupsPath outside the subtree fails" test "$rc" != 0
sed "s/^/# create outside the subtree said: /" "$t/bad.log"
check "the error names the cgroup path" grep -q "hull-not-delegated-to-anyone" "$t/bad.log"
check "nothing left: no state dir" test ! -e "$t/xdg/hull/$id2"
check "nothing left: no cgroup" test ! -e /sys/fs/cgroup/hull-not-delegated-to-anyone
sleep 0.2
check "nothing left: no process of uid $uid" sh -c "! pgrep -U $uid"
[ "$failed" = 0 ] || sed 's/^/#   bad: /' "$t/bad.log"

echo "1..$n"
exit "$failed"
