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

.PHONY: all build release rootfs demo deps deps-check test test-cargo unit lint fmt clean install uninstall

all: build

build:
	$(CARGO) build --workspace

# hull and the shim are linked statically (glibc included): no dynamic loader at start, only the
# libc code they use is mapped, and no library search (containerd puts its own directory on
# LD_LIBRARY_PATH). Measured in the README's performance section.
# `cargo rustc` passes the flag to the final link of that binary alone (build scripts and
# proc-macros cannot be static); a plain `cargo build --release` still works, dynamically linked.
STATIC_FLAGS := -C target-feature=+crt-static
# The hull CLI is also position-dependent (not PIE), as Debian's runc is: a static PIE relocates
# ~200 KiB of pointers at every start, a copy-on-write fault per page (84 faults and 0.74 ms CPU
# for `hull --version`, 36 and 0.48 ms without; docs/bench.md). The price is a fixed address
# for hull's own code in a process that lives milliseconds and runs no container code. PIE=1
# keeps PIE (and ASLR of the binary); the long-lived shim stays PIE either way.
ifeq ($(PIE),1)
HULL_LINK_FLAGS := $(STATIC_FLAGS)
else
HULL_LINK_FLAGS := $(STATIC_FLAGS) -C relocation-model=static
endif
BUILD_HULL_RELEASE = $(CARGO) rustc --release -p hull --bin hull -- $(HULL_LINK_FLAGS)
# The shim is linked against musl when that Rust target is installed (.ci/rustup-target, which
# scripts/deps.sh adds): a shim's RSS is mostly its own binary's pages (the kernel maps 64 KiB
# around each fault), and musl makes it 1.3 MB instead of 2.1 MB with static glibc. The binary
# is then copied to where glibc's would be, so every script finds it in one place. Without the
# target (say, no network for rustup) it is the static glibc build, and make says so.
SHIM_MUSL := x86_64-unknown-linux-musl
SHIM_HAS_MUSL := $(shell test -d "$$(rustc --print sysroot 2>/dev/null)/lib/rustlib/$(SHIM_MUSL)/lib" && echo yes)
ifeq ($(SHIM_HAS_MUSL),yes)
BUILD_SHIM_RELEASE = { $(CARGO) build --release -p containerd-shim-hull --bin containerd-shim-hull-v2 --target $(SHIM_MUSL) \
	&& mkdir -p target/release \
	&& install -m 755 target/$(SHIM_MUSL)/release/containerd-shim-hull-v2 target/release/containerd-shim-hull-v2; }
else
BUILD_SHIM_RELEASE = { echo "note: Rust target $(SHIM_MUSL) not installed; the shim links static glibc (larger RSS)" >&2 \
	&& $(CARGO) rustc --release -p containerd-shim-hull --bin containerd-shim-hull-v2 -- $(STATIC_FLAGS); }
endif

release:
	$(CARGO) build --release --workspace --exclude hull --exclude containerd-shim-hull
	$(BUILD_HULL_RELEASE)
	$(BUILD_SHIM_RELEASE)

$(ROOTFS)/bin/busybox:
	scripts/mkrootfs.sh $(ROOTFS)

rootfs: $(ROOTFS)/bin/busybox

# What the build and the tests need (.ci/packages, .ci/pip, .ci/rustup, .ci/cargo; scripts/deps.sh):
# `make deps` installs what is missing (root), `make deps-check` names it.
deps:
	scripts/deps.sh install

deps-check:
	scripts/deps.sh check

# One container, shown isolated: own hostname, PID 1, own mounts. Installs (as root) or names
# what building it needs first (.ci/packages/build.txt).
demo:
	scripts/deps.sh auto build
	$(MAKE) --no-print-directory release rootfs
	scripts/demo.sh $(HULL) $(ROOTFS)

include $(wildcard mk/*.mk)

# Every test: unit + integration (real containers, needs root), then each area's suites.
# First what they need: installed as root (only what is missing), else named, and make stops.
test:
	scripts/deps.sh auto
	$(MAKE) --no-print-directory release rootfs
	@set -e; for t in $(TEST_TARGETS); do echo "=== make $$t"; $(MAKE) --no-print-directory $$t; done

test-cargo: release rootfs
	$(CARGO) test --workspace

unit:
	$(CARGO) test --workspace --lib

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	python3 scripts/mod-cycles.py runtime/src 2

fmt:
	$(CARGO) fmt --all

# make install [PREFIX=/usr/local] [DESTDIR=]: the two binaries, and the engine config snippets
# (containerd CRI runtime handlers, podman containers.conf) with PREFIX's paths in them.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(PREFIX)/bin
SHAREDIR := $(PREFIX)/share/hull
INSTALL_BINS := hull containerd-shim-hull-v2
INSTALL_SNIPPETS := containerd-hull.toml containers-hull.conf

install: release
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR)
	for b in $(INSTALL_BINS); do install -m 0755 target/release/$$b $(DESTDIR)$(BINDIR)/$$b; done
	for f in $(INSTALL_SNIPPETS); do \
	    sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SHAREDIR@|$(SHAREDIR)|g' dist/$$f.in > $(DESTDIR)$(SHAREDIR)/$$f.tmp \
	    && install -m 0644 $(DESTDIR)$(SHAREDIR)/$$f.tmp $(DESTDIR)$(SHAREDIR)/$$f \
	    && rm -f $(DESTDIR)$(SHAREDIR)/$$f.tmp || exit 1; \
	done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(INSTALL_BINS)) $(addprefix $(DESTDIR)$(SHAREDIR)/,$(INSTALL_SNIPPETS))
	rmdir $(DESTDIR)$(SHAREDIR) 2>/dev/null || true

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
