/* SPDX-License-Identifier: MIT */
/*
 * The checker. Rules follow ../shared/reference/xsave.md (Intel SDM vol. 1 ch. 13, AMD APM)
 * and the Linux guest model follows arch/x86/kernel/fpu/xstate.c (fpu__init_system_xstate,
 * paranoid_xstate_size_valid): see docs in the README.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmm/check.h"
#include "cvmm/features.h"
#include "cvmm/profile.h"
#include "cvmm/xsave.h"

/* Linux 6.6: XFEATURE_MASK_USER_SUPPORTED (+ APX from 6.16) and SUPERVISOR_SUPPORTED. */
#define LINUX_USER_SUPPORTED       0xe02ffull
#define LINUX_SUPERVISOR_SUPPORTED 0xc00ull

const char *cvmm_severity_name(enum cvmm_severity s)
{
        return s == CVMM_SEV_ERROR ? "error" : "warning";
}

struct ctx {
        bool have_d1;
        const struct cvmm_cpuid_table *t;
        const struct cvmm_check_opts *o;
        struct cvmm_check_report *r;
        struct cvmm_xsave_layout l;
        struct cvmm_model_names names; /* how advice names the XCR0/XSS options */
        bool oom;                      /* a finding could not be stored */
};

static void add(struct ctx *c, enum cvmm_severity sev, const char *rule, uint32_t leaf,
                uint32_t sub, int reg, int bit, const char *field, const char *expected,
                const char *actual, const char *fmt, ...) __attribute__((format(printf, 11, 12)));

static void add(struct ctx *c, enum cvmm_severity sev, const char *rule, uint32_t leaf,
                uint32_t sub, int reg, int bit, const char *field, const char *expected,
                const char *actual, const char *fmt, ...)
{
        struct cvmm_check_report *r = c->r;
        if (r->count == r->capacity) {
                size_t cap = r->capacity ? r->capacity * 2 : 16;
                struct cvmm_finding *p = realloc(r->findings, cap * sizeof(*p));
                if (!p) {
                        c->oom = true;
                        return;
                }
                r->findings = p;
                r->capacity = cap;
        }
        struct cvmm_finding *f = &r->findings[r->count++];
        memset(f, 0, sizeof(*f));
        f->severity = sev;
        f->rule = rule;
        f->leaf = leaf;
        f->subleaf = sub;
        f->reg = reg;
        f->bit = bit;
        snprintf(f->field, sizeof(f->field), "%s", field ? field : "");
        snprintf(f->expected, sizeof(f->expected), "%s", expected ? expected : "");
        snprintf(f->actual, sizeof(f->actual), "%s", actual ? actual : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->message, sizeof(f->message), fmt, ap);
        va_end(ap);
        if (sev == CVMM_SEV_ERROR)
                r->errors++;
        else if (sev == CVMM_SEV_WARNING)
                r->warnings++;
}

static void skip(struct ctx *c, const char *why)
{
        if (c->r->nskipped < sizeof(c->r->skipped) / sizeof(c->r->skipped[0]))
                c->r->skipped[c->r->nskipped++] = why;
}

static void fmt_size(char *buf, size_t n, uint32_t v)
{
        snprintf(buf, n, "0x%08x (%u)", v, v);
}

