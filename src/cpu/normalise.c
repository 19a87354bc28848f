/* SPDX-License-Identifier: MIT */
/*
 * Removing features and XSAVE components consistently, and normalising a table so that its
 * features and its leaf 0xD agree. Everything here only removes: a table never gains a feature
 * or a component its source did not report.
 */
#include <string.h>

#include "cvmm/features.h"
#include "cvmm/xsave.h"

/* Features already removed in this operation (breaks dependency cycles). */
struct removal {
        struct cvmm_cpuid_table *t;
        const char *rule;
        bool done[CVMM_MAX_FEATURES];
};

static int remove_feature(struct removal *r, const struct cvmm_feature *f);

static uint64_t supported_mask(const struct cvmm_cpuid_table *t)
{
        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(t, &l);
        uint64_t m = l.xcr0_supported | l.xss_supported;
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++)
                if (l.comp[n].listed)
                        m |= 1ull << n;
        return m;
}

/*
 * The state components f cannot work without: its own, except for features that merely own
 * optional state (PT, HWP, HDC use MSRs without it), which need none.
 */
static uint64_t needed_state(const struct cvmm_feature *f)
{
        return f->xstate & CVMM_XSTATE_OPTIONAL ? 0 : f->xstate & ~CVMM_XSTATE_PSEUDO;
}

/* Removes components `comps` (n >= 2, closed over groups) from leaf 0xD. */
static int drop_components(struct removal *r, uint64_t comps)
{
        struct cvmm_cpuid_table *t = r->t;
        uint64_t all = 0;
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++)
                if (comps >> n & 1)
                        all |= cvmm_xsave_group(n);
        all &= ~3ull;
        if (!all)
                return 0;
        if (cvmm_cpuid_clear_bits(t, 0xd, 0, CVMM_EAX, (uint32_t)all, r->rule) ||
            cvmm_cpuid_clear_bits(t, 0xd, 0, CVMM_EDX, (uint32_t)(all >> 32), r->rule) ||
            cvmm_cpuid_clear_bits(t, 0xd, 1, CVMM_ECX, (uint32_t)all, r->rule) ||
            cvmm_cpuid_clear_bits(t, 0xd, 1, CVMM_EDX, (uint32_t)(all >> 32), r->rule))
                return -1;
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++)
                if ((all >> n & 1) && cvmm_cpuid_drop(t, 0xd, n, r->rule))
                        return -1;
        /* Features that need any removed component go too. */
        size_t nf;
        const struct cvmm_feature *fs = cvmm_features(&nf);
        for (size_t i = 0; i < nf; i++)
                if ((needed_state(&fs[i]) & all) && remove_feature(r, &fs[i]))
                        return -1;
        return 0;
}

/* True when some feature other than `except` that owns component n is present or unknown. */
static bool other_owner(const struct cvmm_cpuid_table *t, unsigned n,
                        const struct cvmm_feature *except)
{
        size_t nf;
        const struct cvmm_feature *fs = cvmm_features(&nf);
        for (size_t i = 0; i < nf; i++)
                if (&fs[i] != except && n < 61 && (fs[i].xstate >> n & 1) &&
                    cvmm_feature_state(t, &fs[i]) != CVMM_ABSENT)
                        return true;
        return false;
}

static int remove_feature(struct removal *r, const struct cvmm_feature *f)
{
        size_t nf;
        const struct cvmm_feature *fs = cvmm_features(&nf);
        size_t idx = (size_t)(f - fs);
        if (r->done[idx])
                return 0;
        r->done[idx] = true;
        struct cvmm_cpuid_table *t = r->t;
        if (cvmm_cpuid_clear_bits(t, f->leaf, f->subleaf, f->reg, 1u << f->bit, r->rule))
                return -1;
        for (size_t i = 0; i < nf; i++)
                for (size_t d = 0; d < 3 && fs[i].deps[d]; d++)
                        if (strcmp(fs[i].deps[d], f->name) == 0 && remove_feature(r, &fs[i]))
                                return -1;
        uint64_t comps = 0;
        for (unsigned n = 2; n < 61; n++)
                if ((f->xstate >> n & 1) && !other_owner(t, n, f))
                        comps |= 1ull << n;
        if (f->xstate & CVMM_XSTATE_ALL_SUPERVISOR) {
                struct cvmm_xsave_layout l;
                cvmm_xsave_layout_read(t, &l);
                comps |= l.xss_supported;
                for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++)
                        if (l.comp[n].listed && l.comp[n].supervisor)
                                comps |= 1ull << n;
        }
        if (f->xstate & CVMM_XSTATE_ALL_EXTENDED) {
                comps |= supported_mask(t);
                if (drop_components(r, comps))
                        return -1;
                /* Without XSAVE leaf 0xD describes nothing: it reads as zeros. */
                for (uint32_t s = 0; s < 2; s++)
                        if (cvmm_cpuid_get(t, 0xd, s))
                                for (int q = 0; q < CVMM_NREGS; q++)
                                        if (cvmm_cpuid_set_reg(t, 0xd, s, (enum cvmm_reg)q, 0,
                                                               r->rule))
                                                return -1;
                return 0;
        }
        return drop_components(r, comps);
}

