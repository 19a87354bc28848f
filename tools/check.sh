#!/usr/bin/env bash
# `make check`: the whole suite. GCC build with every test (unit, CLI, small guests, Debian's
# kernel), the unit and CLI tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
# cvmm's threads under ThreadSanitizer (tests/guest/test_races.py), the unit tests and short
# guest runs under valgrind's memcheck, a Clang build with the same warnings, the libFuzzer
# harnesses (tools/fuzz.sh), kvm-unit-tests against the recorded results
# (tools/conformance.py) and the formatting check. Ends with one "N passed, N failed" line.
# Guest and kernel tests need KVM: without /dev/kvm they run inside a QEMU TCG VM
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
# memcheck over the plain gcc build: every unit test, then short cvmm runs of the test guest
# (hostile operations on one vCPU; the tdx profile with two vCPUs that reset twice, so that the
# VM is torn down and rebuilt). Any error, or a definite leak, fails the step. valgrind knows
# KVM's ioctls, so no suppression file is needed. The guest runs need /dev/kvm (inside the
# nested VM there is no valgrind): without it they are skipped, and the step says so. The
# hostile guest skips XSETBV: KVM handles it in the kernel (no cvmm code runs), and a host
# without hardware virtualization cannot emulate it. They run with --no-sandbox: valgrind
# cannot run a program under a seccomp filter (it does not implement the seccomp call).
valgrind_suite() {
	local vg=(valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite -q)
	meson test -C build --no-rebuild --print-errorlogs --suite unit --wrapper "${vg[*]}" ||
		return 1
	if [ ! -e /dev/kvm ]; then
		echo "valgrind: no /dev/kvm, cvmm run under valgrind skipped"
		return 0
	fi
	local tmp rc=0
	tmp=$(mktemp -d)
	"${vg[@]}" build/cvmm run --no-sandbox --kernel build/tests/cvmm-testguest.elf --memory 256M \
		--no-reboot --cmdline "hostile 1 2000 noxsetbv" --metrics "$tmp/m.json" \
		>"$tmp/out" 2>"$tmp/err" && grep -q '^HOSTILE-END 2000' "$tmp/out" || rc=1
	"${vg[@]}" build/cvmm run --no-sandbox --kernel build/tests/cvmm-testguest.elf --profile tdx \
		--allow-unenforced-cpuid --cpus 2 --cmdline reboot --metrics "$tmp/m.json" \
		>"$tmp/out2" 2>>"$tmp/err" && grep -q '^BOOT 3' "$tmp/out2" || rc=1
	[ "$rc" -eq 0 ] || grep -v '^cvmm' "$tmp/err"
	rm -rf "$tmp"
	return "$rc"
}
clang_build() {
	CC=clang setup build-clang && ninja -C build-clang
}
fuzz() { # every libFuzzer harness: its seed corpus plus fresh inputs, 100000 executions each
	tools/fuzz.sh runs 100000
}
conformance() { # kvm-unit-tests (README, "Conformance"): cvmm no worse than recorded
	local rc=0
	if [ -e /dev/kvm ]; then # this host's own KVM: the bounded list
		python3 tools/conformance.py --ci --no-qemu --timeout-cap 20 \
			--check tests/conformance || rc=1
	fi
	# hardware-virtualization semantics, on every kind of machine: the CPU-surface tests
	python3 tools/conformance.py --nested --surface --no-qemu --timeout-cap 30 \
		--check tests/conformance || rc=1
	return $rc
}
format() {
	clang-format --dry-run --Werror $(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests bench -name '*.[ch]')
}
step "gcc: build and all tests" gcc_suite
step "asan+ubsan: build and all tests" sanitizers
step "tsan: cvmm's threads, race-free" races
step "valgrind: unit tests and short guest runs" valgrind_suite
step "clang: build with -Werror" clang_build
step "fuzz: each harness, 100000 executions" fuzz
step "conformance: kvm-unit-tests against the recorded results" conformance
step "clang-format" format
echo "check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
