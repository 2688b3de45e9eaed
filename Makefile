# hull — build, test, demo, benchmarks.
# Each area adds its own targets in mk/*.mk and appends to TEST_TARGETS what `make test` must run.
CARGO ?= cargo
BUILD := $(CURDIR)/build
ROOTFS := $(BUILD)/rootfs
HULL := $(CURDIR)/target/release/hull
RUNTIME ?= $(HULL)
export HULL_BIN := $(HULL)
export HULL_ROOTFS := $(ROOTFS)

# `make test` runs these, in order (integration first).
TEST_TARGETS := test-cargo

.PHONY: all build release rootfs demo test test-cargo unit lint fmt clean install

all: build

build:
	$(CARGO) build --workspace

# hull and the shim are linked statically (glibc included; still PIE, so still ASLR): no dynamic
# loader at start, only the libc code they use is mapped, and no library search (containerd puts
# its own directory on LD_LIBRARY_PATH). Measured in the README's performance section.
# `cargo rustc` passes the flag to the final link of that binary alone (build scripts and
# proc-macros cannot be static); a plain `cargo build --release` still works, dynamically linked.
STATIC_FLAGS := -C target-feature=+crt-static
BUILD_HULL_RELEASE = $(CARGO) rustc --release -p hull --bin hull -- $(STATIC_FLAGS)
BUILD_SHIM_RELEASE = $(CARGO) rustc --release -p containerd-shim-hull --bin containerd-shim-hull-v2 -- $(STATIC_FLAGS)

release:
	$(CARGO) build --release --workspace --exclude hull --exclude containerd-shim-hull
	$(BUILD_HULL_RELEASE)
	$(BUILD_SHIM_RELEASE)

$(ROOTFS)/bin/busybox:
	scripts/mkrootfs.sh $(ROOTFS)

rootfs: $(ROOTFS)/bin/busybox

# One container, shown isolated: own hostname, PID 1, own mounts.
demo: release rootfs
	scripts/demo.sh $(HULL) $(ROOTFS)

include $(wildcard mk/*.mk)

# Every test: unit + integration (real containers, needs root), then each area's suites.
test: release rootfs
	@set -e; for t in $(TEST_TARGETS); do echo "=== make $$t"; $(MAKE) --no-print-directory $$t; done

test-cargo: release rootfs
	$(CARGO) test --workspace

unit:
	$(CARGO) test --workspace --lib

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

install: release
	install -m 0755 target/release/hull /usr/local/bin/hull
	install -m 0755 target/release/containerd-shim-hull-v2 /usr/local/bin/containerd-shim-hull-v2

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
