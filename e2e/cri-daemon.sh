#!/bin/bash
# e2e/cri-daemon.sh — a private containerd 1.6 with the CRI plugin and two runtime handlers:
# "runc" (io.containerd.runc.v2, containerd's Go shim + runc) and "hull" (io.containerd.hull.v2,
# hull's shim + hull), its own root/state/socket/CNI bridge/cgroup parent under a temp dir.
# Sourced by e2e/cri.sh, e2e/critest.sh and the bench's pod section; see docs/cri.md.
#
# The caller sources e2e/lib.sh first and sets REPO, ROOTFS, HULL_SHIM, HULL_BIN, then calls
#   cri_init          checks, makes $T (temp dir) and finds crictl ($CRICTL)
#   cri_setup         writes the configs, starts containerd, imports localhost/busybox and
#                     localhost/pause (CRI_IMPORT_IMAGES=0 skips that), registers cri_cleanup
#   cc ARGS / c ARGS  crictl / ctr (namespace k8s.io) against that daemon
# Cleanup runs through lib.sh's run_cleanups (the caller's EXIT trap; lib.sh's e2e_traps sets
# one that also removes $T, which is $E2E_TMP).
# Options: CRI_CONTAINERD=1 (Debian 1.6, default) or 2 (2.3.4 from ../shared/tools), CRICTL
# (crictl binary), CRI_EXTRA_TOML (appended to config.toml), E2E_TMPBASE.

cri_die() {
    echo "cri: $*" >&2
    exit 2
}

cri_init() {
    [ "$(id -u)" = 0 ] || cri_die "must run as root"
    [ -x "$ROOTFS/bin/busybox" ] || cri_die "ROOTFS=$ROOTFS has no bin/busybox (make rootfs)"
    [ -x "$HULL_SHIM" ] && [ -x "$HULL_BIN" ] || cri_die "$HULL_SHIM or $HULL_BIN missing (make release)"
    command -v jq >/dev/null || cri_die "jq is needed"
    CRI_CONTAINERD=${CRI_CONTAINERD:-1}
    E2E_TMP=$(mktemp -d "${E2E_TMPBASE:-/tmp}/hull-cri.XXXXXX")
    T=$E2E_TMP
    mkdir -p "$T/logs" "$T/tmp" "$T/bin" "$T/cni/conf" "$T/cni/ipam" "$T/pods"
    export E2E_TMP TMPDIR=$T/tmp
    TAG=hullcri$$
    BRIDGE=hcri$(($$ % 100000))
    CGPARENT=/$TAG
    # a /24 of its own per run (several beds may run at once)
    CRI_NET=10.231.$(($$ % 200 + 20))
    SOCK=$T/containerd.sock
    CD_PID=
    if [ -z "${CRICTL:-}" ]; then
        if [ -x "$REPO/../shared/tools/unpack" ] || [ -x /work/shared/tools/unpack ]; then
            u=$REPO/../shared/tools/unpack
            [ -x "$u" ] || u=/work/shared/tools/unpack
            "$u" "$T/bin" crictl >/dev/null && CRICTL=$T/bin/crictl
        fi
        CRICTL=${CRICTL:-$(command -v crictl || true)}
    fi
    [ -x "${CRICTL:-}" ] || cri_die "no crictl (set CRICTL=)"
    # containerd: Debian's 1.6, or (CRI_CONTAINERD=2) the prebuilt 2.3.4 of ../shared/tools with
    # its own runc shim, first on the daemon's PATH
    CRI_BIN_DIR=
    if [ "$CRI_CONTAINERD" = 2 ]; then
        u=$REPO/../shared/tools/unpack
        [ -x "$u" ] || u=/work/shared/tools/unpack
        [ -x "$u" ] || cri_die "CRI_CONTAINERD=2: no ../shared/tools/unpack for containerd-2.3.4"
        "$u" "$T/ctrd2" containerd-2.3.4 >/dev/null || cri_die "$u containerd-2.3.4 failed"
        CRI_BIN_DIR=$T/ctrd2/containerd-2.3.4/bin
        [ -x "$CRI_BIN_DIR/containerd" ] || cri_die "no containerd in $CRI_BIN_DIR"
    else
        command -v containerd >/dev/null || cri_die "containerd is needed (scripts/deps.sh install)"
    fi
    CRI_CTR=${CRI_BIN_DIR:+$CRI_BIN_DIR/}ctr
}

cc() { t "$CRICTL" --config "$T/crictl.yaml" "$@"; }
c() { t "$CRI_CTR" --address "$SOCK" -n k8s.io "$@"; }

cri_setup() {
    mkdir -p "$T/certs.d"
    cat >"$T/crictl.yaml" <<EOF
runtime-endpoint: unix://$SOCK
image-endpoint: unix://$SOCK
timeout: 30
EOF
    # the shim is found on containerd's PATH: a dir holding only it, first
    ln -s "$HULL_SHIM" "$T/bin/containerd-shim-hull-v2"
    # hull's options: CRI sends runtimeoptions.v1.Options{config_path} to a non-runc runtime_type
    # (see docs/cri.md); the shim reads the runc options from that TOML file.
    cat >"$T/hull-options.toml" <<EOF
BinaryName = "$HULL_BIN"
Root = "$T/hull-root"
SystemdCgroup = false
EOF
    cat >"$T/cni/conf/10-$TAG.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "$TAG",
 "plugins": [{"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$T/cni/ipam",
            "ranges": [[{"subnet": "$CRI_NET.0/24"}]]}}]}
