# Benchmarks: hull vs crun vs runc (docs/bench.md). Not part of `make test`.
#   make bench [RUNTIMES="hull runc crun"] [BENCH_ARGS="--quick"]
#   make bench-profile [RUNTIME=runc|crun|/path/to/runtime]   (default: target/release/hull)
RUNTIMES ?= hull runc crun
BENCH_ARGS ?=

.PHONY: bench bench-quick bench-build bench-profile bench-phases

# Build what the bench can use; a build failure only turns hull's rows into "failed: ...".
bench-build:
	@if echo " $(RUNTIMES) " | grep -q " hull "; then \
	    { $(BUILD_HULL_RELEASE) && $(BUILD_SHIM_RELEASE); } \
	        || echo "bench: hull did not build; its rows will say so" >&2; \
	fi
	@if [ -f seccomp/examples/compile_bench.rs ]; then \
	    $(CARGO) build --release -p hull-seccomp --example compile_bench \
	        || echo "bench: compile_bench did not build; section 6 will be skipped" >&2; \
	fi

bench: rootfs bench-build
	bench/run.sh --runtimes "$(RUNTIMES)" --rootfs "$(ROOTFS)" \
	    --out-md "$(BUILD)/bench.md" --out-json "$(BUILD)/bench.json" \
	    --command 'make bench RUNTIMES="$(RUNTIMES)"$(if $(BENCH_ARGS), BENCH_ARGS="$(BENCH_ARGS)")' $(BENCH_ARGS)

# A few iterations of everything: checks the harness, not a figure to quote.
bench-quick:
	$(MAKE) --no-print-directory bench BENCH_ARGS="--quick" RUNTIMES="$(RUNTIMES)"

# Where the time of one `run` of busybox true goes: strace -c -f and callgrind (instructions).
bench-profile: rootfs
	@if [ "$(RUNTIME)" = "$(HULL)" ]; then $(BUILD_HULL_RELEASE); fi
	bench/profile.sh "$(RUNTIME)" "$(ROOTFS)" "$(BUILD)/profile"

# CPU of 8 lifecycles at once by phase (syscalls, page faults, libc start-up, user code):
#   make bench-phases [RUNTIME=...] [PAR=8] [BATCHES=15]   (perf data in build/profile/)
PAR ?= 8
BATCHES ?= 15
bench-phases: rootfs
	@if [ "$(RUNTIME)" = "$(HULL)" ]; then $(BUILD_HULL_RELEASE); fi
	@mkdir -p $(BUILD)/profile
	bench/profile_parallel.sh "$(RUNTIME)" "$(ROOTFS)" "$(BUILD)/profile/phases-$(notdir $(RUNTIME)).data" $(PAR) $(BATCHES)
