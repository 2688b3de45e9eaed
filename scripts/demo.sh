#!/bin/sh
# A demo container: hull runs busybox in a fresh bundle and shows that it is isolated.
# usage: scripts/demo.sh HULL ROOTFS
set -eu
hull=${1:?usage: demo.sh HULL ROOTFS}
rootfs=${2:?usage: demo.sh HULL ROOTFS}
work=$(mktemp -d /tmp/hull-demo.XXXXXX)
root="$work/state"
trap '"$hull" --root "$root" delete -f hull-demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
mkdir -p "$work/bundle"
ln -s "$(realpath "$rootfs")" "$work/bundle/rootfs"
cd "$work/bundle"
"$hull" spec
# Not interactive: no terminal; show what the container sees.
sed -i 's/"terminal": true/"terminal": false/' config.json
python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["args"] = ["sh", "-c",
    "echo \"hostname: $(hostname)\"; echo \"my pid:   $$\"; "
    "echo \"processes I can see:\"; ps -o pid,comm; "
    "echo \"my mounts:\"; awk '{print \"  \" $5 \"  \" $9}' /proc/self/mountinfo | head -8; "
    "echo \"capabilities: $(grep CapEff /proc/self/status)\"; "
    "echo \"root is read-only: $(touch /probe 2>/dev/null && echo no || echo yes)\""]
json.dump(c, open("config.json", "w"), indent=2)
PY
echo "host hostname: $(hostname), host pid of this shell: $$"
echo "--- hull run (busybox from Debian's busybox-static) ---"
"$hull" --root "$root" run hull-demo
echo "--- container exited with $?; state cleaned up: $(ls "$root" | wc -l) containers left ---"
