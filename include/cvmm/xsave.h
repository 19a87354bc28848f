/* SPDX-License-Identifier: MIT */
/*
 * XSAVE state components as CPUID leaf 0xD enumerates them, and the two area sizes.
 *
 * Errors (cvmm/err.h): the validators return 0 or -1 with one line in err; cvmm_xsave_derive
 * fails only out of memory, -1 with no message.
 */
#ifndef CVMM_XSAVE_H
#define CVMM_XSAVE_H

#include <stdbool.h>
#include <stdint.h>

#include "cvmm/cpuid.h"

#define CVMM_XSAVE_LEGACY_SIZE 512u
#define CVMM_XSAVE_HEADER_SIZE 64u
#define CVMM_XSAVE_EXT_START   (CVMM_XSAVE_LEGACY_SIZE + CVMM_XSAVE_HEADER_SIZE) /* 576 */
#define CVMM_XSAVE_NCOMP       64

/* Groups that XCR0/XFAM enable all-or-none. */
#define CVMM_XSTATE_MPX    0x18ull    /* BNDREGS, BNDCSR */
#define CVMM_XSTATE_AVX512 0xe0ull    /* opmask, ZMM_Hi256, Hi16_ZMM */
#define CVMM_XSTATE_CET    0x1800ull  /* CET_U, CET_S */
#define CVMM_XSTATE_AMX    0x60000ull /* TILECFG, TILEDATA */

struct cvmm_xsave_comp {
        bool listed; /* subleaf n present in the table */
        uint32_t size;
        uint32_t offset;
        bool supervisor; /* ECX bit 0 */
        bool align64;    /* ECX bit 1 */
        bool xfd;        /* ECX bit 2 */
};

/* Leaf 0xD read into a per-component view. Components 0 and 1 live in the legacy region. */
struct cvmm_xsave_layout {
        uint64_t xcr0_supported; /* 0xD.0 EDX:EAX */
        uint64_t xss_supported;  /* 0xD.1 EDX:ECX */
        uint32_t d1_eax;         /* XSAVEOPT, XSAVEC, XGETBV1, XSAVES, XFD */
        struct cvmm_xsave_comp comp[CVMM_XSAVE_NCOMP];
};

/* Reads leaf 0xD of t (absent subleaves read as zero). */
void cvmm_xsave_layout_read(const struct cvmm_cpuid_table *t, struct cvmm_xsave_layout *l);

/* Standard-format size for mask: max(576, max over user components of offset + size). */
uint32_t cvmm_xsave_standard_size(const struct cvmm_xsave_layout *l, uint64_t mask);
/*
 * Compacted-format size for mask (XCR0 | XSS): from 576, components in ascending bit order,
 * each rounded up to 64 first when its align64 flag is set. The order is architectural.
 */
uint32_t cvmm_xsave_compacted_size(const struct cvmm_xsave_layout *l, uint64_t mask);

/* True when every listed component's end and the compacted total fit in 32 bits. */
bool cvmm_xsave_layout_fits(const struct cvmm_xsave_layout *l);

/* The documented architectural size of component n, or 0 when there is none. */
uint32_t cvmm_xsave_arch_size(unsigned n);
/* Short name of component n ("AVX", "TILEDATA", ...), or "component N" style fallback. */
const char *cvmm_xsave_comp_name(unsigned n);
/* The group mask containing component n (n's own bit when it is in no group). */
uint64_t cvmm_xsave_group(unsigned n);

/*
 * Validates an XCR0 value against the table the way XSETBV would (x87 set, AVX needs SSE,
 * AVX-512 needs AVX and all three, AMX both, only supported bits). Returns 0 or -1 with a
 * message calling the value `what`, the caller's name for it (the CLI passes "--xcr0").
 */
int cvmm_xsave_validate_xcr0(const struct cvmm_xsave_layout *l, uint64_t xcr0, const char *what,
                             struct cvmm_err *err);
/* Validates an IA32_XSS value: only supported supervisor bits. Messages call it `what`. */
int cvmm_xsave_validate_xss(const struct cvmm_xsave_layout *l, uint64_t xss, const char *what,
                            struct cvmm_err *err);

/*
 * Re-derives leaf 0xD's size fields from the per-component subleaves: 0xD.0 ECX (all supported
 * user components), 0xD.0 EBX (xcr0), 0xD.1 EBX (compacted, xcr0 | xss). The caller has
 * validated xcr0/xss. 0xD.1 EBX is written only with XSAVEC or XSAVES, as KVM does. Does
 * nothing when 0xD.0 does not list x87 (no XSAVE). Returns 0 or -1 on ENOMEM.
 */
int cvmm_xsave_derive(struct cvmm_cpuid_table *t, uint64_t xcr0, uint64_t xss);

#endif
