#!/usr/bin/env bash
# `make bench`: how long `cvmm cpuid show --profile tdx` takes as a process (hyperfine, with
# warm-up, many runs) and the CPU model's derivation alone (bench_model), on real dumps.
set -euo pipefail
BUILD=${1:-build}
tools/install-deps.sh
DATA=tests/data
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for dump in intel-sapphire-rapids.cpuid amd-epyc-9334-genoa.cpuid; do
	for p in tdx host; do
		"$BUILD/bench/bench_model" "$DATA/$dump" $p | sed "s|^|$dump: |"
	done
done
echo
echo "== process: cvmm cpuid show --profile tdx (target: under 5 ms)"
hyperfine -N --warmup 20 --runs 200 --style basic \
	"$BUILD/cvmm cpuid show --from $DATA/intel-sapphire-rapids.cpuid --profile tdx" \
	"$BUILD/cvmm cpuid show --from $DATA/intel-sapphire-rapids.cpuid --profile tdx --format json" \
	"$BUILD/cvmm cpuid check --from $DATA/intel-sapphire-rapids.cpuid --profile tdx" 2>&1 |
	grep -E 'Benchmark|Time|Range'
if [ -e /dev/kvm ]; then
	hyperfine -N --warmup 5 --runs 100 --style basic "$BUILD/cvmm cpuid show --profile tdx" 2>&1 |
		grep -E 'Benchmark|Time|Range'
else
	echo "(no /dev/kvm here: the KVM_GET_SUPPORTED_CPUID source was not measured)"
fi
echo
bench/cpumodel.sh "$BUILD"
echo
echo "== unknown-MSR exit handling in user space, suppressed path (target: under 50 ns)"
"$BUILD/bench/bench_msr"
echo
if [ -e /dev/kvm ]; then
	echo "== KVM's own costs for the steps cvmm run takes (bench/kvm_costs, see the README)"
	"$BUILD/bench/kvm_costs" 15
	echo
fi
echo "== VMM: cvmm run against QEMU (same guests, same run)"
tools/fetch-kernel.sh "$BUILD/guest" >/dev/null
tools/mkinitramfs.sh "$BUILD/guest/initramfs.gz"
ARGS=("$(realpath "$BUILD/cvmm")" "$(realpath "$BUILD/tests/cvmm-testguest.elf")"
	"$(realpath "$BUILD/guest/vmlinux")" "$(realpath "$BUILD/guest/initramfs.gz")")
PEAK=$(realpath "$BUILD/bench/peakrss")
FLOOR=$(realpath "$BUILD/bench/floor")
NESTED_ARGS=("$BUILD/guest" "${ARGS[@]}" "$(realpath bench/vm_bench.py)" "$PEAK" "$FLOOR"
	/usr/bin/qemu-system-x86_64 /usr/share/qemu /usr/share/seabios --)
if [ -e /dev/kvm ]; then
	python3 bench/vm_bench.py "${ARGS[@]}" --peakrss "$PEAK" --floor "$FLOOR"
	# This host's KVM may lack hardware virtualization (a PVM-style KVM): the storm is also
	# measured where KVM has its hardware-virtualization semantics, in the nested VM.
	echo "== the storm again, inside a QEMU TCG VM with nested KVM (tools/nested-kvm.sh)"
	NESTED_TIMEOUT=3000 tools/nested-kvm.sh "${NESTED_ARGS[@]}" \
		env CVMM_TEST_ENV=nested-tcg python3 "$(realpath bench/vm_bench.py)" "${ARGS[@]:0:2}" \
		--runs "${BENCH_RUNS:-10}" --only storm || echo "(the nested storm did not complete: exit $?)"
	# So are the RAM and vCPU sweeps: this KVM allocates a memory slot's reverse maps up front,
	# a KVM with TDP (the nested one) does not, so only there is the RAM sweep cvmm's own.
	echo "== the RAM and vCPU sweeps again, inside the nested VM"
	NESTED_TIMEOUT=3000 tools/nested-kvm.sh "${NESTED_ARGS[@]}" \
		env CVMM_TEST_ENV=nested-tcg python3 "$(realpath bench/vm_bench.py)" "${ARGS[@]:0:2}" \
		--runs "${BENCH_RUNS:-10}" --peakrss "$PEAK" --floor "$FLOOR" --only growth ||
		echo "(the nested sweeps did not complete: exit $?)"
else
	# No KVM here: both VMMs run inside the same QEMU TCG VM with nested KVM.
	echo "(no /dev/kvm on this host: running cvmm and QEMU inside a QEMU TCG VM with nested KVM)"
	NESTED_TIMEOUT=3000 tools/nested-kvm.sh "${NESTED_ARGS[@]}" \
		env CVMM_TEST_ENV=nested-tcg python3 "$(realpath bench/vm_bench.py)" "${ARGS[@]}" \
		--runs "${BENCH_RUNS:-10}" --peakrss "$PEAK" --floor "$FLOOR"
fi
