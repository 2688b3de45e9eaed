# Rootless hull (scripts/tests/rootless.sh, docs in README "Rootless"): a real unprivileged user
# with its own subuid/subgid range runs create/start/state/list/ps/exec/kill/delete with the
# default state root ($XDG_RUNTIME_DIR/hull), a newuidmap multi-range mapping and a refused
# out-of-range one. Needs root (it creates and removes the user) and uidmap (.ci/packages/rootless.txt).
.PHONY: test-rootless

test-rootless: release
	scripts/tests/rootless.sh $(HULL)

TEST_TARGETS += test-rootless
