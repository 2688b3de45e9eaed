#!/bin/bash
# What the build and the tests need, from the lists CI uses (one name a line, '#' comments):
#   .ci/packages/L.txt  Debian packages        .ci/pip/L.txt    PyPI packages (python3 -m pip)
#   .ci/rustup/L.txt    rustup components       .ci/cargo/L.txt  crates installed with cargo install
#   .ci/rustup-target/L.txt  rustup targets (optional: a target that cannot be added is named,
#                            not fatal; the build falls back, see the Makefile)
#
#   scripts/deps.sh check   [L...]   name what is missing (exit 1 if anything is), change nothing
#   scripts/deps.sh install [L...]   install only what is missing (apt-get update only if needed)
#   scripts/deps.sh auto    [L...]   install as root, check otherwise (what `make test` runs)
#
# Without L every list is used. A machine that has everything pays one dpkg-query, one python3
# and one cargo call. `.ci/run`, `make deps`, `make demo` and `make test` all come through here.
# DEPS_DIR (default: the repo's .ci) points the script at other lists (its own test does).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
DEPS_DIR=${DEPS_DIR:-$here/../.ci}

usage() {
    echo "usage: scripts/deps.sh check|install|auto [LIST...]   (lists: $(all_lists | xargs))" >&2
    exit 2
}
all_lists() {
    local f
    for f in "$DEPS_DIR"/packages/*.txt "$DEPS_DIR"/pip/*.txt "$DEPS_DIR"/rustup/*.txt "$DEPS_DIR"/rustup-target/*.txt "$DEPS_DIR"/cargo/*.txt; do
        if [ -f "$f" ]; then basename "$f" .txt; fi
    done | sort -u
}
# names KIND: the entries of KIND/L.txt for every selected list, comments and blanks dropped
names() {
    local l
    for l in "${lists[@]}"; do
        if [ -f "$DEPS_DIR/$1/$l.txt" ]; then sed 's/#.*//' "$DEPS_DIR/$1/$l.txt"; fi
    done | tr -s ' \t' '\n\n' | sed '/^$/d' | sort -u
}

