#!/bin/bash
# Tests of scripts/deps.sh against lists of its own (DEPS_DIR) and a fake apt-get on PATH that
# only records its arguments: nothing is installed on this machine.
#   - the repo's own lists are all installed here (what `make test` relies on)
#   - check names exactly the missing Debian/PyPI package, exit 1, and changes nothing
#   - install with nothing missing runs no apt-get at all (not even update)
#   - install with one missing package runs apt-get update, then install of that package only
#   - an unknown list name is refused (exit 2) naming it
#   - a missing rustup target is named as optional and does not fail check
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/skip.sh
. "$repo/scripts/skip.sh"
deps=$repo/scripts/deps.sh
t=$(mktemp -d /tmp/hull-deps-test.XXXXXX)
trap 'rm -rf "$t"' EXIT
failed=0 n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; sed 's/^/#   /' "$t/out"; }

"$deps" check >"$t/out" 2>&1 && ok "every list in .ci is installed here" || notok "repo lists: something is missing (make deps)"

mkdir -p "$t/ci/packages" "$t/ci/pip" "$t/bin"
printf '# a comment\ngcc   make\n' >"$t/ci/packages/have.txt"
printf 'gcc\nhull-no-such-package\n' >"$t/ci/packages/lack.txt"
printf 'hull-no-such-pip>=1.0\n' >"$t/ci/pip/lack.txt"
cat >"$t/bin/apt-get" <<SH
#!/bin/sh
echo "apt-get \$*" >>"$t/apt.log"
SH
chmod +x "$t/bin/apt-get"
export DEPS_DIR=$t/ci

rc=0
"$deps" check lack >"$t/out" 2>&1 || rc=$?
if [ $rc = 1 ] && grep -q 'Debian packages: hull-no-such-package ' "$t/out" &&
    grep -q 'PyPI packages: hull-no-such-pip>=1.0 ' "$t/out" && ! grep -q 'Debian packages:.*gcc' "$t/out"; then
    ok "check names only what is missing, exit 1"
else
    notok "check lack: rc=$rc"
fi

rc=0
"$deps" check nosuchlist >"$t/out" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "no list named 'nosuchlist'" "$t/out" && ok "an unknown list is refused" || notok "unknown list: rc=$rc"

mkdir -p "$t/ci/rustup-target"
printf 'hull-no-such-target\n' >"$t/ci/rustup-target/opt.txt"
rc=0
"$deps" check opt >"$t/out" 2>&1 || rc=$?
if ! command -v rustup >/dev/null; then
    echo "# no rustup on PATH: deps.sh does not check rustup targets, nothing to test"
elif [ $rc = 0 ] && grep -q 'rustup targets (optional): hull-no-such-target ' "$t/out"; then
    ok "a missing rustup target is named as optional, exit 0"
else
    notok "check opt: rc=$rc"
fi
rm -r "$t/ci/rustup-target"

if [ "$(id -u)" != 0 ]; then
    skip_or_fail 0 "install mode needs root (apt-get)"
fi
rm -f "$t/apt.log"
PATH=$t/bin:$PATH "$deps" install have >"$t/out" 2>&1
rc=$?
[ $rc = 0 ] && [ ! -e "$t/apt.log" ] && grep -q 'everything in have is installed' "$t/out" &&
    ok "install with nothing missing runs no apt-get" || notok "install have: rc=$rc, apt: $(cat "$t/apt.log" 2>/dev/null)"

rm -f "$t/apt.log"
rm "$t/ci/pip/lack.txt"
PATH=$t/bin:$PATH "$deps" install lack >"$t/out" 2>&1
rc=$?
if [ $rc = 0 ] && [ "$(head -n1 "$t/apt.log")" = "apt-get update -qq" ] &&
    [ "$(sed -n 2p "$t/apt.log")" = "apt-get install -y -qq --no-install-recommends hull-no-such-package" ] &&
    [ "$(wc -l <"$t/apt.log")" = 2 ]; then
    ok "install runs apt-get update + install of the missing package only"
else
    notok "install lack: rc=$rc, apt: $(cat "$t/apt.log" 2>/dev/null)"
fi
echo "1..$n"
exit $failed
