#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""cvmm against QEMU, in one run, on the same guests.

  1. the trivial small guest (PVH ELF: prints a line, resets): wall time from process start to
     exit and peak RSS, 64 MiB of guest RAM;
  2. growth: the same guest with 256M..16G of RAM and 1..8 vCPUs (cvmm; QEMU for RAM);
  3. the Debian kernel (vmlinux + initramfs): time to the first guest instruction (cvmm's
     metrics), to the kernel's first x86/fpu line and to the end.

Medians of N runs (default 10), ratios cvmm/QEMU. QEMU: qemu-system-x86_64 -M microvm
-enable-kvm -cpu host,-arch-capabilities (plain -cpu host aborts on hosts whose KVM refuses
MSR 0x10a). Peak RSS comes from bench/peakrss, a small C parent that reports the child's
ru_maxrss: measured from Python, ru_maxrss also holds the Python process's own RSS, which the
child had before exec (about 12 MiB). "VMM only" subtracts the guest RAM cvmm saw resident at
exit, for both VMMs, as it is the same guest.

  4. the unknown-MSR storm (1M reads natively, 100k in the nested VM; CVMM_STORM_READS sets
     it), cvmm and QEMU interleaved. --only storm runs this part alone.

The trivial guest also runs under bench/floor (--floor PATH): the least a KVM program does to
run it (one VM, one vCPU with KVM_GET_SUPPORTED_CPUID as it is, PT_LOAD segments copied in,
entered at the PVH entry, until the reset write). cvmm, the floor and QEMU run interleaved, so
drift in the host's speed falls on all three; cvmm/floor is issue 12's figure (target <= 1.3).

usage: vm_bench.py CVMM GUEST_ELF [VMLINUX INITRD] [--runs N] [--peakrss PATH] [--floor PATH]
                   [--only storm|growth]
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

QEMU = "qemu-system-x86_64"
QEMU_BASE = [QEMU, "-M", "microvm", "-enable-kvm", "-cpu", "host,-arch-capabilities",
             "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot"]


PEAKRSS = None
KERNEL_TIMEOUT = int(os.environ.get("CVMM_BENCH_KERNEL_TIMEOUT") or 300)  # s per kernel run
RSS_FILE = os.path.join(tempfile.gettempdir(), f"cvmm-bench-rss.{os.getpid()}")


def run(cmd, timeout=600, watch=None):
    """Runs cmd; returns (wall seconds, peak RSS KiB, exit status, stdout, {pattern: seconds})."""
    if PEAKRSS:
        cmd = [PEAKRSS, RSS_FILE, *cmd]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    # A VMM that pauses its guest instead of exiting (QEMU at an instruction a PVM-style KVM
    # cannot emulate) is killed at the timeout: the run's end is then the timeout.
    # (its whole process group: bench/peakrss's child with it)
    killer = threading.Timer(timeout, lambda: os.killpg(p.pid, signal.SIGKILL))
    killer.start()
    seen = {}
    out = b""
    for line in p.stdout:
        out += line
        if watch:
            for pat in watch:
                if pat not in seen and pat.encode() in line:
                    seen[pat] = time.monotonic() - t0
    _, status, ru = os.wait4(p.pid, 0)
    killer.cancel()
    wall = time.monotonic() - t0
    p.stderr.read()
    rss = float("nan")
    if PEAKRSS:
        try:
            rss = float(open(RSS_FILE).read())
        except (OSError, ValueError):
            pass
    return wall, rss, os.waitstatus_to_exitcode(status), out.decode("latin-1"), seen


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def storm_bench(cvmm, guest, have_qemu, n):
    storm = int(os.environ.get("CVMM_STORM_READS") or
                (100000 if os.environ.get("CVMM_TEST_ENV") == "nested-tcg" else 1000000))
    print(f"== unknown-MSR storm: {storm} RDMSR of an unknown MSR, 1 vCPU, interleaved, "
          f"median of {n}")
    sc = [cvmm, "run", "--kernel", guest, "--cmdline", f"msrstorm {storm} 1", "--no-reboot",
          "--memory", "64M", "--profile", "tdx", "--allow-unenforced-cpuid"]
    sq = QEMU_BASE + ["-m", "64M", "-kernel", guest, "-append", f"msrstorm {storm} 1"]
    cws, qws = [], []
    for _ in range(n):
        for cmd, into in [(sc, cws)] + ([(sq, qws)] if have_qemu else []):
            w, _, rc, out, _ = run(cmd)
            if rc != 0 or "STORM-DONE" not in out:
                raise SystemExit(f"bench: {' '.join(cmd)} failed (exit {rc}): {out[-300:]}")
            into.append(w)
    cw = median(cws)
    line = f"   cvmm: {cw:.2f} s ({cw / storm * 1e6:.1f} us per read)"
    if have_qemu:
        qw = median(qws)
        line += (f" | qemu: {qw:.2f} s ({qw / storm * 1e6:.1f} us per read) | ratio "
                 f"{cw / qw:.3f}x (target <= 1.5x); runs cvmm {' '.join(f'{x:.2f}' for x in cws)}"
                 f", qemu {' '.join(f'{x:.2f}' for x in qws)}")
    print(line)


