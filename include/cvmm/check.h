/* SPDX-License-Identifier: MIT */
/*
 * The checker: every leaf 0xD consistency rule, and what a Linux guest would conclude.
 *
 * Errors (cvmm/err.h): cvmm_check fails only out of memory: -1, no message.
 */
#ifndef CVMM_CHECK_H
#define CVMM_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmm/cpuid.h"
#include "cvmm/profile.h"

enum cvmm_severity { CVMM_SEV_ERROR, CVMM_SEV_WARNING };

struct cvmm_finding {
        enum cvmm_severity severity;
        const char *rule; /* e.g. "xsave.ecx0-standard-size" */
        uint32_t leaf, subleaf;
        int reg;        /* enum cvmm_reg, or -1 when the finding is about a whole entry */
        int bit;        /* bit number, or -1 */
        char field[48]; /* e.g. "size", "AVX-512 group", "avx" */
        char expected[48];
        char actual[48];
        char message[224];
};

/* What a Linux guest (6.6 and later; 6.1 differences noted in the README) concludes. */
struct cvmm_linux_view {
        bool has_fpu;
        bool xsave_used;          /* XSAVE advertised and not disabled */
        uint64_t features;        /* xfeatures it enables (XCR0 | XSS) */
        bool compacted;           /* XSAVEC or XSAVES */
        uint32_t kernel_size;     /* the size it reads from CPUID */
        uint32_t computed_size;   /* its own ascending-walk computation */
        bool kernel_size_static;  /* kernel_size is the table's own value (same mask) */
        bool consistency_warning; /* prints "XSAVE consistency problem" and disables XSAVE */
        char disable_reason[160];
};

struct cvmm_check_report {
        struct cvmm_finding *findings;
        size_t count, capacity;
        const char *skipped[16]; /* rule families skipped on a partial table, with reasons */
        size_t nskipped;
        struct cvmm_linux_view linux_view;
        unsigned errors, warnings;
};

struct cvmm_check_opts {
        bool have_xcr0, have_xss; /* EBX fields are checked strictly only for given values */
        uint64_t xcr0, xss;
        bool tdx; /* also check the TDX profile's constraints */
        /* How advice names the XCR0/XSS options (only xcr0 and xss are read); may be NULL. */
        const struct cvmm_model_names *names;
};

/*
 * Runs every rule over t; findings are in a fixed order (rule, then leaf/subleaf/bit). Returns
 * 0, or -1 when out of memory (no message; the report is incomplete: free it, do not use it).
 */
int cvmm_check(const struct cvmm_cpuid_table *t, const struct cvmm_check_opts *opts,
               struct cvmm_check_report *r);
/* Frees the report's findings. */
void cvmm_check_report_free(struct cvmm_check_report *r);
/* "error" / "warning". */
const char *cvmm_severity_name(enum cvmm_severity s);

#endif
