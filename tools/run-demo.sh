#!/usr/bin/env bash
# `make run`: shows what cvmm's CPU model gives a guest on this host, for both profiles, and
# checks it. The source is this host's KVM_GET_SUPPORTED_CPUID when /dev/kvm exists, else the
# CPU's own CPUID as the `cpuid` tool reports it.
set -euo pipefail
BUILD=${1:-build}
CVMM=$BUILD/cvmm
OUT=$BUILD/run
mkdir -p "$OUT"
tools/install-deps.sh
if [ -e /dev/kvm ] && "$CVMM" cpuid show >"$OUT/source.cpuid" 2>"$OUT/kvm.err"; then
	SRC="this host's KVM_GET_SUPPORTED_CPUID"
else
	echo "note: $(cat "$OUT/kvm.err" 2>/dev/null || echo 'no /dev/kvm on this host'): using the CPU's own CPUID (cpuid -r -1) instead"
	cpuid -r -1 >"$OUT/source.cpuid"
	SRC="this CPU's native CPUID (cpuid -r -1)"
fi
echo "== source: $SRC"
"$CVMM" cpuid check --from "$OUT/source.cpuid" | sed 's/^/   /' || true
for p in host tdx; do
	"$CVMM" cpuid show --from "$OUT/source.cpuid" --profile $p >"$OUT/$p.cpuid"
	echo
	echo "== profile $p: $(grep -c '^   0x' "$OUT/$p.cpuid") CPUID entries, leaf 0xD:"
	grep '^   0x0000000d' "$OUT/$p.cpuid"
	if "$CVMM" cpuid check --from "$OUT/$p.cpuid" --profile $p >"$OUT/$p.check"; then
		verdict="consistent"
	else
		verdict="INCONSISTENT"
	fi
	sed 's/^/   /' "$OUT/$p.check"
	echo "verdict ($p): $verdict"
done
echo
echo "== what the tdx profile changed against the host profile:"
"$CVMM" cpuid diff "$OUT/host.cpuid" "$OUT/tdx.cpuid" | head -40 || true
echo "(tables in $OUT/; full per-rule trace: $CVMM cpuid show --from $OUT/source.cpuid --profile tdx --format json)"
