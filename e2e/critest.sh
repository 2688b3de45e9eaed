#!/bin/bash
# e2e/critest.sh — critest (the CRI validation suite of cri-tools) against a private containerd
# 1.6 CRI plugin (e2e/cri-daemon.sh), once per runtime handler ("runc", then "hull"), same daemon,
# same run. The images critest pulls are built here from the busybox rootfs and served by a
# private registry (Debian's docker-registry) on 127.0.0.1; registry.k8s.io, gcr.io,
# public.ecr.aws and docker.io are mirrored to it through $T/certs.d/*/hosts.toml. See docs/critest.md.
#
#   e2e/critest.sh                     (root; `make critest` builds what it needs first)
# Environment:
#   CRITEST          critest binary (default: unpacked from ../shared/tools, else critest on PATH)
#   CRITEST_FOCUS    ginkgo focus regex (default: every spec)
#   CRITEST_SKIP     ginkgo skip regex (default: none; critest itself skips the benchmarks)
#   CRITEST_TIMEOUT  seconds for one handler's critest run (default 1500)
#   CRI_HANDLERS     "runc hull" (default)
#   E2E_KEEP=1       keep the temp dir (junit, json reports, critest/containerd/registry logs)
#   KNOWN_FAILURES   "spec-name-substring  reason" lines (default e2e/known-failures-critest-hull.txt)
# Output: a table handler x passed/failed/skipped, then the specs that pass for runc but fail for
# hull, each with critest's failure message; build/critest-summary.md holds the same in markdown.
# Exit 1 when such a spec is not covered by a known-failures line (or runc could not run at all).
set -uo pipefail
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$E2E_DIR/.." && pwd)
ROOTFS=${ROOTFS:-$REPO/build/rootfs}
HULL_SHIM=${HULL_SHIM:-$REPO/target/release/containerd-shim-hull-v2}
HULL_BIN=${HULL_BIN:-$REPO/target/release/hull}
CRI_HANDLERS=${CRI_HANDLERS:-runc hull}
CRITEST_TIMEOUT=${CRITEST_TIMEOUT:-1500}
KNOWN_FILE=${KNOWN_FAILURES:-$E2E_DIR/known-failures-critest-hull.txt}
SUMMARY=${CRITEST_SUMMARY:-$REPO/build/critest-summary.md}

# shellcheck source=e2e/lib.sh
. "$E2E_DIR/lib.sh"
# shellcheck source=e2e/image.sh
. "$E2E_DIR/image.sh"
# shellcheck source=e2e/cri-daemon.sh
. "$E2E_DIR/cri-daemon.sh"
die() { cri_die "$@"; }
for tool in docker-registry skopeo gcc jq; do
    command -v "$tool" >/dev/null || die "$tool is needed (apt-get install docker-registry skopeo gcc jq)"
done
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -n "$(gcc -print-file-name=libc.a | grep /)" ] ||
    die "static libc (libc6-dev) is needed to build the test images' helpers"
cri_init

e2e_traps

if [ -z "${CRITEST:-}" ]; then
    for u in "$REPO/../shared/tools/unpack" /work/shared/tools/unpack; do
        if [ -x "$u" ]; then
            "$u" "$T/bin" critest >/dev/null && CRITEST=$T/bin/critest
            break
        fi
    done
    CRITEST=${CRITEST:-$(command -v critest || true)}
fi
[ -x "${CRITEST:-}" ] || die "no critest (set CRITEST=)"

# ---------------------------------------------------------------- the registry
REG_PID=
REG_PORT=
free_port() {
    local p
    for p in $(seq $((35000 + $$ % 5000)) 41000); do
        ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
    done
    return 1
}
registry_stop() {
    if [ -n "$REG_PID" ] && kill -0 "$REG_PID" 2>/dev/null; then
        kill "$REG_PID" 2>/dev/null
        wait_for 3 sh -c "! kill -0 $REG_PID" || kill -9 "$REG_PID" 2>/dev/null
        wait "$REG_PID" 2>/dev/null
    fi
    true
}
registry_start() {
    REG_PORT=$(free_port) || die "no free port for the registry"
    mkdir -p "$T/registry"
    cat >"$T/registry.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $T/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REG_PORT
EOF
    docker-registry serve "$T/registry.yml" >"$T/logs/registry.log" 2>&1 &
    REG_PID=$!
    on_exit registry_stop
    wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$REG_PORT" || {
        tail -n 5 "$T/logs/registry.log"
        return 1
    }
}

