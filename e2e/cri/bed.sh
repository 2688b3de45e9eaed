# shellcheck shell=bash
# e2e/cri/bed.sh — the CRI test bed: tools, locally built images in a local registry, containerd
# with its CRI plugin, a private CNI bridge, runtime handlers `runc` and `hull`. Sourced by
# e2e/cri.sh; everything lives under CRI_TMP and is undone by the cleanup registry (e2e/lib.sh).
# shellcheck disable=SC2154

CRI_NS=k8s.io
CRI_SOCK=
CRI_PID=
REG_PID=
REG_ADDR=
CRI_BRIDGE=
CRI_CGROUP_PARENT=

# find_tools: crictl, critest and (for containerd 2) containerd-2.x from the prebuilt tools folder
# (../shared/tools next to the repo checkout, else /work/shared/tools), unpacked into build/tools.
find_tools() {
    local d src=
    for d in "$REPO/../shared/tools" /work/shared/tools; do
        if [ -x "$d/unpack" ]; then
            src=$(cd "$d" && pwd)
            break
        fi
    done
    [ -n "$src" ] || { echo "no prebuilt tools folder (looked in $REPO/../shared/tools and /work/shared/tools)"; return 1; }
    local names=(crictl critest)
    [ "$CRI_CONTAINERD" = 1.6 ] || names+=("containerd-$CRI_CONTAINERD")
    "$src/unpack" "$REPO/build/tools" "${names[@]}" >/dev/null || { echo "unpack from $src failed"; return 1; }
    CRICTL_BIN=$REPO/build/tools/crictl
    CRITEST_BIN=$REPO/build/tools/critest
    if [ "$CRI_CONTAINERD" = 1.6 ]; then
        CONTAINERD_BIN=$(command -v containerd) || { echo "containerd 1.6 not installed (Debian package containerd)"; return 1; }
        RUNC_SHIM=$(command -v containerd-shim-runc-v2)
    else
        CONTAINERD_BIN=$REPO/build/tools/containerd-$CRI_CONTAINERD/bin/containerd
        RUNC_SHIM=$REPO/build/tools/containerd-$CRI_CONTAINERD/bin/containerd-shim-runc-v2
    fi
    [ -x "$CONTAINERD_BIN" ] && [ -x "$RUNC_SHIM" ] || { echo "containerd $CRI_CONTAINERD binaries missing"; return 1; }
}

# ---------------------------------------------------------------- images

# make_oci_layout ROOTFS DIR TAG CONFIG-JSON: an OCI image layout in DIR (one uncompressed layer of
# ROOTFS), image config {"config": CONFIG-JSON, ...}, the manifest named TAG in index.json.
make_oci_layout() {
    local rootfs=$1 dir=$2 tag=$3 conf=$4 layer cfg man sl sc sm
    mkdir -p "$dir/blobs/sha256"
    tar -C "$rootfs" --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -cf "$dir/layer.tar" .
    sl=$(stat -c %s "$dir/layer.tar")
    layer=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
    mv "$dir/layer.tar" "$dir/blobs/sha256/$layer"
    printf '{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$conf" "$layer" >"$dir/config.json"
    sc=$(stat -c %s "$dir/config.json")
    cfg=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
    mv "$dir/config.json" "$dir/blobs/sha256/$cfg"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
        "$cfg" "$sc" "$layer" "$sl" >"$dir/manifest.json"
    sm=$(stat -c %s "$dir/manifest.json")
    man=$(sha256sum "$dir/manifest.json" | cut -d' ' -f1)
    mv "$dir/manifest.json" "$dir/blobs/sha256/$man"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
        "$man" "$sm" "$tag" >"$dir/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
}

# push_image LAYOUT TAG NAME:TAG: copy one image of an OCI layout into the local registry
push_image() {
    t skopeo copy --quiet --dest-tls-verify=false "oci:$1:$2" "docker://$REG_ADDR/$3"
}

BUSYBOX_CONF='{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"}'

# build_images: busybox (build/rootfs) and pause (e2e/cri/pause.c, static) pushed to the registry
build_images() {
    local img=$CRI_TMP/images
    mkdir -p "$img/pause-rootfs"
    gcc -static -Os -s -o "$img/pause-rootfs/pause" "$E2E_DIR/cri/pause.c" || { echo "building pause failed"; return 1; }
    make_oci_layout "$img/pause-rootfs" "$img/pause" 3.10 \
        '{"Entrypoint":["/pause"],"WorkingDir":"/","User":"65535:65535"}'
    make_oci_layout "$ROOTFS" "$img/busybox" latest "$BUSYBOX_CONF"
    push_image "$img/pause" 3.10 pause:3.10 || return 1
    push_image "$img/busybox" latest busybox:latest || return 1
    PAUSE_IMAGE=$REG_ADDR/pause:3.10
    BUSYBOX_IMAGE=$REG_ADDR/busybox:latest
}