int cvmm_feature_remove(struct cvmm_cpuid_table *t, const struct cvmm_feature *f, const char *rule)
{
        struct removal r = {.t = t, .rule = rule};
        return remove_feature(&r, f);
}

int cvmm_xstate_remove(struct cvmm_cpuid_table *t, uint64_t comps, const char *rule)
{
        struct removal r = {.t = t, .rule = rule};
        return drop_components(&r, comps);
}

static const struct cvmm_feature *feat(const char *name)
{
        return cvmm_feature_find(name);
}

/* How many features the table advertises (part of a pass's "did anything change"). */
static uint32_t present_count(const struct cvmm_cpuid_table *t)
{
        size_t nf;
        const struct cvmm_feature *fs = cvmm_features(&nf);
        uint32_t n = 0;
        for (size_t i = 0; i < nf; i++)
                n += cvmm_feature_state(t, &fs[i]) == CVMM_PRESENT;
        return n;
}

/* A feature whose dependency is absent goes. */
static int drop_unmet_dependencies(struct cvmm_cpuid_table *t, const char *rule)
{
        size_t nf;
        const struct cvmm_feature *fs = cvmm_features(&nf);
        for (size_t i = 0; i < nf; i++) {
                if (fs[i].dynamic || cvmm_feature_state(t, &fs[i]) != CVMM_PRESENT)
                        continue;
                for (size_t d = 0; d < 3 && fs[i].deps[d]; d++)
                        if (cvmm_feature_state(t, feat(fs[i].deps[d])) == CVMM_ABSENT) {
                                if (cvmm_feature_remove(t, &fs[i], rule))
                                        return -1;
                                break;
                        }
        }
        return 0;
}

/* A feature whose state components are not all supported (by l, read before) goes. */
static int drop_features_without_state(struct cvmm_cpuid_table *t,
                                       const struct cvmm_xsave_layout *l, const char *rule)
{
        size_t nf;
        const struct cvmm_feature *fs = cvmm_features(&nf);
        for (size_t i = 0; i < nf; i++) {
                uint64_t own = needed_state(&fs[i]);
                if (own && cvmm_feature_state(t, &fs[i]) == CVMM_PRESENT &&
                    (own & ~(l->xcr0_supported | l->xss_supported)) &&
                    cvmm_feature_remove(t, &fs[i], rule))
                        return -1;
        }
        return 0;
}

/* The bits component n (2 and up) takes with it when it cannot stay as l describes it. */
static uint64_t component_unfit(const struct cvmm_cpuid_table *t, const struct cvmm_xsave_layout *l,
                                unsigned n, enum cvmm_presence xsaves)
{
        const struct cvmm_xsave_comp *c = &l->comp[n];
        bool user = l->xcr0_supported >> n & 1, sup = l->xss_supported >> n & 1;
        uint64_t drop = 0;
        if (!user && !sup)
                return c->listed ? 1ull << n : 0; /* stale subleaf */
        if (!c->listed || c->size == 0 || (user && sup) || (user && c->supervisor) ||
            (sup && !c->supervisor))
                drop |= 1ull << n; /* cannot be described consistently */
        else if (sup && xsaves == CVMM_ABSENT)
                drop |= 1ull << n;
        else if (!other_owner(t, n, NULL))
                drop |= 1ull << n; /* no present (or unknown) feature owns it */
        uint64_t g = cvmm_xsave_group(n);
        if ((g & (l->xcr0_supported | l->xss_supported)) != g)
                drop |= g;
        return drop;
}

