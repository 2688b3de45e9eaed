# Kubernetes' path: containerd's CRI plugin driven by crictl, handlers runc and hull on one private
# containerd (e2e/cri.sh, docs/cri.md). About a minute; part of `make test`.
#   make cri [CRI_FILTER=<regex on case names>] [CRI_HANDLERS="runc hull"] [E2E_KEEP=1]
.PHONY: cri

cri: rootfs release
	ROOTFS=$(ROOTFS) e2e/cri.sh

TEST_TARGETS += cri
