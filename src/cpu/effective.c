/* SPDX-License-Identifier: MIT */
/* The effective CPU model: attribution of what the guest sees, and reconciliation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmm/effective.h"
#include "cvmm/features.h"
#include "cvmm/xsave.h"

/* Who computes a dynamic field at run time. */
enum dynamic_source {
        DYN_APIC_ID, /* the vCPU's APIC ID: set per vCPU by cvmm_cpuid_for_vcpu */
        DYN_CR4,     /* mirrors a CR4 bit the guest sets */
        DYN_XCR0,    /* follows the guest's XCR0 / XCR0|XSS */
};

#define ANY_SUBLEAF UINT32_MAX

/*
 * The fields of a CPUID table that KVM or the CPU compute at run time: the one list behind
 * cvmm_cpuid_dynamic_mask and cvmm_cpuid_for_vcpu. An APIC ID field holds the ID shifted left
 * by `shift`, cut to `mask`.
 */
static const struct dynamic_field {
        uint32_t leaf;
        uint32_t subleaf; /* ANY_SUBLEAF: every subleaf */
        enum cvmm_reg reg;
        uint32_t mask;
        unsigned shift;
        enum dynamic_source source;
} dynamic_fields[] = {
    {0x1, ANY_SUBLEAF, CVMM_EBX, 0xff000000u, 24, DYN_APIC_ID},       /* initial APIC ID */
    {0x1, ANY_SUBLEAF, CVMM_ECX, 1u << 27, 0, DYN_CR4},               /* OSXSAVE */
    {0x7, 0, CVMM_ECX, 1u << 4, 0, DYN_CR4},                          /* OSPKE */
    {0xb, ANY_SUBLEAF, CVMM_EDX, 0xffffffffu, 0, DYN_APIC_ID},        /* x2APIC ID */
    {0xd, 0, CVMM_EBX, 0xffffffffu, 0, DYN_XCR0},                     /* size for XCR0 */
    {0xd, 1, CVMM_EBX, 0xffffffffu, 0, DYN_XCR0},                     /* for XCR0|XSS */
    {0x1f, ANY_SUBLEAF, CVMM_EDX, 0xffffffffu, 0, DYN_APIC_ID},       /* x2APIC ID */
    {0x8000001e, ANY_SUBLEAF, CVMM_EAX, 0xffffffffu, 0, DYN_APIC_ID}, /* extended APIC ID */
};

static bool field_in(const struct dynamic_field *f, uint32_t leaf, uint32_t subleaf)
{
        return f->leaf == leaf && (f->subleaf == ANY_SUBLEAF || f->subleaf == subleaf);
}

uint32_t cvmm_cpuid_dynamic_mask(uint32_t leaf, uint32_t subleaf, enum cvmm_reg reg)
{
        uint32_t mask = 0;
        for (size_t i = 0; i < sizeof(dynamic_fields) / sizeof(dynamic_fields[0]); i++)
                if (field_in(&dynamic_fields[i], leaf, subleaf) && dynamic_fields[i].reg == reg)
                        mask |= dynamic_fields[i].mask;
        return mask;
}

int cvmm_cpuid_for_vcpu(const struct cvmm_cpuid_table *t, uint32_t apic_id,
                        struct cvmm_cpuid_table *out)
{
        if (cvmm_cpuid_copy(out, t))
                return -1;
        out->trace = false;
        for (size_t i = 0; i < out->count; i++) {
                struct cvmm_cpuid_entry *e = &out->entries[i];
                for (size_t k = 0; k < sizeof(dynamic_fields) / sizeof(dynamic_fields[0]); k++) {
                        const struct dynamic_field *f = &dynamic_fields[k];
                        if (f->source != DYN_APIC_ID || !field_in(f, e->leaf, e->subleaf))
                                continue;
                        e->regs[f->reg] =
                            (e->regs[f->reg] & ~f->mask) | (apic_id << f->shift & f->mask);
                }
        }
        return 0;
}

