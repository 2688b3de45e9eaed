# Kubernetes' path: containerd's CRI plugin driven by crictl, handlers runc and hull on one private
# containerd (e2e/cri.sh, docs/cri.md). About 20 s each; both part of `make test`.
#   make cri   [CRI_FILTER=<regex on case names>] [CRI_HANDLERS="runc hull"] [E2E_KEEP=1]
#   make cri2  the same cases on containerd 2.3.4 (prebuilt, ../shared/tools) and its runc shim
.PHONY: cri cri2

cri: rootfs release
	ROOTFS=$(ROOTFS) e2e/cri.sh

cri2: rootfs release
	CRI_CONTAINERD=2 ROOTFS=$(ROOTFS) e2e/cri.sh

TEST_TARGETS += cri cri2
