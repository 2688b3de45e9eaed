# Rootless hull (scripts/tests/rootless.sh, docs in README "Rootless"): a real unprivileged user
# with its own subuid/subgid range runs create/start/state/list/ps/exec/kill/delete with the
# default state root ($XDG_RUNTIME_DIR/hull), a newuidmap multi-range mapping, a refused
# out-of-range one, a read-only cgroup mount, and rootless podman with --runtime hull. Needs
# root (it creates and removes the user), uidmap and podman (.ci/packages/rootless.txt).
.PHONY: test-rootless

test-rootless: release
	scripts/tests/rootless.sh $(HULL)

TEST_TARGETS += test-rootless

# The same rootless hull in a delegated cgroup v2 subtree (scripts/tests/rootless-v2.sh), inside
# the pure cgroup v2 VM (scripts/vm-run.sh): cgroupsPath in the user's subtree gets the spec's
# memory/pids limits, one outside it is refused and leaves nothing behind.
.PHONY: test-rootless-v2
test-rootless-v2: release rootfs
	scripts/vm-run.sh scripts/tests/rootless-v2.sh $(HULL)

TEST_TARGETS += test-rootless-v2
