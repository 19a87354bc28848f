#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Extracts the uncompressed ELF vmlinux from an LZ4-compressed x86 bzImage.

The setup header gives the payload's offset and length (boot protocol 2.08+); the payload is an
LZ4 legacy frame followed by the decompressed size (4 bytes, little-endian), which is checked.
usage: extract-vmlinux.py BZIMAGE OUT
"""
import struct
import subprocess
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    d = open(src, "rb").read()
    if d[0x202:0x206] != b"HdrS":
        sys.exit(f"extract-vmlinux: {src}: not a bzImage")
    setup_sects = d[0x1F1] or 4
    pm = (setup_sects + 1) * 512
    off, length = struct.unpack_from("<II", d, 0x248)
    payload = d[pm + off:pm + off + length]
    if payload[:4] != b"\x02\x21\x4c\x18":
        sys.exit(f"extract-vmlinux: {src}: payload is not LZ4 (magic {payload[:4].hex()})")
    want = struct.unpack_from("<I", payload, len(payload) - 4)[0]
    # lz4 decodes the legacy frame, then stops at the size trailer with a non-zero status.
    p = subprocess.run(["lz4", "-dc"], input=payload, capture_output=True)
    elf = p.stdout
    if len(elf) != want or elf[:4] != b"\x7fELF":
        sys.exit(f"extract-vmlinux: {src}: decompressed {len(elf)} bytes, expected {want} of ELF")
    with open(out, "wb") as f:
        f.write(elf)


if __name__ == "__main__":
    main()
