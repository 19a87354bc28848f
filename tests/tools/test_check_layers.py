#!/usr/bin/env python3
"""Self-test for tools/check-layers.py: small trees in a temporary directory, each checked by
running the script, asserting its exit status and its exact violation lines."""
import importlib.util
import io
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stdout
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "check-layers.py"

# A tree that follows the layering: each file includes its own layer and lower ones.
CLEAN = {
    "include/cvmm/err.h": "#pragma once\n",
    "include/cvmm/cpuid.h": '#include "cvmm/err.h"\n',
    "src/util/strbuf.h": '#include "cvmm/err.h"\n',
    "src/cpu/cpuid.c": '#include "cvmm/cpuid.h"\n#include "util/strbuf.h"\n',
    "src/kvm/kvm.h": '#include "cvmm/cpuid.h"\n',
    "src/hw/guestmem.h": '#include "kvm/kvm.h"\n',
    "src/boot/boot.h": '#include "hw/guestmem.h"\n#include <stdint.h>\n',
    "src/dev/devices.h": '#include "hw/guestmem.h"\n',
    "src/vmm/vm.h": '#include "boot/boot.h"\n#include "dev/devices.h"\n',
    "src/vmm/vm.c": '#include "vmm/vm.h"\n',
    "src/cli/main.c": '/* top */\n#include "vmm/vm.h"\n  #  include "cpu/cpuid.c"\n',
}
CLEAN_SUMMARY = "layers: 11 files, 13 includes, 0 violations"


class CheckLayers(unittest.TestCase):
    def run_tree(self, files, *args):
        """Writes CLEAN plus files (None removes one) into a temporary tree and checks it:
        returns (exit status, violation lines, summary line)."""
        tree = {**CLEAN, **files}
        with tempfile.TemporaryDirectory() as root:
            for path, text in tree.items():
                if text is not None:
                    (Path(root) / path).parent.mkdir(parents=True, exist_ok=True)
                    (Path(root) / path).write_text(text)
            r = subprocess.run([sys.executable, str(SCRIPT), "--root", root, *args],
                               capture_output=True, text=True)
        lines = r.stdout.splitlines()
        self.assertEqual(r.stderr, "")
        return r.returncode, lines[:-1], lines[-1]

    def test_clean(self):
        self.assertEqual(self.run_tree({}), (0, [], CLEAN_SUMMARY))

    def test_upward(self):
        status, lines, _ = self.run_tree({"src/kvm/kvm.h": '#include "cvmm/cpuid.h"\n'
                                                           '#include "vmm/vm.h"\n'})
        self.assertEqual((status, lines),
                         (1, ['src/kvm/kvm.h:2: kvm includes "vmm/vm.h" (vmm): upward']))

    def test_peer(self):
        status, lines, summary = self.run_tree({"src/boot/acpi.c": '#include "dev/devices.h"\n'})
        self.assertEqual((status, lines),
                         (1, ['src/boot/acpi.c:1: boot includes "dev/devices.h" (dev): peer']))
        self.assertEqual(summary, "layers: 12 files, 14 includes, 1 violations")

    def test_forbidden(self):
        # Below the CLI, but not for it: KVM and the VM's insides.
        status, lines, _ = self.run_tree({"src/cli/main.c": '#include "kvm/kvm.h"\n'
                                                            '#include "vmm/vm_impl.h"\n'
                                                            '#include "vmm/vm.h"\n'})
        self.assertEqual((status, lines), (1, [
            'src/cli/main.c:1: cli includes "kvm/kvm.h" (kvm): the CLI reaches KVM only '
            'through the VMM (vmm/host.h)',
            'src/cli/main.c:2: cli includes "vmm/vm_impl.h" (vmm): the VM is opaque outside '
            'the VMM']))

    def test_mutual(self):
        # Two layers including each other: the upward half is the violation.
        status, lines, _ = self.run_tree({"src/hw/guestmem.h": '#include "boot/boot.h"\n'})
        self.assertEqual((status, lines),
                         (1, ['src/hw/guestmem.h:1: hw includes "boot/boot.h" (boot): upward']))

    def test_public_header_includes_src(self):
        status, lines, _ = self.run_tree({"include/cvmm/cpuid.h": '#include "cvmm/err.h"\n'
                                                                  '#include "util/strbuf.h"\n'})
        self.assertEqual((status, lines), (1, [
            'include/cvmm/cpuid.h:2: include/cvmm includes "util/strbuf.h" (util): upward']))

    def test_unknown_layer(self):
        status, lines, _ = self.run_tree({"src/boot/acpi.c": '#include "dsdt_aml.h"\n'
                                                             '#include "gen/tdx.h"\n'})
        self.assertEqual((status, lines), (1, [
            'src/boot/acpi.c:1: boot includes "dsdt_aml.h" (?): unknown layer',
            'src/boot/acpi.c:2: boot includes "gen/tdx.h" (?): unknown layer']))

    def test_allow_list(self):
        spec = importlib.util.spec_from_file_location("check_layers", SCRIPT)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mod.ALLOW = {"dsdt_aml.h": "generated"}
        with tempfile.TemporaryDirectory() as root:
            (Path(root) / "src/boot").mkdir(parents=True)
            (Path(root) / "src/boot/acpi.c").write_text('#include "dsdt_aml.h"\n')
            out = io.StringIO()
            with redirect_stdout(out):
                status = mod.main(["--root", root])
        self.assertEqual((status, out.getvalue()),
                         (0, "layers: 1 files, 1 includes, 0 violations\n"))

    def test_usage(self):
        r = subprocess.run([sys.executable, str(SCRIPT), "--root", "/nonexistent/tree"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([sys.executable, str(SCRIPT), "--bogus"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stdout.splitlines()[2]), (0, "2: boot, dev (peers)"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
