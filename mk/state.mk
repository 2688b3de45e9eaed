# Crash-safe state (runtime/src/container/state.rs, docs in README "State"): hull built with the
# `failpoints` feature is SIGKILLed at every failpoint of create/start/run/exec/delete and at random
# moments of real create/run commands (100 rounds each); after each crash `delete -f` must leave no
# process, cgroup, mount or state dir. The concurrency and read-only/full-disk tests
# (runtime/tests/concurrency.rs) run in test-cargo.
.PHONY: test-state

test-state: rootfs
	$(CARGO) test -p hull --features failpoints --test crash

TEST_TARGETS += test-state
