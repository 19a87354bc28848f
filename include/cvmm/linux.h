/* SPDX-License-Identifier: MIT */
/*
 * What a Linux guest's fpu__init_system_xstate() does with a CPUID table, line by line: the
 * features it enables, the XCR0/XSS it programs, the sizes it reads back and computes, and the
 * exact lines it prints. Modelled on Linux 6.1 (Debian 12's kernel, the one `make run` boots)
 * and 6.6. Pure: no KVM, no I/O.
 *
 * Errors (cvmm/err.h): cvmm_linux_version_parse returns 0 or -1 with one line in err; the model
 * itself cannot fail.
 */
#ifndef CVMM_LINUX_H
#define CVMM_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmm/cpuid.h"

enum cvmm_linux_version {
        CVMM_LINUX_6_1, /* Debian 12 */
        CVMM_LINUX_6_6,
};
/* The default: the kernel cvmm boots and tests against (Debian 12's 6.1). */
#define CVMM_LINUX_DEFAULT CVMM_LINUX_6_1

/* "6.1" / "6.6"; anything else is an error naming it. */
int cvmm_linux_version_parse(const char *s, enum cvmm_linux_version *v, struct cvmm_err *err);
const char *cvmm_linux_version_name(enum cvmm_linux_version v);

/* What the kernel enables before it checks any size. */
struct cvmm_linux_plan {
        bool xsave;        /* it takes the XSAVE path at all */
        uint64_t features; /* fpu_kernel_cfg.max_features */
        uint64_t xcr0;     /* programmed into XCR0 */
        uint64_t xss;      /* programmed into IA32_XSS while it reads 0xD.1 EBX */
        bool compacted;    /* XSAVEC or XSAVES */
};
void cvmm_linux_plan(const struct cvmm_cpuid_table *t, enum cvmm_linux_version v,
                     struct cvmm_linux_plan *p);

/*
 * CPUID 0xD.0 EBX and 0xD.1 EBX as the kernel reads them after programming the plan's
 * XCR0/XSS. Measured on the host where possible (the probe vCPU does exactly that); when not
 * measured, the architectural values for the table are assumed.
 */
struct cvmm_linux_runtime {
        bool measured;
        uint32_t d0_ebx, d1_ebx;
};

#define CVMM_LINUX_MAX_LINES 96
#define CVMM_LINUX_LINE      128

struct cvmm_linux_boot {
        struct cvmm_linux_plan plan;
        /* The lines the kernel prints during its XSAVE setup, in order (no timestamps). */
        char lines[CVMM_LINUX_MAX_LINES][CVMM_LINUX_LINE];
        size_t nlines;
        bool xsave_used;          /* XSAVE stays enabled */
        uint64_t features;        /* then: the xfeatures in use */
        uint32_t context_size;    /* then: fpu_kernel_cfg.max_size */
        uint32_t user_size;       /* 0xD.0 EBX as read */
        uint32_t kernel_size;     /* 0xD.1 EBX (compacted) or user_size */
        uint32_t computed_size;   /* the kernel's own size from the per-component subleaves */
        bool misordered;          /* "misordered xstate" */
        bool struct_mismatch;     /* a component's size differs from the kernel's struct */
        bool consistency_problem; /* "XSAVE consistency problem": XSAVE disabled */
        bool size_mismatch;       /* ... because computed_size != kernel_size */
        char verdict[200];        /* one line: consistent, or what goes wrong and why */
};

/*
 * Runs the model over t (the table the guest sees; its 0xD.0/0xD.1 EBX are replaced by rt's
 * values when rt->measured). Never fails.
 */
void cvmm_linux_predict(const struct cvmm_cpuid_table *t, enum cvmm_linux_version v,
                        const struct cvmm_linux_runtime *rt, struct cvmm_linux_boot *b);

/*
 * True when line is one of the kinds the model predicts (x86/fpu lines, struct-size warnings,
 * the leaf dump, consistency problems); for comparing a kernel's console with a prediction.
 */
bool cvmm_linux_line_modelled(const char *line);

#endif
