#!/usr/bin/env bash
# Fetches Debian's cloud kernel into DIR (default build/guest) with `apt-get download`, checks
# the package against the archive's SHA256, and leaves DIR/vmlinuz (bzImage) and DIR/vmlinux
# (the uncompressed ELF, which boots far faster where KVM emulates the guest). Cached: a second
# run with the same package does nothing. DIR/modules/ keeps the package's KVM modules, which
# tools/nested-kvm.sh loads in a QEMU TCG VM on hosts without /dev/kvm.
set -euo pipefail
DIR=${1:-build/guest}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
TOOLS=$(cd "$(dirname "$0")" && pwd)
meta=linux-image-cloud-amd64
pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
if [ -z "$pkg" ]; then
	apt-get update -q >/dev/null
	pkg=$(apt-cache depends "$meta" | awk '/Depends: linux-image-/ {print $2; exit}')
fi
[ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve $meta in the package archive" >&2; exit 3; }
if [ -f "$DIR/kernel.pkg" ] && [ "$(cat "$DIR/kernel.pkg")" = "$pkg" ] &&
	[ -f "$DIR/vmlinuz" ] && [ -f "$DIR/vmlinux" ] && [ -f "$DIR/modules/msr.ko" ]; then
	exit 0
fi
sha=$(apt-cache show "$pkg" | awk '/^SHA256:/ {print $2; exit}')
work=$(mktemp -d "$DIR/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
	{ echo "fetch-kernel: apt-get download $pkg failed" >&2; exit 3; }
deb=$(echo "$work"/*.deb)
echo "$sha  $deb" | sha256sum -c --quiet - ||
	{ echo "fetch-kernel: $deb does not match the archive's SHA256 $sha" >&2; exit 3; }
dpkg-deb -x "$deb" "$work/x"
cp "$work"/x/boot/vmlinuz-* "$work/vmlinuz"
cp "$work"/x/boot/config-* "$work/config"
python3 "$TOOLS/extract-vmlinux.py" "$work/vmlinuz" "$work/vmlinux"
mkdir -p "$work/modules"
for m in virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd arch/x86/kvm/kvm-intel \
	arch/x86/kernel/msr; do
	cp "$work"/x/lib/modules/*/kernel/$m.ko "$work/modules/"
done
rm -rf "$DIR/modules"
mv "$work/vmlinuz" "$work/vmlinux" "$work/config" "$work/modules" "$DIR/"
echo "$pkg" >"$DIR/kernel.pkg"
echo "fetch-kernel: $pkg (sha256 $sha) -> $DIR/vmlinuz, $DIR/vmlinux"
