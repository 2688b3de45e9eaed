#!/bin/bash
# Rootless hull (make test-rootless): a REAL unprivileged user (useradd, unique name, its own
# /etc/subuid and /etc/subgid range) runs hull with no --root and no --rootless flag, as runc's
# users do: the state root must default to $XDG_RUNTIME_DIR/hull; create/start/state/list/ps/exec/
# kill/delete of a `spec --rootless` bundle on a busybox rootfs the user owns; the container's
# uid_map, root in the container being the user on the host; a multi-range mapping through
# newuidmap/newgidmap; a mapping outside the user's subuid range refused with an error naming
# linux.uidMappings and nothing left behind. The user, its home, its ranges and every process of
# it are removed afterwards, also on failure.
# usage: scripts/tests/rootless.sh [HULL]   (run as root; HULL defaults to target/release/hull)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/skip.sh
. "$repo/scripts/skip.sh"
hull_src=${1:-$repo/target/release/hull}

[ "$(id -u)" = 0 ] || skip_or_fail 0 "rootless test creates a user: needs root"
[ -x "$hull_src" ] || skip_or_fail 0 "$hull_src not built (make release)"
for c in useradd userdel usermod runuser newuidmap newgidmap; do
    command -v "$c" >/dev/null || skip_or_fail 0 "$c missing (Debian packages passwd, util-linux, uidmap)"
done
[ -x /bin/busybox ] || skip_or_fail 0 "busybox-static missing"

user=hullrl$$
t=$(mktemp -d /tmp/hull-rootless.XXXXXX)
chmod 755 "$t"
home=$t/home
xdg=$t/xdg
# A subordinate range of the user's own, away from other helpers' (pid-derived, 64Ki ids).
sub=$((300000000 + ($$ % 10000) * 65536))
# shellcheck source=scripts/tests/tap.sh
. "$repo/scripts/tests/tap.sh"

cleanup() {
    if id "$user" >/dev/null 2>&1; then
        for c in $(as_user "$t/hull" list -q 2>/dev/null); do as_user "$t/hull" delete -f "$c" >/dev/null 2>&1; done
        for p in $(pgrep -u "$user"); do kill -9 "$p" 2>/dev/null; done
        sleep 0.2
        usermod --del-subuids "$sub-$((sub + 65535))" --del-subgids "$sub-$((sub + 65535))" "$user" 2>/dev/null
        userdel -r "$user" >/dev/null 2>&1 || userdel -f "$user" >/dev/null 2>&1
    fi
    rm -rf "$t"
}
trap cleanup EXIT

as_user() { # runs CMD as the user, the way a login session would have it
    runuser -u "$user" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" USER="$user" \
        XDG_RUNTIME_DIR="$xdg" "$@"
}

useradd -M -d "$home" -s /bin/sh "$user" || {
    echo "not ok 1 - useradd $user"
    exit 1
}
mkdir -p "$home" "$xdg"
chown "$user:$user" "$home" "$xdg"
chmod 700 "$xdg"
usermod --add-subuids "$sub-$((sub + 65535))" --add-subgids "$sub-$((sub + 65535))" "$user"
uid=$(id -u "$user")
gid=$(id -g "$user")
install -m 0755 "$hull_src" "$t/hull"
hull() { as_user "$t/hull" "$@"; }
echo "# user $user uid $uid gid $gid, subuid/subgid $sub+65536, XDG_RUNTIME_DIR $xdg"

# A bundle the user owns: rootfs made by the user, config from `hull spec --rootless` as the user.
b=$home/b
as_user mkdir -p "$b"
check "the user builds its busybox rootfs" as_user "$repo/scripts/mkrootfs.sh" "$b/rootfs"
check "hull spec --rootless as the user" as_user sh -c "cd '$b' && '$t/hull' spec --rootless"
# Detached, no terminal, a long sleep as the process (everything else as spec --rootless wrote it).
as_user python3 - "$b/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["sleep", "1000"]
json.dump(c, open(p, "w"))
PY
check "spec maps root to the user's own uid" python3 -c "
import json,sys; c=json.load(open('$b/config.json'))
assert c['linux']['uidMappings']==[{'containerID':0,'hostID':$uid,'size':1}], c['linux']['uidMappings']
assert c['linux']['gidMappings']==[{'containerID':0,'hostID':$gid,'size':1}]
assert {'type':'user'} in c['linux']['namespaces']"

id1=rl-$user
if hull create --bundle "$b" "$id1" >"$t/create.log" 2>&1; then ok "create as $user"; else
    notok "create as $user"
    sed 's/^/#   /' "$t/create.log"
