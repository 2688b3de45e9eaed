# hull exec / ps / pause / resume / events / update (docs/operate.md).
# `cargo test -p hull --test operate` runs on this host (hybrid cgroups) as part of test-cargo;
# `make test-operate-v2` runs the same test binary as root inside the pure cgroup v2 VM
# (scripts/vm-run.sh), with the state root and temp dirs on the VM's tmpfs (/tmp).

OPERATE_V2_LIST := $(BUILD)/operate-v2-tests.txt

.PHONY: test-operate-v2 FORCE_OPERATE_V2
FORCE_OPERATE_V2:

$(OPERATE_V2_LIST): FORCE_OPERATE_V2
	@mkdir -p $(BUILD)
	$(CARGO) test -p hull --test operate --no-run --message-format=json \
		| jq -r 'select(.reason == "compiler-artifact" and .profile.test == true and .executable != null) | .executable' \
		> $@.tmp
	@test -s $@.tmp || { echo "no operate test executable found" >&2; rm -f $@.tmp; exit 1; }
	@mv $@.tmp $@

# The release hull (HULL_BIN) starts much faster than the debug one under the VM's emulation:
# with it the 12 tests take 80-90 s in the VM (about 140 s with the boot); with the debug hull on
# a busy host single commands took seconds and one hit the helpers' 30 s limit.
test-operate-v2: release rootfs $(OPERATE_V2_LIST)
	scripts/vm-run.sh env HULL_BIN=$(HULL) scripts/cgroupv2-tests.sh $(OPERATE_V2_LIST)

TEST_TARGETS += test-operate-v2

# hull checkpoint / restore through CRIU (scripts/tests/checkpoint.sh) in the VM: criu 3.17 cannot
# start on this host's 6.18 kernel ("criu check" fails on the vDSO), it does on the VM's 6.1.
.PHONY: test-checkpoint
test-checkpoint: release rootfs
	scripts/vm-run.sh env CI=$${CI:-} scripts/tests/checkpoint.sh $(HULL) $(ROOTFS)

TEST_TARGETS += test-checkpoint
