#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kvm-unit-tests' x86 tests under cvmm and under QEMU, side by side, on this host (issue 10).

Builds the suite from its tarball (never copied into cvmm: it is extracted and built under
BUILD), reads x86/unittests.cfg, translates each x86_64 test's QEMU options to cvmm's, runs it
under cvmm and under QEMU one after the other with the cfg's timeout (capped), and prints a
table: test | cvmm PASS/FAIL/SKIP and outcome | QEMU's | why they differ.

Translation (what cvmm cannot express is listed, not run under cvmm):
  smp = N, -smp N                  --cpus N
  test_args, -append '...'         --cmdline
  -m N                             --memory NM
  -cpu MODEL[,...]                 cvmm's host profile (a model other than host/max is QEMU's
                                   only, and so is vendor=X: both noted); -f and f=off become
                                   --features -f; +f and f=on are noted when the host profile
                                   lacks f (cvmm adds nothing the host lacks)
  host-phys-bits                   as cvmm does anyway
  -cpu ...,k=v (other), -device, -machine, -global, -overcommit, -object, -chardev, accel=tcg
                                   not expressible
QEMU runs the cfg's own options with `-nodefaults -display none -serial stdio -device
isa-debug-exit,iobase=0xf4,iosize=4`, as the issue measured it: without kvm-unit-tests'
pc-testdev and pci-testdev, test-only devices no real machine has (cvmm has neither).

Outcome: the test's status through the debug-exit port ((V << 1) | 1: 1 PASS, 3 FAIL, 77 SKIP,
127 an unexpected exception), TIMEOUT, or VMM (cvmm's --metrics outcome "fault": the vCPU
stopped; QEMU: its own error). For cvmm, status 1 from a fault and from the test are told
apart by --metrics.

  conformance.py [--tarball F] [--build DIR] [--cvmm PATH] [--qemu PATH] [--tests a,b]
                 [--ci] [--timeout-cap S] [--markdown F] [--kind K]
                 [--check FILE | --update FILE] [--nested]
--ci: the bounded list for CI; --check: exit 1 where cvmm does worse than FILE records (a
directory: its expected-KIND.txt for this machine's kind);
--update: write FILE from this run; --nested: run the whole thing inside tools/nested-kvm.sh
(where KVM has hardware-virtualization semantics); on a host without /dev/kvm that is the
default. Exit 2 (one line) when the tarball is absent.
"""
import argparse
import glob
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The CPU-surface tests issue 10 names, and a bounded CI list (each finishes in seconds here).
SURFACE = ["xsave", "msr", "pku", "pks", "umip", "la57", "smap", "syscall", "tsc",
           "tsc_adjust", "idt_test", "eventinj", "smptest", "x2apic", "xapic", "ioapic"]
CI_TESTS = ["smptest", "setjmp", "idt_test", "msr", "tsc_adjust", "la57", "umip", "xsave",
            "emulator", "lam", "syscall", "s3", "vmexit_cpuid", "pks"]
# A VMM that stops the guest with a report (cvmm on an instruction its host cannot emulate) ranks
# with a timeout (QEMU on the same instruction pauses the guest until the timeout ends it).
RANK = {"PASS": 5, "SKIP": 4, "FAIL": 3, "ABORT": 2, "TIMEOUT": 1, "VMM": 1}


def fail(msg, status=2):
    print(f"conformance: {msg}", file=sys.stderr)
    sys.exit(status)


def build_suite(tarball, build):
    """Extracts and builds the suite once per tarball; returns the source tree."""
    with open(tarball, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    src = os.path.join(build, f"kvm-unit-tests-{digest}")
    stamp = os.path.join(src, ".cvmm-built")
    if os.path.exists(stamp):
        return src
    tmp = src + ".tmp"
    subprocess.run(["rm", "-rf", tmp, src], check=True)
    os.makedirs(tmp)
    with tarfile.open(tarball) as t:
        t.extractall(tmp)
    inner = [d for d in os.listdir(tmp) if os.path.isdir(os.path.join(tmp, d))]
    top = os.path.join(tmp, inner[0]) if len(inner) == 1 and not os.path.exists(
        os.path.join(tmp, "configure")) else tmp
    print(f"conformance: building kvm-unit-tests ({os.path.basename(tarball)}) in {src}",
          flush=True)
    for cmd in (["./configure", "--arch=x86_64"], ["make", "-j2"]):
        p = subprocess.run(cmd, cwd=top, capture_output=True, text=True)
        if p.returncode:
            fail(f"{' '.join(cmd)} failed in {top}:\n{p.stdout[-2000:]}{p.stderr[-2000:]}", 1)
    os.rename(top, src)
    subprocess.run(["rm", "-rf", tmp])
    open(stamp, "w").close()
    return src


def parse_cfg(path):
    """[name] sections of key = value lines, in file order."""
    tests, cur = [], None
    for raw in open(path):
        line = raw.split("#", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        m = re.match(r"^\[(.+)\]$", line.strip())
        if m:
            cur = {"name": m[1]}
            tests.append(cur)
        elif cur is not None and "=" in line:
            k, v = line.split("=", 1)
            cur[k.strip()] = v.strip()
    return tests


# CPUID bits of the features the cfg's -cpu options name (Intel SDM vol. 2A, CPUID; AMD APM 3).
FEATURE_BITS = {"x2apic": (1, 0, "ecx", 21), "tsc-deadline": (1, 0, "ecx", 24),
                "vmx": (1, 0, "ecx", 5), "umip": (7, 0, "ecx", 2), "pku": (7, 0, "ecx", 3),
                "la57": (7, 0, "ecx", 16), "smap": (7, 0, "ebx", 20), "smep": (7, 0, "ebx", 7),
                "svm": (0x80000001, 0, "ecx", 2), "pks": (7, 0, "ecx", 31)}


def host_features(cvmm):
    """The features of FEATURE_BITS that cvmm's host profile table has."""
    p = subprocess.run([cvmm, "cpuid", "show", "--profile", "host", "--format", "json"],
                       capture_output=True, text=True)
    try:
        ents = json.loads(p.stdout)["entries"]
    except (ValueError, KeyError):
        return set()
    regs = {(int(e["leaf"], 16), int(e["subleaf"], 16)): e for e in ents}
    return {f for f, (leaf, sub, reg, bit) in FEATURE_BITS.items()
            if (leaf, sub) in regs and int(regs[(leaf, sub)][reg], 16) >> bit & 1}


def translate(t, feats):
    """(cvmm args or None, reason not expressible, notes, qemu args) for one cfg test."""
    params = shlex.split(t.get("qemu_params", ""))
    args, notes, why = [], [], None
    smp = t.get("smp", "1")
    memory = "256M"
    targs = t.get("test_args", "")
    if "`" in targs:  # the suite's runner lets the shell expand these (kvmclock_test's date)
        targs = subprocess.run(["sh", "-c", 'eval "set -- $1"; echo "$*"', "sh", targs],
                               capture_output=True, text=True).stdout.strip()
    cmdline = shlex.split(targs) if targs else []
    qemu_cpu = None
    removed = []
    i = 0
    while i < len(params):
        o = params[i]
        v = params[i + 1] if i + 1 < len(params) else ""
        if o in ("-enable-kvm", "--enable-kvm"):
            i += 1
        elif o == "-smp":
            smp = v.split(",")[0]
            i += 2
        elif o == "-m":
            memory = v.upper() if v[-1:].isalpha() else v + "M"
            i += 2
        elif o == "-append":
            cmdline += shlex.split(v)
            i += 2
        elif o == "-cpu":
            qemu_cpu = v
            model, *opts = v.split(",")
            if model not in ("host", "max"):
                notes.append(f"QEMU's {model} model; cvmm: its host profile")
            for f in opts:
                name, _, val = f.partition("=")
                sign = name[0] if name[:1] in "+-" else ("-" if val == "off" else "+")
                name = name.lstrip("+-")
                if name == "host-phys-bits":
                    continue
                if name == "vendor":
                    if val not in open("/proc/cpuinfo").read():
                        notes.append(f"QEMU: vendor={val}; cvmm keeps the host's vendor")
                    continue
                if val and val not in ("on", "off"):
                    why = why or f"-cpu ...,{f}: cvmm cannot set {name}"
                elif sign == "-":
                    removed.append(f"-{name.replace('-', '_')}")
                elif name not in feats:
                    notes.append(f"+{name}: not in cvmm's host profile")
            i += 2
        else:
            takes = bool(v) and not v.startswith("-")
            why = why or (f"{o} {v}" if takes else o) + ": no cvmm equivalent"
            i += 2 if takes else 1
    if removed:
        args += ["--features", ",".join(removed)]
    if t.get("accel") == "tcg":
        why = why or "accel = tcg"
    cvmm_args = ["--cpus", smp, "--memory", memory]
    if cmdline:
        cvmm_args += ["--cmdline", " ".join(cmdline)]
    qemu_args = ["-smp", smp, "-m", memory.rstrip("M") if memory.endswith("M") else memory]
    qemu_args += [a for a in params]
    if cmdline:
        qemu_args += ["-append", " ".join(cmdline)]
    return (None if why else cvmm_args + args), why, notes, qemu_args, qemu_cpu


