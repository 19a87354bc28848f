#!/usr/bin/env bash
# `make check`: the whole suite. GCC build with every test (unit, CLI, small guests, Debian's
# kernel), the unit and CLI tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
# cvmm's threads under ThreadSanitizer (tests/guest/test_races.py), a Clang build with the same
# warnings, the libFuzzer harnesses (tools/fuzz.sh) and the formatting check. Ends with one
# "N passed, N failed" line. Guest and kernel tests need KVM: without /dev/kvm they run inside a QEMU TCG VM
# with nested KVM (tools/nested-kvm.sh).
set -u
cd "$(dirname "$0")/.."
tools/install-deps.sh || exit 1
pass=0
fail=0
step() {
	local name=$1
	shift
	echo "=== $name"
	if "$@"; then
		pass=$((pass + 1))
	else
		echo "=== FAILED: $name"
		fail=$((fail + 1))
	fi
}
setup() { # dir, meson options...
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}
gcc_suite() {
	CC=gcc setup build && ninja -C build && meson test -C build --print-errorlogs --num-processes 2
}
sanitizers() {
	CC=gcc setup build-asan -Db_sanitize=address,undefined -Db_lundef=false &&
		ninja -C build-asan &&
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
			meson test -C build-asan --print-errorlogs --suite unit --suite cli
}
races() { # cvmm's threads (vCPUs, --metrics-interval, kicks) under ThreadSanitizer
	CC=gcc setup build-tsan -Db_sanitize=thread &&
		ninja -C build-tsan cvmm tests/cvmm-testguest.elf &&
		meson test -C build-tsan --no-rebuild --print-errorlogs --suite race
}
clang_build() {
	CC=clang setup build-clang && ninja -C build-clang
}
fuzz() { # every libFuzzer harness: its seed corpus plus fresh inputs, 100000 executions each
	tools/fuzz.sh runs 100000
}
format() {
	clang-format --dry-run --Werror $(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests bench -name '*.[ch]')
}
step "gcc: build and all tests" gcc_suite
step "asan+ubsan: build and all tests" sanitizers
step "tsan: cvmm's threads, race-free" races
step "clang: build with -Werror" clang_build
step "fuzz: each harness, 100000 executions" fuzz
step "clang-format" format
echo "check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
