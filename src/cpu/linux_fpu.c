/* SPDX-License-Identifier: MIT */
/*
 * A model of Linux's fpu__init_system_xstate() (arch/x86/kernel/fpu/xstate.c) at 6.1 and 6.6:
 * the same checks in the same order, printing the same lines. Facts from the kernel source;
 * the code is ours.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cvmm/features.h"
#include "cvmm/linux.h"
#include "cvmm/xsave.h"

/* XFEATURE_MASK_USER_SUPPORTED: x87..Hi16_ZMM, MPX, PKRU, XTILE (6.1 and 6.6). */
#define USER_SUPPORTED 0x602ffull
/* XFEATURE_MASK_SUPERVISOR_SUPPORTED: PASID (6.1); PASID and CET_USER (6.6). */
#define SUPERVISOR_SUPPORTED_61 0x400ull
#define SUPERVISOR_SUPPORTED_66 0xc00ull
#define USER_DYNAMIC            (1ull << 18) /* XTILE_DATA */
#define XFEATURE_MAX_61         19u
#define INIT_FPSTATE_MAX        4096u /* sizeof(init_fpstate.regs): one page */

int cvmm_linux_version_parse(const char *s, enum cvmm_linux_version *v, struct cvmm_err *err)
{
        if (strcmp(s, "6.1") == 0)
                *v = CVMM_LINUX_6_1;
        else if (strcmp(s, "6.6") == 0)
                *v = CVMM_LINUX_6_6;
        else
                return cvmm_errf(err, "Linux version '%s': expected 6.1 or 6.6", s);
        return 0;
}

const char *cvmm_linux_version_name(enum cvmm_linux_version v)
{
        return v == CVMM_LINUX_6_6 ? "6.6" : "6.1";
}

/* xfeature_names[] */
static const char *xfeature_name(unsigned n, enum cvmm_linux_version v)
{
        static const char *const names[] = {
            "x87 floating point registers",
            "SSE registers",
            "AVX registers",
            "MPX bounds registers",
            "MPX CSR",
            "AVX-512 opmask",
            "AVX-512 Hi256",
            "AVX-512 ZMM_Hi256",
            "Processor Trace (unused)",
            "Protection Keys User registers",
            "PASID state",
            "unknown xstate feature", /* 11: 6.6 names it */
            "unknown xstate feature",
            "unknown xstate feature",
            "unknown xstate feature",
            "unknown xstate feature",
            "unknown xstate feature",
            "AMX Tile config",
            "AMX Tile data",
        };
        if (v == CVMM_LINUX_6_6 && n == 11)
                return "Control-flow User registers";
        if (v == CVMM_LINUX_6_6 && n == 12)
                return "Control-flow Kernel registers (unused)";
        /* xfeature_names[] has 20 entries; index 19 is "unknown xstate feature" too. */
        return n < sizeof(names) / sizeof(names[0]) ? names[n] : "unknown xstate feature";
}

/*
 * xsave_cpuid_features[] (19 entries): the feature a component needs (NULL: none; the component
 * is dropped). 6.1 keys PKRU on PKU; 6.6 on OSPKE, which the kernel sets itself when PKU is
 * there before its FPU setup, so both read PKU here. 6.6 adds CET_USER on shstk.
 */
static const char *xfeature_needs(unsigned n, enum cvmm_linux_version v)
{
        static const char *const need[19] = {
            [0] = "fpu",     [1] = "sse",       [2] = "avx",       [3] = "mpx",      [4] = "mpx",
            [5] = "avx512f", [6] = "avx512f",   [7] = "avx512f",   [8] = "intel_pt", [9] = "pku",
            [10] = "enqcmd", [17] = "amx_tile", [18] = "amx_tile",
        };
        if (v == CVMM_LINUX_6_6 && n == 11)
                return "shstk";
        return n < 19 ? need[n] : NULL;
}

static bool has(const struct cvmm_cpuid_table *t, const char *name)
{
        const struct cvmm_feature *f = cvmm_feature_find(name);
        return f && cvmm_cpuid_bit(t, f->leaf, f->subleaf, f->reg, f->bit);
}

