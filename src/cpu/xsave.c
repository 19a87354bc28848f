/* SPDX-License-Identifier: MIT */
/* Leaf 0xD: per-component view, the standard and compacted sizes, XCR0/XSS validation. */
#include <stdio.h>

#include "cvmm/xsave.h"

static const struct {
        const char *name;
        uint32_t arch_size; /* Intel SDM vol. 1 13.x; 0 where it is model-specific */
} comp_info[] = {
    [0] = {"x87", 0},          [1] = {"SSE", 0},         [2] = {"AVX", 256},
    [3] = {"BNDREGS", 64},     [4] = {"BNDCSR", 64},     [5] = {"opmask", 64},
    [6] = {"ZMM_Hi256", 512},  [7] = {"Hi16_ZMM", 1024}, [8] = {"PT", 0},
    [9] = {"PKRU", 8},         [10] = {"PASID", 8},      [11] = {"CET_U", 16},
    [12] = {"CET_S", 24},      [13] = {"HDC", 8},        [14] = {"UINTR", 48},
    [15] = {"LBR", 0},         [16] = {"HWP", 8},        [17] = {"TILECFG", 64},
    [18] = {"TILEDATA", 8192}, [19] = {"APX", 128},
};
#define NINFO (sizeof(comp_info) / sizeof(comp_info[0]))

uint32_t cvmm_xsave_arch_size(unsigned n)
{
        return n < NINFO ? comp_info[n].arch_size : 0;
}

const char *cvmm_xsave_comp_name(unsigned n)
{
        static const char *const unnamed[] = {"reserved"};
        return n < NINFO && comp_info[n].name ? comp_info[n].name : unnamed[0];
}

uint64_t cvmm_xsave_group(unsigned n)
{
        static const uint64_t groups[] = {CVMM_XSTATE_MPX, CVMM_XSTATE_AVX512, CVMM_XSTATE_AMX};
        for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
                if (groups[i] >> n & 1)
                        return groups[i];
        return n < 64 ? 1ull << n : 0;
}

void cvmm_xsave_layout_read(const struct cvmm_cpuid_table *t, struct cvmm_xsave_layout *l)
{
        *l = (struct cvmm_xsave_layout){0};
        l->xcr0_supported = (uint64_t)cvmm_cpuid_reg(t, 0xd, 0, CVMM_EDX) << 32 |
                            cvmm_cpuid_reg(t, 0xd, 0, CVMM_EAX);
        l->xss_supported = (uint64_t)cvmm_cpuid_reg(t, 0xd, 1, CVMM_EDX) << 32 |
                           cvmm_cpuid_reg(t, 0xd, 1, CVMM_ECX);
        l->d1_eax = cvmm_cpuid_reg(t, 0xd, 1, CVMM_EAX);
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++) {
                const struct cvmm_cpuid_entry *e = cvmm_cpuid_get(t, 0xd, n);
                if (!e)
                        continue;
                struct cvmm_xsave_comp *c = &l->comp[n];
                c->listed = true;
                c->size = e->regs[CVMM_EAX];
                c->offset = e->regs[CVMM_EBX];
                c->supervisor = e->regs[CVMM_ECX] & 1;
                c->align64 = e->regs[CVMM_ECX] >> 1 & 1;
                c->xfd = e->regs[CVMM_ECX] >> 2 & 1;
        }
}

uint32_t cvmm_xsave_standard_size(const struct cvmm_xsave_layout *l, uint64_t mask)
{
        uint64_t size = CVMM_XSAVE_EXT_START;
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++) {
                const struct cvmm_xsave_comp *c = &l->comp[n];
                if (!(mask >> n & 1) || c->supervisor)
                        continue;
                uint64_t end = (uint64_t)c->offset + c->size;
                if (end > size)
                        size = end;
        }
        return size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
}

bool cvmm_xsave_layout_fits(const struct cvmm_xsave_layout *l)
{
        uint64_t total = CVMM_XSAVE_EXT_START;
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++) {
                const struct cvmm_xsave_comp *c = &l->comp[n];
                if (!c->listed)
                        continue;
                if ((uint64_t)c->offset + c->size > UINT32_MAX)
                        return false;
                total = ((total + 63) & ~(uint64_t)63) + c->size;
        }
        return total <= UINT32_MAX;
}

