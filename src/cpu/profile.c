/* SPDX-License-Identifier: MIT */
/* Profiles: building the guest's table from a source table. */
#include <assert.h>
#include <string.h>

#include "cpu/tdx_rules.h"
#include "cvmm/profile.h"
#include "cvmm/xsave.h"

static const char RULE_TOPO[] = "host.topology";
static const char RULE_HV[] = "host.hypervisor-bit";
static const char RULE_CR4[] = "host.cr4-dynamic";
static const char RULE_NORM[] = "normalise.xstate";
static const char RULE_FEAT[] = "features.remove";

static int apply_host(struct cvmm_cpuid_table *t, const struct cvmm_model_opts *opts,
                      const struct cvmm_model_names *names, struct cvmm_model_result *res,
                      struct cvmm_err *err);
static int apply_tdx(struct cvmm_cpuid_table *t, const struct cvmm_model_opts *opts,
                     const struct cvmm_model_names *names, struct cvmm_model_result *res,
                     struct cvmm_err *err);

static const struct cvmm_profile_desc profiles[CVMM_NPROFILES] = {
    [CVMM_PROFILE_NONE] = {.id = CVMM_PROFILE_NONE, .name = "none"},
    [CVMM_PROFILE_HOST] =
        {
            .id = CVMM_PROFILE_HOST,
            .name = "host",
            .apply = apply_host,
            .parseable = true,
            .runnable = true,
            .reconcile = true,
        },
    [CVMM_PROFILE_TDX] =
        {
            .id = CVMM_PROFILE_TDX,
            .name = "tdx",
            .apply = apply_tdx,
            .needs_full_table = true,
            .parseable = true,
            .runnable = true,
            .confidential = true,
            .msr_default_deny = true,
            .needs_enforced_cpuid = true,
            .tdx_constraints = true,
        },
};
static_assert(CVMM_PROFILE_TDX + 1 == CVMM_NPROFILES, "one row per profile");

const struct cvmm_profile_desc *cvmm_profile_get(enum cvmm_profile p)
{
        return (unsigned)p < CVMM_NPROFILES ? &profiles[p] : NULL;
}

int cvmm_profile_parse(const char *name, enum cvmm_profile *out, struct cvmm_err *err)
{
        for (size_t i = 0; i < CVMM_NPROFILES; i++) {
                if (profiles[i].parseable && strcmp(name, profiles[i].name) == 0) {
                        *out = profiles[i].id;
                        return 0;
                }
        }
        return cvmm_errf(err, "unknown profile '%s' (expected host or tdx)", name);
}

const char *cvmm_profile_name(enum cvmm_profile p)
{
        const struct cvmm_profile_desc *d = cvmm_profile_get(p);
        return d ? d->name : "none";
}

static bool vendor_is(const struct cvmm_cpuid_table *t, const char *v)
{
        const struct cvmm_cpuid_entry *e = cvmm_cpuid_get(t, 0, 0);
        if (!e)
                return false;
        char s[12];
        memcpy(s, &e->regs[CVMM_EBX], 4);
        memcpy(s + 4, &e->regs[CVMM_EDX], 4);
        memcpy(s + 8, &e->regs[CVMM_ECX], 4);
        return memcmp(s, v, 12) == 0;
}

bool cvmm_cpuid_is_intel(const struct cvmm_cpuid_table *t)
{
        return vendor_is(t, "GenuineIntel");
}

bool cvmm_cpuid_is_amd(const struct cvmm_cpuid_table *t)
{
        return vendor_is(t, "AuthenticAMD") || vendor_is(t, "HygonGenuine");
}

/* Number of bits needed to hold n distinct IDs (0 for n == 1). */
static unsigned id_bits(unsigned n)
{
        unsigned b = 0;
        while ((1u << b) < n)
                b++;
        return b;
}

static int set(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t sub, enum cvmm_reg r, uint32_t v)
{
        return cvmm_cpuid_set_reg(t, leaf, sub, r, v, RULE_TOPO);
}

/* Sets a bit field [lo, lo+width) of an existing register. */
static int set_field(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t sub, enum cvmm_reg r,
                     unsigned lo, unsigned width, uint32_t v, const char *rule)
{
        if (!cvmm_cpuid_get(t, leaf, sub))
                return 0;
        uint32_t mask = (width >= 32 ? UINT32_MAX : ((1u << width) - 1)) << lo;
        uint32_t old = cvmm_cpuid_reg(t, leaf, sub, r);
        return cvmm_cpuid_set_reg(t, leaf, sub, r, (old & ~mask) | ((v << lo) & mask), rule);
}

