#!/bin/sh
# Installs the Debian packages cvmm needs to build, test, run its demo and benchmark.
# Idempotent: does nothing when everything is present. Needs root (or sudo) to install.
set -eu
PKGS="acpica-tools meson ninja-build gcc clang clang-format pkg-config python3 libjson-c-dev libseccomp-dev libcmocka-dev cpuid hyperfine busybox-static lz4 cpio msr-tools qemu-system-x86 valgrind"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
