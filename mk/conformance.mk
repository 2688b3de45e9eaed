# OCI runtime-spec conformance suite (conformance/, crate hull-conformance).
#   make conformance [RUNTIME=/path/to/runtime] [FILTER=pattern,...] [HIDE_CGROUP2=1]
#   make conformance-compare     hull, runc and crun side by side -> build/conformance-compare.md
#   make conformance-hull        (in `make test`) hull with conformance/known-failures/hull.txt
PROBE_TARGET := x86_64-unknown-linux-gnu
CONFORMANCE_PROBE := $(CURDIR)/target/probe/$(PROBE_TARGET)/release/hull-probe
CONFORMANCE_BIN := $(CURDIR)/target/release/hull-conformance
CONFORMANCE_RUNC ?= /usr/sbin/runc
CONFORMANCE_CRUN ?= /usr/bin/crun
export HULL_PROBE := $(CONFORMANCE_PROBE)

# known-failures list and flags chosen from the runtime's name (hull, runc, crun)
conformance_name = $(notdir $(1))
conformance_known = $(wildcard conformance/known-failures/$(call conformance_name,$(1)).txt)
# crun 1.8 refuses hybrid cgroup hosts: hide the cgroup2 mount in a private mount namespace
conformance_flags = $(if $(call conformance_known,$(1)),--known-failures $(call conformance_known,$(1))) \
	$(if $(or $(HIDE_CGROUP2),$(filter crun,$(call conformance_name,$(1)))),--hide-cgroup2) \
	$(if $(FILTER),--filter $(FILTER))

.PHONY: conformance conformance-build conformance-probe conformance-hull conformance-compare

conformance-probe:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release -p hull-conformance \
		--bin hull-probe --target $(PROBE_TARGET) --target-dir target/probe

conformance-build: conformance-probe
	$(CARGO) build --release -p hull-conformance --bin hull-conformance

# hull itself is built only when it is the runtime under test
conformance: conformance-build rootfs $(if $(filter $(HULL),$(RUNTIME)),release)
	$(CONFORMANCE_BIN) --runtime $(RUNTIME) --rootfs $(ROOTFS) $(call conformance_flags,$(RUNTIME))

conformance-hull: conformance-build rootfs release
	$(CONFORMANCE_BIN) --runtime $(HULL) --rootfs $(ROOTFS) --known-failures conformance/known-failures/hull.txt

conformance-compare: conformance-build rootfs release
	@mkdir -p $(BUILD)
	-$(CONFORMANCE_BIN) --runtime $(HULL) --rootfs $(ROOTFS) $(call conformance_flags,hull) > $(BUILD)/conformance-hull.tap
	-$(CONFORMANCE_BIN) --runtime $(CONFORMANCE_RUNC) --rootfs $(ROOTFS) $(call conformance_flags,runc) > $(BUILD)/conformance-runc.tap
	-$(CONFORMANCE_BIN) --runtime $(CONFORMANCE_CRUN) --rootfs $(ROOTFS) $(call conformance_flags,crun) > $(BUILD)/conformance-crun.tap
	$(CONFORMANCE_BIN) --compare hull=$(BUILD)/conformance-hull.tap --compare runc=$(BUILD)/conformance-runc.tap \
		--compare crun=$(BUILD)/conformance-crun.tap > $(BUILD)/conformance-compare.md
	@cat $(BUILD)/conformance-compare.md
	@for r in hull runc crun; do printf '%s: ' $$r; tail -n 1 $(BUILD)/conformance-$$r.tap; done

TEST_TARGETS += conformance-hull