void cvmm_linux_plan(const struct cvmm_cpuid_table *t, enum cvmm_linux_version v,
                     struct cvmm_linux_plan *p)
{
        memset(p, 0, sizeof(*p));
        if (!has(t, "fpu") || !has(t, "xsave"))
                return;
        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(t, &l);
        uint64_t max = l.xcr0_supported | l.xss_supported;
        p->xsave = true;
        if ((max & 3) != 3) {
                p->features = max;
                return;
        }
        for (unsigned n = 0; n < 19; n++) {
                const char *need = xfeature_needs(n, v);
                if (!need || !has(t, need))
                        max &= ~(1ull << n);
        }
        bool xsaves = l.d1_eax >> 3 & 1;
        if (!(l.d1_eax >> 4 & 1))
                max &= ~USER_DYNAMIC;
        uint64_t sup = v == CVMM_LINUX_6_6 ? SUPERVISOR_SUPPORTED_66 : SUPERVISOR_SUPPORTED_61;
        max &= xsaves ? USER_SUPPORTED | sup : USER_SUPPORTED;
        p->features = max;
        p->xcr0 = max & USER_SUPPORTED;
        p->xss = max & ~USER_SUPPORTED;
        p->compacted = (l.d1_eax & 0xa) != 0;
}

static void vsay(struct cvmm_linux_boot *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void vsay(struct cvmm_linux_boot *b, const char *fmt, va_list ap)
{
        if (b->nlines >= CVMM_LINUX_MAX_LINES)
                return;
        vsnprintf(b->lines[b->nlines++], CVMM_LINUX_LINE, fmt, ap);
}

static void say(struct cvmm_linux_boot *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(struct cvmm_linux_boot *b, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsay(b, fmt, ap);
        va_end(ap);
}

/* The kernel's cached per-component view (setup_xstate_cache). */
struct cache {
        uint32_t size[64], offset[64], flags[64];
};

/* __xstate_dump_leaves(): 0xD subleaves 0 .. XFEATURE_MAX + 9, once per boot. */
static void dump_leaves(const struct cvmm_cpuid_table *t, const struct cvmm_linux_runtime *rt,
                        bool *dumped, struct cvmm_linux_boot *b)
{
        if (*dumped)
                return;
        *dumped = true;
        for (unsigned i = 0; i < XFEATURE_MAX_61 + 10; i++) {
                uint32_t r[4] = {0};
                const struct cvmm_cpuid_entry *e = cvmm_cpuid_get(t, 0xd, i);
                if (e)
                        memcpy(r, e->regs, sizeof(r));
                if (i == 0)
                        r[1] = rt->d0_ebx;
                if (i == 1)
                        r[1] = rt->d1_ebx;
                say(b, "CPUID[0d, %02x]: eax=%08x ebx=%08x ecx=%08x edx=%08x", i, r[0], r[1], r[2],
                    r[3]);
        }
}

/* xfeature_get_offset(): the standard offset, or the compacted one for mask. */
static uint32_t get_offset(const struct cache *c, bool compacted, uint64_t mask, unsigned n)
{
        if (!compacted || n <= 1)
                return c->offset[n];
        uint32_t offs = CVMM_XSAVE_EXT_START;
        for (unsigned i = 2; i < 64; i++) {
                if (!(mask >> i & 1))
                        continue;
                if (c->flags[i] & 2)
                        offs = (offs + 63) & ~63u;
                if (i == n)
                        break;
                offs += c->size[i];
        }
        return offs;
}

/* xstate_calculate_size(): the topmost component's offset plus its size. */
static uint32_t calc_size(const struct cache *c, bool compacted, uint64_t mask)
{
        unsigned top = 0;
        for (unsigned i = 0; i < 64; i++)
                if (mask >> i & 1)
                        top = i;
        if (top <= 1)
                return CVMM_XSAVE_EXT_START;
        return get_offset(c, compacted, mask, top) + c->size[top];
}

/*
 * The kernel's struct for each component it checks (6.1: XCHECK_SZ; 6.6: the switch in
 * check_xstate_against_struct, which adds CET_USER), 0 where it has none. XTILE_DATA is checked
 * against leaf 0x1D by a pr_err-only path, not modelled.
 */
static uint32_t struct_size(unsigned n, enum cvmm_linux_version v, const char **name)
{
        if (v == CVMM_LINUX_6_6 && n == 11) {
                *name = "XFEATURE_CET_USER";
                return 16;
        }
        static const struct {
                const char *name;
                uint32_t size;
        } s[] = {
            [2] = {"XFEATURE_YMM", 256},       [3] = {"XFEATURE_BNDREGS", 64},
            [4] = {"XFEATURE_BNDCSR", 64},     [5] = {"XFEATURE_OPMASK", 64},
            [6] = {"XFEATURE_ZMM_Hi256", 512}, [7] = {"XFEATURE_Hi16_ZMM", 1024},
            [9] = {"XFEATURE_PKRU", 8},        [10] = {"XFEATURE_PASID", 8},
            [17] = {"XFEATURE_XTILE_CFG", 64},
        };
        if (n >= sizeof(s) / sizeof(s[0]) || !s[n].name)
                return 0;
        *name = s[n].name;
        return s[n].size;
}

/* The paths on which the kernel never reaches its size checks; true when one was taken. */
static bool predict_without_xsave(const struct cvmm_cpuid_table *t, struct cvmm_linux_boot *b)
{
        const struct cvmm_linux_plan *p = &b->plan;
        if (!has(t, "fpu")) {
                say(b, "x86/fpu: No FPU detected");
                snprintf(b->verdict, sizeof(b->verdict), "no FPU: XSAVE unused");
                return true;
        }
        if (!p->xsave) {
                say(b, "x86/fpu: x87 FPU will use %s", has(t, "fxsr") ? "FXSAVE" : "FSAVE");
                snprintf(b->verdict, sizeof(b->verdict), "XSAVE not advertised: the kernel uses %s",
                         has(t, "fxsr") ? "FXSAVE" : "FSAVE");
                return true;
        }
        if ((p->features & 3) != 3) {
                say(b, "x86/fpu: FP/SSE not present amongst the CPU's xstate features: 0x%llx.",
                    (unsigned long long)p->features);
                snprintf(b->verdict, sizeof(b->verdict),
                         "leaf 0xD lacks x87/SSE state: the kernel disables XSAVE");
                return true;
        }
        return false;
}

/* 0xD.0 and 0xD.1 EBX as the kernel reads them: measured, else architectural for the plan. */
static void runtime_sizes(const struct cvmm_cpuid_table *t, const struct cvmm_linux_plan *p,
                          const struct cvmm_linux_runtime *rt_in, struct cvmm_linux_runtime *rt)
{
        if (rt_in && rt_in->measured) {
                *rt = *rt_in;
                return;
        }
        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(t, &l);
        *rt = (struct cvmm_linux_runtime){0};
        rt->d0_ebx = cvmm_xsave_standard_size(&l, p->xcr0);
        rt->d1_ebx = p->compacted ? cvmm_xsave_compacted_size(&l, p->xcr0 | p->xss) : 0;
}

/* setup_xstate_cache() for the components in max, saying "misordered xstate" once. */
static void setup_cache(const struct cvmm_cpuid_table *t, uint64_t max, struct cache *c,
                        struct cvmm_linux_boot *b)
{
        *c = (struct cache){0};
        c->size[0] = 160;
        c->offset[1] = 160;
        c->size[1] = 256;
        uint32_t last_good = CVMM_XSAVE_EXT_START;
        for (unsigned i = 2; i < 64; i++) {
                if (!(max >> i & 1))
                        continue;
                c->size[i] = cvmm_cpuid_reg(t, 0xd, i, CVMM_EAX);
                c->flags[i] = cvmm_cpuid_reg(t, 0xd, i, CVMM_ECX);
                if (c->flags[i] & 1) {
                        c->offset[i] = UINT32_MAX;
                        continue;
                }
                c->offset[i] = cvmm_cpuid_reg(t, 0xd, i, CVMM_EBX);
                if (last_good > c->offset[i] && !b->misordered) {
                        b->misordered = true;
                        say(b, "x86/fpu: misordered xstate at %u", last_good);
                }
                last_good = c->offset[i];
        }
}

/* What the size checks print and remember about the boot so far. */
struct size_check {
        const struct cvmm_cpuid_table *t;
        const struct cvmm_linux_runtime *rt;
        struct cvmm_linux_boot *b;
        bool dumped;      /* the 0xD leaves were dumped (once per boot) */
        size_t fail_line; /* the line that says why XSAVE is disabled */
};

/* "XSAVE consistency problem: ...", the leaf dump, XSAVE disabled. Returns false. */
static bool consistency_problem(struct size_check *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool consistency_problem(struct size_check *s, const char *fmt, ...)
{
        s->fail_line = s->b->nlines;
        va_list ap;
        va_start(ap, fmt);
        vsay(s->b, fmt, ap);
        va_end(ap);
        dump_leaves(s->t, s->rt, &s->dumped, s->b);
        s->b->consistency_problem = true;
        return false;
}

/*
 * paranoid_xstate_size_valid(), where every struct-size warning fires once per component, and
 * then the computed size against kernel_size. False when the kernel disables XSAVE.
 */
static bool xstate_sizes_valid(struct size_check *s, enum cvmm_linux_version v,
                               const struct cache *c, bool xsaves)
{
        struct cvmm_linux_boot *b = s->b;
        uint64_t max = b->plan.features;
        for (unsigned i = 2; i < 64; i++) {
                if (!(max >> i & 1))
                        continue;
                const char *sname = NULL;
                uint32_t want = struct_size(i, v, &sname);
                if (sname && want != c->size[i]) {
                        b->struct_mismatch = true;
                        if (v == CVMM_LINUX_6_6)
                                say(b, "[%s]: struct is %u bytes, cpu state %u bytes",
                                    xfeature_name(i, v), want, c->size[i]);
                        else
                                say(b, "%s: struct is %u bytes, cpu state %u bytes", sname, want,
                                    c->size[i]);
                        dump_leaves(s->t, s->rt, &s->dumped, b);
                } else if (!sname && i != 18) {
                        return consistency_problem(
                            s, "XSAVE consistency problem: No structure for xstate: %u", i);
                }
                if (!xsaves && (c->flags[i] & 1))
                        return consistency_problem(s,
                                                   "XSAVE consistency problem: Got supervisor "
                                                   "feature %u, but XSAVES not advertised",
                                                   i);
        }
        b->computed_size = calc_size(c, b->plan.compacted, max);
        if (b->computed_size != b->kernel_size) {
                b->size_mismatch = true;
                return consistency_problem(s,
                                           "XSAVE consistency problem: size %u != kernel_size %u",
                                           b->computed_size, b->kernel_size);
        }
        return true;
}

/* setup_init_fpu_buf()'s print_xstate_features(), print_xstate_offset_size(), and the end. */
static void print_enabled(struct cvmm_linux_boot *b, enum cvmm_linux_version v,
                          const struct cache *c)
{
        uint64_t max = b->plan.features;
        bool compacted = b->plan.compacted;
        /* The order print_xstate_features() uses; 6.6 adds CET_USER after PASID. */
        static const unsigned printed[] = {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 17, 18};
        for (size_t k = 0; k < sizeof(printed) / sizeof(printed[0]); k++) {
                if (printed[k] == 11 && v != CVMM_LINUX_6_6)
                        continue;
                if (max >> printed[k] & 1)
                        say(b, "x86/fpu: Supporting XSAVE feature 0x%03llx: '%s'",
                            1ull << printed[k], xfeature_name(printed[k], v));
        }
        for (unsigned i = 2; i < 64; i++)
                if (max >> i & 1)
                        say(b, "x86/fpu: xstate_offset[%u]: %4u, xstate_sizes[%u]: %4u", i,
                            get_offset(c, compacted, max, i), i, c->size[i]);
        b->xsave_used = true;
        b->features = max;
        b->context_size = b->kernel_size;
        say(b,
            "x86/fpu: Enabled xstate features 0x%llx, context size is %u bytes, using '%s' "
            "format.",
            (unsigned long long)max, b->kernel_size, compacted ? "compacted" : "standard");
        snprintf(b->verdict, sizeof(b->verdict),
                 "consistent: the kernel enables xstate features 0x%llx, context size %u bytes, "
                 "'%s' format",
                 (unsigned long long)max, b->kernel_size, compacted ? "compacted" : "standard");
}

void cvmm_linux_predict(const struct cvmm_cpuid_table *t, enum cvmm_linux_version v,
                        const struct cvmm_linux_runtime *rt_in, struct cvmm_linux_boot *b)
{
        memset(b, 0, sizeof(*b));
        struct cvmm_linux_plan *p = &b->plan;
        cvmm_linux_plan(t, v, p);
        if (predict_without_xsave(t, b))
                return;
        bool xsaves = cvmm_cpuid_reg(t, 0xd, 1, CVMM_EAX) >> 3 & 1;
        struct cvmm_linux_runtime rt;
        runtime_sizes(t, p, rt_in, &rt);
        struct cache c;
        setup_cache(t, p->features, &c, b);
        /* init_xstate_size() */
        b->user_size = rt.d0_ebx;
        b->kernel_size = p->compacted ? rt.d1_ebx : rt.d0_ebx;
        struct size_check sc = {.t = t, .rt = &rt, .b = b};
        if (!xstate_sizes_valid(&sc, v, &c, xsaves)) {
                snprintf(b->verdict, sizeof(b->verdict), "the kernel disables XSAVE: %s",
                         b->lines[sc.fail_line]);
                return;
        }
        uint32_t default_size = calc_size(&c, p->compacted, p->features & ~USER_DYNAMIC);
        if (default_size > INIT_FPSTATE_MAX) {
                say(b, "x86/fpu: init_fpstate buffer too small (%u < %u), disabling XSAVE",
                    INIT_FPSTATE_MAX, default_size);
                snprintf(b->verdict, sizeof(b->verdict),
                         "the kernel disables XSAVE: its init_fpstate buffer is too small");
                return;
        }
        print_enabled(b, v, &c);
}

bool cvmm_linux_line_modelled(const char *line)
{
        static const char *const prefixes[] = {"x86/fpu: ", "XSAVE consistency problem",
                                               "XFEATURE_", "CPUID[0d, "};
        for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
                if (strncmp(line, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        /* 6.6's struct-size warning: "[AVX registers]: struct is 256 bytes, ..." */
        return line[0] == '[' && strstr(line, "]: struct is ") != NULL;
}