fi
check "state root defaulted to \$XDG_RUNTIME_DIR/hull/$id1" test -d "$xdg/hull/$id1"
check "state says created" sh -c "'$t/hull' --root '$xdg/hull' state '$id1' | grep -q '\"status\": *\"created\"'"
pid=$(hull state "$id1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' 2>/dev/null)
check "start" hull start "$id1"
check "state says running" sh -c "'$t/hull' --root '$xdg/hull' state '$id1' | grep -q '\"status\": *\"running\"'"
check "list shows it" sh -c "runuser -u '$user' -- env XDG_RUNTIME_DIR='$xdg' '$t/hull' list | grep -q '^$id1 '"
check "the init's uid_map maps 0 to uid $uid, size 1" \
    test "$(awk '{print $1, $2, $3}' "/proc/$pid/uid_map" 2>&1)" = "0 $uid 1"
check "the init's gid_map maps 0 to gid $gid" test "$(awk '{print $1, $2, $3}' "/proc/$pid/gid_map" 2>&1)" = "0 $gid 1"
check "root in the container is $user on the host" test "$(stat -c %u "/proc/$pid")" = "$uid"
check "setgroups is deny (own-id gid_map written directly)" test "$(cat "/proc/$pid/setgroups" 2>&1)" = deny
check "exec id -u is 0 inside" test "$(hull exec "$id1" id -u 2>&1)" = 0
check "exec sees its own uid_map" sh -c "runuser -u '$user' -- env XDG_RUNTIME_DIR='$xdg' '$t/hull' exec '$id1' cat /proc/self/uid_map | grep -Eq '^ *0 +$uid +1\$'"
check "ps lists the sleep" sh -c "runuser -u '$user' -- env XDG_RUNTIME_DIR='$xdg' '$t/hull' ps '$id1' | grep -q 'sleep 1000'"
check "kill KILL" hull kill "$id1" KILL
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "the init is gone after kill" sh -c "! kill -0 $pid 2>/dev/null"
check "delete" hull delete "$id1"
check "no state dir left" test ! -e "$xdg/hull/$id1"

# A bundle dir of the user's sharing the first bundle's rootfs (config.json written after).
user_bundle() {
    as_user mkdir -p "$1"
    as_user ln -s ../b/rootfs "$1/rootfs"
}

# Several ranges: root = the user, 1..65536 = its subordinate ids, through newuidmap/newgidmap.
b2=$home/b2
user_bundle "$b2"
as_user python3 - "$b/config.json" "$b2/config.json" "$uid" "$gid" "$sub" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
uid, gid, sub = map(int, sys.argv[3:6])
c["process"]["args"] = ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; echo ids=$(id -u):$(id -g)"]
c["process"]["user"] = {"uid": 1000, "gid": 1000}
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}, {"containerID": 1, "hostID": sub, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}, {"containerID": 1, "hostID": sub, "size": 65536}]
json.dump(c, open(sys.argv[2], "w"))
PY
id2=rl2-$user
hull run --bundle "$b2" "$id2" >"$t/run2.log" 2>&1
rc=$?
check "run with two ranges (newuidmap/newgidmap) exits 0" test "$rc" = 0
check "uid_map has both ranges" sh -c "grep -Eq '^ *0 +$uid +1\$' '$t/run2.log' && grep -Eq '^ *1 +$sub +65536\$' '$t/run2.log'"
check "the process runs as uid/gid 1000 of the container (a subordinate id)" grep -qx 'ids=1000:1000' "$t/run2.log"
[ "$failed" = 0 ] || sed 's/^/#   run2: /' "$t/run2.log"
hull delete -f "$id2" >/dev/null 2>&1

# A read-only `cgroup` mount (what podman puts in a rootless spec on this v1/hybrid host) in a
# user namespace without a cgroup namespace: the kernel refuses a fresh v1 mount there, so each
# host hierarchy is bound instead and made read-only.
b4=$home/b4
user_bundle "$b4"
as_user python3 - "$b/config.json" "$b4/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["sh", "-c", "grep ' /sys/fs/cgroup' /proc/self/mountinfo; ls /sys/fs/cgroup"]
c["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                    "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]})
json.dump(c, open(sys.argv[2], "w"))
PY
id4=rl4-$user
hull run --bundle "$b4" "$id4" >"$t/run4.log" 2>&1
rc=$?
check "run with a read-only cgroup mount exits 0" test "$rc" = 0
# The last mount on /sys/fs/cgroup/X is the container's (the rbind of the host's /sys is below).
check "the container's cgroup hierarchies are read-only binds" sh -c "
    for h in \$(ls /sys/fs/cgroup); do
        grep \" /sys/fs/cgroup/\$h \" '$t/run4.log' | tail -n1 | grep -q ' ro,' || { echo \"\$h not ro\"; exit 1; }
    done"