/* Presence bits and subleaf shapes: every supported bit described, flags right. */
static void rules_components(struct ctx *c)
{
        const struct cvmm_xsave_layout *l = &c->l;
        if (l->xss_supported & 3)
                add(c, CVMM_SEV_ERROR, "xsave.xss-reserved", 0xd, 1, CVMM_ECX, -1, "x87|SSE", "0",
                    "set", "0xD.1 ECX lists x87/SSE (bits 0-1) as supervisor state");
        if ((l->xcr0_supported & 3) != 3)
                add(c, CVMM_SEV_ERROR, "xsave.x87-sse", 0xd, 0, CVMM_EAX, -1, "x87|SSE", "0x3",
                    "missing", "0xD.0 EAX must list x87 (bit 0) and SSE (bit 1)");
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++) {
                const struct cvmm_xsave_comp *cp = &l->comp[n];
                bool user = l->xcr0_supported >> n & 1, sup = l->xss_supported >> n & 1;
                const char *name = cvmm_xsave_comp_name(n);
                char a[48], e[48];
                if (user && sup)
                        add(c, CVMM_SEV_ERROR, "xsave.user-and-supervisor", 0xd, 0, -1, (int)n,
                            name, "one of the two", "both",
                            "component %u (%s) is listed in 0xD.0 (XCR0) and 0xD.1 (IA32_XSS)", n,
                            name);
                if ((user || sup) && (!cp->listed || cp->size == 0)) {
                        add(c, CVMM_SEV_ERROR, "xsave.subleaf-missing", 0xd, n, CVMM_EAX, -1,
                            "size", "nonzero", cp->listed ? "0" : "absent",
                            "component %u (%s) is supported (0xD.%u) but subleaf %u %s", n, name,
                            user ? 0 : 1, n, cp->listed ? "has size 0" : "is absent");
                        continue;
                }
                if (!user && !sup) {
                        if (cp->listed && (cp->size || cp->offset))
                                add(c, CVMM_SEV_WARNING, "xsave.stale-subleaf", 0xd, n, CVMM_EAX,
                                    -1, "size", "0", "nonzero",
                                    "subleaf %u (%s) describes a component that 0xD.0/0xD.1 do "
                                    "not list",
                                    n, name);
                        continue;
                }
                if (user && cp->supervisor)
                        add(c, CVMM_SEV_ERROR, "xsave.user-flag", 0xd, n, CVMM_ECX, 0, "supervisor",
                            "0", "1", "user component %u (%s) is flagged supervisor (ECX bit 0)", n,
                            name);
                if (sup && !cp->supervisor)
                        add(c, CVMM_SEV_ERROR, "xsave.supervisor-flag", 0xd, n, CVMM_ECX, 0,
                            "supervisor", "1", "0", "supervisor component %u (%s) lacks ECX bit 0",
                            n, name);
                if (sup && cp->offset != 0) {
                        fmt_size(a, sizeof(a), cp->offset);
                        add(c, CVMM_SEV_ERROR, "xsave.supervisor-offset", 0xd, n, CVMM_EBX, -1,
                            "offset", "0x00000000 (0)", a,
                            "supervisor component %u (%s) has no standard-format offset", n, name);
                }
                if (cvmm_cpuid_reg(c->t, 0xd, n, CVMM_EDX))
                        add(c, CVMM_SEV_WARNING, "xsave.reserved-edx", 0xd, n, CVMM_EDX, -1,
                            "reserved", "0", "nonzero", "0xD.%u EDX is reserved and should be 0",
                            n);
                uint32_t arch = cvmm_xsave_arch_size(n);
                if (arch && cp->size != arch) {
                        fmt_size(e, sizeof(e), arch);
                        fmt_size(a, sizeof(a), cp->size);
                        add(c, CVMM_SEV_WARNING, "xsave.size-architectural", 0xd, n, CVMM_EAX, -1,
                            "size", e, a,
                            "component %u (%s) differs from the documented size (real parts "
                            "do; Linux prints a struct-size warning)",
                            n, name);
                }
                if (user && cp->offset < CVMM_XSAVE_EXT_START) {
                        fmt_size(a, sizeof(a), cp->offset);
                        add(c, CVMM_SEV_ERROR, "xsave.offset-range", 0xd, n, CVMM_EBX, -1, "offset",
                            ">= 0x00000240 (576)", a,
                            "user component %u (%s) overlaps the legacy area and header", n, name);
                }
        }
}

