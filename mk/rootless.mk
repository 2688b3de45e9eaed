# Rootless hull (scripts/tests/rootless.sh, docs in README "Rootless"): a real unprivileged user
# with its own subuid/subgid range runs create/start/state/list/ps/exec/kill/delete with the
# default state root ($XDG_RUNTIME_DIR/hull), a newuidmap multi-range mapping, a refused
# out-of-range one, a read-only cgroup mount, and rootless podman with --runtime hull. Needs
# root (it creates and removes the user), uidmap and podman (.ci/packages/rootless.txt).
.PHONY: test-rootless

test-rootless: release
	scripts/tests/rootless.sh $(HULL)

TEST_TARGETS += test-rootless