def summarize(out, status, timed_out, vmm_fault):
    p = len(re.findall(r"^PASS: ", out, re.M))
    f = len(re.findall(r"^FAIL: ", out, re.M))
    s = len(re.findall(r"^SKIP: ", out, re.M))
    if timed_out:
        o = "TIMEOUT"
    elif vmm_fault:
        o = "VMM"
    else:
        o = {1: "PASS", 3: "FAIL", 77: "SKIP", 127: "ABORT"}.get(status, "VMM")
    return {"pass": p, "fail": f, "skip": s, "outcome": o, "status": status}


def run_one(cmd, timeout, metrics=None):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        out, err, status, to = p.stdout.decode("latin-1"), p.stderr.decode("latin-1"), \
            p.returncode, False
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("latin-1")
        err = (e.stderr or b"").decode("latin-1")
        status, to = None, True
    out = out.replace("\r", "")
    fault = False
    if metrics is not None and not to:
        try:
            with open(metrics) as f:
                fault = json.load(f).get("outcome") != "debug-exit"
        except (OSError, ValueError):
            fault = True
    if metrics is None and not to and not out.strip():
        fault = True  # QEMU ended before the test printed anything: QEMU's own error
    r = summarize(out, status, to, fault)
    r["seconds"] = time.monotonic() - t0
    r["fails"] = re.findall(r"^(?:FAIL|SKIP): .*$", out, re.M)[:4]
    r["last"] = out.strip().splitlines()[-1][:120] if out.strip() else ""
    r["err"] = err.strip().splitlines()[-1][:160] if err.strip() else ""
    r["why_vmm"] = next((l for l in err.splitlines() if "stopped" in l or "error" in l.lower()),
                        err.strip().splitlines()[-1] if err.strip() else "")[:160]
    return r


