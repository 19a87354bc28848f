# Thin front door over Meson/Ninja. Binaries land in build/.
BUILD ?= build
MESON ?= meson

.PHONY: all run check bench fuzz format format-check clean deps

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

bench: all
	bench/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-clang build-tsan build-fuzz
