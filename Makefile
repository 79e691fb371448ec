# A thin wrapper over meson: installs the Debian packages the build needs,
# configures once, builds, and runs. Meson is the build; see meson.build.
#
#   make run    build, then run the built-in demo kernel (svmx run)
#   make test   build, then run the whole test suite
#   make bench  build, then run the benchmarks in bench/
#   make asan   the test suite in an ASan+UBSan build (build-asan/)
#   make fuzz   the libFuzzer targets for a while (clang, build-fuzz/)
#   make diff   build, then run the test kernels on svmx, QEMU TCG and Bochs
#               and compare them (tools/diff/, docs/differential.md)
#   make peer-bench  build, then time nested round trips on svmx, QEMU TCG
#               and Bochs side by side (tools/diff/peer-bench.py; not in CI)
#   make deps   only install the missing Debian packages

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

# Everything the build, the tests and the benchmarks need.
DEB_PACKAGES := gcc make meson ninja-build cmake pkg-config \
                libzydis-dev libcmocka-dev libxxhash-dev
FUZZ_PACKAGES := clang libclang-rt-dev
# The differential harness's oracles; bochs-term satisfies bochs's GUI
# dependency without wxWidgets (the harness uses Bochs's rfb display).
ORACLE_PACKAGES := qemu-system-x86 bochs bochs-term bochsbios vgabios

.PHONY: all deps build run test bench asan fuzz diff peer-bench clean

all: build

# Installs what is missing with apt-get when run as root; otherwise prints
# the exact command to run and stops.
deps:
	@./tools/install-deps.sh $(DEB_PACKAGES)

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD)

# The demo (an L1 hypervisor, tools/demo/demo.c) ends with rule R2
# shutting its L1 down; run-kernel.sh --expect-shutdown turns "no FAIL
# line, last line 'expect: shutdown ...', svmx stopped with a shutdown"
# into 0 (docs/kernels.md section 8).
run: build
	@./tests/kernels/run-kernel.sh --expect-shutdown $(BUILD)/tools/svmx --demo

test: build
	meson test -C $(BUILD) --print-errorlogs

bench: build
	meson test -C $(BUILD) --benchmark --verbose

asan: deps
	@test -f $(ASAN_BUILD)/build.ninja || \
	    meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined \
	        -Db_lundef=false -Dbuildtype=debug -Dbench=disabled
	meson compile -C $(ASAN_BUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ASAN_OPTIONS=detect_leaks=1 \
	    meson test -C $(ASAN_BUILD) --print-errorlogs

fuzz: deps
	@./tools/install-deps.sh $(FUZZ_PACKAGES)
	@test -f $(FUZZ_BUILD)/build.ninja || \
	    CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=enabled -Dbench=disabled \
	        -Db_sanitize=address,undefined -Db_lundef=false
	meson compile -C $(FUZZ_BUILD)
	mkdir -p $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/corpus-vmrun
	$(FUZZ_BUILD)/tests/fuzz/fuzz_decode -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=32 $(FUZZ_BUILD)/corpus
	$(FUZZ_BUILD)/tests/fuzz/fuzz_vmrun_check -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=4200 $(FUZZ_BUILD)/corpus-vmrun
	mkdir -p $(FUZZ_BUILD)/corpus-run
	$(FUZZ_BUILD)/tests/fuzz/fuzz_run -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=256 $(FUZZ_BUILD)/corpus-run
	mkdir -p $(FUZZ_BUILD)/corpus-route
	$(FUZZ_BUILD)/tests/fuzz/fuzz_route -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=2048 $(FUZZ_BUILD)/corpus-route

# An oracle that cannot be installed is skipped by the harness, which says
# so; any unexplained difference between svmx and an oracle fails.
diff: build
	@./tools/install-deps.sh $(ORACLE_PACKAGES) || \
	    echo "diff: oracle packages missing; the harness skips those oracles"
	python3 tools/diff/run-diff.py --build $(BUILD) --exclude 'k_bench_*' $(DIFF_ARGS)

# Nested round trips per second of one kernel (k_bench_roundtrip) on svmx,
# QEMU TCG and Bochs, boot time subtracted, in one table with the ratios
# (docs/performance.md "Peer benchmark"). Wall-clock timing: never part of
# `make test`, `make diff` or CI. PEER_BENCH_ARGS="--n 200000 --repeat 5".
peer-bench: build
	@./tools/install-deps.sh $(ORACLE_PACKAGES) || \
	    echo "peer-bench: oracle packages missing; peer-bench skips them"
	python3 tools/diff/peer-bench.py --build $(BUILD) $(PEER_BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
