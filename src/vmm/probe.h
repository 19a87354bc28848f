/* SPDX-License-Identifier: MIT */
/*
 * Does this host's KVM make a guest see the CPUID table it is given? A one-vCPU probe VM runs
 * CPUID for every entry of the table (plus a marker leaf) and the answers are compared with the
 * table and with this CPU's own CPUID, field by field.
 */
#ifndef CVMM_PROBE_H
#define CVMM_PROBE_H

#include <stdbool.h>

#include "cvmm/cpuid.h"
#include "cvmm/err.h"
#include "kvm/kvm.h"

struct probe_result {
        bool enforced;          /* every compared field equals the table */
        unsigned compared;      /* fields compared (dynamic fields excluded) */
        unsigned differ;        /* fields the guest saw differently from the table */
        unsigned differ_native; /* ... of which the guest saw this CPU's own value */
        bool marker_seen;       /* the probe's marker leaf came back */
        char example[200];      /* the first differing field, when any */
};

/* Whether (leaf, subleaf, reg) is a field KVM or the CPU computes at run time (mask, 0: none). */
uint32_t probe_dynamic_mask(uint32_t leaf, uint32_t subleaf, enum cvmm_reg reg);

/* Runs the probe against table t. Returns 0, or -1 when the host failed (err says what). */
int probe_cpuid(const struct kvm_host *h, const struct cvmm_cpuid_table *t,
                struct probe_result *out, struct cvmm_err *err);

#endif