# every registry critest names is a mirror of ours (same repository paths)
write_hosts_toml() {
    local h
    for h in registry.k8s.io k8s.gcr.io gcr.io public.ecr.aws docker.io; do
        mkdir -p "$T/certs.d/$h"
        cat >"$T/certs.d/$h/hosts.toml" <<EOF
server = "https://$h"
[host."http://127.0.0.1:$REG_PORT"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
EOF
    done
}

# ---------------------------------------------------------------- the images
# helpers: a web server answering like nginx (process name nginx, argv "nginx: master process",
# /var/run/nginx.pid, exits on SIGTERM as PID 1), and the nonewprivs probe (setuid root).
build_helpers() {
    local d=$T/src
    mkdir -p "$d"
    cat >"$d/nginx.c" <<'EOF'
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
static void bye(int s) { (void)s; unlink("/var/run/nginx.pid"); _exit(0); }
static const char body[] = "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n"
    "</head>\n<body>\n<h1>Welcome to nginx!</h1>\n<p>(hull critest stand-in)</p>\n</body>\n</html>\n";
int main(int argc, char **argv) {
    (void)argc;
    if (!getenv("NGINX_MASTER")) {
        char *a[] = {"nginx: master process /usr/sbin/nginx -g daemon off;", NULL};
        setenv("NGINX_MASTER", "1", 1);
        execv("/usr/sbin/nginx", a);
        perror("execv");
    }
    (void)argv;
    signal(SIGTERM, bye); signal(SIGINT, bye); signal(SIGQUIT, bye); signal(SIGPIPE, SIG_IGN);
    int port = getenv("NGINX_PORT") ? atoi(getenv("NGINX_PORT")) : 80;
    int s = socket(AF_INET6, SOCK_STREAM, 0), one = 1, zero = 0;
    struct sockaddr_in6 a6 = {0};
    struct sockaddr_in a4 = {0};
    int ok;
    if (s >= 0) {
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        a6.sin6_family = AF_INET6; a6.sin6_port = htons(port); a6.sin6_addr = in6addr_any;
        ok = bind(s, (struct sockaddr *)&a6, sizeof a6) == 0;
    } else ok = 0;
    if (!ok) {
        if (s >= 0) close(s);
        s = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        a4.sin_family = AF_INET; a4.sin_port = htons(port); a4.sin_addr.s_addr = htonl(INADDR_ANY);
        if (bind(s, (struct sockaddr *)&a4, sizeof a4) != 0) { perror("bind"); return 1; }
    }
    if (listen(s, 64) != 0) { perror("listen"); return 1; }
    mkdir("/var/run", 0755);
    FILE *f = fopen("/var/run/nginx.pid", "w");
    if (f) { fprintf(f, "%d\n", (int)getpid()); fclose(f); }
    fprintf(stderr, "nginx stand-in listening on %d\n", port);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        char buf[4096];
        size_t got = 0;
        while (got < sizeof buf - 1) {
            ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
            if (n <= 0) break;
            got += (size_t)n;
            buf[got] = 0;
            if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n")) break;
        }
        char head[256];
        int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nServer: nginx/1.14.2\r\n"
            "Content-Type: text/html\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", sizeof body - 1);
        if (write(c, head, (size_t)hl) > 0 && write(c, body, sizeof body - 1) > 0) {}
        close(c);
    }
}
EOF
    cat >"$d/nnp.c" <<'EOF'
#include <stdio.h>
#include <unistd.h>
int main(void) { printf("Effective uid: %d\n", (int)geteuid()); return 0; }
EOF
    gcc -static -O2 -o "$d/nginx" "$d/nginx.c" && gcc -static -O2 -o "$d/nnp" "$d/nnp.c"
}

