# Fuzzing (issue #15): cargo-fuzz targets for the config parser + validator (runtime/fuzz: config),
# the state loader (runtime/fuzz: state), the seccomp compiler (seccomp/fuzz: parse_compile), the
# shim's ttrpc request decoding (shim/fuzz: ttrpc_request) and its runtime options (runc_options).
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="runtime:config ..."]   each target FUZZ_SECONDS
#   make fuzz-ci [FUZZ_CI_SECONDS=10]                                 the short round of `make test`
# A crash fails the run; its input is kept in build/fuzz/TARGET/ (see scripts/fuzz.sh).
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 10
FUZZ_ALL := runtime:config runtime:state seccomp:parse_compile shim:ttrpc_request shim:runc_options
FUZZ_TARGETS ?= $(FUZZ_ALL)

.PHONY: fuzz fuzz-ci

fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-ci:
	scripts/fuzz.sh $(FUZZ_CI_SECONDS) $(FUZZ_ALL)

TEST_TARGETS += fuzz-ci
