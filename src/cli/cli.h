/* SPDX-License-Identifier: MIT */
#ifndef CVMM_CLI_H
#define CVMM_CLI_H

/* Exit statuses shared by every subcommand (documented in the README). */
enum {
        EXIT_OK = 0,
        EXIT_FINDINGS = 1, /* check found errors; diff found differences */
        EXIT_USAGE = 2,    /* bad input: flags, files, dumps, profiles */
        EXIT_HOST = 3,     /* the host could not provide something (e.g. no /dev/kvm) */
};

/* `cvmm cpuid ...`; argv[0] is "cpuid". Returns the exit status. */
int cli_cpuid(int argc, char **argv);
/* Prints "cvmm: <msg>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes s to stdout in one go; returns 0 or -1 (with a message) when stdout fails. */
int cli_write(const char *s);

#endif
