/* SPDX-License-Identifier: MIT */
#ifndef CVMM_CLI_H
#define CVMM_CLI_H

#include <getopt.h>
#include <stdint.h>

#include "cvmm/err.h"
#include "cvmm/profile.h"
#include "vmm/cpumodel.h"

/* Exit statuses shared by every subcommand (documented in the README). */
enum {
        EXIT_OK = 0,
        EXIT_FINDINGS = 1, /* check found errors; diff found differences; run: the guest faulted */
        EXIT_USAGE = 2,    /* bad input: flags, files, dumps, profiles */
        EXIT_HOST = 3,     /* the host could not provide something (e.g. no /dev/kvm) */
};

/* `cvmm cpuid ...`; argv[0] is "cpuid". Returns the exit status. */
int cli_cpuid(int argc, char **argv);
/* `cvmm msr show ...`; argv[0] is "msr". */
int cli_msr(int argc, char **argv);
/* `cvmm run ...`; argv[0] is "run"; t_start_ns is the process start (CLOCK_MONOTONIC). */
int cli_run(int argc, char **argv, uint64_t t_start_ns);
/*
 * The option parsing of `cvmm run` and of `cvmm cpuid show|check|diff|probe` (argv[0] the
 * subcommand) alone, as cli_run and cli_cpuid do it before anything else: 0, or -1 with the
 * message they would print. Opens no file and touches no device (for tests/fuzz).
 */
int cli_run_parse_only(int argc, char **argv, struct cvmm_err *err);
int cli_cpuid_parse_only(int argc, char **argv, struct cvmm_err *err);
/* Parses 256M, 4G, 1T...; err names flag. */
int cli_parse_size(const char *flag, const char *s, uint64_t *out, struct cvmm_err *err);
/* Parses a count from 1 to max for flag ("FLAG 'S': expected a number from 1 to MAX"). */
int cli_parse_count(const char *flag, const char *s, uint32_t max, uint32_t *out,
                    struct cvmm_err *err);
/* Prefixes err's message, a library's about a flag's value, with "<flag>: "; returns -1. */
int cli_flag_error(struct cvmm_err *err, const char *flag);
/* The CLI's flags, as cvmm_model_build's messages name the options. */
extern const struct cvmm_model_names cli_model_names;
/* The long name of the option whose getopt_long value is val in opts ("?" when none is). */
const char *cli_opt_name(const struct option *opts, int val);
/* The message for getopt_long's ':' (missing value) or '?' (unknown option) result c. */
int cli_getopt_fail(int c, char **argv, struct cvmm_err *err);
/* Prints "cvmm: <msg>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes s to stdout in one go; returns 0 or -1 (with a message) when stdout fails. */
int cli_write(const char *s);

struct vmm_host;
/*
 * Opens the process's KVM (vmm/host.h). On failure one line on stderr: cmd (when not NULL),
 * the reason, then open_hint. Returns EXIT_OK or EXIT_HOST.
 */
int cli_host_open(const char *cmd, const char *open_hint, struct vmm_host **h);
/*
 * The effective CPU model of vCPU 0 on this host for opts: KVM_GET_SUPPORTED_CPUID, the
 * profile, then the probe rounds (reconciled where the profile says so). On failure one line
 * on stderr prefixed with cmd. Returns EXIT_OK (m filled; free it with cpumodel_free),
 * EXIT_USAGE (the options do not fit this host's table) or EXIT_HOST. The probe runs where
 * site says (NULL: a VM of its own).
 */
int cli_host_model(const char *cmd, struct vmm_host *h, const struct cvmm_model_opts *opts,
                   enum cvmm_linux_version lv, const struct probe_site_src *site,
                   struct cpumodel *m);
/* The largest --cpu N: a CPU index of a dump, from 0 (more CPUs than any dump cvmm reads). */
#define CLI_MAX_CPU_INDEX 65535u
/* Parses --cpu's value: a decimal from 0 to CLI_MAX_CPU_INDEX ("--cpu 'S': expected ..."). */
int cli_parse_cpu_index(const char *s, unsigned *out, struct cvmm_err *err);
/*
 * The source table: CPU cpu (--cpu; -1 when not given: CPU 0) of the dump in from, or this
 * host's KVM_GET_SUPPORTED_CPUID (--cpu is refused then: KVM's table is no dump of CPUs). On
 * failure one line on stderr prefixed with cmd (when not NULL). Returns EXIT_OK, EXIT_USAGE
 * (a bad dump) or EXIT_HOST.
 */
int cli_source_table(const char *cmd, const char *from, long cpu, struct cvmm_cpuid_table *t);

#endif
