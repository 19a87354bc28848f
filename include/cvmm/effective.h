/* SPDX-License-Identifier: MIT */
/*
 * The effective CPU model: what a guest really sees, compared with what cvmm set and what KVM
 * returned, field by field; and reconciliation, which makes cvmm's table agree with what a host
 * forces on it instead of half-removing a feature the host will not hide. Pure: no KVM, no I/O.
 *
 * Errors (cvmm/err.h): cvmm_attribute and cvmm_reconcile fail only out of memory, -1 with no
 * message; the rest cannot fail.
 */
#ifndef CVMM_EFFECTIVE_H
#define CVMM_EFFECTIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmm/cpuid.h"

/*
 * Bits of (leaf, subleaf, reg) that KVM or the CPU compute at run time, so no table decides
 * them: the initial APIC ID (1.EBX[31:24]), OSXSAVE (1.ECX[27]) and OSPKE (7.0.ECX[4]), which
 * mirror CR4, the x2APIC IDs (0xB/0x1F EDX, 0x8000001E EAX) and the XSAVE sizes for the current
 * XCR0 and XCR0|XSS (0xD.0 EBX, 0xD.1 EBX). 0 when the field is static.
 */
uint32_t cvmm_cpuid_dynamic_mask(uint32_t leaf, uint32_t subleaf, enum cvmm_reg reg);

/*
 * The table of the vCPU whose APIC ID is apic_id, from the guest's table t (vCPU 0's, as a
 * profile builds it): the per-vCPU dynamic fields, initial APIC ID (1.EBX[31:24] = apic_id's
 * low byte), x2APIC ID (0xB/0x1F EDX, every subleaf) and extended APIC ID (0x8000001E EAX),
 * hold apic_id; every other field, and t's change trace, are copied unchanged, and out does
 * not trace. Returns 0, or -1 on ENOMEM with out left empty.
 */
int cvmm_cpuid_for_vcpu(const struct cvmm_cpuid_table *t, uint32_t apic_id,
                        struct cvmm_cpuid_table *out);

/*
 * What CPUID (leaf, subleaf) returns under KVM when table t has no entry for it and the leaf
 * is within range: zeros, except the topology leaves 0xB and 0x1F when t has their subleaf 1,
 * which answer the SDM's invalid-level pattern (ECX = the subleaf's low byte, EDX = subleaf
 * 1's x2APIC ID), as KVM's kvm_cpuid() does.
 */
void cvmm_cpuid_absent_regs(const struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf,
                            uint32_t regs[CVMM_NREGS]);

/* A static field in which two tables differ (cvmm_cpuid_static_diff). */
struct cvmm_static_diff {
        uint32_t leaf, subleaf;
        enum cvmm_reg reg;
        uint32_t a, b;     /* the field in each table (cvmm_cpuid_absent_regs where absent) */
        bool a_has, b_has; /* whether the table has the (leaf, subleaf) entry */
};

/*
 * Counts the static fields (outside cvmm_cpuid_dynamic_mask) in which tables a and b differ,
 * over every (leaf, subleaf) either holds; a table without an entry reads as KVM answers it
 * (cvmm_cpuid_absent_regs). The first difference, in a's order and then b's, is stored in
 * *first when first is not NULL. For example, the table cvmm set on a vCPU against what
 * KVM_GET_CPUID2 returned.
 */
unsigned cvmm_cpuid_static_diff(const struct cvmm_cpuid_table *a, const struct cvmm_cpuid_table *b,
                                struct cvmm_static_diff *first);

/* Who decided a field the guest sees differently from cvmm's table. */
enum cvmm_attr_source {
        CVMM_ATTR_KVM,   /* KVM rewrote it: KVM_GET_CPUID2 returns what the guest sees */
        CVMM_ATTR_GUEST, /* the guest sees a value that is neither cvmm's nor KVM_GET_CPUID2's */
};

struct cvmm_attr_field {
        uint32_t leaf, subleaf;
        enum cvmm_reg reg;
        uint32_t table; /* what cvmm set (cvmm_cpuid_absent_regs when it set no entry) */
        uint32_t kvm;   /* what KVM_GET_CPUID2 returned (likewise) */
        uint32_t guest; /* what the guest's CPUID returned */
        uint32_t mask;  /* the static bits compared */
        bool kvm_read;  /* KVM_GET_CPUID2 was read (kvm is meaningful) */
        bool guest_ran; /* guest is what a guest's CPUID returned, not KVM_GET_CPUID2 standing in */
        enum cvmm_attr_source source;
};

/* Every static field in which the guest's view differs from cvmm's table. */
struct cvmm_attribution {
        struct cvmm_attr_field *fields;
        size_t count, capacity;
        unsigned compared; /* fields compared */
};

/*
 * Compares, over every (leaf, subleaf) the guest was asked about (`seen`), the guest's answer
 * with cvmm's table and KVM's, outside the dynamic bits. `kvm` may be NULL (not read): then
 * every difference is attributed to the guest's view. `seen` may be `kvm` itself, when no guest
 * ran the table and KVM_GET_CPUID2 stands in for its view (fields then say so: guest_ran is
 * false). Returns 0, or -1 on ENOMEM (a left empty).
 */
int cvmm_attribute(const struct cvmm_cpuid_table *table, const struct cvmm_cpuid_table *kvm,
                   const struct cvmm_cpuid_table *seen, struct cvmm_attribution *a);
void cvmm_attribution_free(struct cvmm_attribution *a);

/*
 * One line for a field, naming the bits by feature where the feature table knows them
 * ("bitN" otherwise): "leaf 0x1.0 ecx: KVM forces +xsave +avx (cvmm set 0x81202000,
 * KVM_GET_CPUID2 and the guest: 0xf7f83203)". Registers that hold numbers show the guest's
 * value. Truncated to n; returns the length written.
 */
int cvmm_attr_describe(const struct cvmm_attr_field *f, char *buf, size_t n);

#define CVMM_RECONCILE_MAX_NAMES 96

/* Adds name to list (of *n, at most CVMM_RECONCILE_MAX_NAMES) unless it is there already. */
void cvmm_reconcile_note(const char **list, size_t *n, const char *name);

/* What one reconcile step changed in cvmm's table. */
struct cvmm_reconcile_report {
        bool changed;
        const char *restored[CVMM_RECONCILE_MAX_NAMES]; /* features forced on, put back */
        size_t nrestored;
        const char *removed[CVMM_RECONCILE_MAX_NAMES]; /* features forced off, taken out */
        size_t nremoved;
        unsigned other_bits;     /* forced bits no feature names, adopted as the guest sees */
        uint64_t comps_restored; /* XSAVE components restored from the source table */
        uint64_t comps_missing;  /* forced on, but the source table has no state for them */
        uint64_t comps_removed;  /* forced off */
};

/*
 * One reconcile step. Where the guest sees a static bit that `t` (cvmm's table) does not have,
 * the host forced it and cvmm cannot hide it: the bit is restored, and so are the XSAVE state
 * components the forced features need, with their sizes, offsets and flags taken from `source`
 * (never invented: a forced component the source lacks is reported in comps_missing). Where the
 * guest lacks a bit that `t` has, the feature and everything that depends on it are removed.
 * Leaf 0xD is then re-derived (every supported component enabled). Changes are traced under
 * "reconcile.forced-on" / "reconcile.forced-off". Returns 0, or -1 on ENOMEM (t must then be
 * freed).
 */
int cvmm_reconcile(struct cvmm_cpuid_table *t, const struct cvmm_cpuid_table *source,
                   const struct cvmm_cpuid_table *seen, struct cvmm_reconcile_report *rep);

#endif
