#!/usr/bin/env bash
# Builds the guest initramfs OUT (gzip'd newc cpio): Debian's busybox-static as the shell and
# Debian's `cpuid` and `msr-tools` (rdmsr, wrmsr) with their libraries. /init prints the
# kernel's x86/fpu lines and `cpuid -r -1` between markers the tests parse, reads an MSR with
# rdmsr, then powers off. MODDIR (tools/fetch-kernel.sh's modules/) supplies msr.ko.
# usage: mkinitramfs.sh OUT [MODDIR]
set -euo pipefail
OUT=$1
MODDIR=${2:-$(dirname "$OUT")/modules}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,proc,sys,dev,lib64,usr/bin}
cp /bin/busybox "$root/bin/busybox"
for app in sh mount cat echo grep dmesg poweroff reboot sleep ls modprobe insmod; do
	ln -s busybox "$root/bin/$app"
done
# Dynamic binaries and the libraries ldd names.
for b in /usr/bin/cpuid /usr/sbin/rdmsr /usr/sbin/wrmsr; do
	cp "$b" "$root/usr/bin/"
	for lib in $(ldd "$b" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -n "$lib" "$root$lib"
	done
done
mkdir -p "$root/lib/modules"
if [ -f "$MODDIR/msr.ko" ]; then cp "$MODDIR/msr.ko" "$root/lib/modules/"; fi
cat >"$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "CVMM-INIT reached user space"
echo "CVMM-FPU-BEGIN"
dmesg | grep 'x86/fpu'
echo "CVMM-FPU-END"
echo "CVMM-CPUID-BEGIN"
/usr/bin/cpuid -r -1
echo "CVMM-CPUID-END"
[ -f /lib/modules/msr.ko ] && insmod /lib/modules/msr.ko
echo "CVMM-MSR 0x1a0 $(/usr/bin/rdmsr -0 0x1a0 2>&1)"
# An MSR no VMM implements, read and written (the value must never reach the VMM's log).
echo "CVMM-MSR-UNKNOWN-R $(/usr/bin/rdmsr -0 0x1cf0 2>&1)"
/usr/bin/wrmsr 0x1cf0 0x5ec2e7da7a5ec2e7 2>/dev/null
echo "CVMM-MSR-UNKNOWN-W rc=$?"
echo "CVMM-DONE"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc --owner 0:0) | gzip -9n >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