void cvmm_cpuid_absent_regs(const struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf,
                            uint32_t regs[CVMM_NREGS])
{
        memset(regs, 0, sizeof(uint32_t) * CVMM_NREGS);
        const struct cvmm_cpuid_entry *one =
            leaf == 0xb || leaf == 0x1f ? cvmm_cpuid_get(t, leaf, 1) : NULL;
        if (one) {
                regs[CVMM_ECX] = subleaf & 0xff; /* level type 0 (invalid) */
                regs[CVMM_EDX] = one->regs[CVMM_EDX];
        }
}

/* The registers of (leaf, subleaf) in t, or what CPUID answers for an absent entry. */
static void regs_of(const struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf,
                    uint32_t regs[CVMM_NREGS])
{
        const struct cvmm_cpuid_entry *e = cvmm_cpuid_get(t, leaf, subleaf);
        if (e)
                memcpy(regs, e->regs, sizeof(e->regs));
        else
                cvmm_cpuid_absent_regs(t, leaf, subleaf, regs);
}

/* The static bits of (leaf, subleaf, r): the ones a table decides. */
static uint32_t static_bits(uint32_t leaf, uint32_t subleaf, int r)
{
        return ~cvmm_cpuid_dynamic_mask(leaf, subleaf, (enum cvmm_reg)r);
}

/* Counts the static fields of `from`'s entries in which `other` differs; records the first. */
static unsigned diff_entries(const struct cvmm_cpuid_table *from,
                             const struct cvmm_cpuid_table *other, bool from_is_a, bool skip_common,
                             unsigned count, struct cvmm_static_diff *first)
{
        unsigned n = 0;
        for (size_t i = 0; i < from->count; i++) {
                const struct cvmm_cpuid_entry *e = &from->entries[i];
                bool common = cvmm_cpuid_get(other, e->leaf, e->subleaf) != NULL;
                if (skip_common && common)
                        continue; /* compared from the other side */
                uint32_t o[CVMM_NREGS];
                regs_of(other, e->leaf, e->subleaf, o);
                for (int r = 0; r < CVMM_NREGS; r++) {
                        uint32_t keep = static_bits(e->leaf, e->subleaf, r);
                        if ((e->regs[r] & keep) == (o[r] & keep))
                                continue;
                        if (first && count + n == 0)
                                *first = (struct cvmm_static_diff){
                                    .leaf = e->leaf,
                                    .subleaf = e->subleaf,
                                    .reg = (enum cvmm_reg)r,
                                    .a = from_is_a ? e->regs[r] : o[r],
                                    .b = from_is_a ? o[r] : e->regs[r],
                                    .a_has = from_is_a || common,
                                    .b_has = !from_is_a || common,
                                };
                        n++;
                }
        }
        return n;
}

unsigned cvmm_cpuid_static_diff(const struct cvmm_cpuid_table *a, const struct cvmm_cpuid_table *b,
                                struct cvmm_static_diff *first)
{
        unsigned n = diff_entries(a, b, true, false, 0, first);
        return n + diff_entries(b, a, false, true, n, first);
}

static int attr_add(struct cvmm_attribution *a, const struct cvmm_attr_field *f)
{
        if (a->count == a->capacity) {
                size_t cap = a->capacity ? a->capacity * 2 : 16;
                struct cvmm_attr_field *p = realloc(a->fields, cap * sizeof(*p));
                if (!p)
                        return -1;
                a->fields = p;
                a->capacity = cap;
        }
        a->fields[a->count++] = *f;
        return 0;
}

