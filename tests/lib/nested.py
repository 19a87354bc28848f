# SPDX-License-Identifier: MIT
"""Shared by the guest and kernel suites: where this host has no /dev/kvm, re-run the calling
suite inside tools/nested-kvm.sh (a QEMU TCG VM with emulated AMD SVM and Debian's KVM)."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
WHY = "no /dev/kvm on this host (`dmesg | grep -i kvm` says why)"


WHY_PARTIAL = ("this host's KVM rewrites the CPUID table (no hardware virtualization), so the "
               "hardware-virtualization assertions run as well")


def fetch_kernel(src, gdir):
    """tools/fetch-kernel.sh into gdir: the nested VM's kernel and KVM modules. Returns whether
    it worked, saying why when it did not."""
    p = subprocess.run([os.path.join(src, "tools", "fetch-kernel.sh"), gdir], capture_output=True)
    if p.returncode:
        print(f"FAIL fetching the kernel for the nested VM: {p.stderr.decode()}")
    return p.returncode == 0


def rerun(script, cvmm, guest, src, gdir, files, prepare, partial=False):
    """Runs `python3 script cvmm guest src` in the nested VM with files (plus this library)
    copied in; prepare() fetches what the VM needs and returns False on failure. Returns the
    exit status: 77 (skipped, reason printed) without QEMU or with CVMM_NO_NESTED set.
    partial: the host has a /dev/kvm that does not enforce CPUID; the nested run is the
    second half of the suite there, and a missing QEMU fails instead of skipping."""
    why = WHY_PARTIAL if partial else WHY
    if os.environ.get("CVMM_NO_NESTED") or os.environ.get("CVMM_TEST_ENV") == "nested-tcg":
        print(f"SKIP: {why} (CVMM_NO_NESTED is set)" if os.environ.get("CVMM_NO_NESTED")
              else f"SKIP: {why}")
        return 77
    if subprocess.run(["sh", "-c", "command -v qemu-system-x86_64"],
                      capture_output=True).returncode:
        print(f"{'FAIL' if partial else 'SKIP'}: {why}, and no qemu-system-x86_64 to run KVM "
              "in a nested VM")
        return 1 if partial else 77
    if not prepare():
        return 1
    print(f"{why}: running inside a QEMU TCG VM with emulated AMD SVM and Debian's KVM "
          "(tools/nested-kvm.sh)", flush=True)
    script = os.path.abspath(script)
    lib = [os.path.join(HERE, f) for f in sorted(os.listdir(HERE)) if f.endswith(".py")]
    cmd = [os.path.join(src, "tools", "nested-kvm.sh"), gdir, cvmm, guest, script, *lib, *files,
           "--", "env", "CVMM_TEST_ENV=nested-tcg", "python3", script, cvmm, guest, src]
    # QEMU's TCG has been seen to hang as a whole, which no timer inside it can end: bound the
    # VM from outside (the guest suite needs about a minute there), and run it once more
    # (saying so) when it did not finish.
    env = dict(os.environ, NESTED_TIMEOUT=os.environ.get("NESTED_TIMEOUT", "300"))
    rc = subprocess.run(cmd, env=env).returncode
    if rc == 3:
        print("RETRY: the nested VM did not finish; running it once more", flush=True)
        rc = subprocess.run(cmd, env=env).returncode
    return rc