# layer trees: "common" (busybox-like /etc/passwd and /etc/group with www-data, the helpers, a
# web root) and "group" (/etc/passwd, /etc/group with uid 1000 in the extra group 50000)
build_layers() {
    local c=$T/layer-common g=$T/layer-group
    mkdir -p "$c/etc" "$c/usr/sbin" "$c/usr/local/bin" "$c/usr/share/nginx/html" "$c/var/run" "$c/var/www"
    cat >"$c/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
    cat >"$c/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
www-data:x:33:
users:x:100:
nogroup:x:65534:
EOF
    cp "$T/src/nginx" "$c/usr/sbin/nginx"
    cp "$T/src/nnp" "$c/usr/local/bin/nnp"
    chmod 0755 "$c/usr/sbin/nginx"
    chmod 4755 "$c/usr/local/bin/nnp"
    printf '<!DOCTYPE html>\n<title>Welcome to nginx!</title>\n<h1>Welcome to nginx!</h1>\n' \
        >"$c/usr/share/nginx/html/index.html"
    mkdir -p "$g/etc"
    {
        cat "$c/etc/passwd"
        echo 'user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh'
    } >"$g/etc/passwd"
    {
        cat "$c/etc/group"
        echo 'user-defined-in-image:x:1000:'
        echo 'group-defined-in-image:x:50000:user-defined-in-image'
    } >"$g/etc/group"
    tar -C "$ROOTFS" --numeric-owner --owner=0 --group=0 --sort=name -cf "$T/layer-base.tar" .
    tar -C "$c" --numeric-owner --owner=0 --group=0 --sort=name -cf "$T/layer-common.tar" .
    tar -C "$g" --numeric-owner --owner=0 --group=0 --sort=name -cf "$T/layer-group.tar" .
}

# oci_image DIR CONFIG-JSON(the "config" object) LAYER.tar...: an OCI layout in DIR, ref "latest"
oci_image() {
    local dir=$1 conf=$2 l d diffs="" layers="" cfg man size
    shift 2
    mkdir -p "$dir/blobs/sha256"
    for l in "$@"; do
        d=$(_sha "$l")
        [ -e "$dir/blobs/sha256/$d" ] || cp "$l" "$dir/blobs/sha256/$d"
        size=$(stat -c %s "$l")
        diffs="$diffs${diffs:+,}\"sha256:$d\""
        layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$d\",\"size\":$size}"
    done
    jq -c -n --argjson c "$conf" --argjson diffs "[$diffs]" \
        '{architecture: "amd64", os: "linux", created: "2024-01-01T00:00:00Z",
          config: ({Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], WorkingDir: "/"} + $c),
          rootfs: {type: "layers", diff_ids: $diffs},
          history: [{created: "2024-01-01T00:00:00Z", created_by: "hull e2e/critest.sh"}]}' >"$dir/config.json"
    size=$(stat -c %s "$dir/config.json")
    cfg=$(_blob "$dir" "$dir/config.json")
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
        "$cfg" "$size" "$layers" >"$dir/manifest.json"
    size=$(stat -c %s "$dir/manifest.json")
    man=$(_blob "$dir" "$dir/manifest.json")
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
        "$man" "$size" >"$dir/index.json"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
}

# push NAME CONFIG-JSON LAYERS REF...: build image NAME once, push it under each REF (path:tag
# in our registry)
push_image() {
    local name=$1 conf=$2 layers=$3 ref l args=()
    shift 3
    for l in $layers; do args+=("$T/layer-$l.tar"); done
    oci_image "$T/images/$name" "$conf" "${args[@]}" || return 1
    for ref in "$@"; do
        timeout 120 skopeo copy --quiet --dest-tls-verify=false \
            "oci:$T/images/$name:latest" "docker://127.0.0.1:$REG_PORT/$ref" >>"$T/logs/push.log" 2>&1 ||
            { echo "push of $ref failed"; tail -n 3 "$T/logs/push.log"; return 1; }
        echo "$ref" >>"$T/logs/pushed.txt"
    done
}

