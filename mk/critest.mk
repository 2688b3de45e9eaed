# critest, the CRI validation suite of cri-tools (prebuilt v1.36 from ../shared/tools), against one
# private containerd 1.6 CRI plugin with the handlers runc and hull, same daemon, same run
# (e2e/critest.sh, docs/critest.md). Images are built locally and served by a private registry.
#   make critest [CRITEST_FOCUS=<ginkgo regex>] [CRITEST_SKIP=<regex>] [CRI_HANDLERS="runc hull"]
#                [E2E_KEEP=1]
# Writes build/critest-summary.md (the README's table). Fails when a spec that passes for runc
# fails for hull (e2e/known-failures-critest-hull.txt lists accepted ones with a reason).
.PHONY: critest

critest: rootfs release
	ROOTFS=$(ROOTFS) e2e/critest.sh

TEST_TARGETS += critest
