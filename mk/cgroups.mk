# hull-cgroups: the cgroup v2 test run in a VM (see docs/cgroups.md).
#
# `make test-cgroupv2` builds the hull-cgroups test binaries on the host, then runs every one of
# them as root inside a pure cgroup v2 VM (scripts/vm-run.sh: virtme-ng, cgroup_no_v1=all).
# The host (hybrid) run of the same tests is part of `make test-cargo`.

CGROUPV2_TEST_LIST := $(BUILD)/cgroupv2-tests.txt

.PHONY: test-cgroupv2 test-cgroups-host

# The executables cargo built for `cargo test -p hull-cgroups`, found from its JSON messages.
$(CGROUPV2_TEST_LIST): FORCE_CGROUPV2
	@mkdir -p $(BUILD)
	$(CARGO) test -p hull-cgroups --no-run --message-format=json \
		| jq -r 'select(.reason == "compiler-artifact" and .profile.test == true and .executable != null) | .executable' \
		> $@.tmp
	@test -s $@.tmp || { echo "no hull-cgroups test executables found" >&2; rm -f $@.tmp; exit 1; }
	@mv $@.tmp $@

.PHONY: FORCE_CGROUPV2
FORCE_CGROUPV2:

test-cgroupv2: $(CGROUPV2_TEST_LIST)
	@echo "running in the cgroup v2 VM:"; sed 's/^/  /' $(CGROUPV2_TEST_LIST)
	scripts/vm-run.sh scripts/cgroupv2-tests.sh $(CGROUPV2_TEST_LIST)

# The same tests on this host (hybrid/v1 here), without the rest of the workspace.
test-cgroups-host:
	$(CARGO) test -p hull-cgroups

TEST_TARGETS += test-cgroupv2
