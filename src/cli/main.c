/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "vmm/vm.h"

void cli_error(const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* Input may carry control characters: the message stays one printable line. */
        fputs("cvmm: ", stderr);
        for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
                if (*p == '\n')
                        fputs("\\n", stderr);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(stderr, "\\x%02x", *p);
                else
                        fputc(*p, stderr);
        }
        fputc('\n', stderr);
}

int cli_getopt_fail(int c, char **argv, struct cvmm_err *err)
{
        if (c == ':')
                return cvmm_errf(err, "%s needs a value", argv[optind - 1]);
        if (optopt > 0 && optopt < 128)
                return cvmm_errf(err, "unknown option '-%c'", optopt);
        return cvmm_errf(err, "unknown option '%s'", argv[optind - 1]);
}

int cli_write(const char *s)
{
        size_t n = strlen(s);
        if (fwrite(s, 1, n, stdout) != n || fflush(stdout) != 0) {
                cli_error("writing output failed");
                return -1;
        }
        return 0;
}

static void usage(FILE *f)
{
        fputs("usage: cvmm cpuid show  [--from FILE] [--profile host|tdx] [--cpus N]\n"
              "                        [--features LIST] [--xcr0 HEX] [--xss HEX]\n"
              "                        [--format raw|json]\n"
              "       cvmm cpuid check [--from FILE] [--profile host|tdx] [--cpus N]\n"
              "                        [--features LIST] [--xcr0 HEX] [--xss HEX]\n"
              "                        [--format text|json]\n"
              "       cvmm cpuid diff  FILE_A FILE_B\n"
              "       cvmm run --kernel FILE [--initrd FILE] [--cmdline STRING] [--cpus N]\n"
              "                [--memory SIZE] [--profile host|tdx] [--features LIST]\n"
              "                [--no-reboot] [--metrics FILE] [--allow-unenforced-cpuid]\n"
              "                [--unknown-msr gp|ignore] [--msr-log-rate N] [--msr-log-burst N]\n"
              "                [--debug]\n"
              "       cvmm msr show [--profile host|tdx] [--from FILE]\n"
              "       cvmm --version | --help\n",
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