def skip_reason(t, flat):
    """Why neither VMM runs cfg test t (its .flat file flat), or None."""
    if "nodefault" in t.get("groups", "").split():
        return "group nodefault: the suite's own runner skips it too"
    chk = t.get("check", "")
    if chk:
        path, _, val = chk.partition("=")
        try:
            ok = open(path).read().strip() == val
        except OSError:
            ok = False
        if not ok:
            return f"check {chk} is not true here"
    if not os.path.exists(flat):
        return f"{t['file']} was not built"
    return None


def cell(r):
    if r is None:
        return "not run"
    return f"{r['pass']}/{r['fail']}/{r['skip']} {r['outcome']}"


def worse(a, b):
    """Whether result a is worse than result b: the outcome first, then (for a run that ended
    by itself, not by a timeout or the VMM stopping, whose counts depend on speed) the counts."""
    if RANK[a["outcome"]] != RANK[b["outcome"]]:
        return RANK[a["outcome"]] < RANK[b["outcome"]]
    if a["outcome"] in ("TIMEOUT", "VMM"):
        return False
    return a["pass"] < b["pass"] or a["fail"] > b["fail"]


def machine_kind():
    if not os.path.exists("/dev/kvm"):
        return "no-kvm"
    if os.environ.get("CVMM_TEST_ENV") == "nested-tcg":
        return "nested"
    # A PVM-style KVM: no VT-x/AMD-V flag in the host's own CPUID. Its instruction emulator
    # runs guest ring 0 and what it checks follows the host CPU (measured: la57's non-canonical
    # base writes #GP on AMD EPYC, not on Intel Xeon), so results are kept per vendor.
    flags = open("/proc/cpuinfo").read()
    if re.search(r"\b(vmx|svm)\b", flags):
        return "kvm-hw"
    vendor = {"GenuineIntel": "intel", "AuthenticAMD": "amd"}
    m = re.search(r"^vendor_id\s*:\s*(\S+)", flags, re.M)
    return "kvm-pvm-" + vendor.get(m.group(1) if m else "", "other")


