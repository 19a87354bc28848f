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
	if [ -e /dev/kvm ] && "$CVMM" cpuid probe --profile host >"$OUT/effective.cpuid" 2>/dev/null; then
		if "$CVMM" cpuid check --from - <"$OUT/effective.cpuid" >"$OUT/effective.check"; then
			v=consistent
		else
			v=INCONSISTENT
		fi
		echo "   what a guest of this host sees (cvmm cpuid probe --profile host): leaf 0xD.0:" \
			"$(grep '^   0x0000000d 0x00' "$OUT/effective.cpuid" | cut -d: -f2); check: $v"
	fi
}

ELF=$BUILD/tests/cvmm-testguest.elf
CMDLINE="console=ttyS0 reboot=k panic=-1 tsc=reliable no_timer_check lpj=1000000"
FEATURES=""
RUNNER=()
WHERE="this host's KVM"
if [ ! -e /dev/kvm ]; then
	# No KVM here: boot inside a QEMU TCG VM that emulates AMD SVM and loads Debian's KVM.
	RUNNER=(tools/nested-kvm.sh "$G" "$CVMM" "$G/vmlinux" "$G/initramfs.gz" --)
	WHERE="KVM inside a QEMU TCG VM (emulated AMD SVM), because this host has no /dev/kvm"
else
	# Where KVM emulates ring-0 code (no hardware virtualization) CMPXCHG16B stops the kernel
	# early. cvmm's probe (run with the small test guest) tells; on such a host the demo masks
	# cx16, which that KVM does honour, so the kernel gets as far as its FPU setup.
	"$CVMM" run --kernel "$ELF" --cmdline poweroff --no-reboot --metrics "$OUT/probe.json" \
		>/dev/null 2>&1 </dev/null
	if ! python3 -c "import json,sys; sys.exit(0 if json.load(open('$OUT/probe.json'))['cpuid_probe']['enforced'] else 1)" 2>/dev/null; then
		FEATURES="--features -cx16"
		echo "== this host's KVM does not enforce guest CPUID (no hardware virtualization): masking cx16"
	fi
fi
echo "== booting $(cat "$G/kernel.pkg") (vmlinux, 2 vCPUs, 256M, host profile) under cvmm on $WHERE"
start=$(date +%s.%N)
M=/tmp/cvmm-demo-metrics.json
"${RUNNER[@]}" sh -c "$(realpath "$CVMM") run --kernel $(realpath "$G/vmlinux") \
	--initrd $(realpath "$G/initramfs.gz") --cpus 2 --memory 256M --cmdline '$CMDLINE' \
	--no-reboot --metrics $M $FEATURES 2>&1; echo CVMM-RC=\$?; echo CVMM-METRICS; cat $M" \
	</dev/null 2>&1 | tr -d '\r' >"$OUT/console.log"
end=$(date +%s.%N)
rc=$(grep -a -o 'CVMM-RC=[0-9]*' "$OUT/console.log" | cut -d= -f2)
sed -n '/^CVMM-METRICS/,$p' "$OUT/console.log" | sed 1d >"$OUT/metrics.json"
echo "   cvmm exited ${rc:-?} after $(python3 -c "print(round($end-$start,1))") s in all; console in $OUT/console.log"
echo
echo "== what the guest printed (selected lines):"
sed '/^CVMM-METRICS/,$d' "$OUT/console.log" >"$OUT/guest.log"
grep -a -E 'Linux version|Command line|BIOS-e820|smpboot: Allowing|x86/fpu|misordered|XSAVE consistency|CVMM-(INIT|MSR|DONE)|S5' "$OUT/guest.log" | sed 's/^/   /' | cut -c1-150 | head -30
echo "   guest cpuid -r -1, leaf 0xD$(grep -aq CVMM-CPUID-BEGIN "$OUT/guest.log" || echo " (not printed: the guest did not reach user space)"):"
sed -n '/CVMM-CPUID-BEGIN/,/CVMM-CPUID-END/p' "$OUT/console.log" | grep -a '^   0x0000000d' | sed 's/^/   /'
echo
echo "== what cvmm reported:"
grep -a '^cvmm:' "$OUT/console.log" | sed 's/^/   /' | cut -c1-400 | head -20
[ -s "$OUT/metrics.json" ] || echo "   (no metrics)"
# The verdict: what cvmm predicted before boot, against what the kernel printed.
summary=$(python3 - "$OUT/metrics.json" "$OUT/console.log" <<'PY'
import json, re, sys
try:
    m = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print("no metrics were written, so cvmm's prediction cannot be compared")
    sys.exit(0)
cm = m.get("cpu_model", {})
lx = cm.get("linux", {})
want = lx.get("lines", [])
pat = re.compile(r"(x86/fpu: |XSAVE consistency problem|XFEATURE_|CPUID\[0d, |\[[^\]]+\]: struct is )")
got = []
for line in open(sys.argv[2], errors="replace"):
    if line.startswith("CVMM-METRICS"):
        break
    mm = re.match(r"\[\s*\d+\.\d+\] (.*)", line.rstrip("\n"))
    if mm and pat.match(mm[1]):
        got.append(mm[1].rstrip())
kept = cm.get("host_kept_table")
att = len(cm.get("attribution", []))
sees = "the guest saw the CPUID cvmm checked" if cm.get("guest_sees_table") else \
    "the guest did NOT see the CPUID cvmm checked"
how = ("this host's KVM kept cvmm's table" if kept else
       f"this host's KVM rewrote {att} fields; reconciled in {cm.get('rounds')} rounds")
if not got:
    match = "the kernel printed no XSAVE lines"
elif got == want:
    match = f"all {len(got)} XSAVE lines the kernel printed are the ones cvmm predicted before boot, word for word"
elif got == want[:len(got)]:
    match = (f"the {len(got)} XSAVE lines the kernel printed before it stopped are the first "
             f"{len(got)} of the {len(want)} cvmm predicted before boot, word for word")
else:
    match = "the kernel's XSAVE lines DIFFER from cvmm's prediction"
print(f"{sees} ({how}); cvmm's Linux {lx.get('version', '?')} verdict: {lx.get('verdict', '?')}; {match}")
PY
)
if grep -aq 'CVMM-DONE' "$OUT/console.log"; then
	how="the guest reached user space, printed its cpuid view and powered off (exit ${rc:-?})"
elif grep -aq 'emulation failure' "$OUT/console.log"; then
	how="the kernel stopped where this host's KVM could not emulate an instruction ($(grep -a -o 'instruction [A-Z0-9]*' "$OUT/console.log" | head -1))"
else
	how="the guest ended with status ${rc:-?}"
fi
if [ ${#RUNNER[@]} -gt 0 ] && grep -aq 'XSAVE consistency problem' "$OUT/console.log"; then
	how="$how; the consistency problem is QEMU TCG's: it does not let KVM see a nested guest's XSETBV, and cvmm's probe measured that (README: verified where)"
fi
model_demo
echo
echo "verdict ($WHERE): $summary; $how"
[ "${rc:-1}" = 0 ] || [ -z "${RUNNER[*]}" ]
