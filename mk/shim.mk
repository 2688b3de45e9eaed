# containerd-shim-hull-v2 (shim/): see docs/shim.md.
#   make test-shim     unit tests + ttrpc integration tests (shim driven directly, no containerd)
#   make e2e-shim      private containerd: `ctr run --runtime io.containerd.hull.v2` (needs root)
#   make bench-shim    shim RSS / threads / binary size vs containerd's Go runc shim
#   make test-shim-v2  the ttrpc integration tests as root inside the pure cgroup v2 VM
#                      (OOM events from memory.events, v2 metrics); SHIM_V2_FILTER selects tests
.PHONY: test-shim e2e-shim bench-shim test-shim-v2

SHIM_BIN := $(CURDIR)/target/release/containerd-shim-hull-v2

test-shim: release rootfs
	HULL_BIN=$(HULL) HULL_ROOTFS=$(ROOTFS) $(CARGO) test -p containerd-shim-hull

e2e-shim: release rootfs
	HULL_BIN=$(HULL) HULL_SHIM=$(SHIM_BIN) ROOTFS=$(ROOTFS) shim/tests/containerd-e2e.sh

bench-shim: release rootfs
	HULL_BIN=$(HULL) HULL_SHIM=$(SHIM_BIN) ROOTFS=$(ROOTFS) MEASURE=1 shim/tests/containerd-e2e.sh

# ~15 s, private containerd; `cargo test --workspace` (test-cargo) already runs test-shim's tests.
# Not in TEST_TARGETS: `make e2e` runs the same through its hullshim cases.

# The shim's ttrpc test binary (debug build), run in the VM (scripts/vm-run.sh) with the release
# hull; its temp dirs are under the VM's /tmp (tmpfs), so fifos work.
SHIM_V2_FILTER ?=
test-shim-v2: release rootfs
	@t=$$($(CARGO) test -p containerd-shim-hull --test ttrpc --no-run --message-format=json \
		| jq -r 'select(.reason == "compiler-artifact" and .profile.test == true and .executable != null) | .executable'); \
	test -n "$$t" || { echo "no shim ttrpc test executable found" >&2; exit 1; }; \
	scripts/vm-run.sh env HULL_BIN=$(HULL) HULL_ROOTFS=$(ROOTFS) $$t --test-threads=1 $(SHIM_V2_FILTER)

# The shim's Checkpoint and create-from-checkpoint (shim/tests/ttrpc/checkpoint.rs) in the VM,
# whose 6.1 kernel CRIU 3.17 works on (on this host's 6.18 `criu check` fails), with hull's own
# checkpoint/restore verbs as the runtime.
.PHONY: test-shim-checkpoint
test-shim-checkpoint: release rootfs
	@t=$$($(CARGO) test -p containerd-shim-hull --test ttrpc --no-run --message-format=json \
		| jq -r 'select(.reason == "compiler-artifact" and .profile.test == true and .executable != null) | .executable'); \
	test -n "$$t" || { echo "no shim ttrpc test executable found" >&2; exit 1; }; \
	scripts/vm-run.sh env CI=$${CI:-} HULL_BIN=$(HULL) HULL_ROOTFS=$(ROOTFS) $$t --test-threads=1 --nocapture checkpoint

TEST_TARGETS += test-shim-checkpoint
