# SPDX-License-Identifier: MIT
"""Shared by the guest and kernel suites: reading `cpuid -r` text, and knowing which CPUID
fields KVM or the CPU compute at run time. That list is the library's
(cvmm_cpuid_dynamic_mask); this module asks cvmm for it rather than keeping a copy."""
import json
import re
import subprocess

_LINE = re.compile(r"0x([0-9a-f]{8}) 0x([0-9a-f]{2,8}): eax=0x([0-9a-f]{8}) "
                   r"ebx=0x([0-9a-f]{8}) ecx=0x([0-9a-f]{8}) edx=0x([0-9a-f]{8})")


def parse_raw(text):
    """`cpuid -r` lines as {(leaf, subleaf): [eax, ebx, ecx, edx]} (the first CPU only)."""
    t = {}
    for m in _LINE.finditer(text):
        t.setdefault((int(m[1], 16), int(m[2], 16)), [int(m[i], 16) for i in range(3, 7)])
    return t


REGS = ["eax", "ebx", "ecx", "edx"]


class DynamicMask:
    """dynamic_mask(leaf, sub, reg): the bits of the register (0 eax .. 3 edx) that are
    computed at run time (APIC IDs, OSXSAVE/OSPKE, the XSAVE sizes for XCR0/XSS), read from the
    "dynamic" marks of `cvmm cpuid show --format json`. The marks depend on leaf and subleaf
    alone, so cvmm is shown the keys with zero registers and the answers are kept; learn()
    asks about many keys at once, a key not learned yet is asked about on its own."""

    def __init__(self, cvmm):
        self.cvmm = cvmm
        self.masks = {}

    def learn(self, keys):
        """Asks cvmm about every (leaf, subleaf) in keys (e.g. a table from parse_raw)."""
        new = sorted(set(keys) - set(self.masks))
        for i in range(0, len(new), 4096):  # cvmm reads at most 4096 entries a table
            self._ask(new[i:i + 4096])

    def _ask(self, new):
        text = "CPU:\n" + "".join(f"   0x{leaf:08x} 0x{sub:02x}: eax=0x00000000 ebx=0x00000000 "
                                  f"ecx=0x00000000 edx=0x00000000\n" for leaf, sub in new)
        p = subprocess.run([self.cvmm, "cpuid", "show", "--from", "-", "--format", "json"],
                           input=text.encode(), capture_output=True)
        if p.returncode:
            raise RuntimeError(f"cvmm cpuid show --format json: exit {p.returncode}: "
                               f"{p.stderr.decode().strip()}")
        for e in json.loads(p.stdout)["entries"]:
            marks = e.get("dynamic", {})
            self.masks[(int(e["leaf"], 16), int(e["subleaf"], 16))] = \
                [int(marks.get(r, "0"), 16) for r in REGS]
        missing = [k for k in new if k not in self.masks]
        if missing:
            raise RuntimeError(f"cvmm cpuid show --format json left out {missing[:4]}")

    def __call__(self, leaf, sub, reg):
        if (leaf, sub) not in self.masks:
            self.learn([(leaf, sub)])
        return self.masks[(leaf, sub)][reg]


def invalid_topology_level(leaf, sub, regs):
    """The SDM's answer for a 0xB/0x1F subleaf past the last level: EAX = EBX = 0, ECX = the
    input ECX[7:0] (type 0), EDX = the x2APIC ID."""
    return leaf in (0xB, 0x1F) and regs[:3] == [0, 0, sub & 0xFF]