# ---------------------------------------------------------------- registry

free_port() { # a free TCP port on 127.0.0.1 (random, checked against ss)
    local p i
    for ((i = 0; i < 50; i++)); do
        p=$((20000 + RANDOM % 20000))
        ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return 0; }
    done
    return 1
}

start_registry() {
    local port dir=$CRI_TMP/registry
    command -v docker-registry >/dev/null || { echo "docker-registry not installed (Debian package docker-registry)"; return 1; }
    command -v skopeo >/dev/null || { echo "skopeo not installed (Debian package skopeo)"; return 1; }
    port=$(free_port) || { echo "no free port"; return 1; }
    REG_ADDR=127.0.0.1:$port
    mkdir -p "$dir/storage"
    cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: $REG_ADDR
EOF
    docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    REG_PID=$!
    on_exit stop_pid "\$REG_PID" registry
    wait_for 20 curl -fsS "http://$REG_ADDR/v2/" ||
        { tail -n 5 "$dir/registry.log"; echo "registry did not come up on $REG_ADDR"; return 1; }
}

stop_pid() { # stop_pid PID WHAT: SIGTERM, SIGKILL after 10 s
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    wait_for 10 sh -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "stopped $2 ($pid)"
}

# ---------------------------------------------------------------- CNI

# A bridge of our own (hcri<pid>), no gateway address on it (so the bridge plugin neither enables
# ip_forward nor adds routes), no ipMasq (no iptables rule), host-local IPAM state in our dir.
write_cni_conf() {
    local net
    CRI_BRIDGE=hcri$$
    CRI_BRIDGE=${CRI_BRIDGE:0:15}
    # a /24 in 10.200-249.x.0 that no route of this host uses
    for net in $(seq 0 40); do
        net=10.$((200 + ($$ + net) % 50)).$((($$ / 50 + net) % 250)).0
        ip route | grep -q "^${net%.0}\." || break
    done
    mkdir -p "$CRI_TMP/cni/net.d" "$CRI_TMP/cni/ipam"
    cat >"$CRI_TMP/cni/net.d/10-hull-cri.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "hull-cri-$$",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CRI_BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CRI_TMP/cni/ipam",
        "ranges": [[{"subnet": "$net/24"}]]
      }
    }
  ]
}
EOF
    CNI_SUBNET=$net/24
}

# ---------------------------------------------------------------- containerd

write_containerd_conf() {
    local d=$CRI_TMP/containerd hull_opts runc_opts
    mkdir -p "$d/opt/bin" "$d/certs.d/$REG_ADDR" "$d/runtime-root/runc" "$d/runtime-root/hull"
    # copies, not links: /proc/PID/exe then tells this run's shims from any other on the machine
    cp "$RUNC_SHIM" "$d/opt/bin/containerd-shim-runc-v2"
    cp "$HULL_SHIM" "$d/opt/bin/containerd-shim-hull-v2"
    cat >"$d/certs.d/$REG_ADDR/hosts.toml" <<EOF
server = "http://$REG_ADDR"
[host."http://$REG_ADDR"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
EOF
    runc_opts="BinaryName = \"${RUNC_BIN:-/usr/sbin/runc}\"
        Root = \"$d/runtime-root/runc\"
        SystemdCgroup = false"
    hull_opts="BinaryName = \"$HULL_BIN\"
        Root = \"$d/runtime-root/hull\"
        SystemdCgroup = false"
    CRI_SOCK=$d/containerd.sock
    if [ "$CRI_CONTAINERD" = 1.6 ]; then
        cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]
[grpc]
  address = "$CRI_SOCK"
[ttrpc]
  address = "$CRI_SOCK.ttrpc"
[debug]
  address = "$d/debug.sock"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$d/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMAGE"
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    disable_apparmor = true
    # no CAP_SYS_RESOURCE here: oom_score_adj may not go below containerd's own (pause asks -998)
    restrict_oom_score_adj = true
    tolerate_missing_hugetlb_controller = true
    disable_hugetlb_controller = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$CRI_TMP/cni/net.d"
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "$d/certs.d"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        $runc_opts
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull]
        runtime_type = "io.containerd.hull.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull.options]
        $hull_opts
EOF
    else
        cat >"$d/config.toml" <<EOF