int cvmm_attribute(const struct cvmm_cpuid_table *table, const struct cvmm_cpuid_table *kvm,
                   const struct cvmm_cpuid_table *seen, struct cvmm_attribution *a)
{
        memset(a, 0, sizeof(*a));
        for (size_t i = 0; i < seen->count; i++) {
                const struct cvmm_cpuid_entry *g = &seen->entries[i];
                uint32_t t[CVMM_NREGS], k[CVMM_NREGS];
                regs_of(table, g->leaf, g->subleaf, t);
                if (kvm)
                        regs_of(kvm, g->leaf, g->subleaf, k);
                for (int r = 0; r < CVMM_NREGS; r++) {
                        uint32_t keep = static_bits(g->leaf, g->subleaf, r);
                        if (!keep)
                                continue;
                        a->compared++;
                        if ((g->regs[r] & keep) == (t[r] & keep))
                                continue;
                        struct cvmm_attr_field f = {
                            .leaf = g->leaf,
                            .subleaf = g->subleaf,
                            .reg = (enum cvmm_reg)r,
                            .table = t[r],
                            .kvm = kvm ? k[r] : 0,
                            .guest = g->regs[r],
                            .mask = keep,
                            .kvm_read = kvm != NULL,
                            .guest_ran = seen != kvm,
                            .source = kvm && (k[r] & keep) == (g->regs[r] & keep) ? CVMM_ATTR_KVM
                                                                                  : CVMM_ATTR_GUEST,
                        };
                        if (attr_add(a, &f)) {
                                cvmm_attribution_free(a);
                                return -1;
                        }
                }
        }
        return 0;
}

void cvmm_attribution_free(struct cvmm_attribution *a)
{
        free(a->fields);
        memset(a, 0, sizeof(*a));
}

/* Appends " +name" / " -name" (or "bitN") for each bit of mask to buf at *len. */
static void name_bits(const struct cvmm_attr_field *f, uint32_t mask, char sign, char *buf,
                      size_t n, size_t *len)
{
        for (unsigned b = 0; b < 32; b++) {
                if (!(mask >> b & 1))
                        continue;
                const struct cvmm_feature *ft = cvmm_feature_at(f->leaf, f->subleaf, f->reg, b);
                int w = ft ? snprintf(buf + *len, n - *len, " %c%s", sign, ft->name)
                           : snprintf(buf + *len, n - *len, " %cbit%u", sign, b);
                if (w < 0 || (size_t)w >= n - *len) {
                        *len = n - 1;
                        return;
                }
                *len += (size_t)w;
        }
}

/* Registers whose bits are features (by the feature table), as opposed to numbers. */
static bool is_feature_word(uint32_t leaf, uint32_t subleaf, enum cvmm_reg reg)
{
        for (unsigned b = 0; b < 32; b++)
                if (cvmm_feature_at(leaf, subleaf, reg, b))
                        return true;
        return false;
}

int cvmm_attr_describe(const struct cvmm_attr_field *f, char *buf, size_t n)
{
        if (!n)
                return 0;
        int w = snprintf(buf, n, "leaf 0x%x.%u %s: %s", f->leaf, f->subleaf, cvmm_reg_name(f->reg),
                         f->source == CVMM_ATTR_KVM ? "KVM forces" : "the guest sees");
        size_t len = w < 0 ? 0 : (size_t)w >= n ? n - 1 : (size_t)w;
        uint32_t on = f->guest & ~f->table & f->mask, off = f->table & ~f->guest & f->mask;
        if (is_feature_word(f->leaf, f->subleaf, f->reg)) {
                name_bits(f, on, '+', buf, n, &len);
                name_bits(f, off, '-', buf, n, &len);
        } else {
                int v = snprintf(buf + len, n - len, " 0x%08x", f->guest & f->mask);
                len = v < 0 || (size_t)v >= n - len ? n - 1 : len + (size_t)v;
        }
        if (f->source == CVMM_ATTR_KVM && !f->guest_ran)
                snprintf(buf + len, n - len,
                         " (cvmm set 0x%08x, KVM_GET_CPUID2: 0x%08x, read before any guest ran "
                         "the table)",
                         f->table, f->kvm);
        else if (f->source == CVMM_ATTR_KVM)
                snprintf(buf + len, n - len,
                         " (cvmm set 0x%08x, KVM_GET_CPUID2 and the guest: 0x%08x)", f->table,
                         f->guest);
        else if (f->kvm_read)
                snprintf(buf + len, n - len,
                         " (cvmm set 0x%08x, KVM_GET_CPUID2 returned 0x%08x, the guest sees "
                         "0x%08x)",
                         f->table, f->kvm, f->guest);
        else
                snprintf(buf + len, n - len, " (cvmm set 0x%08x, the guest sees 0x%08x)", f->table,
                         f->guest);
        return (int)strlen(buf);
}

