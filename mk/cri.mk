# Kubernetes' CRI through containerd's CRI plugin on hull (e2e/cri.sh, docs/cri.md).
#   make cri        crictl: a pod of 2 containers (+ an OOM one) on the `runc` and `hull` handlers
#   make critest    critest (cri-tools' CRI validation suite) for both handlers: build/critest.md
# Options: CRI_CONTAINERD=2.3.4|1.6 (daemon: prebuilt containerd 2 from ../shared/tools, or
# Debian's 1.6), CRI_HANDLERS="runc hull", E2E_FILTER=<regex on case ids>, E2E_KEEP=1,
# CRITEST_FOCUS / CRITEST_SKIP (ginkgo regexes), CRITEST_TIMEOUT (per handler, default 20m).
# Both start containerd + a local registry: take the machine's heavy lock (see docs/cri.md).
.PHONY: cri critest

CRI_CONTAINERD ?= 2.3.4
CRI_ENV = CRI_CONTAINERD=$(CRI_CONTAINERD) HULL_BIN=$(HULL) \
	HULL_SHIM=$(CURDIR)/target/release/containerd-shim-hull-v2 ROOTFS=$(ROOTFS)

cri: release rootfs
	$(CRI_ENV) e2e/cri.sh crictl

critest: release rootfs
	$(CRI_ENV) e2e/cri.sh critest
