# shellcheck shell=sh
# Skips that cannot pass silently, for shell suites (the Rust tests use crate hull-testutil).
# Source it, then:
#   skip_or_fail CODE REASON...   a prerequisite CI provides is missing (root, a package, a built
#                                 binary): print "SKIP: REASON" and exit CODE; under CI=true print
#                                 "FAIL: ..." and exit 1 instead, so a green CI run ran everything.
#   skip_host CODE REASON...      the host itself cannot (a kernel feature, an optional engine that
#                                 is no CI package): always "SKIP: REASON", exit CODE.
#   hull_in_ci                    true when CI=true or CI=1.

hull_in_ci() {
    case "${CI:-}" in true | TRUE | True | 1) return 0 ;; *) return 1 ;; esac
}

skip_or_fail() {
    _code=$1
    shift
    if hull_in_ci; then
        echo "FAIL: CI=true and a prerequisite CI provides is missing: $*" >&2
        exit 1
    fi
    echo "SKIP: $*"
    exit "$_code"
}

skip_host() {
    _code=$1
    shift
    echo "SKIP: $*"
    exit "$_code"
}