static const char RULE_ON[] = "reconcile.forced-on";
static const char RULE_OFF[] = "reconcile.forced-off";

void cvmm_reconcile_note(const char **list, size_t *n, const char *name)
{
        for (size_t i = 0; i < *n; i++)
                if (strcmp(list[i], name) == 0)
                        return;
        if (*n < CVMM_RECONCILE_MAX_NAMES)
                list[(*n)++] = name;
}

/* The XSAVE components of 0xD.0 EDX:EAX and 0xD.1 EDX:ECX. */
static uint64_t comps_of(const struct cvmm_cpuid_table *t)
{
        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(t, &l);
        return l.xcr0_supported | l.xss_supported;
}

/* True when the two tables hold the same entries with the same values (flags aside). */
static bool same_table(const struct cvmm_cpuid_table *a, const struct cvmm_cpuid_table *b)
{
        if (a->count != b->count)
                return false;
        for (size_t i = 0; i < a->count; i++) {
                const struct cvmm_cpuid_entry *x = &a->entries[i], *y = &b->entries[i];
                if (x->leaf != y->leaf || x->subleaf != y->subleaf ||
                    memcmp(x->regs, y->regs, sizeof(x->regs)) != 0)
                        return false;
        }
        return true;
}

/* Forced bits outside leaf 0xD's component masks and sizes: restore or remove, bit by bit. */
static int reconcile_bits(struct cvmm_cpuid_table *t, const struct cvmm_cpuid_table *seen,
                          struct cvmm_reconcile_report *rep, uint64_t *want_comps)
{
        for (size_t i = 0; i < seen->count; i++) {
                const struct cvmm_cpuid_entry g = seen->entries[i];
                /* Leaf 0xD's numbers are derived below; only 0xD.1 EAX holds features. */
                if (g.leaf == 0xd && g.subleaf != 1)
                        continue;
                for (int r = 0; r < CVMM_NREGS; r++) {
                        if (g.leaf == 0xd && r != CVMM_EAX)
                                continue;
                        uint32_t keep = ~cvmm_cpuid_dynamic_mask(g.leaf, g.subleaf, r);
                        uint32_t have[CVMM_NREGS];
                        regs_of(t, g.leaf, g.subleaf, have);
                        uint32_t on = g.regs[r] & ~have[r] & keep;
                        uint32_t off = have[r] & ~g.regs[r] & keep;
                        if (!on && !off)
                                continue;
                        for (unsigned b = 0; b < 32; b++) {
                                if (!(off >> b & 1))
                                        continue;
                                const struct cvmm_feature *f =
                                    cvmm_feature_at(g.leaf, g.subleaf, r, b);
                                if (f && !f->dynamic) {
                                        cvmm_reconcile_note(rep->removed, &rep->nremoved, f->name);
                                        if (cvmm_feature_remove(t, f, RULE_OFF))
                                                return -1;
                                }
                        }
                        for (unsigned b = 0; b < 32; b++) {
                                if (!(on >> b & 1))
                                        continue;
                                const struct cvmm_feature *f =
                                    cvmm_feature_at(g.leaf, g.subleaf, r, b);
                                if (f) {
                                        cvmm_reconcile_note(rep->restored, &rep->nrestored,
                                                            f->name);
                                        /* PT, HWP, HDC work without their state */
                                        if (!(f->xstate & CVMM_XSTATE_OPTIONAL))
                                                *want_comps |= f->xstate & ~CVMM_XSTATE_PSEUDO;
                                } else {
                                        rep->other_bits++;
                                }
                        }
                        /* What remains: the guest's value, with cvmm's own dynamic bits. */
                        regs_of(t, g.leaf, g.subleaf, have);
                        uint32_t v = (g.regs[r] & keep) | (have[r] & ~keep);
                        if (cvmm_cpuid_set_reg(t, g.leaf, g.subleaf, r, v, on ? RULE_ON : RULE_OFF))
                                return -1;
                }
        }
        return 0;
}