[ "$failed" = 0 ] || sed 's/^/#   run4: /' "$t/run4.log"
hull delete -f "$id4" >/dev/null 2>&1

# Bad input: a range outside the user's /etc/subuid.
b3=$home/b3
user_bundle "$b3"
as_user python3 - "$b/config.json" "$b3/config.json" "$uid" "$sub" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
uid, sub = int(sys.argv[3]), int(sys.argv[4])
c["process"]["args"] = ["true"]
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}, {"containerID": 1, "hostID": sub + 10 * 65536, "size": 1000}]
json.dump(c, open(sys.argv[2], "w"))
PY
id3=rl3-$user
hull create --bundle "$b3" "$id3" >"$t/bad.log" 2>&1
rc=$?
check "a uid range outside /etc/subuid fails" test "$rc" != 0
check "the error names linux.uidMappings and newuidmap" sh -c "grep -q 'linux.uidMappings' '$t/bad.log' && grep -q newuidmap '$t/bad.log'"
check "nothing left: no state dir" test ! -e "$xdg/hull/$id3"
check "nothing left: list is empty" test -z "$(hull list -q 2>&1)"
[ "$failed" = 0 ] || sed 's/^/#   bad: /' "$t/bad.log"
sleep 0.2
check "nothing left: no process of $user" sh -c "! pgrep -u '$user'"

# The engine check: rootless podman (as the user, private config and storage in its home, no
# network setup) with --runtime hull. ROOTLESS_PODMAN=0 leaves it out.
if [ "${ROOTLESS_PODMAN:-1}" = 0 ]; then
    echo "# SKIP podman rootless: ROOTLESS_PODMAN=0"
elif command -v podman >/dev/null; then
    pc=$home/.config/containers
    as_user mkdir -p "$pc" "$home/pm-tmp"
    as_user sh -c "cat > '$pc/containers.conf'" <<CONF
[containers]
netns = "none"
log_driver = "k8s-file"
default_ulimits = ["nofile=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$home/pm-events.log"
tmp_dir = "$home/pm-tmp"
CONF
    as_user sh -c "cat > '$pc/storage.conf'" <<CONF
[storage]
driver = "vfs"
graphroot = "$home/pm-graph"
runroot = "$xdg/pm-run"
CONF
    pm() { as_user podman --runtime "$t/hull" "$@"; }
    as_user tar -C "$b/rootfs" -cf "$home/rootfs.tar" .
    check "podman import (rootless)" pm import --change 'CMD ["/bin/sh"]' "$home/rootfs.tar" localhost/hull-rl
    pm run --rm localhost/hull-rl sh -c 'id -u; cat /proc/self/uid_map' >"$t/pm.log" 2>&1
    rc=$?
    check "podman --runtime hull run as $user exits 0" test "$rc" = 0
    check "podman's container is root mapped to uid $uid" grep -Eq "^ *0 +$uid +1\$" "$t/pm.log"
    pm run -d --name rl-pm localhost/hull-rl sleep 1000 >"$t/pm-d.log" 2>&1
    check "podman run -d, exec, stop, rm" sh -c "runuser -u '$user' -- env -i PATH=/usr/bin:/bin HOME='$home' USER='$user' XDG_RUNTIME_DIR='$xdg' podman --runtime '$t/hull' exec rl-pm echo hi | grep -qx hi"
    check "podman stop + rm" sh -c "runuser -u '$user' -- env -i PATH=/usr/bin:/bin HOME='$home' USER='$user' XDG_RUNTIME_DIR='$xdg' podman --runtime '$t/hull' rm -f -t 0 rl-pm"
    [ "$failed" = 0 ] || { sed 's/^/#   podman: /' "$t/pm.log" "$t/pm-d.log"; }
    pm rm -a -f -t 0 >/dev/null 2>&1
    pm rmi -a -f >/dev/null 2>&1
    # podman's user namespace keeps the vfs layers owned by subordinate ids: remove them in it.
    as_user podman unshare rm -rf "$home/pm-graph" "$xdg/pm-run" >/dev/null 2>&1
else
    skip_or_fail 0 "podman missing (.ci/packages/e2e.txt)"
fi

echo "1..$n"
exit "$failed"
