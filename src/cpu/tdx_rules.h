/* SPDX-License-Identifier: MIT */
/* The TDX module's CPUID virtualization table, generated from data/ by tools/tsv2c.py. */
#ifndef CVMM_TDX_RULES_H
#define CVMM_TDX_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CVMM_TDX_ANY_SUBLEAF UINT32_MAX

struct cvmm_tdx_cpuid_rule {
        uint32_t leaf;
        uint32_t subleaf; /* CVMM_TDX_ANY_SUBLEAF: the leaf has no subleaves */
        bool faulting;    /* CPUID raises #VE: a Linux TD then sees zeros */
        uint32_t fixed1[4];
        uint32_t fixed0_or_dynamic[4];
        uint32_t config_direct[4];
        uint32_t allow_direct[4];
};

extern const struct cvmm_tdx_cpuid_rule cvmm_tdx_cpuid_rules[];
extern const size_t cvmm_tdx_cpuid_rules_count;

/* Applies the TDX rules to t (see profile_tdx.c); returns the XFAM chosen through *xfam. */
struct cvmm_cpuid_table;
int cvmm_tdx_apply(struct cvmm_cpuid_table *t, unsigned cpus, uint64_t *xfam);

#endif