def read_expect(path):
    exp = {}
    if os.path.exists(path):
        for line in open(path):
            body, _, reason = line.partition("#")
            f = body.split()
            if len(f) == 5:
                exp[f[0]] = {"outcome": f[1], "pass": int(f[2]), "fail": int(f[3]),
                             "skip": int(f[4]), "reason": reason.strip()}
    return exp


def default_tarball():
    """../shared/third_party next to this checkout, else next to the checkout it was cloned
    from (a CI clone elsewhere still finds the project's copy)."""
    dirs = [os.path.join(ROOT, "..", "shared", "third_party")]
    try:
        origin = subprocess.run(["git", "-C", ROOT, "config", "--get", "remote.origin.url"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        origin = ""
    if origin.startswith("/"):
        dirs.append(os.path.join(origin, "..", "shared", "third_party"))
    for d in dirs:
        found = sorted(glob.glob(os.path.join(d, "kvm-unit-tests-*.tar.gz")))
        if found:
            return os.path.normpath(found[-1])
    return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tarball", default=os.environ.get("KUT_TARBALL"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build-conformance"))
    ap.add_argument("--cvmm", default=os.path.join(ROOT, "build", "cvmm"))
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--tests", default=os.environ.get("KUT_TESTS", ""))
    ap.add_argument("--ci", action="store_true")
    ap.add_argument("--surface", action="store_true", help="the CPU-surface tests only")
    ap.add_argument("--timeout-cap", type=float, default=float(os.environ.get("CONF_TIMEOUT_CAP",
                                                                                 30)))
    ap.add_argument("--markdown")
    ap.add_argument("--kind")
    ap.add_argument("--check")
    ap.add_argument("--update")
    ap.add_argument("--nested", action="store_true")
    ap.add_argument("--no-qemu", action="store_true", help="cvmm only (CI's check)")
    ap.add_argument("--suite-dir", help=argparse.SUPPRESS)  # inside the nested VM
    a = ap.parse_args()

    if a.suite_dir:
        src = a.suite_dir
    else:
        a.tarball = a.tarball or default_tarball()
        if not a.tarball or not os.path.exists(a.tarball):
            fail(f"kvm-unit-tests tarball not found ({a.tarball or 'KUT_TARBALL unset'}): set "
                 "KUT_TARBALL=PATH")
        src = build_suite(os.path.abspath(a.tarball), a.build)
    if (a.nested or not os.path.exists("/dev/kvm")) and not a.suite_dir:
        return nested(a, src)

    kind = a.kind or machine_kind()
    cfg = [t for t in parse_cfg(os.path.join(src, "x86", "unittests.cfg"))
           if t.get("arch", "x86_64") == "x86_64"]
    want = a.tests.split(",") if a.tests else CI_TESTS if a.ci else SURFACE if a.surface \
        else None
    if want:
        cfg = [t for t in cfg if t["name"] in want]
    if a.check and os.path.isdir(a.check):
        a.check = os.path.join(a.check, f"expected-{kind}.txt")
        if not os.path.exists(a.check):
            fail(f"no recorded results for a {kind} machine ({a.check}): run with --update first",
                 1)
    feats = host_features(a.cvmm)
    tmpdir = tempfile.TemporaryDirectory(prefix="cvmm-conf-")
    tmp = tmpdir.name
    rows = []
    for t in cfg:
        flat = os.path.join(src, "x86", t["file"])
        timeout = float(re.sub(r"[^0-9.]", "", t.get("timeout", "90")) or 90)
        if a.timeout_cap:
            timeout = min(timeout, a.timeout_cap)
        cvmm_args, why, notes, qemu_args, qemu_cpu = translate(t, feats)
        row = {"name": t["name"], "why_not": why, "notes": notes, "timeout": timeout}
        skip = skip_reason(t, flat)
        if skip:
            # a failed check keeps the translation's reason first, as the table had it
            row["why_not"] = (row["why_not"] or skip) if skip.startswith("check") else skip
            row["cvmm"] = row["qemu"] = None
            rows.append(row)
            continue
        row["cvmm"] = None
        if cvmm_args is not None:
            m = os.path.join(tmp, t["name"] + ".json")
            row["cvmm"] = run_one([a.cvmm, "run", "--kernel", flat, *cvmm_args, "--debug-exit",
                                   "0xf4", "--no-reboot", "--metrics", m], timeout, m)
            if row["cvmm"]["status"] == 2:  # refused as input: the translation asked too much
                row["why_not"] = "cvmm refused it: " + row["cvmm"]["err"]
                row["cvmm"] = None
        # A PVM-style host's KVM refuses MSR 0x10a, on which plain -cpu host (or max) aborts.
        if qemu_cpu is None:
            qemu_args += ["-cpu", "host,-arch-capabilities"]
        elif qemu_cpu.split(",")[0] in ("host", "max"):
            qemu_args = [x + ",-arch-capabilities" if x == qemu_cpu else x for x in qemu_args]
        row["qemu"] = None if a.no_qemu else run_one(
            [a.qemu, "-enable-kvm", "-nodefaults", "-vga", "none", "-display", "none", "-serial",
             "stdio", "--no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
             *qemu_args, "-kernel", flat], timeout)
        rows.append(row)
        secs = " ".join(f"{x['seconds']:.1f}s" for x in (row["cvmm"], row["qemu"]) if x)
        print(f"  {t['name']}: cvmm {cell(row['cvmm'])} | QEMU {cell(row['qemu'])} ({secs})",
              flush=True)

    exp_path = a.check or a.update
    exp = read_expect(exp_path) if exp_path else {}
    lines = [f"kvm-unit-tests under cvmm and QEMU, machine kind {kind}, "
             f"timeouts capped at {a.timeout_cap:g} s",
             "", "| test | cvmm P/F/S outcome | QEMU P/F/S outcome | why they differ |",
             "|---|---|---|---|"]
    regressions = []
    for r in rows:
        c, q = r["cvmm"], r["qemu"]
        why = []
        if r["why_not"]:
            why.append("not run under cvmm: " + r["why_not"])
        why += r["notes"]
        e = exp.get(r["name"])
        if e and e["reason"]:
            why.append(e["reason"])
        if c and q and (c["outcome"], c["pass"], c["fail"]) != (q["outcome"], q["pass"],
                                                                 q["fail"]) and not (e and
                                                                                     e["reason"]):
            why.append("UNEXPLAINED")
        if c and c["outcome"] == "VMM" and c.get("why_vmm"):
            why.append("cvmm: " + c["why_vmm"].removeprefix("cvmm: "))
        lines.append(f"| {r['name']} | {cell(c)} | {cell(q)} | {'; '.join(why)} |")
        if a.check and c and e and worse(c, e):
            regressions.append(f"{r['name']}: {cell(c)}, recorded {e['pass']}/{e['fail']}/"
                               f"{e['skip']} {e['outcome']}")
    lines += ["", "Failures and skips (first four of each run), and the last line of a run that "
              "timed out:", ""]
    for r in rows:
        for vmm in ("cvmm", "qemu"):
            x = r[vmm]
            if x and (x["fails"] or x["outcome"] == "TIMEOUT"):
                extra = [f"last line: {x['last']}"] if x["outcome"] == "TIMEOUT" else []
                lines.append(f"- {r['name']} ({'cvmm' if vmm == 'cvmm' else 'QEMU'}): " +
                             "; ".join([f[:100] for f in x["fails"]] + extra))
    text = "\n".join(lines)
    expect = [f"# kvm-unit-tests under cvmm on a {kind} machine: test outcome pass fail skip "
              "# why not all pass"]
    for r in rows:
        c = r["cvmm"]
        if c:
            old = exp.get(r["name"], {}).get("reason", "")
            expect.append(f"{r['name']} {c['outcome']} {c['pass']} {c['fail']} {c['skip']}"
                          f"  # {old}")
    if a.suite_dir:  # inside the nested VM: the outer run writes the files
        print("=== TABLE\n" + text + "\n=== EXPECT\n" + "\n".join(expect) + "\n=== END")
    else:
        print(text)
        write_outputs(a, text, expect)
    if regressions:
        print("conformance: cvmm does worse than recorded in " + a.check + ":\n  " +
              "\n  ".join(regressions), file=sys.stderr)
        return 1
    return 0


