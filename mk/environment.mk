# The container-environment tests (runtime/tests/environment/, docs/environment.md).
# They are part of `make test-cargo` (cargo test --workspace); this target runs only them.
.PHONY: test-environment
test-environment: rootfs
	$(CARGO) test -p hull --test environment
