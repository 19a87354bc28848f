#!/usr/bin/env bash
# Runs a command where KVM exists even though this host has no /dev/kvm: inside a QEMU TCG VM
# (software-emulated AMD SVM, `-cpu max`) that boots Debian's cloud kernel and loads its own
# kvm and kvm-amd modules. That KVM is a real KVM with hardware-virtualization semantics
# (nested paging, CPUID enforced), only slow: about 50 us per exit.
#
# usage: nested-kvm.sh GUESTDIR FILE... -- COMMAND [ARGS...]
#   GUESTDIR  tools/fetch-kernel.sh's directory (vmlinuz and modules/)
#   FILE      files or directories copied into the VM at the same absolute paths; executables'
#             shared libraries come along (ldd)
# The command runs with python3 (Debian's, minimal standard library), busybox, cpuid and the
# files. Exits with the command's status, or 3 when the VM itself failed.
set -uo pipefail
GDIR=$1
shift
files=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	files+=("$(realpath "$1")")
	shift
done
[ "${1:-}" = "--" ] || { echo "usage: nested-kvm.sh GUESTDIR FILE... -- COMMAND" >&2; exit 2; }
shift
root=$(mktemp -d /tmp/cvmm-nested.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib/kmod,usr/bin}
cp /bin/busybox "$root/bin/"
for a in sh mount cat echo grep dmesg poweroff insmod ls mkdir cut sleep rm env; do
	ln -s busybox "$root/bin/$a"
done
cp "$GDIR"/modules/{irqbypass,kvm,kvm-amd}.ko "$root/lib/kmod/"
copy_libs() { # the shared libraries an executable needs, at their paths
	ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -nL "$lib" "$root$lib"
	done
}
for f in /usr/bin/python3.11 /usr/bin/cpuid; do
	cp "$f" "$root/usr/bin/"
	copy_libs "$f"
done
ln -s python3.11 "$root/usr/bin/python3"
# Debian's standard library without the parts no test imports.
py=/usr/lib/python3.11
(cd "$py" && find . \( -name test -o -name tests -o -name idlelib -o -name tkinter \
	-o -name ensurepip -o -name lib2to3 -o -name pydoc_data -o -name distutils \
	-o -name 'config-3.11-*' -o -name site-packages -o -name dist-packages -o -name asyncio \
	-o -name email -o -name http -o -name urllib -o -name xml -o -name html -o -name xmlrpc \
	-o -name wsgiref -o -name sqlite3 -o -name curses -o -name turtledemo -o -name venv \
	-o -name '*.opt-1.pyc' -o -name '*.opt-2.pyc' \) -prune -o -type f -print |
	cpio --quiet -pdm "$root$py")
for f in "${files[@]}"; do
	mkdir -p "$root$(dirname "$f")"
	cp -a "$f" "$root$f"
	if [ -f "$f" ] && [ -x "$f" ]; then copy_libs "$f"; fi
done
printf '%q ' "$@" >"$root/cmd"
cat >"$root/init" <<'INIT'
#!/bin/sh
export PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# /tmp is the initramfs's own (writable) directory: files copied under /tmp stay visible.
echo 1 >/proc/sys/vm/overcommit_memory # guests of many GiB are reserved, not touched
for m in irqbypass kvm kvm-amd; do insmod /lib/kmod/$m.ko; done
if [ ! -e /dev/kvm ]; then
	echo "NESTED-ERROR: no /dev/kvm in the nested VM: $(dmesg | grep -i -m3 'kvm\|svm')"
	poweroff -f
fi
echo "NESTED-READY $(cut -d' ' -f1 /proc/uptime)s"
cd /tmp
sh /cmd
echo "NESTED-EXIT $?"
poweroff -f
INIT
chmod +x "$root/init"
initrd="$root.cpio.gz"
(cd "$root" && find . | cpio --quiet -o -H newc --owner 0:0) | gzip -1 >"$initrd"
trap 'rm -rf "$root" "$initrd"' EXIT
# One vCPU: QEMU 7.2's multi-threaded TCG with two vCPUs and nested SVM hung intermittently.
timeout "${NESTED_TIMEOUT:-1200}" qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 3G \
	-nographic -no-reboot -nodefaults -serial stdio -kernel "$GDIR/vmlinuz" -initrd "$initrd" \
	-append "console=ttyS0 quiet loglevel=1 panic=-1" </dev/null | tee "$root.log" |
	grep --line-buffered -a -v -e '^NESTED-EXIT' -e 'reboot: Power down' -e '^c.*\[2J'
rc=$(grep -a -o 'NESTED-EXIT [0-9]*' "$root.log" | cut -d' ' -f2)
if grep -aq 'NESTED-ERROR' "$root.log" || [ -z "$rc" ]; then
	echo "nested-kvm: the nested VM did not run the command" >&2
	rm -f "$root.log"
	exit 3
fi
rm -f "$root.log"
exit "$rc"