/*
 * Every component of l: adds to *drop what cannot stay, clears the XFD flag of components
 * that stay while XFD is absent, and sets *any_xfd when one that stays keeps it.
 */
static int scan_components(struct cvmm_cpuid_table *t, const struct cvmm_xsave_layout *l,
                           enum cvmm_presence xsaves, enum cvmm_presence xfd, const char *rule,
                           uint64_t *drop, bool *any_xfd)
{
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++) {
                bool described = (l->xcr0_supported | l->xss_supported) >> n & 1;
                *drop |= component_unfit(t, l, n, xsaves);
                if (!described || !l->comp[n].xfd || (*drop >> n & 1))
                        continue;
                if (xfd != CVMM_ABSENT) {
                        *any_xfd = true;
                        continue;
                }
                uint32_t ecx = cvmm_cpuid_reg(t, 0xd, n, CVMM_ECX);
                if (cvmm_cpuid_set_reg(t, 0xd, n, CVMM_ECX, ecx & ~4u, rule))
                        return -1;
        }
        return 0;
}

/* Leaf 0xD (0xD.0 present) against the features and XSETBV's rules. */
static int normalise_leaf_d(struct cvmm_cpuid_table *t, const char *rule)
{
        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(t, &l);
        if (drop_features_without_state(t, &l, rule))
                return -1;
        cvmm_xsave_layout_read(t, &l);
        enum cvmm_presence xsaves = cvmm_feature_state(t, feat("xsaves"));
        enum cvmm_presence xfd = cvmm_feature_state(t, feat("xfd"));
        uint64_t drop = 0;
        bool any_xfd = false;
        /* XSETBV's rules: x87 and SSE always; AVX-512 state needs AVX state. */
        if ((l.xcr0_supported & 3) != 3) {
                if (cvmm_feature_remove(t, feat("xsave"), rule))
                        return -1;
                cvmm_xsave_layout_read(t, &l);
        }
        if ((l.xcr0_supported & CVMM_XSTATE_AVX512) && !(l.xcr0_supported & 4))
                drop |= CVMM_XSTATE_AVX512;
        /* x87 and SSE are never supervisor state (WRMSR IA32_XSS with them is #GP). */
        if ((l.xss_supported & 3) && cvmm_cpuid_clear_bits(t, 0xd, 1, CVMM_ECX, 3, rule))
                return -1;
        if (scan_components(t, &l, xsaves, xfd, rule, &drop, &any_xfd))
                return -1;
        if (drop && cvmm_xstate_remove(t, drop, rule))
                return -1;
        if (xfd == CVMM_PRESENT && !any_xfd && cvmm_feature_remove(t, feat("xfd"), rule))
                return -1;
        return 0;
}

/* One pass; sets *changed when it removed anything. */
static int normalise_pass(struct cvmm_cpuid_table *t, const char *rule, bool *changed)
{
        size_t before = t->count;
        uint64_t mask_before = supported_mask(t);
        uint32_t present_before = present_count(t);
        if (drop_unmet_dependencies(t, rule))
                return -1;
        /* XSAVE absent: leaf 0xD must describe nothing. */
        const struct cvmm_feature *xsave = feat("xsave");
        if (cvmm_feature_state(t, xsave) == CVMM_ABSENT &&
            (supported_mask(t) || cvmm_cpuid_reg(t, 0xd, 0, CVMM_EAX))) {
                if (cvmm_feature_remove(t, xsave, rule))
                        return -1;
        }
        if (cvmm_cpuid_get(t, 0xd, 0) && normalise_leaf_d(t, rule))
                return -1;
        *changed = t->count != before || supported_mask(t) != mask_before ||
                   present_count(t) != present_before;
        return 0;
}

int cvmm_normalise_xstate(struct cvmm_cpuid_table *t, const char *rule)
{
        /* Each pass that changes something removes at least one bit; 64 passes bound it. */
        for (int i = 0; i < 64; i++) {
                bool changed = false;
                if (normalise_pass(t, rule, &changed))
                        return -1;
                if (!changed)
                        return 0;
        }
        return 0;
}
