# hull-seccomp: fuzzing and the compile benchmark. Its unit and real-kernel tests run in
# `cargo test` (test-cargo), so nothing is added to TEST_TARGETS.
FUZZ_SECONDS ?= 60
SECCOMP_FUZZ_DIR := $(CURDIR)/seccomp/fuzz

.PHONY: fuzz-seccomp bench-seccomp

# Time-bounded libFuzzer run of parse+compile on arbitrary JSON. cargo-fuzz needs nightly
# features: on the stable toolchain RUSTC_BOOTSTRAP=1 unlocks them. Not part of `make test`.
fuzz-seccomp:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p $(BUILD)/fuzz-seccomp/corpus
	cp -n $(SECCOMP_FUZZ_DIR)/corpus/parse_compile/* $(BUILD)/fuzz-seccomp/corpus/ 2>/dev/null || true
	cp -n /usr/share/containers/seccomp.json $(BUILD)/fuzz-seccomp/corpus/engine.json 2>/dev/null || true
	cd $(SECCOMP_FUZZ_DIR) && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --sanitizer none parse_compile \
		$(BUILD)/fuzz-seccomp/corpus -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -dict=$(SECCOMP_FUZZ_DIR)/seccomp.dict

# Compile time and program size for the engine default profile.
bench-seccomp:
	$(CARGO) run -p hull-seccomp --release --example compile_bench