def main():
    global PEAKRSS
    args = sys.argv[1:]
    runs = 10
    if "--peakrss" in args:
        i = args.index("--peakrss")
        PEAKRSS = args[i + 1]
        del args[i:i + 2]
    floor = None
    if "--floor" in args:
        i = args.index("--floor")
        floor = args[i + 1]
        del args[i:i + 2]
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = args[i + 1]
        del args[i:i + 2]
        if only not in ("storm", "growth"):
            print(f"vm_bench.py: --only '{only}': the parts it runs alone are storm and growth",
                  file=sys.stderr)
            return 2
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i:i + 2]
    cvmm, guest = args[0], args[1]
    kernel = args[2:4] if len(args) >= 4 else None
    if not os.path.exists("/dev/kvm"):
        print("vm bench: skipped, this host has no /dev/kvm")
        return 0
    if os.environ.get("CVMM_TEST_ENV") == "nested-tcg":
        print("(inside a QEMU TCG VM with nested KVM: every exit costs tens of microseconds of "
              "emulation, so absolute times are far above native; both VMMs pay it, compare "
              "the ratios)")
    have_qemu = shutil.which(QEMU) is not None
    if only == "storm":
        storm_bench(cvmm, guest, have_qemu, max(3, runs // 3))
        return 0
    tmp = tempfile.mkdtemp(prefix="cvmm-bench-")

    def cvmm_cmd(mem="64M", cpus=1, metrics=True, cache=True):
        # issue 12's command line is without --metrics; the metrics runs give the first
        # instruction's time and the guest RAM resident at exit. cache=False: the CPUID probe
        # runs in full every time (by default a run reuses the phases that provably apply).
        return [cvmm, "run", "--kernel", guest, "--cmdline", "hello", "--no-reboot",
                "--memory", mem, "--cpus", str(cpus),
                *(["--metrics", os.path.join(tmp, "hello.json")] if metrics else []),
                *([] if cache else ["--no-probe-cache"])]

    def floor_cmd(mem="64M"):
        return [floor, guest, str(int(mem[:-1]) << (10 if mem[-1] == "G" else 0)), "hello"]

    def guest_resident_kib():
        try:
            return json.load(open(os.path.join(tmp, "hello.json")))["guest_ram_resident_bytes"] / 1024
        except (OSError, KeyError, ValueError):
            return float("nan")

    def first_instruction_ms():
        try:
            m = json.load(open(os.path.join(tmp, "hello.json")))
            return m["time_to_first_instruction_us"] / 1000
        except (OSError, KeyError, ValueError):
            return float("nan")

    def probe_costs():
        try:
            p = json.load(open(os.path.join(tmp, "hello.json")))["cpuid_probe"]
            return p["cpuid_instructions"], p["kvm_run_us"] / 1000, p["wall_us"] / 1000
        except (OSError, KeyError, ValueError):
            return float("nan"), float("nan"), float("nan")

    def probe_line():
        # The CPU-model check's own share of a run when it runs in full (--no-probe-cache,
        # --metrics' cpuid_probe), and when its phases are reused (the default, warm).
        cold, warm, fws = [], [], []
        for _ in range(3):
            once(cvmm_cmd(cache=False))
            cold.append(probe_costs())
            once(cvmm_cmd())
            warm.append(probe_costs())
            if floor:
                fws.append(once(floor_cmd())[0])
        n, k, w = (median([c[i] for c in cold]) for i in range(3))
        line = (f"   the CPUID probe in full (--no-probe-cache; --metrics cpuid_probe, median of 3): "
                f"{n:.0f} CPUIDs, {k:.2f} ms in its KVM_RUNs "
                f"({k / n * 1000 if n else float('nan'):.1f} us per CPUID), {w:.2f} ms from "
                f"opening it to its result")
        if fws:
            line += f" = {w / (median(fws) * 1000):.2f}x the floor's whole run"
        print(line)
        print(f"   reused (the default, once a run has stored it): "
              f"{median([c[0] for c in warm]):.0f} CPUIDs, "
              f"{median([c[2] for c in warm]):.2f} ms from opening the probe to its result")

    def qemu_cmd(mem="64M", cpus=1):
        return QEMU_BASE + ["-m", mem, "-smp", str(cpus), "-kernel", guest, "-append", "hello"]

    def once(cmd):
        w, r, rc, out, _ = run(cmd)
        if rc != 0 or "hello from the cvmm test guest" not in out:
            raise SystemExit(f"bench: {' '.join(cmd)} failed (exit {rc}): {out[-300:]}")
        return w, r

    def series(cmd, n=runs):
        walls, rss = [], []
        for _ in range(n):
            w, r = once(cmd)
            walls.append(w)
            rss.append(r)
        return median(walls), median(rss)

    def growth(runs):
        # The floor program with the same RAM shows what KVM itself costs per size (on a KVM
        # without TDP, its memory slot's reverse maps grow with the slot).
        print(f"== growth with guest RAM (1 vCPU), median of {max(3, runs // 2)}")
        sweep = {}
        for mem in ["256M", "1G", "4G", "16G"]:
            cw, cr = series(cvmm_cmd(mem, metrics=False), max(3, runs // 2))
            line = f"   {mem:>5}: cvmm {cw * 1000:7.1f} ms {cr / 1024:6.1f} MiB"
            if floor:
                fw, _ = series(floor_cmd(mem), max(3, runs // 2))
                line += f" | floor {fw * 1000:7.1f} ms, cvmm - floor {(cw - fw) * 1000:5.1f} ms"
                sweep[mem] = (cw, fw)
            if have_qemu:
                qw, qr = series(qemu_cmd(mem), max(3, runs // 2))
                line += f" | qemu {qw * 1000:7.1f} ms {qr / 1024:6.1f} MiB | ratio {cw / qw:.3f}x"
            print(line)
        if sweep:
            c = [v[0] for v in sweep.values()]
            d = [v[0] - v[1] for v in sweep.values()]
            print(f"   spread 256M..16G: cvmm {(max(c) / min(c) - 1) * 100:.0f}% (target <= 10%); "
                  f"cvmm - floor {min(d) * 1000:.1f}..{max(d) * 1000:.1f} ms")
        print(f"== growth with vCPUs (64M), median of {max(3, runs // 2)}")
        for cpus in [1, 2, 4, 8]:
            cw, cr = series(cvmm_cmd(cpus=cpus, metrics=False), max(3, runs // 2))
            line = f"   {cpus} vCPU: cvmm {cw * 1000:7.1f} ms {cr / 1024:6.1f} MiB"
            if have_qemu:
                qw, qr = series(qemu_cmd(cpus=cpus), max(3, runs // 2))
                line += f" | qemu {qw * 1000:7.1f} ms {qr / 1024:6.1f} MiB | ratio {cw / qw:.3f}x"
            print(line)

    if only == "growth":
        probe_line()
        growth(runs)
        return 0
    print(f"== trivial guest (PVH ELF, prints a line, resets), 64M, interleaved, median of {runs}")
    cmds = {"cvmm": cvmm_cmd(), "cvmm-plain": cvmm_cmd(metrics=False)}
    if floor:
        cmds["floor"] = floor_cmd()
    if have_qemu:
        cmds["qemu"] = qemu_cmd()
    cmds["cvmm-cold"] = cvmm_cmd(metrics=False, cache=False)
    res = {k: ([], []) for k in cmds}
    cguest, cfirst = [], []
    for _ in range(runs):
        for k, cmd in cmds.items():
            w, r = once(cmd)
            res[k][0].append(w)
            res[k][1].append(r)
            if k == "cvmm":
                cguest.append(guest_resident_kib())
                cfirst.append(first_instruction_ms())
    cw, cr = median(res["cvmm"][0]), median(res["cvmm"][1])
    pw, pr = median(res["cvmm-plain"][0]), median(res["cvmm-plain"][1])
    cg = median(cguest)
    print(f"   cvmm:  {pw * 1000:8.1f} ms  peak RSS {pr / 1024:6.1f} MiB (issue 12's command: "
          f"run --kernel guest.elf --memory 64M --no-reboot)")
    print(f"   cvmm --metrics: {cw * 1000:6.1f} ms  peak RSS {cr / 1024:6.1f} MiB, of which guest "
          f"RAM {cg / 1024:.1f} MiB: VMM {(cr - cg) / 1024:.1f} MiB; first guest instruction at "
          f"{median(cfirst):.2f} ms (from cvmm's main())")
    if floor:
        fw, fr = median(res["floor"][0]), median(res["floor"][1])
        print(f"   floor: {fw * 1000:8.1f} ms  peak RSS {fr / 1024:6.1f} MiB")
        print(f"   ratio cvmm/floor: wall {pw / fw:.3f}x (target <= 1.3x); with --metrics "
              f"{cw / fw:.3f}x")
    else:
        print("   floor: not given (--floor build/bench/floor)")
    ow = median(res["cvmm-cold"][0])
    print(f"   cvmm --no-probe-cache (the probe in full every run): {ow * 1000:6.1f} ms" +
          (f", {ow / median(res['floor'][0]):.3f}x the floor" if floor else ""))
    probe_line()
    if have_qemu:
        qw, qr = median(res["qemu"][0]), median(res["qemu"][1])
        print(f"   qemu:  {qw * 1000:8.1f} ms  peak RSS {qr / 1024:6.1f} MiB")
        print(f"   ratio cvmm/qemu: wall {cw / qw:.3f}x (target <= 0.15x), "
              f"peak RSS {cr / qr:.3f}x; VMM only (guest RAM {cg / 1024:.1f} MiB subtracted from "
              f"both) {(cr - cg) / (qr - cg):.3f}x (target <= 0.1x)")
    else:
        print("   qemu: not installed (apt-get install qemu-system-x86)")

    growth(runs)

    # Unknown-MSR storm: every read comes to cvmm (tdx profile, default deny) and is answered
    # with #GP; under QEMU, KVM answers the unknown MSR in the kernel. Interleaved: cvmm, QEMU,
    # cvmm, ... so that drift in the host's speed falls on both.
    storm_bench(cvmm, guest, have_qemu, max(3, runs // 3))

    if kernel:
        vmlinux, initrd = kernel
        n = max(3, runs // 3)
        cmdline = "console=ttyS0 reboot=k panic=-1 tsc=reliable no_timer_check lpj=1000000"
        print(f"== Debian kernel (vmlinux + initramfs, 256M), median of {n}")
        rows = {}
        for name in ["cvmm", "qemu"] if have_qemu else ["cvmm"]:
            first, fpu, end = [], [], []
            for i in range(n):
                if name == "cvmm":
                    mpath = os.path.join(tmp, f"k{i}.json")
                    cmd = [cvmm, "run", "--kernel", vmlinux, "--initrd", initrd, "--cmdline",
                           cmdline, "--no-reboot", "--metrics", mpath, "--features", "-cx16",
                           "--allow-unenforced-cpuid"]
                else:
                    cmd = QEMU_BASE + ["-m", "256M", "-kernel", vmlinux, "-initrd", initrd,
                                       "-append", cmdline, "-cpu", "host,-arch-capabilities,-cx16"]
                # The kernel's FPU setup prints x86/fpu lines, or (inside QEMU's TCG, see the
                # README) the XSAVE consistency warning: whichever comes first marks it.
                w, r, rc, out, seen = run(cmd, timeout=KERNEL_TIMEOUT,
                                          watch=["x86/fpu", "XSAVE consistency"])
                end.append(w)
                if seen:
                    fpu.append(min(seen.values()))
                if name == "cvmm":
                    try:
                        first.append(json.load(open(mpath))["time_to_first_instruction_us"] / 1e6)
                    except (OSError, KeyError, ValueError):
                        pass
            rows[name] = (median(first), median(fpu), median(end))
            f, p, e = rows[name]
            print(f"   {name}: first instruction {f * 1000:8.1f} ms, x86/fpu line {p:7.2f} s, "
                  f"end {e:7.2f} s")
        if "qemu" in rows:
            print(f"   ratio cvmm/qemu: x86/fpu line {rows['cvmm'][1] / rows['qemu'][1]:.3f}x, "
                  f"end {rows['cvmm'][2] / rows['qemu'][2]:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
