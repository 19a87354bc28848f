/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "cvmm/msr.h"

/*
 * The #VE class a VMM answers for a TD. Each entry says why a Linux guest needs it; reads give
 * the value, writes are ignored (no state changes, nothing from the host leaks).
 */
const struct cvmm_msr_emulated cvmm_msr_emulated[] = {
    {0x10, 0x10, "IA32_TIME_STAMP_COUNTER", 0, false,
     "writes ignored: a TD cannot move its TSC (reads are native)"},
    {0x17, 0x17, "IA32_PLATFORM_ID", 0, false, "read by Linux's microcode loader: platform 0"},
    {0x34, 0x34, "MSR_SMI_COUNT", 0, false, "read by turbostat-style tools: no SMIs"},
    {0x3a, 0x3a, "IA32_FEATURE_CONTROL", 0x1, false,
     "locked with VMX and SGX off: Linux reads it to decide what to enable"},
    {0x79, 0x79, "IA32_BIOS_UPDT_TRIG", 0, true,
     "microcode update trigger: write ignored (a TD cannot load microcode); reads #GP"},
    {0x8b, 0x8b, "IA32_BIOS_SIGN_ID", 0, false, "microcode revision: Linux reads it; 0"},
    {0xce, 0xce, "MSR_PLATFORM_INFO", 0, false, "read (safely) for ratios: none exposed"},
    {0xfe, 0xfe, "IA32_MTRRCAP", 0x400, false,
     "MTRR capabilities: write-combining, no variable or fixed ranges"},
    {0x140, 0x140, "MSR_MISC_FEATURES_ENABLES", 0, false,
     "CPUID faulting / ring-3 MWAIT controls: off, writes ignored"},
    {0x179, 0x179, "IA32_MCG_CAP", 0, false, "machine-check capabilities: no banks"},
    {0x17a, 0x17a, "IA32_MCG_STATUS", 0, false, "machine-check status: clear"},
    {0x1a0, 0x1a0, "IA32_MISC_ENABLE", 0x1, false,
     "fixed (fast strings); writes ignored (reads are the module's)"},
    {0x200, 0x21f, "IA32_MTRR_PHYSBASE/MASK", 0, false, "variable MTRRs: none"},
    {0x250, 0x250, "IA32_MTRR_FIX64K_00000", 0, false, "fixed MTRRs: none"},
    {0x258, 0x259, "IA32_MTRR_FIX16K", 0, false, "fixed MTRRs: none"},
    {0x268, 0x26f, "IA32_MTRR_FIX4K", 0, false, "fixed MTRRs: none"},
    {0x2ff, 0x2ff, "IA32_MTRR_DEF_TYPE", 0, false,
     "MTRRs disabled: a TD's memory type comes from PAT"},
};
const size_t cvmm_msr_emulated_count = sizeof(cvmm_msr_emulated) / sizeof(cvmm_msr_emulated[0]);

/* MSRs the VMM must leave to KVM in any profile: the local APIC and its timer. */
const struct cvmm_msr_kvm_owned cvmm_msr_kvm_owned[] = {
    {0x1b, 0x1b, "IA32_APIC_BASE", "the local APIC is KVM's (x2APIC mode is switched here)", true},
    {0x6e0, 0x6e0, "IA32_TSC_DEADLINE", "the local APIC timer is KVM's", true},
    {0x800, 0x8ff, "x2APIC registers", "KVM cannot filter the x2APIC range: its local APIC answers",
     false},
    {0x11, 0x12, "MSR_KVM_WALL_CLOCK/SYSTEM_TIME (legacy)",
     "KVM's paravirtual clock, advertised in leaf 0x40000001: KVM implements it", false},
    {0x4b564d00, 0x4b564dff, "KVM paravirtual MSRs",
     "KVM's paravirtual interface (kvmclock, steal time, PV EOI...), advertised in leaf "
     "0x40000001: KVM implements it",
     false},
};
const size_t cvmm_msr_kvm_owned_count = sizeof(cvmm_msr_kvm_owned) / sizeof(cvmm_msr_kvm_owned[0]);

const char *cvmm_msr_class_name(enum cvmm_msr_class c)
{
        static const char *const n[] = {"native", "emulated", "gp", "unknown"};
        return c <= CVMM_MSR_UNKNOWN ? n[c] : "?";
}

static const struct cvmm_tdx_msr_row *tdx_row(uint32_t index)
{
        size_t lo = 0, hi = cvmm_tdx_msr_rows_count;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const struct cvmm_tdx_msr_row *r = &cvmm_tdx_msr_rows[mid];
                if (index < r->first)
                        hi = mid;
                else if (index > r->last)
                        lo = mid + 1;
                else
                        return r;
        }
        return NULL;
}