/* Standard-format geometry: no overlaps, inside 0xD.0 ECX, ECX and EBX exact, order. */
static void rules_geometry(struct ctx *c)
{
        const struct cvmm_xsave_layout *l = &c->l;
        uint64_t user = l->xcr0_supported;
        uint32_t ecx0 = cvmm_cpuid_reg(c->t, 0xd, 0, CVMM_ECX);
        char a[48], e[48];
        for (unsigned i = 2; i < CVMM_XSAVE_NCOMP; i++) {
                const struct cvmm_xsave_comp *x = &l->comp[i];
                if (!(user >> i & 1) || !x->listed || !x->size)
                        continue;
                if ((uint64_t)x->offset + x->size > ecx0) {
                        fmt_size(e, sizeof(e), ecx0);
                        snprintf(a, sizeof(a), "0x%llx (%llu)",
                                 (unsigned long long)((uint64_t)x->offset + x->size),
                                 (unsigned long long)((uint64_t)x->offset + x->size));
                        add(c, CVMM_SEV_ERROR, "xsave.inside-ecx0", 0xd, i, CVMM_EBX, -1,
                            "offset+size", e, a, "component %u (%s) ends beyond 0xD.0 ECX", i,
                            cvmm_xsave_comp_name(i));
                }
                for (unsigned j = i + 1; j < CVMM_XSAVE_NCOMP; j++) {
                        const struct cvmm_xsave_comp *y = &l->comp[j];
                        if (!(user >> j & 1) || !y->listed || !y->size)
                                continue;
                        uint64_t xe = (uint64_t)x->offset + x->size;
                        uint64_t ye = (uint64_t)y->offset + y->size;
                        if (x->offset < ye && y->offset < xe)
                                add(c, CVMM_SEV_ERROR, "xsave.overlap", 0xd, j, CVMM_EBX, -1,
                                    "offset", "disjoint", "overlapping",
                                    "components %u (%s, %u..%llu) and %u (%s, %u..%llu) overlap "
                                    "in the standard format",
                                    i, cvmm_xsave_comp_name(i), x->offset, (unsigned long long)xe,
                                    j, cvmm_xsave_comp_name(j), y->offset, (unsigned long long)ye);
                        else if (y->offset < x->offset)
                                add(c, CVMM_SEV_WARNING, "xsave.offset-order", 0xd, j, CVMM_EBX, -1,
                                    "offset", "ascending with bit number", "lower",
                                    "component %u (%s) lies below component %u (%s): Linux 6.6 "
                                    "warns 'misordered xstate'",
                                    j, cvmm_xsave_comp_name(j), i, cvmm_xsave_comp_name(i));
                }
        }
        uint32_t want = cvmm_xsave_standard_size(l, user);
        if (ecx0 != want) {
                fmt_size(e, sizeof(e), want);
                fmt_size(a, sizeof(a), ecx0);
                add(c, CVMM_SEV_ERROR, "xsave.ecx0-standard-size", 0xd, 0, CVMM_ECX, -1, "max size",
                    e, a, "0xD.0 ECX must be the standard size of all supported user components");
        }
        /* EBX fields are dynamic: strict for the XCR0/XSS given, advisory otherwise. */
        uint64_t xcr0 = c->o->have_xcr0 ? c->o->xcr0 : user;
        uint64_t xss = c->o->have_xss ? c->o->xss : l->xss_supported;
        uint32_t ebx0 = cvmm_cpuid_reg(c->t, 0xd, 0, CVMM_EBX);
        want = cvmm_xsave_standard_size(l, xcr0);
        if (ebx0 != want) {
                fmt_size(e, sizeof(e), want);
                fmt_size(a, sizeof(a), ebx0);
                char why[128] = "";
                if (!c->o->have_xcr0)
                        snprintf(why, sizeof(why),
                                 " (dynamic: a dump shows its OS's XCR0; give %s to judge)",
                                 c->names.xcr0);
                add(c, c->o->have_xcr0 ? CVMM_SEV_ERROR : CVMM_SEV_WARNING, "xsave.ebx0-size", 0xd,
                    0, CVMM_EBX, -1, "size for XCR0", e, a,
                    "0xD.0 EBX is not the standard size for XCR0 0x%llx%s",
                    (unsigned long long)xcr0, why);
        }
        if (l->d1_eax & 0xa) {
                uint32_t ebx1 = cvmm_cpuid_reg(c->t, 0xd, 1, CVMM_EBX);
                want = cvmm_xsave_compacted_size(l, xcr0 | xss);
                bool strict = c->o->have_xcr0 || c->o->have_xss;
                if (ebx1 != want) {
                        fmt_size(e, sizeof(e), want);
                        fmt_size(a, sizeof(a), ebx1);
                        char why[128] = "";
                        if (!strict)
                                snprintf(why, sizeof(why), " (dynamic: give %s/%s to judge)",
                                         c->names.xcr0, c->names.xss);
                        add(c, strict ? CVMM_SEV_ERROR : CVMM_SEV_WARNING, "xsave.ebx1-size", 0xd,
                            1, CVMM_EBX, -1, "compacted size", e, a,
                            "0xD.1 EBX is not the compacted size (ascending order, 64-byte "
                            "alignment) for XCR0|XSS 0x%llx%s",
                            (unsigned long long)(xcr0 | xss), why);
                }
        }
}