uint32_t cvmm_xsave_compacted_size(const struct cvmm_xsave_layout *l, uint64_t mask)
{
        uint64_t size = CVMM_XSAVE_EXT_START;
        /* Ascending component order is architectural: it decides where padding goes. */
        for (unsigned n = 2; n < CVMM_XSAVE_NCOMP; n++) {
                const struct cvmm_xsave_comp *c = &l->comp[n];
                if (!(mask >> n & 1))
                        continue;
                if (c->align64)
                        size = (size + 63) & ~(uint64_t)63;
                size += c->size;
        }
        return size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
}

/* Fails naming `what` when value has bits outside supported. */
static int unsupported(uint64_t value, uint64_t supported, const char *what, const char *kind,
                       const char *where, struct cvmm_err *err)
{
        uint64_t extra = value & ~supported;
        if (!extra)
                return 0;
        return cvmm_errf(err,
                         "%s 0x%llx: bits 0x%llx are not supported %s components of this table "
                         "(%s = 0x%llx)",
                         what, (unsigned long long)value, (unsigned long long)extra, kind, where,
                         (unsigned long long)supported);
}

int cvmm_xsave_validate_xcr0(const struct cvmm_xsave_layout *l, uint64_t xcr0, const char *what,
                             struct cvmm_err *err)
{
        if (unsupported(xcr0, l->xcr0_supported, what, "user", "0xD.0 EDX:EAX", err))
                return -1;
        if (!(xcr0 & 1))
                return cvmm_errf(err, "%s 0x%llx: bit 0 (x87) must be set", what,
                                 (unsigned long long)xcr0);
        if ((xcr0 & 4) && !(xcr0 & 2))
                return cvmm_errf(err, "%s 0x%llx: AVX (bit 2) needs SSE (bit 1)", what,
                                 (unsigned long long)xcr0);
        uint64_t avx512 = xcr0 & CVMM_XSTATE_AVX512;
        if (avx512 && (avx512 != CVMM_XSTATE_AVX512 || !(xcr0 & 4)))
                return cvmm_errf(err, "%s 0x%llx: AVX-512 needs bits 5, 6, 7 together and AVX",
                                 what, (unsigned long long)xcr0);
        uint64_t mpx = xcr0 & CVMM_XSTATE_MPX;
        if (mpx && mpx != CVMM_XSTATE_MPX)
                return cvmm_errf(err, "%s 0x%llx: MPX needs bits 3 and 4 together", what,
                                 (unsigned long long)xcr0);
        uint64_t amx = xcr0 & CVMM_XSTATE_AMX;
        if (amx && amx != CVMM_XSTATE_AMX)
                return cvmm_errf(err, "%s 0x%llx: AMX needs bits 17 and 18 together", what,
                                 (unsigned long long)xcr0);
        return 0;
}

int cvmm_xsave_validate_xss(const struct cvmm_xsave_layout *l, uint64_t xss, const char *what,
                            struct cvmm_err *err)
{
        if (xss & 3)
                return cvmm_errf(err, "%s 0x%llx: bits 0-1 (x87, SSE) are never supervisor state",
                                 what, (unsigned long long)xss);
        return unsupported(xss, l->xss_supported, what, "supervisor", "0xD.1 EDX:ECX", err);
}

int cvmm_xsave_derive(struct cvmm_cpuid_table *t, uint64_t xcr0, uint64_t xss)
{
        static const char rule[] = "xsave.derive";
        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(t, &l);
        /* No leaf 0xD, or one without x87 (no XSAVE): there is nothing to derive. */
        if (!(l.xcr0_supported & 1))
                return 0;
        uint64_t user = l.xcr0_supported;
        if (cvmm_cpuid_set_reg(t, 0xd, 0, CVMM_ECX, cvmm_xsave_standard_size(&l, user), rule) ||
            cvmm_cpuid_set_reg(t, 0xd, 0, CVMM_EBX, cvmm_xsave_standard_size(&l, xcr0), rule))
                return -1;
        /* As KVM does: 0xD.1 EBX is defined only with XSAVEC or XSAVES (0xD.1 EAX bits 1, 3). */
        if ((l.d1_eax & 0xa) && cvmm_cpuid_set_reg(t, 0xd, 1, CVMM_EBX,
                                                   cvmm_xsave_compacted_size(&l, xcr0 | xss), rule))
                return -1;
        return 0;
}
