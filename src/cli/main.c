/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "vmm/vm.h"

static void usage(FILE *f)
{
        fputs("usage: cvmm cpuid show  [--from FILE [--cpu N]] [--profile host|tdx] [--cpus N]\n"
              "                        [--features LIST] [--xcr0 HEX] [--xss HEX]\n"
              "                        [--format raw|json]\n"
              "       cvmm cpuid check [--from FILE [--cpu N]] [--profile host|tdx] [--cpus N]\n"
              "                        [--features LIST] [--xcr0 HEX] [--xss HEX]\n"
              "                        [--format text|json]\n"
              "       cvmm cpuid diff  [--cpu N] FILE_A FILE_B\n"
              "       cvmm run --kernel FILE [--initrd FILE] [--cmdline STRING] [--cpus N]\n"
              "                [--memory SIZE] [--profile host|tdx] [--features LIST]\n"
              "                [--no-reboot] [--metrics FILE] [--allow-unenforced-cpuid]\n"
              "                [--unknown-msr gp|ignore] [--msr-log-rate N] [--msr-log-burst N]\n"
              "                [--debug] [--irqchip split|kernel] [--no-sandbox]\n"
              "       cvmm msr show [--profile host|tdx] [--from FILE [--cpu N]]\n"
              "       cvmm --version | --help\n"
              "--cpu N reads CPU N (from 0) of a `cpuid -r` dump of several CPUs, not the\n"
              "first; for diff one --cpu picks the same CPU of both files.\n",
              f);
}

int main(int argc, char **argv)
{
        uint64_t t_start = vm_now_ns();
        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                usage(stdout);
                return EXIT_OK;
        }
        if (strcmp(argv[1], "--version") == 0) {
                puts("cvmm " CVMM_VERSION);
                return EXIT_OK;
        }
        if (strcmp(argv[1], "msr") == 0)
                return cli_msr(argc - 1, argv + 1);
        if (strcmp(argv[1], "run") == 0)
                return cli_run(argc - 1, argv + 1, t_start);
        if (strcmp(argv[1], "cpuid") == 0)
                return cli_cpuid(argc - 1, argv + 1);
        cli_error("unknown command '%s' (try cvmm --help)", argv[1]);
        return EXIT_USAGE;
}