static void rules_groups(struct ctx *c)
{
        uint64_t all = c->l.xcr0_supported | c->l.xss_supported;
        static const struct {
                uint64_t mask;
                const char *name;
                enum cvmm_severity sev;
        } groups[] = {
            {CVMM_XSTATE_AVX512, "AVX-512 (5-7)", CVMM_SEV_ERROR},
            {CVMM_XSTATE_AMX, "AMX (17-18)", CVMM_SEV_ERROR},
            {CVMM_XSTATE_MPX, "MPX (3-4)", CVMM_SEV_ERROR},
            {CVMM_XSTATE_CET, "CET (11-12)", CVMM_SEV_WARNING},
        };
        char a[48], e[48];
        for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
                uint64_t have = all & groups[i].mask;
                if (have && have != groups[i].mask) {
                        snprintf(e, sizeof(e), "0x%llx", (unsigned long long)groups[i].mask);
                        snprintf(a, sizeof(a), "0x%llx", (unsigned long long)have);
                        add(c, groups[i].sev, "xsave.group-complete", 0xd,
                            groups[i].mask & 0xffffffffull ? 0 : 1, -1, -1, groups[i].name, e, a,
                            "%s components come all or none", groups[i].name);
                }
        }
        if ((all & CVMM_XSTATE_AVX512) && !(all & 4))
                add(c, CVMM_SEV_ERROR, "xsave.group-complete", 0xd, 0, CVMM_EAX, 2, "AVX", "1", "0",
                    "AVX-512 state needs AVX state (bit 2)");
}

/* XSAVES for supervisor state; XFD against XFD-capable components (0xD.1 present). */
static void rules_d1_features(struct ctx *c, uint64_t all)
{
        bool xsaves = c->l.d1_eax >> 3 & 1, xfd = c->l.d1_eax >> 4 & 1;
        if (c->l.xss_supported && !xsaves)
                add(c, CVMM_SEV_ERROR, "feature.supervisor-needs-xsaves", 0xd, 1, CVMM_EAX, 3,
                    "xsaves", "1", "0",
                    "supervisor components 0x%llx are supported but XSAVES is not",
                    (unsigned long long)c->l.xss_supported);
        bool any_xfd = false;
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++) {
                if (!((all >> n) & 1) || !c->l.comp[n].xfd)
                        continue;
                any_xfd = true;
                if (!xfd)
                        add(c, CVMM_SEV_ERROR, "feature.xfd-consistent", 0xd, n, CVMM_ECX, 2, "xfd",
                            "0", "1",
                            "component %u (%s) says it supports XFD but 0xD.1 EAX[4] (XFD) is 0", n,
                            cvmm_xsave_comp_name(n));
        }
        if (xfd && !any_xfd)
                add(c, CVMM_SEV_ERROR, "feature.xfd-consistent", 0xd, 1, CVMM_EAX, 4, "xfd", "0",
                    "1", "XFD is advertised but no supported component supports it");
}