/*
 * One package, `cpus` cores, one thread each, x2APIC IDs 0..cpus-1. The table is vCPU 0's;
 * per-vCPU fields (initial APIC ID, x2APIC ID) are set for each vCPU by cvmm_cpuid_for_vcpu.
 */
static int host_topology(struct cvmm_cpuid_table *t, unsigned cpus)
{
        unsigned shift = id_bits(cpus);
        uint32_t logical = cpus > 255 ? 255 : cpus;
        if (set_field(t, 1, 0, CVMM_EBX, 24, 8, 0, RULE_TOPO) ||
            set_field(t, 1, 0, CVMM_EBX, 16, 8, logical, RULE_TOPO) ||
            set_field(t, 1, 0, CVMM_EDX, 28, 1, cpus > 1, RULE_TOPO))
                return -1;
        if (cvmm_cpuid_is_intel(t)) {
                /* Leaf 4: cores per package - 1; caches per core, the last level shared. */
                for (uint32_t s = 0; s < 64; s++) {
                        const struct cvmm_cpuid_entry *e = cvmm_cpuid_get(t, 4, s);
                        if (!e || (e->regs[CVMM_EAX] & 0x1f) == 0)
                                continue;
                        unsigned level = e->regs[CVMM_EAX] >> 5 & 7;
                        uint32_t sharing = level >= 3 ? cpus - 1 : 0;
                        if (set_field(t, 4, s, CVMM_EAX, 26, 6, cpus - 1 > 63 ? 63 : cpus - 1,
                                      RULE_TOPO) ||
                            set_field(t, 4, s, CVMM_EAX, 14, 12, sharing, RULE_TOPO))
                                return -1;
                }
        }
        /* Extended topology (0xB and, when present, 0x1F): SMT level, core level, end. */
        static const uint32_t topo_leaves[] = {0xb, 0x1f};
        for (size_t i = 0; i < 2; i++) {
                uint32_t leaf = topo_leaves[i];
                if (!cvmm_cpuid_get(t, leaf, 0))
                        continue;
                /* Levels beyond the three this topology has go (walking down, a drop only
                 * moves entries already visited); the rest is overwritten. */
                for (size_t k = t->count; k-- > 0;) {
                        const struct cvmm_cpuid_entry *e = &t->entries[k];
                        if (e->leaf == leaf && e->subleaf > 2 &&
                            cvmm_cpuid_drop(t, e->leaf, e->subleaf, RULE_TOPO))
                                return -1;
                }
                if (set(t, leaf, 0, CVMM_EAX, 0) || set(t, leaf, 0, CVMM_EBX, 1) ||
                    set(t, leaf, 0, CVMM_ECX, 0x100) || set(t, leaf, 0, CVMM_EDX, 0) ||
                    set(t, leaf, 1, CVMM_EAX, shift) || set(t, leaf, 1, CVMM_EBX, cpus) ||
                    set(t, leaf, 1, CVMM_ECX, 0x201) || set(t, leaf, 1, CVMM_EDX, 0) ||
                    set(t, leaf, 2, CVMM_EAX, 0) || set(t, leaf, 2, CVMM_EBX, 0) ||
                    set(t, leaf, 2, CVMM_ECX, 2) || set(t, leaf, 2, CVMM_EDX, 0))
                        return -1;
        }
        if (cvmm_cpuid_is_amd(t)) {
                /* 0x80000008 ECX: ApicIdSize[15:12], NC[7:0] = cores - 1. */
                if (set_field(t, 0x80000008u, 0, CVMM_ECX, 0, 8, cpus - 1 > 255 ? 255 : cpus - 1,
                              RULE_TOPO) ||
                    set_field(t, 0x80000008u, 0, CVMM_ECX, 12, 4, shift, RULE_TOPO))
                        return -1;
                /* 0x8000001E: extended APIC ID 0, one thread per core, node 0. */
                if (cvmm_cpuid_get(t, 0x8000001eu, 0) &&
                    (set(t, 0x8000001eu, 0, CVMM_EAX, 0) || set(t, 0x8000001eu, 0, CVMM_EBX, 0) ||
                     set(t, 0x8000001eu, 0, CVMM_ECX, 0)))
                        return -1;
        }
        return 0;
}

