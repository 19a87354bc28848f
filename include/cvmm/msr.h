/* SPDX-License-Identifier: MIT */
/*
 * MSR policy: for a profile, what happens to each guest RDMSR/WRMSR. Pure data and lookups, no
 * KVM: the VMM turns the policy into a KVM MSR filter and an exit handler.
 *
 *   native    KVM handles it in the kernel (allowed by the filter: the fast path)
 *   emulated  cvmm answers from its emulation table (fixed value, or write ignored)
 *   gp        the guest gets #GP (counted, not warned)
 *   unknown   nobody implements it: the --unknown-msr policy decides (#GP, or read 0 and
 *             drop the write) and confidential profiles log a rate-limited warning
 *
 * The tdx profile follows the TDX module's MSR table (data/tdx-msr-virtualization.tsv):
 * FIXED_0 and enabled DYN_* rows are native, GP rows #GP, VE rows and every unlisted MSR go to
 * the emulation table and otherwise are unknown. The host profile leaves everything KVM
 * implements to KVM; only what KVM does not know reaches cvmm, and that is unknown.
 *
 * Errors (cvmm/err.h): none; every function here is a lookup that cannot fail.
 */
#ifndef CVMM_MSR_H
#define CVMM_MSR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmm/cpuid.h"
#include "cvmm/profile.h"

enum cvmm_tdx_bitmap {
        CVMM_TDX_FIXED_0,
        CVMM_TDX_FIXED_1,
        CVMM_TDX_DYN_PERFMON,
        CVMM_TDX_DYN_XFAM_CET,
        CVMM_TDX_DYN_XFAM_PT,
        CVMM_TDX_DYN_XFAM_ULI,
        CVMM_TDX_DYN_XFAM_LBR,
        CVMM_TDX_DYN_UMWAIT,
        CVMM_TDX_DYN_XFD,
        CVMM_TDX_DYN_PKS,
        CVMM_TDX_DYN_TSX,
        CVMM_TDX_DYN_OTHER,
};
enum cvmm_tdx_action {
        CVMM_TDX_FATAL_ERROR,
        CVMM_TDX_GP,
        CVMM_TDX_VE,
        CVMM_TDX_OTHER,
        CVMM_TDX_GP_OR_VE,
};
struct cvmm_tdx_msr_row {
        const char *name;
        uint32_t first, last;
        uint8_t read_bitmap, read_action, write_bitmap, write_action;
};
extern const struct cvmm_tdx_msr_row cvmm_tdx_msr_rows[]; /* sorted, disjoint */
extern const size_t cvmm_tdx_msr_rows_count;

enum cvmm_msr_class { CVMM_MSR_NATIVE, CVMM_MSR_EMULATED, CVMM_MSR_GP, CVMM_MSR_UNKNOWN };

/* Which DYN_* rows a TD with this CPUID table runs natively (bit per enum cvmm_tdx_bitmap). */
struct cvmm_msr_env {
        uint32_t dyn_enabled;
};
void cvmm_msr_env_from_cpuid(struct cvmm_msr_env *env, const struct cvmm_cpuid_table *t);

struct cvmm_msr_decision {
        enum cvmm_msr_class cls;
        const char *name;    /* the MSR's name when known, else NULL */
        const char *reason;  /* why it is in this class */
        uint64_t read_value; /* emulated reads */
        bool read_gp;        /* emulated: reads get #GP (write-only MSR) */
};

/* Classifies one access. */
void cvmm_msr_classify(enum cvmm_profile p, const struct cvmm_msr_env *env, uint32_t index,
                       bool write, struct cvmm_msr_decision *d);

/* cvmm's emulation table, in index order (for `cvmm msr show` and the tests). */
struct cvmm_msr_emulated {
        uint32_t first, last;
        const char *name;
        uint64_t read_value;
        bool read_gp;
        const char *reason;
};
extern const struct cvmm_msr_emulated cvmm_msr_emulated[];
extern const size_t cvmm_msr_emulated_count;

/*
 * MSRs every profile leaves to KVM (the local APIC, its timer, KVM's paravirtual MSRs), in the
 * order cvmm_msr_classify checks them.
 */
struct cvmm_msr_kvm_owned {
        uint32_t first, last;
        const char *name, *reason;
        bool listed; /* `cvmm msr show --profile tdx` lists it as a row of its own */
};
extern const struct cvmm_msr_kvm_owned cvmm_msr_kvm_owned[];
extern const size_t cvmm_msr_kvm_owned_count;

const char *cvmm_msr_class_name(enum cvmm_msr_class c);

#endif
