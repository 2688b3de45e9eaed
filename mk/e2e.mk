# End-to-end: podman (+conmon) and containerd (+its Go runc shim) driving a runtime binary.
#   make e2e                          RUNTIME defaults to $(HULL) (built by `release` first)
#   make e2e RUNTIME=/usr/sbin/runc   the same cases against runc
#   make e2e-runc                     shorthand for the above
# Options (environment): E2E_SUITES="podman containerd hullshim", E2E_FILTER=<regex on case ids>,
# STEP_TIMEOUT=60, E2E_KEEP=1, KNOWN_FAILURES=<file>, HULL_SHIM=<path>. See docs/e2e.md.
.PHONY: e2e e2e-runc e2e-lint e2e-cgroupv2

e2e: rootfs $(if $(filter $(HULL),$(RUNTIME)),release)
	RUNTIME=$(RUNTIME) ROOTFS=$(ROOTFS) e2e/run.sh

e2e-runc: rootfs
	RUNTIME=/usr/sbin/runc ROOTFS=$(ROOTFS) e2e/run.sh

# Green for hull with e2e/known-failures-hull.txt (about 45 s here): part of `make test`.
TEST_TARGETS += e2e

# shellcheck the harness (not part of `make lint`: shellcheck is not a CI package)
e2e-lint:
	shellcheck -x -s bash e2e/*.sh

# The same suite inside the cgroup v2 VM (all controllers; TCG, slow: ~8 min for runc).
# Temp dir on the VM's /run tmpfs (the shared 9p folders refuse fifos); podman + containerd suites.
E2E_VM_KERNEL ?= $(firstword $(wildcard /boot/vmlinuz-*-amd64))
e2e-cgroupv2: rootfs $(if $(filter $(HULL),$(RUNTIME)),release)
	vng --disable-kvm --force-9p --run $(E2E_VM_KERNEL) --memory 2G --cpus 2 \
	    --append "cgroup_no_v1=all" --rwdir "$(CURDIR)" \
	    --exec "cd $(CURDIR) && E2E_TMPBASE=/run RUNTIME=$(RUNTIME) ROOTFS=$(ROOTFS) STEP_TIMEOUT=120 CASE_TIMEOUT=300 E2E_SUITES='podman containerd' e2e/run.sh"

# The hullshim/checkpoint case (ctr c checkpoint --task, ctr c restore --live) inside the cgroup v2
# VM, whose 6.1 kernel CRIU 3.17 runs on (on this host `criu check` fails and the case skips).
.PHONY: e2e-checkpoint
e2e-checkpoint: rootfs release
	scripts/vm-run.sh env CI=$${CI:-} E2E_TMPBASE=/run RUNTIME=$(HULL) ROOTFS=$(ROOTFS) STEP_TIMEOUT=120 \
	    E2E_SUITES=hullshim E2E_FILTER='hullshim/checkpoint' e2e/run.sh

TEST_TARGETS += e2e-checkpoint