mode=${1:-}
[ $# -gt 0 ] && shift
case "$mode" in check | install | auto) ;; *) usage ;; esac
if [ $# -gt 0 ]; then
    lists=("$@")
    known=$(all_lists)
    for l in "${lists[@]}"; do
        grep -qx -- "$l" <<<"$known" || { echo "deps: no list named '$l' under $DEPS_DIR" >&2; usage; }
    done
else
    mapfile -t lists < <(all_lists)
    [ ${#lists[@]} -gt 0 ] || { echo "deps: no lists under $DEPS_DIR" >&2; exit 2; }
fi
if [ "$mode" = auto ]; then
    if [ "$(id -u)" = 0 ]; then mode=install; else mode=check; fi
fi

# --- what is missing -------------------------------------------------------------------------
mapfile -t debs < <(names packages)
missing_debs=()
if [ ${#debs[@]} -gt 0 ]; then
    if command -v dpkg-query >/dev/null; then
        installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${debs[@]}" 2>/dev/null |
            awk '$2 == "ii" { sub(/:.*/, "", $1); print $1 }' || true)
        for p in "${debs[@]}"; do
            grep -qx -- "$p" <<<"$installed" || missing_debs+=("$p")
        done
    else
        echo "deps: no dpkg-query: not a Debian system; install the equivalents of: ${debs[*]}" >&2
        missing_debs=("${debs[@]}")
    fi
fi

mapfile -t pips < <(names pip)
missing_pips=()
if [ ${#pips[@]} -gt 0 ]; then
    if command -v python3 >/dev/null; then
        mapfile -t missing_pips < <(python3 - "${pips[@]}" <<'PY'
import importlib.metadata as md, re, sys
for spec in sys.argv[1:]:
    name = re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]
    try:
        md.distribution(name)
    except md.PackageNotFoundError:
        print(spec)
PY
        )
    else
        missing_pips=("${pips[@]}")
    fi
fi

missing_rust=()
if ! command -v cargo >/dev/null; then
    missing_rust+=("cargo")
fi
mapfile -t comps < <(names rustup)
missing_comps=()
if [ ${#comps[@]} -gt 0 ]; then
    if command -v rustup >/dev/null; then
        have=$(rustup component list --installed 2>/dev/null | sed 's/-x86_64.*//; s/-aarch64.*//' || true)
        for c in "${comps[@]}"; do
            grep -qx -- "$c" <<<"$have" || missing_comps+=("$c")
        done
    else
        # no rustup (a distribution toolchain): the components are there if their commands are
        for c in "${comps[@]}"; do
            case "$c" in
            rustfmt) command -v rustfmt >/dev/null || missing_comps+=("$c") ;;
            clippy) command -v cargo-clippy >/dev/null || missing_comps+=("$c") ;;
            *) missing_comps+=("$c") ;;
            esac
        done
    fi
fi
mapfile -t targets < <(names rustup-target)
missing_targets=()
if [ ${#targets[@]} -gt 0 ] && command -v rustup >/dev/null; then
    have=$(rustup target list --installed 2>/dev/null || true)
    for t in "${targets[@]}"; do
        grep -qx -- "$t" <<<"$have" || missing_targets+=("$t")
    done
fi
mapfile -t crates < <(names cargo)
missing_crates=()
if [ ${#crates[@]} -gt 0 ]; then
    have=$( (cargo install --list 2>/dev/null || true) | sed -n 's/^\([^ ]*\) v.*/\1/p')
    for c in "${crates[@]}"; do
        grep -qx -- "$c" <<<"$have" || command -v "$c" >/dev/null || missing_crates+=("$c")
    done
fi

report() {
    [ ${#missing_rust[@]} -eq 0 ] ||
        echo "  Rust: no cargo on PATH: install rustup (https://rustup.rs; Debian 12's rustc is too old), then open a new shell"
    [ ${#missing_debs[@]} -eq 0 ] || echo "  Debian packages: ${missing_debs[*]}   (apt-get install ${missing_debs[*]})"
    [ ${#missing_pips[@]} -eq 0 ] || echo "  PyPI packages: ${missing_pips[*]}   (python3 -m pip install ${missing_pips[*]})"
    [ ${#missing_comps[@]} -eq 0 ] || echo "  rustup components: ${missing_comps[*]}   (rustup component add ${missing_comps[*]})"
    [ ${#missing_crates[@]} -eq 0 ] || echo "  cargo tools: ${missing_crates[*]}   (cargo install --locked ${missing_crates[*]})"
    [ ${#missing_targets[@]} -eq 0 ] || echo "  rustup targets (optional): ${missing_targets[*]}   (rustup target add ${missing_targets[*]})"
}
total=$((${#missing_rust[@]} + ${#missing_debs[@]} + ${#missing_pips[@]} + ${#missing_comps[@]} + ${#missing_crates[@]}))

if [ "$total" -eq 0 ] && { [ ${#missing_targets[@]} -eq 0 ] || [ "$mode" = check ]; }; then
    [ ${#missing_targets[@]} -eq 0 ] || report
    echo "deps: everything in ${lists[*]} is installed"
    exit 0
fi
if [ "$mode" = check ]; then
    echo "deps: missing (lists: ${lists[*]}):" >&2
    report >&2
    echo "deps: as root, 'scripts/deps.sh install' (or 'make deps') installs them" >&2
    exit 1
fi

# --- install ---------------------------------------------------------------------------------
echo "deps: installing what is missing:"
report
if [ ${#missing_debs[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "deps: installing Debian packages needs root" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing_debs[@]}" >/dev/null
fi
if [ ${#missing_rust[@]} -gt 0 ]; then
    echo "deps: cannot continue without cargo (see above)" >&2
    exit 1
fi
if [ ${#missing_pips[@]} -gt 0 ]; then
    # Debian 12 marks its python "externally managed"; these are test tools for this machine.
    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q "${missing_pips[@]}"
fi
if [ ${#missing_comps[@]} -gt 0 ]; then
    rustup component add "${missing_comps[@]}"
fi
for c in "${missing_crates[@]}"; do
    cargo install --locked "$c"
done
for t in "${missing_targets[@]}"; do
    rustup target add "$t" ||
        echo "deps: WARNING: rustup target add $t failed; the build falls back (see the Makefile)" >&2
done
echo "deps: done"
