# containerd-shim-hull-v2 (shim/): see docs/shim.md.
#   make test-shim     unit tests + ttrpc integration tests (shim driven directly, no containerd)
#   make e2e-shim      private containerd: `ctr run --runtime io.containerd.hull.v2` (needs root)
#   make bench-shim    shim RSS / threads / binary size vs containerd's Go runc shim
.PHONY: test-shim e2e-shim bench-shim

SHIM_BIN := $(CURDIR)/target/release/containerd-shim-hull-v2

test-shim: release rootfs
	HULL_BIN=$(HULL) HULL_ROOTFS=$(ROOTFS) $(CARGO) test -p containerd-shim-hull

e2e-shim: release rootfs
	HULL_BIN=$(HULL) HULL_SHIM=$(SHIM_BIN) ROOTFS=$(ROOTFS) shim/tests/containerd-e2e.sh

bench-shim: release rootfs
	HULL_BIN=$(HULL) HULL_SHIM=$(SHIM_BIN) ROOTFS=$(ROOTFS) MEASURE=1 shim/tests/containerd-e2e.sh

# ~15 s, private containerd; `cargo test --workspace` (test-cargo) already runs test-shim's tests.
# Not in TEST_TARGETS: `make e2e` runs the same through its hullshim cases.