version = 3
root = "$d/root"
state = "$d/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs", "io.containerd.differ.v1.erofs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
  "io.containerd.nri.v1.nri",
]
[grpc]
  address = "$CRI_SOCK"
[ttrpc]
  address = "$CRI_SOCK.ttrpc"
[debug]
  address = "$d/debug.sock"
[metrics]
  address = ""
[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "$d/opt"
  [plugins.'io.containerd.cri.v1.images']
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = "$PAUSE_IMAGE"
    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = "$d/certs.d"
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false
    disable_apparmor = true
    # no CAP_SYS_RESOURCE here: oom_score_adj may not go below containerd's own (pause asks -998)
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    enable_cdi = false
    tolerate_missing_hugetlb_controller = true
    disable_hugetlb_controller = true
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ["/usr/lib/cni"]
      conf_dir = "$CRI_TMP/cni/net.d"
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = "runc"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        $runc_opts
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.hull]
        runtime_type = "io.containerd.hull.v2"
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.hull.options]
        $hull_opts
EOF
    fi
}

crictl_() { t "$CRICTL_BIN" --config "$CRI_TMP/crictl.yaml" "$@"; }

start_containerd() {
    local d=$CRI_TMP/containerd
    # fixed host paths containerd and the shims use whatever the config says
    remember_absent /run/containerd /run/containerd/s /run/containerd/fifo /var/run/netns /run/netns \
        /var/lib/cni /var/lib/cni/networks /var/lib/cni/results /run/containerd/hull /run/containerd/runc
    write_containerd_conf
    cat >"$CRI_TMP/crictl.yaml" <<EOF
runtime-endpoint: unix://$CRI_SOCK
image-endpoint: unix://$CRI_SOCK
timeout: 60
debug: false
pull-image-on-create: false
EOF
    "$CONTAINERD_BIN" --config "$d/config.toml" --log-level "${CRI_LOG_LEVEL:-info}" >"$d/containerd.log" 2>&1 &
    CRI_PID=$!
    on_exit containerd_cleanup
    wait_for 30 "$CRICTL_BIN" --config "$CRI_TMP/crictl.yaml" info ||
        { tail -n 8 "$d/containerd.log"; echo "containerd $CRI_CONTAINERD with CRI did not come up"; return 1; }
    echo "containerd $("$CONTAINERD_BIN" --version | awk '{print $3}') up (pid $CRI_PID), CRI at $CRI_SOCK"
    crictl_ pull "$PAUSE_IMAGE" && crictl_ pull "$BUSYBOX_IMAGE"
}

# our shims: processes whose executable is one of the shim copies in our opt/bin
our_shims() { # our_shims NAME: pids of containerd-shim-NAME-v2 started by this run
    local exe=$CRI_TMP/containerd/opt/bin/containerd-shim-$1-v2 f
    for f in /proc/[0-9]*/exe; do
        [ "$(readlink "$f" 2>/dev/null)" = "$exe" ] && { f=${f#/proc/}; echo "${f%/exe}"; }
    done
    return 0
}

containerd_cleanup() {
    local id d=$CRI_TMP/containerd
    if [ -n "$CRI_PID" ] && kill -0 "$CRI_PID" 2>/dev/null; then
        for id in $(crictl_ pods -q 2>/dev/null); do
            crictl_ stopp "$id" >/dev/null 2>&1 || true
            crictl_ rmp -f "$id" >/dev/null 2>&1 || true
        done
        stop_pid "$CRI_PID" containerd
    fi
    # shims, containers left by a crash: processes naming our dir, our shim copies, our cgroups
    kill_procs_naming "$CRI_TMP"
    for id in $(our_shims hull) $(our_shims runc); do kill -9 "$id" 2>/dev/null || true; done
    [ -z "$CRI_CGROUP_PARENT" ] || remove_cgroup_tree "$CRI_CGROUP_PARENT"
    umount_under "$CRI_TMP"
    if [ -n "$CRI_BRIDGE" ] && [ -e "/sys/class/net/$CRI_BRIDGE" ]; then
        ip link del "$CRI_BRIDGE" && echo "removed bridge $CRI_BRIDGE"
    fi
    for d in /run/containerd/hull /run/containerd/runc /run/containerd/fifo /run/containerd/s /run/containerd \
        /var/lib/cni/results /var/lib/cni/networks /var/lib/cni /run/netns; do
        remove_if_we_created "$d"
    done
}

# bed_setup: everything above in order; prints what it did; fails with a one-line reason
bed_setup() {
    find_tools || return 1
    start_registry || return 1
    build_images || return 1
    write_cni_conf
    start_containerd || return 1
}