/* Feature bits against the state components they own, both directions. */
static void rules_feature_state(struct ctx *c, uint64_t all)
{
        static const struct {
                const char *feature;
                uint64_t comps;
                enum cvmm_severity sev;
        } pairs[] = {
            {"avx", 0x4, CVMM_SEV_ERROR},
            {"mpx", CVMM_XSTATE_MPX, CVMM_SEV_ERROR},
            {"avx512f", CVMM_XSTATE_AVX512, CVMM_SEV_ERROR},
            {"pku", 0x200, CVMM_SEV_ERROR},
            {"amx_tile", CVMM_XSTATE_AMX, CVMM_SEV_ERROR},
            {"enqcmd", 0x400, CVMM_SEV_WARNING},
            {"intel_pt", 0x100, CVMM_SEV_WARNING},
        };
        char a[48], e[48];
        for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
                const struct cvmm_feature *f = cvmm_feature_find(pairs[i].feature);
                enum cvmm_presence p = cvmm_feature_state(c->t, f);
                if (p == CVMM_UNKNOWN)
                        continue;
                uint64_t have = all & pairs[i].comps;
                snprintf(e, sizeof(e), "0x%llx", (unsigned long long)pairs[i].comps);
                snprintf(a, sizeof(a), "0x%llx", (unsigned long long)have);
                /* A feature owning optional state (CVMM_XSTATE_OPTIONAL) works without it. */
                bool needs = !(f->xstate & CVMM_XSTATE_OPTIONAL);
                if (p == CVMM_PRESENT && have != pairs[i].comps && needs)
                        add(c, pairs[i].sev, "feature.needs-state", f->leaf, f->subleaf, f->reg,
                            f->bit, f->name, e, a,
                            "%s is advertised but its XSAVE state components are not all "
                            "supported",
                            f->name);
                else if (p == CVMM_ABSENT && have)
                        add(c, pairs[i].sev, "feature.state-without-feature", f->leaf, f->subleaf,
                            f->reg, f->bit, f->name, "1", "0",
                            "XSAVE state 0x%llx is supported but %s is not advertised (a Linux "
                            "guest drops the state)",
                            (unsigned long long)have, f->name);
        }
}

/* CET state belongs to shadow stacks or IBT. */
static void rules_cet(struct ctx *c, uint64_t all)
{
        const struct cvmm_feature *shstk = cvmm_feature_find("shstk"),
                                  *ibt = cvmm_feature_find("ibt");
        enum cvmm_presence ps = cvmm_feature_state(c->t, shstk), pi = cvmm_feature_state(c->t, ibt);
        if (ps != CVMM_UNKNOWN && pi != CVMM_UNKNOWN) {
                bool cet = ps == CVMM_PRESENT || pi == CVMM_PRESENT;
                if (cet && !(all & CVMM_XSTATE_CET))
                        add(c, CVMM_SEV_ERROR, "feature.needs-state", shstk->leaf, shstk->subleaf,
                            shstk->reg, shstk->bit, "shstk/ibt", "0x1800", "0x0",
                            "CET (shadow stacks or IBT) is advertised without CET state");
                else if (!cet && (all & CVMM_XSTATE_CET))
                        add(c, CVMM_SEV_ERROR, "feature.state-without-feature", shstk->leaf,
                            shstk->subleaf, shstk->reg, shstk->bit, "shstk/ibt", "1", "0",
                            "CET state is supported but neither shadow stacks nor IBT is "
                            "advertised");
        }
}

/* Declared dependencies (Linux 6.15+ warns on these). */
static void rules_dependencies(struct ctx *c)
{
        size_t nf;
        const struct cvmm_feature *fs = cvmm_features(&nf);
        for (size_t i = 0; i < nf; i++) {
                if (fs[i].dynamic || cvmm_feature_state(c->t, &fs[i]) != CVMM_PRESENT)
                        continue;
                for (size_t d = 0; d < 3 && fs[i].deps[d]; d++) {
                        const struct cvmm_feature *dep = cvmm_feature_find(fs[i].deps[d]);
                        if (cvmm_feature_state(c->t, dep) == CVMM_ABSENT)
                                add(c, CVMM_SEV_WARNING, "feature.dependency", fs[i].leaf,
                                    fs[i].subleaf, fs[i].reg, fs[i].bit, fs[i].name, dep->name,
                                    "absent", "%s is advertised but %s, which it needs, is not",
                                    fs[i].name, dep->name);
                }
        }
}

/* Feature bits against state components, XSAVES/XFD, XSAVE itself, and dependencies. */
static void rules_features(struct ctx *c)
{
        uint64_t all = c->l.xcr0_supported | c->l.xss_supported;
        rules_feature_state(c, all);
        rules_cet(c, all);
        if (c->have_d1)
                rules_d1_features(c, all);
        /* XSAVE itself. */
        const struct cvmm_feature *xsave = cvmm_feature_find("xsave");
        if (cvmm_feature_state(c->t, xsave) == CVMM_ABSENT && (all & ~3ull))
                add(c, CVMM_SEV_ERROR, "feature.state-without-feature", 1, 0, CVMM_ECX, 26, "xsave",
                    "1", "0",
                    "leaf 0xD lists extended components 0x%llx but XSAVE is not advertised",
                    (unsigned long long)(all & ~3ull));
        rules_dependencies(c);
}

