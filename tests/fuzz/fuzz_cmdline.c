/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the CLI's option parsing. The input, split on NUL bytes, is an argv:
 * its first word picks the parser ("run": `cvmm run`'s, anything else: `cvmm cpuid`'s, with
 * that word as the subcommand), the rest are the arguments. cli_run_parse_only and
 * cli_cpuid_parse_only are exactly what cli_run and cli_cpuid call first; they open no file and
 * touch no device (--kernel, --from, --metrics are paths, opened only after parsing: not
 * covered here), and `cvmm msr show`'s inline parsing is not covered. A rejected argv must give
 * a one-line message.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

/*
 * The parsers start with optind = 1, which does not reset glibc's position inside a cluster
 * of short options ("-xyz") left by the previous call; optind = 0 does, so each input starts
 * from a clean getopt state and never points into the previous input's freed argv.
 */
static void reset_getopt(void)
{
        static char arg0[] = "x";
        static char *argv[] = {arg0, NULL};
        static const struct option none[] = {{NULL, 0, NULL, 0}};
        optind = 0;
        opterr = 0;
        while (getopt_long(1, argv, ":", none, NULL) != -1)
                ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *buf = malloc(size + 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = '\0';
        char *argv[MAX_ARGS + 1];
        int argc = 0;
        for (size_t i = 0; i <= size && argc < MAX_ARGS;) {
                argv[argc++] = buf + i;
                i += strlen(buf + i) + 1;
        }
        argv[argc] = NULL;
        struct cvmm_err err = {{0}};
        int rc;
        reset_getopt();
        if (strcmp(argv[0], "run") == 0)
                rc = cli_run_parse_only(argc, argv, &err);
        else
                rc = cli_cpuid_parse_only(argc, argv, &err);
        if (rc != 0 && (memchr(err.msg, '\n', sizeof(err.msg)) || err.msg[0] == '\0'))
                abort();
        free(buf);
        return 0;
}