static const struct cvmm_msr_emulated *emulated(uint32_t index)
{
        for (size_t i = 0; i < cvmm_msr_emulated_count; i++)
                if (index >= cvmm_msr_emulated[i].first && index <= cvmm_msr_emulated[i].last)
                        return &cvmm_msr_emulated[i];
        return NULL;
}

void cvmm_msr_env_from_cpuid(struct cvmm_msr_env *env, const struct cvmm_cpuid_table *t)
{
        uint32_t d = 0;
        /* Architectural performance monitoring: CPUID.0xA.EAX[7:0] (version) non-zero. */
        if (cvmm_cpuid_reg(t, 0xa, 0, CVMM_EAX) & 0xff)
                d |= 1u << CVMM_TDX_DYN_PERFMON;
        uint32_t xss = cvmm_cpuid_reg(t, 0xd, 1, CVMM_ECX);
        if (xss & (3u << 11)) /* CET_U, CET_S */
                d |= 1u << CVMM_TDX_DYN_XFAM_CET;
        if (xss & (1u << 8)) /* PT */
                d |= 1u << CVMM_TDX_DYN_XFAM_PT;
        if (xss & (1u << 14)) /* UINTR */
                d |= 1u << CVMM_TDX_DYN_XFAM_ULI;
        if (xss & (1u << 15)) /* LBR */
                d |= 1u << CVMM_TDX_DYN_XFAM_LBR;
        if (cvmm_cpuid_bit(t, 7, 0, CVMM_ECX, 5)) /* WAITPKG */
                d |= 1u << CVMM_TDX_DYN_UMWAIT;
        if (cvmm_cpuid_bit(t, 0xd, 1, CVMM_EAX, 4)) /* XFD */
                d |= 1u << CVMM_TDX_DYN_XFD;
        if (cvmm_cpuid_bit(t, 7, 0, CVMM_ECX, 31)) /* PKS */
                d |= 1u << CVMM_TDX_DYN_PKS;
        if (cvmm_cpuid_bit(t, 7, 0, CVMM_EBX, 11) || cvmm_cpuid_bit(t, 7, 0, CVMM_EBX, 4))
                d |= 1u << CVMM_TDX_DYN_TSX; /* RTM or HLE */
        env->dyn_enabled = d;
}

void cvmm_msr_classify(enum cvmm_profile p, const struct cvmm_msr_env *env, uint32_t index,
                       bool write, struct cvmm_msr_decision *d)
{
        memset(d, 0, sizeof(*d));
        for (size_t i = 0; i < cvmm_msr_kvm_owned_count; i++) {
                const struct cvmm_msr_kvm_owned *k = &cvmm_msr_kvm_owned[i];
                if (index >= k->first && index <= k->last) {
                        d->cls = CVMM_MSR_NATIVE;
                        d->name = k->name;
                        d->reason = k->reason;
                        return;
                }
        }
        const struct cvmm_tdx_msr_row *row = tdx_row(index);
        d->name = row ? row->name : NULL;
        if (!cvmm_profile_get(p)->msr_default_deny) {
                /* Only what KVM does not implement reaches cvmm in the host profile. */
                d->cls = CVMM_MSR_NATIVE;
                d->reason = "host profile: KVM handles every MSR it implements";
                return;
        }
        if (row) {
                unsigned bm = write ? row->write_bitmap : row->read_bitmap;
                unsigned act = write ? row->write_action : row->read_action;
                if (bm == CVMM_TDX_FIXED_0 ||
                    (bm != CVMM_TDX_FIXED_1 && env && (env->dyn_enabled >> bm & 1))) {
                        d->cls = CVMM_MSR_NATIVE;
                        d->reason = bm == CVMM_TDX_FIXED_0
                                        ? "TDX: native to the TD (FIXED_0)"
                                        : "TDX: native because the TD has the feature (DYN)";
                        return;
                }
                if (act == CVMM_TDX_GP) {
                        d->cls = CVMM_MSR_GP;
                        d->reason = "TDX: #GP";
                        return;
                }
                if (act == CVMM_TDX_OTHER) {
                        d->cls = CVMM_MSR_NATIVE;
                        d->reason = "TDX: emulated by the TDX module; KVM's emulation stands in";
                        return;
                }
                /* VE and GP_OR_VE: the VMM decides, as for unlisted MSRs. */
        }
        const struct cvmm_msr_emulated *e = emulated(index);
        if (e) {
                d->cls = CVMM_MSR_EMULATED;
                d->name = e->name;
                d->reason = e->reason;
                d->read_value = e->read_value;
                d->read_gp = e->read_gp;
                return;
        }
        d->cls = CVMM_MSR_UNKNOWN;
        d->reason = row ? "TDX: #VE to the VMM, which does not implement it"
                        : "not in the TDX table (#VE): the VMM does not implement it";
}