build_images() {
    local k=k8s-staging-cri-tools sh='{"Cmd":["sh"]}' nginx
    build_helpers || return 1
    build_layers || return 1
    nginx='{"Entrypoint":["/usr/sbin/nginx"],"Cmd":["-g","daemon off;"],"ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGQUIT"}'
    push_image busybox "$sh" "base common" e2e-test-images/busybox:1.29-2 \
        docker/library/busybox:1 docker/library/busybox:1-glibc docker/library/busybox:1.35.0-glibc \
        library/busybox:latest || return 1
    # distinct images for the tags critest expects to differ
    push_image busybox-musl '{"Cmd":["sh"],"Labels":{"variant":"musl"}}' "base common" docker/library/busybox:1-musl || return 1
    push_image busybox-uclibc '{"Cmd":["sh"],"Labels":{"variant":"uclibc"}}' "base common" docker/library/busybox:1-uclibc || return 1
    push_image pause '{"Cmd":["/bin/sleep","2147483647"]}' base pause:3.9 pause:3.10 || return 1
    push_image nginx "$nginx" "base common" e2e-test-images/nginx:1.14-2 || return 1
    push_image hostnet-nginx "$(jq -c '. + {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_PORT=12003"], ExposedPorts: {"12003/tcp": {}}}' <<<"$nginx")" \
        "base common" "$k/hostnet-nginx-amd64:latest" || return 1
    push_image httpd '{"Cmd":["httpd","-f","-p","80","-h","/usr/share/nginx/html"],"ExposedPorts":{"80/tcp":{}}}' \
        "base common" e2e-test-images/httpd:2.4.39-4 || return 1
    push_image nonewprivs '{"Entrypoint":["/usr/local/bin/nnp"]}' "base common" e2e-test-images/nonewprivs:1.3 || return 1
    push_image user-uid '{"Cmd":["sh"],"User":"1002"}' "base common" "$k/test-image-user-uid:latest" || return 1
    push_image user-username '{"Cmd":["sh"],"User":"www-data"}' "base common" "$k/test-image-user-username:latest" || return 1
    push_image user-uid-group '{"Cmd":["sh"],"User":"1003:users"}' "base common" "$k/test-image-user-uid-group:latest" || return 1
    push_image user-username-group '{"Cmd":["sh"],"User":"www-data:users"}' "base common" "$k/test-image-user-username-group:latest" || return 1
    push_image predefined-group '{"Cmd":["sh"]}' "base common group" "$k/test-image-predefined-group:latest" || return 1
    push_image test-image '{"Cmd":["sh"],"Labels":{"critest":"test-image"}}' "base common" \
        "$k/test-image-latest:latest" "$k/test-image-tag:test" "$k/test-image-tag:all" \
        "$k/test-image-tags:1" "$k/test-image-tags:2" "$k/test-image-tags:3" || return 1
    # cannot be served: critest pulls it by a fixed digest of the upstream image; pushed by tag
    # so that the failure is a digest mismatch, not a missing repository
    push_image test-image-digest '{"Cmd":["sh"],"Labels":{"critest":"digest"}}' "base common" "$k/test-image-digest:latest" || return 1
    local i
    for i in 1 2 3; do
        push_image "test-image-$i" "{\"Cmd\":[\"sh\"],\"Labels\":{\"critest\":\"test-image-$i\"}}" "base common" \
            "$k/test-image-$i:latest" || return 1
    done
}

# ---------------------------------------------------------------- setup
echo "# critest bed: containerd $(containerd --version | awk '{print $3}'), critest ${CRITEST_VERSION:-v1.36.0}, temp $T"
t0=$SECONDS
if ! { registry_start && build_images; } >"$T/logs/images.log" 2>&1; then
    tail -n 20 "$T/logs/images.log" >&2
    E2E_KEEP=1
    die "registry or images failed (logs in $T)"
fi
echo "# registry 127.0.0.1:$REG_PORT, $(wc -l <"$T/logs/pushed.txt") image refs pushed ($((SECONDS - t0)) s)"
if ! cri_setup >"$T/logs/setup.log" 2>&1; then
    tail -n 20 "$T/logs/setup.log" >&2
    tail -n 20 "$T/containerd.log" >&2
    E2E_KEEP=1
    die "setup failed (logs in $T)"
fi
write_hosts_toml
cat >"$T/test-images.yaml" <<EOF
defaultTestContainerImage: registry.k8s.io/e2e-test-images/busybox:1.29-2
webServerTestImage: registry.k8s.io/e2e-test-images/nginx:1.14-2
EOF

# ---------------------------------------------------------------- runs
declare -A WALL=()
run_critest() { # run_critest HANDLER
    local h=$1 args t1
    args=(-runtime-endpoint "unix://$SOCK" -image-endpoint "unix://$SOCK" -runtime-handler "$h"
        -test-images-file "$T/test-images.yaml" -ginkgo.no-color -ginkgo.v
        -ginkgo.junit-report "$T/junit-$h.xml" -ginkgo.json-report "$T/report-$h.json"
        -ginkgo.timeout "$((CRITEST_TIMEOUT - 30))s")
    [ -n "${CRITEST_FOCUS:-}" ] && args+=(-ginkgo.focus "$CRITEST_FOCUS")
    [ -n "${CRITEST_SKIP:-}" ] && args+=(-ginkgo.skip "$CRITEST_SKIP")
    t1=$SECONDS
    echo "# critest -runtime-handler $h ..."
    (cd "$T" && timeout -k 10 "$CRITEST_TIMEOUT" "$CRITEST" "${args[@]}") >"$T/logs/critest-$h.log" 2>&1
    echo "# critest $h: rc=$?, $((SECONDS - t1)) s (log $T/logs/critest-$h.log)"
    WALL[$h]=$((SECONDS - t1))
    # pods a crashed run left behind would disturb the next handler
    for p in $(cc pods -q 2>/dev/null); do
        cc stopp "$p" >/dev/null 2>&1
        cc rmp -f "$p" >/dev/null 2>&1
    done
}
for h in $CRI_HANDLERS; do run_critest "$h"; done

