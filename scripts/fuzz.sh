#!/bin/bash
# Time-bounded libFuzzer runs of hull's cargo-fuzz targets (`make fuzz`, `make fuzz-ci`).
#   scripts/fuzz.sh SECONDS CRATE:TARGET...     e.g. scripts/fuzz.sh 60 runtime:config shim:ttrpc_request
# CRATE is the directory holding fuzz/ (seccomp, runtime, shim). Each target runs SECONDS on a
# working corpus build/fuzz/TARGET/corpus seeded from CRATE/fuzz/corpus/TARGET (plus extra real
# inputs, e.g. the engine seccomp profile); crashes go to build/fuzz/TARGET/ and fail the run.
# cargo-fuzz needs nightly features: RUSTC_BOOTSTRAP=1 unlocks them on the stable toolchain. All
# targets share one target dir (target/fuzz), so common dependencies are built once.
# Prints the build and run time of each target (what `make test` pays for the short round).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:?usage: scripts/fuzz.sh SECONDS CRATE:TARGET...}
shift
[ $# -gt 0 ] || { echo "usage: scripts/fuzz.sh SECONDS CRATE:TARGET..." >&2; exit 2; }
command -v cargo-fuzz >/dev/null || {
    echo "fuzz: cargo-fuzz is not installed: scripts/deps.sh install fuzz (cargo install --locked cargo-fuzz)" >&2
    exit 1
}
export RUSTC_BOOTSTRAP=1
tdir=$repo/target/fuzz
out=$repo/build/fuzz
export HULL_FUZZ_TMP=$out/tmp
mkdir -p "$HULL_FUZZ_TMP"
trap 'rm -rf "$HULL_FUZZ_TMP"' EXIT
failed=()
summary=()

for spec in "$@"; do
    crate=${spec%%:*} target=${spec#*:}
    dir=$repo/$crate/fuzz
    [ -f "$dir/Cargo.toml" ] && [ -f "$dir/fuzz_targets/$target.rs" ] ||
        { echo "fuzz: no target $target in $crate/fuzz" >&2; failed+=("$spec (no such target)"); continue; }
    corpus=$out/$target/corpus
    mkdir -p "$corpus"
    cp -n "$dir/corpus/$target"/* "$corpus/" 2>/dev/null || true
    extra=()
    case "$target" in
    parse_compile)
        cp -n /usr/share/containers/seccomp.json "$corpus/engine.json" 2>/dev/null || true
        extra=(-dict="$dir/seccomp.dict" -max_len=65536)
        ;;
    config) extra=(-max_len=65536) ;;
    state) extra=(-max_len=16384) ;;
    ttrpc_request) extra=(-max_len=8192) ;;
    runc_options) extra=(-max_len=1024) ;;
    esac

    t0=$SECONDS
    if ! (cd "$dir" && cargo fuzz build --sanitizer none --target-dir "$tdir" "$target"); then
        failed+=("$spec (build failed)")
        continue
    fi
    t1=$SECONDS
    echo "=== fuzz $spec for ${secs}s (corpus $corpus: $(find "$corpus" -type f | wc -l) inputs)"
    (cd "$dir" && cargo fuzz run --sanitizer none --target-dir "$tdir" "$target" "$corpus" -- \
        -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$out/$target/" "${extra[@]}") 2>&1 | tee "$out/$target/last.log" |
        grep -E '^(#[0-9]+ +DONE|INFO: seed corpus|==[0-9]+==|SUMMARY|stat::number_of_executed_units|thread .* panicked|.*Test unit written)'
    rc=${PIPESTATUS[0]}
    t2=$SECONDS
    summary+=("$spec: build $((t1 - t0))s, run $((t2 - t1))s, exit $rc")
    if [ "$rc" != 0 ]; then
        failed+=("$spec (exit $rc; input in $out/$target/, log $out/$target/last.log)")
        tail -n 30 "$out/$target/last.log" | sed 's/^/#   /'
    fi
done

printf '%s\n' "--- fuzz summary" "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "fuzz: no crash in $# target(s)"
