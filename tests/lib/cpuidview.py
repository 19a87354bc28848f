# SPDX-License-Identifier: MIT
"""Shared by the guest and kernel suites: reading `cpuid -r` text and knowing which CPUID
fields KVM or the CPU compute at run time (the same list as the library's
cvmm_cpuid_dynamic_mask, src/cpu/effective.c)."""
import re

_LINE = re.compile(r"0x([0-9a-f]{8}) 0x([0-9a-f]{2,8}): eax=0x([0-9a-f]{8}) "
                   r"ebx=0x([0-9a-f]{8}) ecx=0x([0-9a-f]{8}) edx=0x([0-9a-f]{8})")


def parse_raw(text):
    """`cpuid -r` lines as {(leaf, subleaf): [eax, ebx, ecx, edx]} (the first CPU only)."""
    t = {}
    for m in _LINE.finditer(text):
        t.setdefault((int(m[1], 16), int(m[2], 16)), [int(m[i], 16) for i in range(3, 7)])
    return t


def dynamic_mask(leaf, sub, reg):
    """Bits computed at run time: APIC IDs, OSXSAVE/OSPKE, the XSAVE sizes for XCR0/XSS."""
    if leaf == 1:
        return {1: 0xFF000000, 2: 1 << 27}.get(reg, 0)
    if leaf == 7 and sub == 0 and reg == 2:
        return 1 << 4
    if leaf in (0xB, 0x1F) and reg == 3:
        return 0xFFFFFFFF
    if leaf == 0xD and sub in (0, 1) and reg == 1:
        return 0xFFFFFFFF
    if leaf == 0x8000001E and reg == 0:
        return 0xFFFFFFFF
    return 0


def invalid_topology_level(leaf, sub, regs):
    """The SDM's answer for a 0xB/0x1F subleaf past the last level: EAX = EBX = 0, ECX = the
    input ECX[7:0] (type 0), EDX = the x2APIC ID."""
    return leaf in (0xB, 0x1F) and regs[:3] == [0, 0, sub & 0xFF]
