# shellcheck shell=bash
# e2e/image.sh — the busybox test image, built locally (no registry is reachable).
#   make_rootfs_tar ROOTFS OUT.tar         plain rootfs tar (for `podman import`)
#   make_oci_archive ROOTFS OUT.tar TAG [CMD-JSON]  OCI image layout tar (for `ctr images import`);
#                                          CMD-JSON is the image's Cmd (default ["/bin/sh"])
# The OCI layout is written by hand: one uncompressed layer, an image config with CMD, a manifest,
# and index.json naming the manifest TAG (org.opencontainers.image.ref.name).

make_rootfs_tar() {
    tar -C "$1" --numeric-owner --owner=0 --group=0 --sort=name -cf "$2" .
}

_sha() { sha256sum "$1" | cut -d' ' -f1; }
_blob() { # _blob LAYOUTDIR FILE -> moves FILE into blobs/sha256, prints digest
    local d
    d=$(_sha "$2")
    mv "$2" "$1/blobs/sha256/$d"
    echo "$d"
}

make_oci_archive() {
    local rootfs=$1 out=$2 tag=$3 cmd=${4:-'["/bin/sh"]'} dir layer cfg man size_l size_c size_m
    dir=$(mktemp -d "${out%/*}/oci.XXXXXX")
    mkdir -p "$dir/blobs/sha256"
    make_rootfs_tar "$rootfs" "$dir/layer.tar"
    size_l=$(stat -c %s "$dir/layer.tar")
    layer=$(_blob "$dir" "$dir/layer.tar")
    cat >"$dir/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z",
 "config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":$cmd,"WorkingDir":"/"},
 "rootfs":{"type":"layers","diff_ids":["sha256:$layer"]},
 "history":[{"created":"2024-01-01T00:00:00Z","created_by":"hull e2e: busybox-static rootfs"}]}
JSON
    size_c=$(stat -c %s "$dir/config.json")
    cfg=$(_blob "$dir" "$dir/config.json")
    cat >"$dir/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$cfg","size":$size_c},
 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:$layer","size":$size_l}]}
JSON
    size_m=$(stat -c %s "$dir/manifest.json")
    man=$(_blob "$dir" "$dir/manifest.json")
    cat >"$dir/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
 "manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$man","size":$size_m,
   "platform":{"architecture":"amd64","os":"linux"},
   "annotations":{"org.opencontainers.image.ref.name":"$tag"}}]}
JSON
    echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
    tar -C "$dir" --numeric-owner --owner=0 --group=0 -cf "$out" oci-layout index.json blobs
    rm -rf "$dir"
}