/* Restores forced XSAVE components from the source, removes those forced off. */
static int reconcile_comps(struct cvmm_cpuid_table *t, const struct cvmm_cpuid_table *source,
                           uint64_t want, struct cvmm_reconcile_report *rep)
{
        uint64_t have = comps_of(t);
        uint64_t off = have & ~want & ~3ull;
        if (off) {
                rep->comps_removed |= off;
                if (cvmm_xstate_remove(t, off, RULE_OFF))
                        return -1;
        }
        uint64_t need = want & ~comps_of(t);
        if (!need)
                return 0;
        struct cvmm_xsave_layout src;
        cvmm_xsave_layout_read(source, &src);
        uint64_t user = 0, sup = 0;
        for (unsigned n = 0; n < CVMM_XSAVE_NCOMP; n++) {
                if (!(need >> n & 1))
                        continue;
                if (n < 2) { /* x87 and SSE live in the legacy region: no subleaf */
                        user |= 1ull << n;
                        continue;
                }
                const struct cvmm_cpuid_entry *e = cvmm_cpuid_get(source, 0xd, n);
                if (!e || !src.comp[n].size) {
                        rep->comps_missing |= 1ull << n;
                        continue;
                }
                if (cvmm_cpuid_put(t, e))
                        return -1;
                if (src.comp[n].supervisor)
                        sup |= 1ull << n;
                else
                        user |= 1ull << n;
        }
        rep->comps_restored |= user | sup;
        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(t, &l);
        user |= l.xcr0_supported;
        sup |= l.xss_supported;
        if (cvmm_cpuid_set_reg(t, 0xd, 0, CVMM_EAX, (uint32_t)user, RULE_ON) ||
            cvmm_cpuid_set_reg(t, 0xd, 0, CVMM_EDX, (uint32_t)(user >> 32), RULE_ON) ||
            (sup && (cvmm_cpuid_set_reg(t, 0xd, 1, CVMM_ECX, (uint32_t)sup, RULE_ON) ||
                     cvmm_cpuid_set_reg(t, 0xd, 1, CVMM_EDX, (uint32_t)(sup >> 32), RULE_ON))))
                return -1;
        return 0;
}

int cvmm_reconcile(struct cvmm_cpuid_table *t, const struct cvmm_cpuid_table *source,
                   const struct cvmm_cpuid_table *seen, struct cvmm_reconcile_report *rep)
{
        memset(rep, 0, sizeof(*rep));
        struct cvmm_cpuid_table before;
        if (cvmm_cpuid_copy(&before, t))
                return -1;
        uint64_t want = comps_of(seen);
        int rc = reconcile_bits(t, seen, rep, &want);
        if (!rc)
                rc = reconcile_comps(t, source, want, rep);
        /* Leaf 0xD's sizes follow from what changed; an agreeing view changes nothing. */
        if (!rc && !same_table(&before, t)) {
                struct cvmm_xsave_layout l;
                cvmm_xsave_layout_read(t, &l);
                rc = cvmm_xsave_derive(t, l.xcr0_supported, l.xss_supported);
        }
        rep->changed = !same_table(&before, t);
        cvmm_cpuid_free(&before);
        return rc;
}
