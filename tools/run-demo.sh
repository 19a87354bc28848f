#!/usr/bin/env bash
# `make run`: fetches Debian's cloud kernel, builds the busybox initramfs, boots it under cvmm
# and shows what the guest saw about XSAVE and whether the CPU model was enforced, ending with
# one verdict line. Then shows cvmm's own CPU model for this host (both profiles).
set -uo pipefail
BUILD=${1:-build}
CVMM=$BUILD/cvmm
G=$BUILD/guest
OUT=$BUILD/run
mkdir -p "$OUT"
tools/install-deps.sh || exit 1
tools/fetch-kernel.sh "$G" || exit 3
tools/mkinitramfs.sh "$G/initramfs.gz" || exit 3

model_demo() {
	if [ -e /dev/kvm ] && "$CVMM" cpuid show >"$OUT/source.cpuid" 2>"$OUT/kvm.err"; then
		src="this host's KVM_GET_SUPPORTED_CPUID"
	else
		cpuid -r -1 >"$OUT/source.cpuid"
		src="this CPU's own CPUID (cpuid -r -1)"
	fi
	echo
	echo "== cvmm's CPU model, source: $src"
	for p in host tdx; do
		"$CVMM" cpuid show --from "$OUT/source.cpuid" --profile $p >"$OUT/$p.cpuid"
		if "$CVMM" cpuid check --from "$OUT/$p.cpuid" --profile $p >"$OUT/$p.check"; then
			v=consistent
		else
			v=INCONSISTENT
		fi
		echo "   $p profile: $(grep -c '^   0x' "$OUT/$p.cpuid") entries; leaf 0xD.0:" \
			"$(grep '^   0x0000000d 0x00' "$OUT/$p.cpuid" | cut -d: -f2); check: $v"
	done
}

if [ ! -e /dev/kvm ]; then
	echo "== no guest booted: this host has no /dev/kvm ($(dmesg 2>/dev/null | grep -m1 -io 'kvm[^:]*: [^;]*' || echo 'KVM not available'))"
	model_demo
	echo "verdict: cannot boot a guest here (no /dev/kvm); the CPU model above is what a guest would get"
	exit 3
fi

# Where KVM emulates ring-0 code (no hardware virtualization) CMPXCHG16B stops the kernel
# early. cvmm's probe (run here with the small test guest) tells; on such a host the demo masks
# cx16, which that KVM does honour, so the kernel reaches its FPU setup.
FEATURES=()
"$CVMM" run --kernel "$BUILD/tests/cvmm-testguest.elf" --cmdline poweroff --no-reboot \
	--metrics "$OUT/probe.json" >/dev/null 2>&1 </dev/null
if ! python3 -c "import json,sys; sys.exit(0 if json.load(open('$OUT/probe.json'))['cpuid_probe']['enforced'] else 1)" 2>/dev/null; then
	FEATURES=(--features -cx16)
	echo "== this host's KVM does not enforce guest CPUID (no hardware virtualization): masking cx16"
fi
CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0 reboot=k panic=-1 tsc=reliable no_timer_check lpj=1000000"
echo "== booting $(cat "$G/kernel.pkg") (vmlinux, 2 vCPUs, 256M, host profile) under cvmm"
start=$(date +%s.%N)
"$CVMM" run --kernel "$G/vmlinux" --initrd "$G/initramfs.gz" --cpus 2 --memory 256M \
	--cmdline "$CMDLINE" --no-reboot --metrics "$OUT/metrics.json" "${FEATURES[@]}" \
	>"$OUT/console.log" 2>"$OUT/cvmm.err" </dev/null
rc=$?
end=$(date +%s.%N)
echo "   cvmm exited $rc after $(python3 -c "print(round($end-$start,1))") s; console in $OUT/console.log"
echo
echo "== what the guest kernel printed (selected lines):"
grep -E 'Linux version|Command line|BIOS-e820|smpboot: Allowing|x86/fpu|XSAVE consistency|CVMM-' "$OUT/console.log" | sed 's/^/   /' | head -40
echo
echo "== what cvmm reported:"
sed 's/^/   /' "$OUT/cvmm.err" | head -20
enf=$(python3 -c "import json;print(json.load(open('$OUT/metrics.json'))['cpuid_probe']['enforced'])" 2>/dev/null)
if grep -q 'CVMM-DONE' "$OUT/console.log"; then
	how="the guest reached user space and printed its cpuid view"
elif grep -q 'emulation failure' "$OUT/cvmm.err"; then
	how="the kernel stopped where this host's KVM could not emulate an instruction ($(grep -o 'instruction [A-Z0-9]*' "$OUT/cvmm.err" | head -1))"
else
	how="the guest ended with status $rc"
fi
if grep -q 'XSAVE consistency problem' "$OUT/console.log"; then
	xs="the kernel REJECTED the XSAVE enumeration"
elif grep -q 'x86/fpu: Enabled xstate' "$OUT/console.log"; then
	xs="the kernel accepted the XSAVE enumeration ($(grep -o 'context size is [0-9]* bytes' "$OUT/console.log" | head -1))"
else
	xs="the kernel did not get as far as its XSAVE checks"
fi
model_demo
echo
echo "verdict: CPU model enforced: ${enf:-unknown}; $xs; $how"
