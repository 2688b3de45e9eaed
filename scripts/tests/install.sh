#!/bin/bash
# Test of `make install` / `make uninstall` into a temporary DESTDIR (PREFIX=/usr): the binaries
# and the engine config snippets land where the README says, with PREFIX's paths in them, the
# snippets parse as TOML, the installed hull runs a container (scripts/demo.sh with it) and the
# installed shim answers -v; uninstall removes every file and the share dir.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/skip.sh
. "$repo/scripts/skip.sh"
t=$(mktemp -d /tmp/hull-install-test.XXXXXX)
trap 'rm -rf "$t"' EXIT
d=$t/dest
# shellcheck source=scripts/tests/tap.sh
. "$repo/scripts/tests/tap.sh"

if ! make -C "$repo" --no-print-directory install DESTDIR="$d" PREFIX=/usr >"$t/make.log" 2>&1; then
    echo "not ok 1 - make install DESTDIR=$d PREFIX=/usr"
    tail -n 20 "$t/make.log" | sed 's/^/#   /'
    exit 1
fi
ok "make install DESTDIR=... PREFIX=/usr"
for f in bin/hull bin/containerd-shim-hull-v2; do
    check "$f installed, mode 0755" test "$(stat -c %a "$d/usr/$f")" = 755
done
for f in containerd-hull.toml containers-hull.conf; do
    check "share/hull/$f installed, mode 0644" test "$(stat -c %a "$d/usr/share/hull/$f")" = 644
done
check "nothing else installed" test "$(cd "$d" && find . -type f | sort | xargs)" = \
    "./usr/bin/containerd-shim-hull-v2 ./usr/bin/hull ./usr/share/hull/containerd-hull.toml ./usr/share/hull/containers-hull.conf"

# The snippets: valid TOML with the CRI handlers and podman runtime pointing at PREFIX/bin/hull.
check "the snippets parse and point at /usr/bin" python3 - "$d/usr/share/hull" <<'PY'
import sys, tomllib
share = sys.argv[1]
cd = tomllib.load(open(f"{share}/containerd-hull.toml", "rb"))
rt = cd["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
assert rt["hull"]["runtime_type"] == "io.containerd.hull.v2", rt["hull"]
assert rt["hull"]["options"] == {"BinaryName": "/usr/bin/hull", "SystemdCgroup": False}, rt["hull"]
assert rt["hull-runc"]["runtime_type"] == "io.containerd.runc.v2", rt["hull-runc"]
assert rt["hull-runc"]["options"]["BinaryName"] == "/usr/bin/hull", rt["hull-runc"]
pm = tomllib.load(open(f"{share}/containers-hull.conf", "rb"))
assert pm["engine"]["runtime"] == "hull", pm
assert pm["engine"]["runtimes"]["hull"] == ["/usr/bin/hull"], pm
for f in ("containerd-hull.toml", "containers-hull.conf"):
    text = open(f"{share}/{f}").read()
    assert "@" not in text.replace("@BINDIR", "").replace("@SHAREDIR", "") and "@BINDIR@" not in text, f
    assert "/usr/local" not in text, f
PY

check "installed hull --version" sh -c "'$d/usr/bin/hull' --version | grep -q hull"
check "installed shim -v" sh -c "'$d/usr/bin/containerd-shim-hull-v2' -v | grep -qi version"
if [ "$(id -u)" = 0 ]; then
    make -C "$repo" --no-print-directory rootfs >/dev/null 2>&1
    check "installed hull runs a container (PID 1, own hostname)" sh -c \
        "'$repo/scripts/demo.sh' '$d/usr/bin/hull' '$repo/build/rootfs' > '$t/demo.out' 2>&1 && grep -q 'my pid:   1\$' '$t/demo.out' && grep -q 'hostname: ' '$t/demo.out' || { cat '$t/demo.out'; exit 1; }"
else
    skip_or_fail 0 "running a container with the installed hull needs root"
fi

check "make uninstall" make -C "$repo" --no-print-directory uninstall DESTDIR="$d" PREFIX=/usr
check "uninstall left no file and no share/hull" sh -c "test -z \"\$(find '$d' -type f)\" && test ! -e '$d/usr/share/hull'"
echo "1..$n"
exit $failed
