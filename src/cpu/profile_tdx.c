/* SPDX-License-Identifier: MIT */
/*
 * The `tdx` profile: the CPUID surface an Intel TD sees, by the TDX module 1.5 rules in
 * data/tdx-cpuid-virtualization.tsv (see docs in ../shared/reference/tdx.md):
 *  1. start from the native (source) value; entries the table names but the source lacks
 *     start as zeros;
 *  2. clear fixed0_or_dynamic bits, set fixed1 bits; config_direct and allow_direct bits keep
 *     the source's value (cvmm asks for what the host has), except the logical processor
 *     count (1.EBX[23:16]), which is the VM's;
 *  3. XFAM = supported components & fixed-0 mask | fixed-1, groups all-or-none (AVX-512 with
 *     AVX, AMX, CET), PASID never; every component outside XFAM is removed with the features
 *     that need it;
 *  4. faulting leaves, and leaves the table does not name, raise #VE in a TD, and a Linux TD
 *     answers them with zeros (except the hypervisor range 0x40000000-0x4fffffff, which the
 *     VMM answers); leaves above the fixed maximum basic/extended leaf are dropped;
 *  5. leaf 0x21 (the "IntelTDX" signature) is never exposed: this VM is not a TD.
 */
#include "cpu/tdx_rules.h"
#include "cvmm/features.h"
#include "cvmm/profile.h"
#include "cvmm/xsave.h"

static const char R_FIXED0[] = "tdx.fixed0_or_dynamic";
static const char R_FIXED1[] = "tdx.fixed1";
static const char R_CONFIG[] = "tdx.config_direct";
static const char R_XFAM[] = "tdx.xfam";
static const char R_FAULT[] = "tdx.faulting-leaf-zero";
static const char R_ABSENT[] = "tdx.unlisted-leaf-zero";
static const char R_RANGE[] = "tdx.above-max-leaf";
static const char R_SIG[] = "tdx.no-leaf-0x21";

static const struct cvmm_tdx_cpuid_rule *find_rule(uint32_t leaf, uint32_t subleaf)
{
        for (size_t i = 0; i < cvmm_tdx_cpuid_rules_count; i++) {
                const struct cvmm_tdx_cpuid_rule *r = &cvmm_tdx_cpuid_rules[i];
                if (r->leaf == leaf &&
                    (r->subleaf == CVMM_TDX_ANY_SUBLEAF || r->subleaf == subleaf))
                        return r;
        }
        return NULL;
}

static int zero_entry(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t sub, const char *rule)
{
        for (int q = 0; q < CVMM_NREGS; q++)
                if (cvmm_cpuid_set_reg(t, leaf, sub, (enum cvmm_reg)q, 0, rule))
                        return -1;
        return 0;
}

static bool hypervisor_range(uint32_t leaf)
{
        return leaf >= 0x40000000u && leaf <= 0x4fffffffu;
}

/* 1: every entry the table names exists (leaf 0x21 excepted); absent ones start as zeros. */
static int add_named_entries(struct cvmm_cpuid_table *t)
{
        for (size_t i = 0; i < cvmm_tdx_cpuid_rules_count; i++) {
                const struct cvmm_tdx_cpuid_rule *r = &cvmm_tdx_cpuid_rules[i];
                uint32_t sub = r->subleaf == CVMM_TDX_ANY_SUBLEAF ? 0 : r->subleaf;
                if (r->leaf == 0x21 || cvmm_cpuid_get(t, r->leaf, sub))
                        continue;
                struct cvmm_cpuid_entry e = {
                    .leaf = r->leaf, .subleaf = sub, .flags = cvmm_cpuid_flags_for(r->leaf, sub)};
                if (cvmm_cpuid_put(t, &e))
                        return -1;
        }
        return 0;
}

/* 2: fixed0_or_dynamic bits cleared, fixed1 bits set, in every non-faulting named entry. */
static int apply_fixed_bits(struct cvmm_cpuid_table *t)
{
        for (size_t i = 0; i < t->count; i++) {
                struct cvmm_cpuid_entry e = t->entries[i];
                const struct cvmm_tdx_cpuid_rule *r = find_rule(e.leaf, e.subleaf);
                if (!r || r->faulting)
                        continue;
                for (int q = 0; q < CVMM_NREGS; q++) {
                        enum cvmm_reg reg = (enum cvmm_reg)q;
                        uint32_t v = e.regs[q] & ~r->fixed0_or_dynamic[q];
                        if (cvmm_cpuid_set_reg(t, e.leaf, e.subleaf, reg, v, R_FIXED0))
                                return -1;
                        v |= r->fixed1[q];
                        if (cvmm_cpuid_set_reg(t, e.leaf, e.subleaf, reg, v, R_FIXED1))
                                return -1;
                }
        }
        return 0;
}

