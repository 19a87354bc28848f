#!/usr/bin/env bash
# The effective CPU model's cost (part of `make bench`): `cvmm cpuid probe` as a whole process
# against QEMU running the small guest's own CPUID sweep (the other way to learn what a guest
# of this host sees), and cpumodel_build() per round against a bare-KVM floor (bench_cpumodel).
set -euo pipefail
BUILD=${1:-build}
echo "== what a guest of this host sees: cvmm cpuid probe as a process (target: under 50 ms),"
echo "   against QEMU running the small guest's own CPUID sweep, and the model's cost per round"
Q=(qemu-system-x86_64 -M microvm -enable-kvm -cpu host,-arch-capabilities -nodefaults
	-no-user-config -nographic -serial null -no-reboot -m 64M)
if [ -e /dev/kvm ]; then
	hyperfine -N --warmup 3 --runs 40 --style basic \
		"$BUILD/cvmm cpuid probe --profile host" "$BUILD/cvmm cpuid probe --profile tdx" \
		"${Q[*]} -kernel $BUILD/tests/cvmm-testguest.elf -append cpuid" 2>&1 |
		grep -E 'Benchmark|Time|Range'
	"$BUILD/bench/bench_cpumodel" host 40
	"$BUILD/bench/bench_cpumodel" tdx 40
else
	echo "(no /dev/kvm on this host: the model's cost per round, inside the nested VM)"
	tools/nested-kvm.sh "$BUILD/guest" "$(realpath "$BUILD/bench/bench_cpumodel")" -- \
		sh -c "$(realpath "$BUILD/bench/bench_cpumodel") host 20; $(realpath "$BUILD/bench/bench_cpumodel") tdx 20"
fi