def write_outputs(a, text, expect):
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")
    if a.update:
        with open(a.update, "w") as f:
            f.write("\n".join(expect) + "\n")


def nested(a, src):
    """The same run inside tools/nested-kvm.sh (KVM with hardware-virtualization semantics)."""
    gdir = os.path.join(os.path.dirname(os.path.abspath(a.cvmm)), "guest")
    if subprocess.run([os.path.join(ROOT, "tools", "fetch-kernel.sh"), gdir],
                      capture_output=True).returncode:
        fail("fetching the nested VM's kernel failed", 1)
    qemu = subprocess.run(["sh", "-c", f"command -v {a.qemu}"], capture_output=True,
                          text=True).stdout.strip()
    files = [os.path.abspath(a.cvmm), os.path.join(src, "x86"), os.path.abspath(__file__)]
    if qemu and not a.no_qemu:
        files += [qemu, "/usr/share/qemu", "/usr/share/seabios"]
    inner = ["python3", os.path.abspath(__file__), "--suite-dir", src, "--cvmm",
             os.path.abspath(a.cvmm), "--kind", "nested", "--timeout-cap", str(a.timeout_cap)]
    if a.tests:
        inner += ["--tests", a.tests]
    for k in ("check", "update"):  # the expectations, read inside
        v = getattr(a, k)
        if v and os.path.exists(v):
            inner += ["--check" if k == "check" else "--update", os.path.abspath(v)]
            files.append(os.path.abspath(v))
    if a.ci:
        inner.append("--ci")
    if a.no_qemu:
        inner.append("--no-qemu")
    if a.surface:
        inner.append("--surface")
    env = dict(os.environ, NESTED_TIMEOUT=os.environ.get("NESTED_TIMEOUT", "3000"))
    cmd = [os.path.join(ROOT, "tools", "nested-kvm.sh"), gdir, *files, "--", "env",
           "CVMM_TEST_ENV=nested-tcg", *inner]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True, errors="replace")
    block, blocks = None, {"TABLE": [], "EXPECT": []}
    for line in p.stdout:
        line = line.rstrip("\r\n")
        if line in ("=== TABLE", "=== EXPECT", "=== END"):
            block = line[4:] if line != "=== END" else None
            continue
        if block:
            blocks[block].append(line)
        print(line, flush=True)
    rc = p.wait()
    if blocks["TABLE"]:
        write_outputs(a, "\n".join(blocks["TABLE"]), blocks["EXPECT"])
    elif rc == 0:
        rc = 1  # the nested run printed no table
    return rc


if __name__ == "__main__":
    sys.exit(main())