EOF
    if [ "$CRI_CONTAINERD" = 2 ]; then cri_config_v3; else cri_config_v2; fi
    remember_absent /run/containerd /run/containerd/s /run/containerd/fifo /run/containerd/runc \
        /run/containerd/runc/k8s.io /var/run/netns /var/lib/cni /var/log/pods /run/containerd/io.containerd.runtime.v2.task
    ls /var/run/netns 2>/dev/null | sort >"$T/netns-before"
    PATH=$T/bin${CRI_BIN_DIR:+:$CRI_BIN_DIR}:$PATH containerd --config "$T/config.toml" --log-level debug >"$T/containerd.log" 2>&1 &
    CD_PID=$!
    on_exit cri_cleanup
    wait_for 30 "$CRI_CTR" --address "$SOCK" version || {
        tail -n 5 "$T/containerd.log"
        echo "containerd did not come up"
        return 1
    }
    if [ "${CRI_IMPORT_IMAGES:-1}" = 1 ]; then cri_import_images || return 1; fi
    cc info >"$T/logs/crictl-info.json"
    jq -e '.status.conditions[] | select(.type=="NetworkReady") | .status' "$T/logs/crictl-info.json"
}

# containerd 1.6: config version 2, one CRI plugin
cri_config_v2() {
    cat >"$T/config.toml" <<EOF
version = 2
root = "$T/root"
state = "$T/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$T/debug.sock"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$T/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "localhost/pause:latest"
    # this host lacks CAP_SYS_RESOURCE: no oom_score_adj below containerd's own
    restrict_oom_score_adj = true
    enable_selinux = false
    disable_apparmor = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$T/cni/conf"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      snapshotter = "overlayfs"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "/usr/sbin/runc"
          Root = "$T/runc-root"
          SystemdCgroup = false
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull]
        runtime_type = "io.containerd.hull.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull.options]
          ConfigPath = "$T/hull-options.toml"
  # registry host config (hosts.toml per registry): e2e/critest.sh points registries to a local one
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$T/certs.d"
${CRI_EXTRA_TOML:-}
EOF
}

# containerd 2.x: config version 3, CRI split into images/runtime plugins
cri_config_v3() {
    cat >"$T/config.toml" <<EOF
version = 3
root = "$T/root"
state = "$T/state"
disabled_plugins = [
  "io.containerd.nri.v1.nri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.erofs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$T/debug.sock"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$T/opt"
  [plugins."io.containerd.cri.v1.images"]
    snapshotter = "overlayfs"
    [plugins."io.containerd.cri.v1.images".pinned_images]
      sandbox = "localhost/pause:latest"
    [plugins."io.containerd.cri.v1.images".registry]
      config_path = "$T/certs.d"
  [plugins."io.containerd.cri.v1.runtime"]
    restrict_oom_score_adj = true
    enable_selinux = false
    disable_apparmor = true
    [plugins."io.containerd.cri.v1.runtime".cni]
      bin_dirs = ["/usr/lib/cni"]
      conf_dir = "$T/cni/conf"
      max_conf_num = 1
    [plugins."io.containerd.cri.v1.runtime".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
          BinaryName = "/usr/sbin/runc"
          Root = "$T/runc-root"
          SystemdCgroup = false
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.hull]
        runtime_type = "io.containerd.hull.v2"
        [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.hull.options]
          ConfigPath = "$T/hull-options.toml"
  [plugins."io.containerd.grpc.v1.cri"]
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
${CRI_EXTRA_TOML:-}
EOF
}

# localhost/busybox:latest (sh) and localhost/pause:latest (sleeps) from $ROOTFS, imported
cri_import_images() {
    make_oci_archive "$ROOTFS" "$T/busybox.tar" latest
    make_oci_archive "$ROOTFS" "$T/pause.tar" latest '["/bin/sleep","2147483647"]'
    c images import --base-name localhost/busybox "$T/busybox.tar"
    c images import --base-name localhost/pause "$T/pause.tar"
    wait_for 20 sh -c "'$CRICTL' --config '$T/crictl.yaml' images -q localhost/pause:latest | grep -q ." ||
        { echo "CRI does not see the imported images"; return 1; }
}

cri_cleanup() {
    local p
    if [ -n "$CD_PID" ] && kill -0 "$CD_PID" 2>/dev/null; then
        for p in $(cc pods -q 2>/dev/null); do
            cc stopp "$p" >/dev/null 2>&1
            cc rmp -f "$p" >/dev/null 2>&1
        done
        kill "$CD_PID" 2>/dev/null
        wait_for 10 sh -c "! kill -0 $CD_PID" || kill -9 "$CD_PID" 2>/dev/null
        wait "$CD_PID" 2>/dev/null
    fi
    kill_procs_naming "$T"
    umount_under "$T"
    # netns the CRI plugin created during this run and left behind
    for p in $(comm -13 "$T/netns-before" <(ls /var/run/netns 2>/dev/null | sort)); do
        umount "/var/run/netns/$p" 2>/dev/null
        rm -f "/var/run/netns/$p"
    done
    remove_cgroup_tree "$TAG"
    ip link del "$BRIDGE" 2>/dev/null
    for p in /run/containerd/io.containerd.runtime.v2.task /run/containerd/runc/k8s.io /run/containerd/runc \
        /run/containerd/fifo /run/containerd/s /run/containerd /var/run/netns /var/log/pods /var/lib/cni; do
        remove_if_we_created "$p"
    done
    true
}

