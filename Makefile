# Thin front door over Meson/Ninja. Binaries land in build/.
BUILD ?= build
MESON ?= meson

.PHONY: all run check bench fuzz conformance format format-check clean deps

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD)

# Installs the Debian packages the build, tests and demo need (idempotent; root or sudo).
deps:
	tools/install-deps.sh

run: all
	tools/run-demo.sh $(BUILD)

check:
	tools/check.sh

# Each libFuzzer harness in tests/fuzz for FUZZ_SECONDS seconds (default 60) on a copy of its
# corpus in build-fuzz/ (Clang, ASan+UBSan); prints executions and coverage per harness.
FUZZ_SECONDS ?= 60
fuzz:
	tools/fuzz.sh time $(FUZZ_SECONDS)

# kvm-unit-tests' x86 tests under cvmm and under QEMU, side by side (README, "Conformance").
# KUT_TARBALL: the suite's tarball (default ../shared/third_party/kvm-unit-tests-*.tar.gz);
# KUT_TESTS=a,b: a subset; CONF_TIMEOUT_CAP: seconds per test (default 30, 0: the cfg's own).
conformance: all
	python3 tools/conformance.py --markdown $(BUILD)/conformance.md

bench: all
	bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-clang build-tsan build-fuzz build-conformance