/* The logical processor count (1.EBX[23:16]) is the VMM's to configure. */
static int set_logical_count(struct cvmm_cpuid_table *t, unsigned cpus)
{
        if (!cvmm_cpuid_get(t, 1, 0))
                return 0;
        uint32_t ebx = cvmm_cpuid_reg(t, 1, 0, CVMM_EBX);
        ebx = (ebx & ~0x00ff0000u) | (uint32_t)(cpus > 255 ? 255 : cpus) << 16;
        return cvmm_cpuid_set_reg(t, 1, 0, CVMM_EBX, ebx, R_CONFIG);
}

/* 4-5: #VE leaves read as zeros; out-of-range leaves and leaf 0x21 go. */
static int zero_or_drop_leaves(struct cvmm_cpuid_table *t)
{
        uint32_t max_basic = cvmm_cpuid_reg(t, 0, 0, CVMM_EAX);
        uint32_t max_ext = cvmm_cpuid_reg(t, 0x80000000u, 0, CVMM_EAX);
        for (size_t i = 0; i < t->count;) {
                struct cvmm_cpuid_entry e = t->entries[i];
                const char *rule = NULL;
                bool drop = false;
                if (e.leaf == 0x21) {
                        drop = true, rule = R_SIG;
                } else if (hypervisor_range(e.leaf)) {
                        i++;
                        continue;
                } else if ((e.leaf < 0x40000000u && e.leaf > max_basic) ||
                           (e.leaf >= 0x80000000u && e.leaf > max_ext) ||
                           (e.leaf > 0x4fffffffu && e.leaf < 0x80000000u)) {
                        drop = true, rule = R_RANGE;
                } else {
                        const struct cvmm_tdx_cpuid_rule *r = find_rule(e.leaf, e.subleaf);
                        if (!r)
                                rule = R_ABSENT;
                        else if (r->faulting)
                                rule = R_FAULT;
                }
                if (drop) {
                        if (cvmm_cpuid_drop(t, e.leaf, e.subleaf, rule))
                                return -1;
                        continue;
                }
                if (rule && zero_entry(t, e.leaf, e.subleaf, rule))
                        return -1;
                i++;
        }
        return 0;
}

/* 3: XFAM, then everything outside it goes, with the features that need it. */
static int apply_xfam(struct cvmm_cpuid_table *t, uint64_t *xfam_out)
{
        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(t, &l);
        uint64_t xfam =
            ((l.xcr0_supported | l.xss_supported) & CVMM_TDX_XFAM_FIXED0) | CVMM_TDX_XFAM_FIXED1;
        if ((xfam & CVMM_XSTATE_AVX512) != CVMM_XSTATE_AVX512 || !(xfam & 4))
                xfam &= ~CVMM_XSTATE_AVX512;
        if ((xfam & CVMM_XSTATE_AMX) != CVMM_XSTATE_AMX)
                xfam &= ~CVMM_XSTATE_AMX;
        if ((xfam & CVMM_XSTATE_CET) != CVMM_XSTATE_CET)
                xfam &= ~CVMM_XSTATE_CET;
        uint64_t outside = (l.xcr0_supported | l.xss_supported) & ~xfam & ~3ull;
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++)
                if (l.comp[n].listed && !(xfam >> n & 1))
                        outside |= 1ull << n;
        if (outside && cvmm_xstate_remove(t, outside, R_XFAM))
                return -1;
        *xfam_out = xfam;
        return 0;
}

/* The steps in the order the header comment numbers them, except XFAM (3), which comes last. */
int cvmm_tdx_apply(struct cvmm_cpuid_table *t, unsigned cpus, uint64_t *xfam_out)
{
        if (add_named_entries(t) || apply_fixed_bits(t) || set_logical_count(t, cpus) ||
            zero_or_drop_leaves(t) || apply_xfam(t, xfam_out))
                return -1;
        return 0;
}