static void rules_tdx(struct ctx *c)
{
        uint64_t all = c->l.xcr0_supported | c->l.xss_supported;
        char a[48];
        if (all & ~(CVMM_TDX_XFAM_FIXED0 | CVMM_TDX_XFAM_FIXED1)) {
                snprintf(a, sizeof(a), "0x%llx", (unsigned long long)all);
                add(c, CVMM_SEV_ERROR, "tdx.xfam", 0xd, 0, -1, -1, "XFAM", "within 0x6dbe7", a,
                    "components outside the TDX module's XFAM fixed-0 mask (PASID is never "
                    "allowed)");
        }
        if (cvmm_cpuid_get(c->t, 0, 0) && !cvmm_cpuid_is_intel(c->t))
                add(c, CVMM_SEV_WARNING, "tdx.vendor", 0, 0, -1, -1, "vendor", "GenuineIntel",
                    "other",
                    "a real TD exists only on Intel parts: the TDX rules were applied to another "
                    "vendor's table, keeping its vendor, family and model");
}

/* A Linux guest's fpu__init_system_xstate(), as of 6.6. */
static void linux_view(struct ctx *c)
{
        struct cvmm_linux_view *v = &c->r->linux_view;
        const struct cvmm_cpuid_table *t = c->t;
        *v = (struct cvmm_linux_view){0};
        v->has_fpu = cvmm_cpuid_bit(t, 1, 0, CVMM_EDX, 0);
        if (!v->has_fpu) {
                snprintf(v->disable_reason, sizeof(v->disable_reason), "No FPU detected");
                return;
        }
        if (!cvmm_cpuid_bit(t, 1, 0, CVMM_ECX, 26)) {
                snprintf(v->disable_reason, sizeof(v->disable_reason),
                         "x87 FPU will use FXSAVE (XSAVE not advertised)");
                return;
        }
        uint64_t max = c->l.xcr0_supported | c->l.xss_supported;
        if ((max & 3) != 3) {
                snprintf(v->disable_reason, sizeof(v->disable_reason),
                         "FP/SSE not present amongst the CPU's xstate features: 0x%llx",
                         (unsigned long long)max);
                return;
        }
        /* xsave_cpuid_features[]: a component stays only if its feature is advertised. */
        static const char *const need[20] = {
            [2] = "avx",     [3] = "mpx",     [4] = "mpx",       [5] = "avx512f",
            [6] = "avx512f", [7] = "avx512f", [8] = "intel_pt",  [9] = "pku",
            [10] = "enqcmd", [11] = "shstk",  [17] = "amx_tile", [18] = "amx_tile",
        };
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++) {
                const char *f = n < 20 ? need[n] : NULL;
                if (!f ||
                    !cvmm_cpuid_bit(t, cvmm_feature_find(f)->leaf, cvmm_feature_find(f)->subleaf,
                                    cvmm_feature_find(f)->reg, cvmm_feature_find(f)->bit))
                        max &= ~(1ull << n);
        }
        bool xsaves = c->l.d1_eax >> 3 & 1;
        if (!(c->l.d1_eax >> 4 & 1))
                max &= ~(1ull << 18); /* XFEATURE_MASK_USER_DYNAMIC without XFD */
        max &= xsaves ? LINUX_USER_SUPPORTED | LINUX_SUPERVISOR_SUPPORTED : LINUX_USER_SUPPORTED;
        v->features = max;
        v->compacted = (c->l.d1_eax & 0xa) != 0;
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++)
                if ((max >> n & 1) && c->l.comp[n].supervisor && !xsaves) {
                        v->consistency_warning = true;
                        snprintf(v->disable_reason, sizeof(v->disable_reason),
                                 "XSAVE consistency problem: Got supervisor feature %u, but "
                                 "XSAVES not advertised",
                                 n);
                        return;
                }
        v->computed_size = v->compacted ? cvmm_xsave_compacted_size(&c->l, max)
                                        : cvmm_xsave_standard_size(&c->l, max);
        /*
         * The size the kernel reads back after programming XCR0/XSS: the table's own value when
         * the table was derived for that very mask, else what a monitor deriving it the
         * architectural way (KVM, cvmm) returns.
         */
        uint64_t xcr0 = c->o->have_xcr0 ? c->o->xcr0 : c->l.xcr0_supported;
        uint64_t xss = c->o->have_xss ? c->o->xss : c->l.xss_supported;
        uint64_t declared = v->compacted ? xcr0 | xss : xcr0;
        if (declared == max) {
                v->kernel_size_static = true;
                v->kernel_size = cvmm_cpuid_reg(t, 0xd, v->compacted ? 1 : 0, CVMM_EBX);
        } else {
                v->kernel_size = v->computed_size;
        }
        if (v->kernel_size != v->computed_size) {
                v->consistency_warning = true;
                snprintf(v->disable_reason, sizeof(v->disable_reason),
                         "XSAVE consistency problem: size %u != kernel_size %u", v->computed_size,
                         v->kernel_size);
                return;
        }
        v->xsave_used = true;
}

