# hull-seccomp: fuzzing (scripts/fuzz.sh, mk/fuzz.mk) and the compile benchmark. Its unit and real-kernel tests run in
# `cargo test` (test-cargo), so nothing is added to TEST_TARGETS.
.PHONY: fuzz-seccomp bench-seccomp

# Time-bounded libFuzzer run of parse+compile on arbitrary JSON (mk/fuzz.mk runs every target).
fuzz-seccomp:
	scripts/fuzz.sh $(FUZZ_SECONDS) seccomp:parse_compile

# Compile time and program size for the engine default profile.
bench-seccomp:
	$(CARGO) run -p hull-seccomp --release --example compile_bench
