#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Data races under ThreadSanitizer: `make check` builds cvmm with -fsanitize=thread
(build-tsan) and runs the guests that exercise every thread cvmm has at once: vCPU threads
counting and logging (a two-vCPU unknown-MSR storm), the --metrics-interval thread reading
their counters, the end of a run kicking vCPUs (reset, power-off, application processors
started by INIT/SIPI), a hostile guest on both vCPUs. Each run must end as the guest asked with
no ThreadSanitizer report.

Where this host has no /dev/kvm the script re-runs itself inside the nested VM
(tools/nested-kvm.sh), as the guest suite does.

usage: test_races.py CVMM GUEST_ELF SRCDIR
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import nested as nested_vm  # noqa: E402

CVMM, GUEST, SRC = (os.path.abspath(a) for a in sys.argv[1:4])
TMP = tempfile.mkdtemp(prefix="cvmm-races-")


def main():
    if not os.path.exists("/dev/kvm"):
        gdir = os.path.join(os.path.dirname(CVMM), "guest")
        return nested_vm.rerun(__file__, CVMM, GUEST, SRC, gdir, [],
                               lambda: nested_vm.fetch_kernel(SRC, gdir))
    unenforced = ["--allow-unenforced-cpuid"]
    cases = [
        ("two-vCPU unknown-MSR storm, --metrics-interval 0.1", "msrstorm 20000 2", "STORM-DONE",
         ["--profile", "tdx", *unenforced, "--metrics-interval", "0.1"]),
        ("three resets with two vCPUs, --metrics-interval 0.1", "reboot", "BOOT 3",
         ["--metrics-interval", "0.1"]),
        ("application processors started by INIT/SIPI", "smp 2", "DONE", []),
        ("--debug: unclaimed ports logged from two vCPUs' run", "unclaimed 2000",
         "UNCLAIMED-DONE", ["--debug"]),
        # Both vCPUs hostile at once: ports, MSRs (logged), MMIO (logged), string I/O. No
        # XSETBV: KVM handles it without cvmm, and a host without hardware virtualization
        # cannot emulate it.
        ("hostile guest on two vCPUs, --debug, --metrics-interval 0.1",
         "hostile 9 4000 2 noxsetbv", "HOSTILE-END 8000",
         ["--profile", "tdx", *unenforced, "--debug", "--metrics-interval", "0.1"]),
    ]
    failed = 0
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=0 exitcode=66")
    for i, (what, test, want, flags) in enumerate(cases):
        cmd = [CVMM, "run", "--kernel", GUEST, "--cmdline", test, "--cpus", "2", "--memory",
               "64M", "--metrics", os.path.join(TMP, f"m{i}.json"), *flags]
        if test != "reboot":
            cmd.append("--no-reboot")
        p = subprocess.run(cmd, capture_output=True, timeout=900, env=env,
                           stdin=subprocess.DEVNULL)
        err = p.stderr.decode("latin-1")
        races = err.count("WARNING: ThreadSanitizer")
        good = p.returncode == 0 and want in p.stdout.decode("latin-1") and races == 0 and \
            "ThreadSanitizer" not in err
        print(f"{'ok  ' if good else 'FAIL'} ThreadSanitizer: {what}: exit {p.returncode}, "
              f"{races} report(s)")
        if not good:
            failed += 1
            print("  " + " ".join(cmd) + "\n" + err[-3000:])
    print(f"races: {len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
