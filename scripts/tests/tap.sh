# shellcheck shell=bash
# TAP-style checks for the shell suites in scripts/tests. Source it after setting $t (the suite's
# temp dir: a failing check's output is kept in $t/out and shown indented). Then:
#   ok WHAT / notok WHAT      count a passed / failed check ($failed becomes 1)
#   check WHAT CMD...         run CMD; ok if it exits 0, else notok with its output
#   echo "1..$n"; exit "$failed" at the end.
failed=0 n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
check() { # check DESCRIPTION CMD...
    local what=$1
    shift
    if "$@" >"$t/out" 2>&1; then ok "$what"; else notok "$what"; sed 's/^/#   /' "$t/out"; fi
}