# ---------------------------------------------------------------- results
# spec name: container texts + leaf text, one line
spec_rows() { # spec_rows HANDLER: "state<TAB>name<TAB>one-line failure" per It spec
    local f=$T/report-$1.json
    [ -s "$f" ] || return 0
    jq -r '.[].SpecReports[] | select(.LeafNodeType == "It") |
        [.State, ((.ContainerHierarchyTexts + [.LeafNodeText]) | join(" ")),
         ((.Failure.Message // "") | gsub("[\\n\\t]+"; " ") | gsub(" +"; " ") | .[0:400])] | @tsv' "$f"
}
count() { # count HANDLER STATE
    spec_rows "$1" | awk -F'\t' -v s="$2" '$1 == s' | grep -c . || true
}
declare -A KNOWN=()
if [ -f "$KNOWN_FILE" ]; then
    while IFS= read -r line; do
        case "$line" in '' | '#'*) continue ;; esac
        # "substring<2+ spaces or tab>reason"
        key=$(sed -E 's/(\t| {2,}).*//' <<<"$line")
        KNOWN[$key]=$(sed -E 's/^[^\t]*(\t| {2,})//' <<<"$line")
    done <"$KNOWN_FILE"
fi
known_reason() {
    local k
    for k in "${!KNOWN[@]}"; do
        case "$1" in *"$k"*) echo "${KNOWN[$k]}"; return 0 ;; esac
    done
    return 1
}

rc=0
mkdir -p "$(dirname "$SUMMARY")"
{
    echo "| handler | passed | failed | skipped | time (s) |"
    echo "|---|---|---|---|---|"
    for h in $CRI_HANDLERS; do
        echo "| $h | $(count "$h" passed) | $(( $(count "$h" failed) + $(count "$h" timedout) + $(count "$h" panicked) + $(count "$h" interrupted) )) | $(count "$h" skipped) | ${WALL[$h]:-} |"
    done
} >"$T/table.md"
echo
cat "$T/table.md"
regress=()
if [[ " $CRI_HANDLERS " == *" runc "* ]] && [[ " $CRI_HANDLERS " == *" hull "* ]]; then
    declare -A RUNC=()
    while IFS=$'\t' read -r st name _; do RUNC[$name]=$st; done < <(spec_rows runc)
    while IFS=$'\t' read -r st name msg; do
        [ "${RUNC[$name]:-}" = passed ] || continue
        case $st in passed | skipped | pending) continue ;; esac
        if reason=$(known_reason "$name"); then
            regress+=("known|$name|$reason|$msg")
        else
            regress+=("new|$name||$msg")
            rc=1
        fi
    done < <(spec_rows hull)
fi
for h in $CRI_HANDLERS; do
    # a run that crashed or never reached a spec proves nothing
    [ -s "$T/report-$h.json" ] || { echo "# critest for $h produced no report"; rc=1; }
    [ "$(count "$h" passed)" -gt 0 ] || { echo "# critest for $h passed no spec: the bed is broken"; rc=1; }
done
{
    echo
    echo "Specs that pass for runc and fail for hull: ${#regress[@]}"
    echo
    for r in "${regress[@]}"; do
        IFS='|' read -r kind name reason msg <<<"$r"
        if [ "$kind" = known ]; then
            echo "- $name — known: $reason"
        else
            echo "- **$name** — $msg"
        fi
    done
} >"$T/regress.md"
cat "$T/regress.md"
{
    echo "critest ${CRITEST_VERSION:-v1.36.0}, containerd $(containerd --version | awk '{print $3}'), $(date -u +%Y-%m-%dT%H:%MZ)${CRITEST_FOCUS:+, focus \`$CRITEST_FOCUS\`}${CRITEST_SKIP:+, skip \`$CRITEST_SKIP\`}"
    echo
    cat "$T/table.md" "$T/regress.md"
} >"$SUMMARY"
echo "# summary: $SUMMARY"
exit "$rc"
