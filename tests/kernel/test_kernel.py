#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Debian's kernel under cvmm: what the guest kernel printed, checked against what cvmm built.

Always (where /dev/kvm exists): the banner, our command line, the e820 map cvmm built, the CPU
count from the MP table, for both the uncompressed vmlinux (PVH entry) and the bzImage (64-bit
boot protocol).

Where the host's KVM does not enforce CPUID (no hardware virtualization) the kernel sees this
CPU's own CPUID and runs its ring-0 code through KVM's emulator, which stops at XRSTOR during the
FPU setup. There the test checks the kernel's `x86/fpu: Supporting XSAVE feature` lines against
cvmm's model of Linux applied to this CPU's own CPUID (`cpuid -r -1`), that no XSAVE consistency
problem was printed, and that cvmm ended with status 1 and a clean emulation-failure report.

Where KVM enforces CPUID the kernel reaches user space: its x86/fpu summary line and the
`cpuid -r -1` it runs are checked against cvmm's table for profiles {host, tdx} x features
{none, -avx512f, -pku, -avx, -xsaves}.

Boots run two at a time (the machine's two cores). usage: test_kernel.py CVMM GUEST_ELF SRCDIR
"""
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile

CVMM, GUEST, SRC = sys.argv[1], sys.argv[2], sys.argv[3]
BUILD = os.path.dirname(os.path.abspath(CVMM))
GDIR = os.path.join(BUILD, "guest")
TMP = tempfile.mkdtemp(prefix="cvmm-kernel-")
MEM = 256 << 20
# Kernel arguments that shorten early boot under emulation: no delay-loop calibration, no
# timer check; reboot through the keyboard controller so --no-reboot ends the run.
BASE_CMDLINE = "console=ttyS0 reboot=k panic=-1 tsc=reliable no_timer_check lpj=1000000"
passed = failed = 0


def ok(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {what}", flush=True)
    else:
        failed += 1
        print(f"FAIL {what}", flush=True)
    return cond


def boot(name, kernel, cpus, mem, *flags, timeout=900):
    cmdline = f"{BASE_CMDLINE} cvmm.test={name}"
    mpath = os.path.join(TMP, f"{name}.json")
    cmd = [CVMM, "run", "--kernel", kernel, "--initrd", os.path.join(GDIR, "initramfs.gz"),
           "--cpus", str(cpus), "--memory", f"{mem >> 20}M", "--cmdline", cmdline,
           "--no-reboot", "--metrics", mpath, *flags]
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        rc, out, err = p.returncode, p.stdout.decode("latin-1"), p.stderr.decode("latin-1")
    except subprocess.TimeoutExpired as e:
        rc, out, err = -1, (e.stdout or b"").decode("latin-1"), "timeout"
    with open(os.path.join(TMP, f"{name}.console"), "w") as f:
        f.write(out)
    try:
        m = json.load(open(mpath))
    except (OSError, ValueError):
        m = {}
    return {"name": name, "rc": rc, "out": out, "err": err, "m": m, "cmdline": cmdline,
            "mem": mem, "cpus": cpus}


def linux_view(table_args):
    p = subprocess.run([CVMM, "cpuid", "check", *table_args, "--format", "json"],
                       capture_output=True)
    return json.loads(p.stdout)["linux_guest"]


def check_common(b, kind):
    n, out = b["name"], b["out"]
    ok(re.search(r"Linux version 6\.\d+\.\d+-\d+-cloud-amd64", out) is not None,
       f"{n}: banner ({kind})")
    ok(f"Command line: {b['cmdline']}" in out, f"{n}: the kernel printed our command line")
    e820 = re.findall(r"BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] (\w+)", out)
    want = [(0, 0x9FBFF, "usable"), (0x9FC00, 0x9FFFF, "reserved"),
            (0xF0000, 0xFFFFF, "reserved"), (0x100000, b["mem"] - 1, "usable")]
    got = [(int(a, 16), int(z, 16), t) for a, z, t in e820]
    ok(got == want, f"{n}: e820 map as cvmm built it ({len(got)} entries)"
       + ("" if got == want else f": {got}"))
    cpus = re.search(r"smpboot: Allowing (\d+) CPUs", out)
    ok(cpus is not None and int(cpus[1]) == b["cpus"],
       f"{n}: the kernel found {cpus[1] if cpus else '?'} CPUs in the MP table, "
       f"want {b['cpus']}")


XSTATE_NAMES = {0: "x87 floating point registers", 1: "SSE registers", 2: "AVX registers",
                3: "MPX bounds registers", 4: "MPX CSR", 5: "AVX-512 opmask",
                6: "AVX-512 Hi256", 7: "AVX-512 ZMM_Hi256", 9: "Protection Keys User registers",
                11: "Control-flow User registers", 12: "Control-flow Kernel registers (unused)",
                14: "PASID state", 17: "AMX Tile config", 18: "AMX Tile data"}


def supported_mask(out):
    mask = 0
    for f in re.findall(r"x86/fpu: Supporting XSAVE feature 0x([0-9a-f]+):", out):
        mask |= int(f, 16)
    return mask


def main():
    if not os.path.exists("/dev/kvm"):
        print("SKIP: no /dev/kvm on this host: Debian's kernel cannot be booted under KVM here "
              "(the loader, e820 and MP table are covered by the unit tests)")
        return 77
    for script, arg in (("fetch-kernel.sh", GDIR),
                        ("mkinitramfs.sh", os.path.join(GDIR, "initramfs.gz"))):
        p = subprocess.run([os.path.join(SRC, "tools", script), arg], capture_output=True)
        if p.returncode:
            print(f"FAIL {script}: {p.stderr.decode()}")
            return 1
    # Does this host enforce the CPUID table? The small guest's probe run says.
    mpath = os.path.join(TMP, "probe.json")
    subprocess.run([CVMM, "run", "--kernel", GUEST, "--cmdline", "poweroff", "--no-reboot",
                    "--metrics", mpath], capture_output=True, stdin=subprocess.DEVNULL)
    enforced = json.load(open(mpath))["cpuid_probe"]["enforced"]
    print(f"host enforces guest CPUID: {enforced}", flush=True)
    vmlinux, bzimage = os.path.join(GDIR, "vmlinux"), os.path.join(GDIR, "vmlinuz")

    if not enforced:
        # CMPXCHG16B cannot be emulated here and KVM honours a cleared cx16, so mask it.
        jobs = [("vmlinux", vmlinux, 2, MEM, "--features", "-cx16"),
                ("bzimage", bzimage, 1, MEM, "--features", "-cx16")]
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            boots = list(ex.map(lambda j: boot(*j), jobs))
        native = os.path.join(TMP, "native.cpuid")
        with open(native, "w") as f:
            subprocess.run(["cpuid", "-r", "-1"], stdout=f, check=True)
        lv = linux_view(["--from", native])
        for b, kind in zip(boots, ["PVH entry", "bzImage, 64-bit entry"]):
            check_common(b, kind)
            n, out = b["name"], b["out"]
            ok("does not enforce the guest's CPUID" in b["err"],
               f"{n}: cvmm warned that the CPU model is not enforced")
            got = supported_mask(out)
            want = int(lv["xfeatures"], 16)
            ok(got == want, f"{n}: the kernel's XSAVE features 0x{got:x} = cvmm's Linux model of "
               f"this CPU's own CPUID 0x{want:x}")
            ok("XSAVE consistency problem" not in out,
               f"{n}: no XSAVE consistency problem printed")
            ok(b["rc"] == 1 and "emulation failure" in b["err"] and "rip " in b["err"],
               f"{n}: ended with status {b['rc']} and one emulation-failure report "
               f"({(re.search(r'instruction (\w+)', b['err']) or [None, '?'])[1]})")
            if b["rc"] != 1:
                print(b["err"][-2000:], out[-2000:])
    else:
        matrix = [(p, f) for p in ("host", "tdx") for f in
                  (None, "-avx512f", "-pku", "-avx", "-xsaves")]
        jobs = [("bzimage", bzimage, 1, MEM)]
        for p, f in matrix:
            extra = ["--profile", p] + (["--features", f] if f else [])
            jobs.append((f"{p}{f or ''}", vmlinux, 2, MEM, *extra))
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            boots = list(ex.map(lambda j: boot(*j), jobs))
        check_common(boots[0], "bzImage, 64-bit entry")
        for b, (p, f) in zip(boots[1:], matrix):
            n, out = b["name"], b["out"]
            check_common(b, "PVH entry")
            ok(b["rc"] == 0 and "CVMM-DONE" in out, f"{n}: reached user space and ended cleanly")
            targs = ["--profile", p, "--cpus", "2"] + (["--features", f] if f else [])
            lv = linux_view(targs)
            m = re.search(r"x86/fpu: Enabled xstate features 0x([0-9a-f]+), context size is "
                          r"(\d+) bytes, using '(\w+)' format", out)
            ok(m is not None and int(m[1], 16) == int(lv["xfeatures"], 16) and
               int(m[2]) == lv["context_size"] and m[3] == lv["format"],
               f"{n}: kernel's xstate summary {m.groups() if m else None} = cvmm's "
               f"({lv['xfeatures']}, {lv['context_size']}, {lv['format']})")
            ok("XSAVE consistency problem" not in out, f"{n}: no XSAVE consistency problem")
            seen = out.split("CVMM-CPUID-BEGIN", 1)[-1].split("CVMM-CPUID-END", 1)[0]
            path = os.path.join(TMP, f"{n}.guest.cpuid")
            with open(path, "w") as fh:
                fh.write(seen)
            t = subprocess.run([CVMM, "cpuid", "show", *targs], capture_output=True, text=True)
            tab = os.path.join(TMP, f"{n}.table.cpuid")
            with open(tab, "w") as fh:
                fh.write(t.stdout)
            d = subprocess.run([CVMM, "cpuid", "diff", tab, path], capture_output=True, text=True)
            # Dynamic fields differ by design (APIC IDs, OSXSAVE, XSAVE sizes for the guest's
            # XCR0): everything else must match.
            bad = [l for l in d.stdout.splitlines()
                   if re.match(r"\s*0x", l) and not re.match(
                       r"\s*0x0000000(1 0x00: (ebx|ecx)|7 0x00: ecx|b|d 0x0[01]: ebx)"
                       r"|\s*0x0000001f|\s*0x8000001e 0x00: eax", l)]
            ok(not bad, f"{n}: the guest's cpuid -r equals cvmm's table outside dynamic fields"
               + ("" if not bad else ": " + "; ".join(bad[:5])))
    print(f"kernel: {passed} passed, {failed} failed (console logs in {TMP})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