/* `cpus_name` is what messages call the vCPU count. */
static int host_profile(struct cvmm_cpuid_table *t, unsigned cpus, const char *cpus_name,
                        struct cvmm_err *err)
{
        if (cpus > 255 && cvmm_cpuid_get(t, 1, 0) && !cvmm_cpuid_bit(t, 1, 0, CVMM_ECX, 21))
                return cvmm_errf(err,
                                 "%s %u: more than 255 vCPUs need x2APIC, which this table "
                                 "does not advertise",
                                 cpus_name, cpus);
        if (cvmm_cpuid_get(t, 1, 0) &&
            cvmm_cpuid_set_reg(t, 1, 0, CVMM_ECX, cvmm_cpuid_reg(t, 1, 0, CVMM_ECX) | 1u << 31,
                               RULE_HV))
                return cvmm_errf(err, "out of memory");
        /* OSXSAVE and OSPKE mirror the guest's CR4, which starts clear; KVM updates them. */
        if (cvmm_cpuid_clear_bits(t, 1, 0, CVMM_ECX, 1u << 27, RULE_CR4) ||
            cvmm_cpuid_clear_bits(t, 7, 0, CVMM_ECX, 1u << 4, RULE_CR4))
                return cvmm_errf(err, "out of memory");
        if (host_topology(t, cpus))
                return cvmm_errf(err, "out of memory");
        return 0;
}

static int apply_host(struct cvmm_cpuid_table *t, const struct cvmm_model_opts *opts,
                      const struct cvmm_model_names *names, struct cvmm_model_result *res,
                      struct cvmm_err *err)
{
        (void)res;
        return host_profile(t, opts->cpus, names->cpus, err);
}

static int apply_tdx(struct cvmm_cpuid_table *t, const struct cvmm_model_opts *opts,
                     const struct cvmm_model_names *names, struct cvmm_model_result *res,
                     struct cvmm_err *err)
{
        (void)names;
        if (cvmm_tdx_apply(t, opts->cpus, &res->xfam))
                return cvmm_errf(err, "out of memory");
        res->not_intel = !cvmm_cpuid_is_intel(t);
        return 0;
}

struct cvmm_model_names cvmm_model_names_or_default(const struct cvmm_model_names *given)
{
        struct cvmm_model_names n = {
            .cpus = "cpus", .profile = "profile", .xcr0 = "XCR0", .xss = "XSS"};
        if (given && given->cpus)
                n.cpus = given->cpus;
        if (given && given->profile)
                n.profile = given->profile;
        if (given && given->xcr0)
                n.xcr0 = given->xcr0;
        if (given && given->xss)
                n.xss = given->xss;
        return n;
}

int cvmm_model_build(struct cvmm_cpuid_table *t, const struct cvmm_model_opts *opts,
                     struct cvmm_model_result *res, struct cvmm_err *err)
{
        *res = (struct cvmm_model_result){0};
        struct cvmm_model_names names = cvmm_model_names_or_default(opts->names);
        if (opts->cpus < 1 || opts->cpus > CVMM_MAX_CPUS)
                return cvmm_errf(err, "%s %u: must be 1 to %u", names.cpus, opts->cpus,
                                 CVMM_MAX_CPUS);
        const struct cvmm_profile_desc *desc = cvmm_profile_get(opts->profile);
        if (!desc)
                return cvmm_errf(err, "%s %d: no such profile", names.profile, (int)opts->profile);
        if (desc->needs_full_table && t->partial)
                return cvmm_errf(err,
                                 "%s %s: the source is a partial table (leaves 0, 1, 7 and 0xD "
                                 "are needed to apply its rules)",
                                 names.profile, desc->name);
        if (desc->apply && desc->apply(t, opts, &names, res, err))
                return -1;
        for (size_t i = 0; i < opts->remove.count; i++)
                if (cvmm_feature_remove(t, opts->remove.items[i], RULE_FEAT))
                        return cvmm_errf(err, "out of memory");
        if (desc->apply && cvmm_normalise_xstate(t, RULE_NORM))
                return cvmm_errf(err, "out of memory");

        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(t, &l);
        res->xcr0 = opts->have_xcr0 ? opts->xcr0 : l.xcr0_supported;
        res->xss = opts->have_xss ? opts->xss : l.xss_supported;
        if (!cvmm_xsave_layout_fits(&l))
                return cvmm_errf(err, "leaf 0xD: component offsets and sizes add up to more than "
                                      "32 bits: not a layout any CPU can have");
        /* The default must pass XSETBV too (a profile guarantees it; a raw table may not). */
        if ((opts->have_xcr0 || (l.xcr0_supported & 1)) &&
            cvmm_xsave_validate_xcr0(&l, res->xcr0, opts->have_xcr0 ? names.xcr0 : "default XCR0",
                                     err))
                return -1;
        if (opts->have_xss && cvmm_xsave_validate_xss(&l, res->xss, names.xss, err))
                return -1;
        if (cvmm_xsave_derive(t, res->xcr0, res->xss))
                return cvmm_errf(err, "out of memory");
        return 0;
}