int cvmm_check(const struct cvmm_cpuid_table *t, const struct cvmm_check_opts *opts,
               struct cvmm_check_report *r)
{
        memset(r, 0, sizeof(*r));
        struct ctx c = {
            .t = t, .o = opts, .r = r, .names = cvmm_model_names_or_default(opts->names)};
        cvmm_xsave_layout_read(t, &c.l);
        bool have_d0 = cvmm_cpuid_get(t, 0xd, 0) != NULL;
        bool have_d1 = cvmm_cpuid_get(t, 0xd, 1) != NULL;
        c.have_d1 = have_d1;
        bool have_l1 = cvmm_cpuid_get(t, 1, 0) != NULL;
        bool xsave_off = have_l1 && !cvmm_cpuid_bit(t, 1, 0, CVMM_ECX, 26);
        if (!have_d0) {
                skip(&c, "leaf 0xD rules (0xD.0 absent)");
        } else if (xsave_off && !(c.l.xcr0_supported | c.l.xss_supported)) {
                /* No XSAVE and leaf 0xD describes nothing: consistent, nothing to check. */
        } else {
                if (!have_d1)
                        skip(&c, "supervisor-state, XSAVES, XFD and compacted-size rules (0xD.1 "
                                 "absent)");
                rules_components(&c);
                rules_geometry(&c);
                rules_groups(&c);
        }
        if (!have_l1)
                skip(&c, "leaf 1 feature rules (XSAVE, AVX) and the Linux guest view (leaf 1 "
                         "absent)");
        if (!cvmm_cpuid_get(t, 7, 0))
                skip(&c, "leaf 7 feature rules (AVX-512, PKU, AMX, CET) (leaf 7 absent)");
        rules_features(&c);
        if (opts->tdx)
                rules_tdx(&c);
        if (cvmm_cpuid_reg(t, 0x21, 0, CVMM_EBX) == 0x65746e49u)
                add(&c, CVMM_SEV_WARNING, "tdx.signature-leaf", 0x21, 0, -1, -1, "IntelTDX",
                    "absent", "present",
                    "leaf 0x21 carries the TDX signature: a guest will believe it is a TD");
        if (have_l1 && have_d0)
                linux_view(&c);
        else
                r->linux_view.has_fpu = false;
        /* Judged strictly unless the size came from a dump's own (OS-dependent) EBX. */
        bool strict = opts->have_xcr0 || opts->have_xss || !r->linux_view.kernel_size_static;
        if (r->linux_view.consistency_warning) {
                char why[192] = "";
                if (!strict)
                        snprintf(why, sizeof(why),
                                 " (if a monitor returned this static EBX; a dump's EBX reflects "
                                 "its OS's XCR0/XSS: give %s/%s to judge)",
                                 c.names.xcr0, c.names.xss);
                add(&c, strict ? CVMM_SEV_ERROR : CVMM_SEV_WARNING, "linux.xsave-disabled", 0xd, 1,
                    CVMM_EBX, -1, "kernel_size", "", "",
                    "a Linux guest prints '%s' and disables XSAVE%s", r->linux_view.disable_reason,
                    why);
        }
        return c.oom ? -1 : 0;
}

void cvmm_check_report_free(struct cvmm_check_report *r)
{
        free(r->findings);
        memset(r, 0, sizeof(*r));
}
