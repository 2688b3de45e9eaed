#!/bin/bash
# Run a command as root inside a pure cgroup v2 VM (virtme-ng under TCG) that shares this host's
# filesystem, print its output and exit with its exit status.
#
#   scripts/vm-run.sh CMD [ARGS...]
#
# The command runs in the current directory ($PWD is shared read-write). Build on the host first:
# the VM is slow (software emulation) and only runs things. Keep state and temp files on the
# VM's own tmpfs (/run, /dev/shm, /tmp), not on the shared 9p folders (no FIFOs/device nodes there).
#
# vng's own exit code does not carry the guest command's status, so the guest writes it to a file
# in a shared directory and this script reads it back (125 when the VM never got that far).
# Environment: VM_KERNEL (default: newest /boot/vmlinuz-*-amd64), VM_MEMORY (2G), VM_CPUS (2),
# VM_TIMEOUT (seconds, 900), VM_APPEND (extra kernel args), VM_VERBOSE=1 (show the console).
set -uo pipefail

if [ $# -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi
command -v vng >/dev/null || { echo "vm-run: vng (virtme-ng) not found: pip install virtme-ng" >&2; exit 125; }
command -v qemu-system-x86_64 >/dev/null || { echo "vm-run: qemu-system-x86_64 not found (apt-get install qemu-system-x86)" >&2; exit 125; }

kernel=${VM_KERNEL:-$(ls -1 /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n1)}
if [ -z "$kernel" ] || [ ! -r "$kernel" ]; then
    echo "vm-run: no kernel image (apt-get install linux-image-amd64, or set VM_KERNEL)" >&2
    exit 125
fi

# The exchange directory: under $PWD (which the VM gets read-write anyway).
xdir=$(mktemp -d "$PWD/.vm-run.XXXXXX") || exit 125
trap 'rm -rf "$xdir"' EXIT

# The guest script: cd, run the command with its arguments quoted exactly, record the status.
{
    echo '#!/bin/bash'
    echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    printf 'export HOME=/root TMPDIR=/tmp\n'
    printf 'cd %q || exit 125\n' "$PWD"
    printf '('
    printf '%q ' "$@"
    printf ') >%q 2>&1 </dev/null\n' "$xdir/out"
    printf 'echo $? >%q.tmp && mv %q.tmp %q\n' "$xdir/status" "$xdir/status" "$xdir/status"
} >"$xdir/guest.sh"
chmod +x "$xdir/guest.sh"

start=$(date +%s)
vng_log="$xdir/vng.log"
timeout --foreground -k 10 "${VM_TIMEOUT:-900}" \
    vng --disable-kvm --force-9p --run "$kernel" \
        --memory "${VM_MEMORY:-2G}" --cpus "${VM_CPUS:-2}" \
        --append "cgroup_no_v1=all ${VM_APPEND:-}" \
        --rwdir "$PWD" \
        --exec "/bin/bash $xdir/guest.sh" </dev/null >"$vng_log" 2>&1
vng_rc=$?
end=$(date +%s)

[ -f "$xdir/out" ] && cat "$xdir/out"
if [ "${VM_VERBOSE:-0}" = 1 ]; then
    echo "--- vng console (exit $vng_rc) ---" >&2
    cat "$vng_log" >&2
fi
if [ ! -s "$xdir/status" ]; then
    echo "vm-run: the guest command did not report a status (vng exit $vng_rc, $((end - start)) s); vng said:" >&2
    tail -n 40 "$vng_log" >&2
    exit 125
fi
status=$(cat "$xdir/status")
echo "vm-run: guest exit status $status after $((end - start)) s" >&2
exit "$status"
