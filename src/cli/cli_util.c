/* SPDX-License-Identifier: MIT */
/* What every subcommand shares: the error line, stdout, and the parsers of common values. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define CLI_MAX_SIZE (1ull << 40) /* the largest SIZE a flag takes: 1T */

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

const char *cli_opt_name(const struct option *opts, int val)
{
        for (; opts->name; opts++)
                if (opts->val == val)
                        return opts->name;
        return "?";
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

int cli_parse_size(const char *flag, const char *s, uint64_t *out, struct cvmm_err *err)
{
        char *end;
        errno = 0;
        if (s[0] < '0' || s[0] > '9')
                return cvmm_errf(err, "%s '%s': expected a size such as 256M or 4G", flag, s);
        unsigned long long v = strtoull(s, &end, 10);
        unsigned shift = 0;
        switch (*end) {
        case 'k':
        case 'K':
                shift = 10;
                end++;
                break;
        case 'm':
        case 'M':
                shift = 20;
                end++;
                break;
        case 'g':
        case 'G':
                shift = 30;
                end++;
                break;
        case 't':
        case 'T':
                shift = 40;
                end++;
                break;
        case '\0':
                break;
        default:
                return cvmm_errf(err, "%s '%s': expected a size such as 256M or 4G", flag, s);
        }
        if (*end == 'i' || *end == 'B' || *end == 'b')
                end += (*end == 'i' && (end[1] == 'B' || end[1] == 'b')) ? 2 : 1;
        if (*end || errno || v > (CLI_MAX_SIZE >> shift))
                return cvmm_errf(err, "%s '%s': expected a size such as 256M or 4G (at most 1T)",
                                 flag, s);
        *out = (uint64_t)v << shift;
        return 0;
}

int cli_parse_count(const char *flag, const char *s, uint32_t max, uint32_t *out,
                    struct cvmm_err *err)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || *end || s[0] < '0' || s[0] > '9' || v < 1 || v > max)
                return cvmm_errf(err, "%s '%s': expected a number from 1 to %u", flag, s, max);
        *out = (uint32_t)v;
        return 0;
}

int cli_parse_cpu_index(const char *s, unsigned *out, struct cvmm_err *err)
{
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || *end || s[0] < '0' || s[0] > '9' || v > CLI_MAX_CPU_INDEX)
                return cvmm_errf(err,
                                 "--cpu '%s': expected a CPU of the dump, a number from 0 to %u", s,
                                 CLI_MAX_CPU_INDEX);
        *out = (unsigned)v;
        return 0;
}

int cli_flag_error(struct cvmm_err *err, const char *flag)
{
        struct cvmm_err e = *err;
        return cvmm_errf(err, "%s: %s", flag, e.msg);
}

const struct cvmm_model_names cli_model_names = {
    .cpus = "--cpus", .profile = "--profile", .xcr0 = "--xcr0", .xss = "--xss"};
