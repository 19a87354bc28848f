/* SPDX-License-Identifier: MIT */
/*
 * Feature bits by name. Names are Linux's /proc/cpuinfo spellings; QEMU's spelling is listed
 * where it differs. Dependencies follow Linux arch/x86/kernel/cpu/cpuid-deps.c; the XSAVE
 * components each feature needs follow Linux xsave_cpuid_features[] and the SDM.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cvmm/features.h"
#include "cvmm/xsave.h"

#define L1C(b)  1, 0, CVMM_ECX, b
#define L1D(b)  1, 0, CVMM_EDX, b
#define L6A(b)  6, 0, CVMM_EAX, b
#define L7B(b)  7, 0, CVMM_EBX, b
#define L7C(b)  7, 0, CVMM_ECX, b
#define L7D(b)  7, 0, CVMM_EDX, b
#define L71A(b) 7, 1, CVMM_EAX, b
#define LD1A(b) 0xd, 1, CVMM_EAX, b
#define LX1C(b) 0x80000001u, 0, CVMM_ECX, b
#define LX1D(b) 0x80000001u, 0, CVMM_EDX, b

#define X(n) (1ull << (n))

static const struct cvmm_feature features[] = {
    /* leaf 1 ECX */
    {"pni", "sse3", L1C(0), false, 0, {"sse2"}},
    {"pclmulqdq", NULL, L1C(1), false, 0, {"sse2"}},
    {"monitor", NULL, L1C(3), false, 0, {NULL}},
    {"vmx", NULL, L1C(5), false, 0, {NULL}},
    {"ssse3", NULL, L1C(9), false, 0, {"sse2"}},
    {"fma", NULL, L1C(12), false, 0, {"avx"}},
    {"cx16", NULL, L1C(13), false, 0, {NULL}},
    {"pdcm", NULL, L1C(15), false, 0, {NULL}},
    {"pcid", NULL, L1C(17), false, 0, {NULL}},
    {"sse4_1", "sse4.1", L1C(19), false, 0, {"sse2"}},
    {"sse4_2", "sse4.2", L1C(20), false, 0, {"sse2"}},
    {"x2apic", NULL, L1C(21), false, 0, {NULL}},
    {"movbe", NULL, L1C(22), false, 0, {NULL}},
    {"popcnt", NULL, L1C(23), false, 0, {NULL}},
    {"tsc_deadline_timer", "tsc-deadline", L1C(24), false, 0, {NULL}},
    {"aes", NULL, L1C(25), false, 0, {"sse2"}},
    {"xsave", NULL, L1C(26), false, CVMM_XSTATE_ALL_EXTENDED, {"fxsr"}},
    {"osxsave", NULL, L1C(27), true, 0, {NULL}},
    {"avx", NULL, L1C(28), false, X(2), {"xsave"}},
    {"f16c", NULL, L1C(29), false, 0, {"sse2", "avx"}}, /* Linux: sse2; VEX needs AVX state */
    {"rdrand", NULL, L1C(30), false, 0, {NULL}},
    {"hypervisor", NULL, L1C(31), false, 0, {NULL}},
    /* leaf 1 EDX */
    {"fpu", NULL, L1D(0), false, 0, {NULL}},
    {"tsc", NULL, L1D(4), false, 0, {NULL}},
    {"msr", NULL, L1D(5), false, 0, {NULL}},
    {"pae", NULL, L1D(6), false, 0, {NULL}},
    {"cx8", NULL, L1D(8), false, 0, {NULL}},
    {"apic", NULL, L1D(9), false, 0, {NULL}},
    {"sep", NULL, L1D(11), false, 0, {NULL}},
    {"mtrr", NULL, L1D(12), false, 0, {NULL}},
    {"pge", NULL, L1D(13), false, 0, {NULL}},
    {"cmov", NULL, L1D(15), false, 0, {"fxsr"}},
    {"pat", NULL, L1D(16), false, 0, {NULL}},
    {"clflush", NULL, L1D(19), false, 0, {NULL}},
    {"mmx", NULL, L1D(23), false, 0, {"fxsr"}},
    {"fxsr", NULL, L1D(24), false, 0, {"fpu"}},
    {"sse", NULL, L1D(25), false, 0, {"fxsr"}},
    {"sse2", NULL, L1D(26), false, 0, {"sse"}},
    {"ht", NULL, L1D(28), false, 0, {NULL}},
    /* leaf 6 EAX: thermal/power management state components */
    {"hwp", NULL, L6A(7), false, X(16) | CVMM_XSTATE_OPTIONAL, {NULL}},
    {"hdc", NULL, L6A(13), false, X(13) | CVMM_XSTATE_OPTIONAL, {NULL}},
    /* leaf 7.0 EBX */
    {"fsgsbase", NULL, L7B(0), false, 0, {NULL}},
    {"bmi1", NULL, L7B(3), false, 0, {NULL}},
    {"hle", NULL, L7B(4), false, 0, {NULL}},
    {"avx2", NULL, L7B(5), false, 0, {"avx"}},
    {"smep", NULL, L7B(7), false, 0, {NULL}},
    {"bmi2", NULL, L7B(8), false, 0, {NULL}},
    {"erms", NULL, L7B(9), false, 0, {NULL}},
    {"invpcid", NULL, L7B(10), false, 0, {NULL}},
    {"rtm", NULL, L7B(11), false, 0, {NULL}},
    {"mpx", NULL, L7B(14), false, CVMM_XSTATE_MPX, {"xsave"}},
    {"avx512f", NULL, L7B(16), false, CVMM_XSTATE_AVX512, {"avx"}},
    {"avx512dq", NULL, L7B(17), false, 0, {"avx512f"}},
    {"rdseed", NULL, L7B(18), false, 0, {NULL}},
    {"adx", NULL, L7B(19), false, 0, {NULL}},
    {"smap", NULL, L7B(20), false, 0, {NULL}},
    {"avx512ifma", NULL, L7B(21), false, 0, {"avx512f"}},
    {"clflushopt", NULL, L7B(23), false, 0, {NULL}},
    {"clwb", NULL, L7B(24), false, 0, {NULL}},
    {"intel_pt", "intel-pt", L7B(25), false, X(8) | CVMM_XSTATE_OPTIONAL, {NULL}},
    {"avx512pf", NULL, L7B(26), false, 0, {"avx512f"}},
    {"avx512er", NULL, L7B(27), false, 0, {"avx512f"}},
    {"avx512cd", NULL, L7B(28), false, 0, {"avx512f"}},
    {"sha_ni", "sha-ni", L7B(29), false, 0, {"sse2"}},
    {"avx512bw", NULL, L7B(30), false, 0, {"avx512f"}},
    {"avx512vl", NULL, L7B(31), false, 0, {"avx512f"}},
    /* leaf 7.0 ECX */
    {"avx512vbmi", NULL, L7C(1), false, 0, {"avx512f"}},
    {"umip", NULL, L7C(2), false, 0, {NULL}},
    {"pku", NULL, L7C(3), false, X(9), {"xsave"}},
    {"ospke", NULL, L7C(4), true, 0, {NULL}},
    {"waitpkg", NULL, L7C(5), false, 0, {NULL}},
    {"avx512_vbmi2", "avx512vbmi2", L7C(6), false, 0, {"avx512vl"}},
    {"shstk", "cet-ss", L7C(7), false, CVMM_XSTATE_CET, {"xsaves"}},
    {"gfni", NULL, L7C(8), false, 0, {"sse2"}},
    {"vaes", NULL, L7C(9), false, 0, {"avx"}},
    {"vpclmulqdq", NULL, L7C(10), false, 0, {"avx"}},
    {"avx512_vnni", "avx512vnni", L7C(11), false, 0, {"avx512vl"}},
    {"avx512_bitalg", "avx512bitalg", L7C(12), false, 0, {"avx512vl"}},
    {"avx512_vpopcntdq", "avx512-vpopcntdq", L7C(14), false, 0, {"avx512f"}},
    {"la57", NULL, L7C(16), false, 0, {NULL}},
    {"rdpid", NULL, L7C(22), false, 0, {NULL}},
    {"bus_lock_detect", "bus-lock-detect", L7C(24), false, 0, {NULL}},
    {"cldemote", NULL, L7C(25), false, 0, {NULL}},
    {"movdiri", NULL, L7C(27), false, 0, {NULL}},
    {"movdir64b", NULL, L7C(28), false, 0, {NULL}},
    {"enqcmd", NULL, L7C(29), false, X(10), {"xsaves"}},
    {"sgx_lc", "sgxlc", L7C(30), false, 0, {NULL}},
    {"pks", NULL, L7C(31), false, 0, {NULL}},
    /* leaf 7.0 EDX */
    {"avx512_4vnniw", "avx512-4vnniw", L7D(2), false, 0, {"avx512f"}},
    {"avx512_4fmaps", "avx512-4fmaps", L7D(3), false, 0, {"avx512f"}},
    {"fsrm", NULL, L7D(4), false, 0, {NULL}},
    {"uintr", NULL, L7D(5), false, X(14), {"xsaves"}},
    {"avx512_vp2intersect", "avx512-vp2intersect", L7D(8), false, 0, {"avx512vl"}},
    {"md_clear", "md-clear", L7D(10), false, 0, {NULL}},
    {"serialize", NULL, L7D(14), false, 0, {NULL}},
    {"tsxldtrk", "tsx-ldtrk", L7D(16), false, 0, {NULL}},
    {"pconfig", NULL, L7D(18), false, 0, {NULL}},
    {"arch_lbr", "arch-lbr", L7D(19), false, X(15), {"xsaves"}},
    {"ibt", "cet-ibt", L7D(20), false, CVMM_XSTATE_CET, {"xsaves"}},
    {"amx_bf16", "amx-bf16", L7D(22), false, 0, {"amx_tile"}},
    {"avx512_fp16", "avx512-fp16", L7D(23), false, 0, {"avx512bw"}},
    {"amx_tile", "amx-tile", L7D(24), false, CVMM_XSTATE_AMX, {"xfd", "xsave"}},
    {"amx_int8", "amx-int8", L7D(25), false, 0, {"amx_tile"}},
    {"spec_ctrl", "spec-ctrl", L7D(26), false, 0, {NULL}},
    {"stibp", NULL, L7D(27), false, 0, {NULL}},
    {"flush_l1d", NULL, L7D(28), false, 0, {NULL}},
    {"arch_capabilities", "arch-capabilities", L7D(29), false, 0, {NULL}},
    {"ssbd", NULL, L7D(31), false, 0, {NULL}},
    /* leaf 7.1 EAX */
    {"avx_vnni", "avx-vnni", L71A(4), false, 0, {"avx"}},
    {"avx512_bf16", "avx512-bf16", L71A(5), false, 0, {"avx512vl"}},
    {"fzrm", NULL, L71A(10), false, 0, {NULL}},
    {"fsrs", NULL, L71A(11), false, 0, {NULL}},
    {"fsrc", NULL, L71A(12), false, 0, {NULL}},
    {"amx_fp16", "amx-fp16", L71A(21), false, 0, {"amx_tile"}},
    {"avx_ifma", "avx-ifma", L71A(23), false, 0, {"avx2"}},
    /* leaf 7.1 EDX */
    {"apx_f", "apx", 7, 1, CVMM_EDX, 21, false, X(19), {"xsave"}},
    /* leaf 0xD.1 EAX */
    {"xsaveopt", NULL, LD1A(0), false, 0, {"xsave"}},
    {"xsavec", NULL, LD1A(1), false, 0, {"xsave"}},
    {"xgetbv1", NULL, LD1A(2), false, 0, {"xsave"}},
    {"xsaves", NULL, LD1A(3), false, CVMM_XSTATE_ALL_SUPERVISOR, {"xsave"}},
    {"xfd", NULL, LD1A(4), false, 0, {"xsaves", "xgetbv1"}},
    /* leaf 0x80000001 ECX/EDX */
    {"lahf_lm", "lahf-lm", LX1C(0), false, 0, {NULL}},
    {"svm", NULL, LX1C(2), false, 0, {NULL}},
    {"abm", NULL, LX1C(5), false, 0, {NULL}},
    {"sse4a", NULL, LX1C(6), false, 0, {NULL}},
    {"misalignsse", NULL, LX1C(7), false, 0, {NULL}},
    {"3dnowprefetch", NULL, LX1C(8), false, 0, {NULL}},
    {"xop", NULL, LX1C(11), false, 0, {"avx"}},
    {"fma4", NULL, LX1C(16), false, 0, {"avx"}},
    {"tbm", NULL, LX1C(21), false, 0, {NULL}},
    {"topoext", NULL, LX1C(22), false, 0, {NULL}},
    {"syscall", NULL, LX1D(11), false, 0, {NULL}},
    {"nx", NULL, LX1D(20), false, 0, {NULL}},
    {"mmxext", NULL, LX1D(22), false, 0, {"mmx"}},
    {"pdpe1gb", NULL, LX1D(26), false, 0, {NULL}},
    {"rdtscp", NULL, LX1D(27), false, 0, {NULL}},
    {"lm", NULL, LX1D(29), false, 0, {NULL}},
};
#define NFEATURES (sizeof(features) / sizeof(features[0]))
_Static_assert(NFEATURES <= CVMM_MAX_FEATURES, "raise CVMM_MAX_FEATURES");

const struct cvmm_feature *cvmm_features(size_t *count)
{
        *count = NFEATURES;
        return features;
}

/* Compares names treating '-', '_' and '.' alike and ignoring case. */
static bool name_eq(const char *a, const char *b)
{
        for (;; a++, b++) {
                char x = (char)tolower((unsigned char)*a), y = (char)tolower((unsigned char)*b);
                if (x == '-' || x == '.')
                        x = '_';
                if (y == '-' || y == '.')
                        y = '_';
                if (x != y)
                        return false;
                if (!x)
                        return true;
        }
}

const struct cvmm_feature *cvmm_feature_find(const char *name)
{
        for (size_t i = 0; i < NFEATURES; i++)
                if (name_eq(features[i].name, name) ||
                    (features[i].qemu_name && name_eq(features[i].qemu_name, name)))
                        return &features[i];
        return NULL;
}

const struct cvmm_feature *cvmm_feature_at(uint32_t leaf, uint32_t subleaf, enum cvmm_reg reg,
                                           unsigned bit)
{
        for (size_t i = 0; i < NFEATURES; i++)
                if (features[i].leaf == leaf && features[i].subleaf == subleaf &&
                    features[i].reg == reg && features[i].bit == bit)
                        return &features[i];
        return NULL;
}

enum cvmm_presence cvmm_feature_state(const struct cvmm_cpuid_table *t,
                                      const struct cvmm_feature *f)
{
        const struct cvmm_cpuid_entry *e = cvmm_cpuid_get(t, f->leaf, f->subleaf);
        if (!e)
                return CVMM_UNKNOWN;
        return (e->regs[f->reg] >> f->bit & 1) ? CVMM_PRESENT : CVMM_ABSENT;
}

int cvmm_feature_list_parse(struct cvmm_feature_list *out, const char *spec, const char *what,
                            struct cvmm_err *err)
{
        out->count = 0;
        const char *p = spec;
        for (;;) {
                const char *comma = strchr(p, ',');
                size_t n = comma ? (size_t)(comma - p) : strlen(p);
                char item[64];
                if (n == 0)
                        return cvmm_errf(err, "%s '%s': empty item", what, spec);
                if (n >= sizeof(item))
                        return cvmm_errf(err, "%s: item '%.*s' is too long", what, (int)n, p);
                memcpy(item, p, n);
                item[n] = '\0';
                if (item[0] != '-')
                        return cvmm_errf(err,
                                         "%s: '%s': only removals ('-name') are "
                                         "supported; the source table decides what exists",
                                         what, item);
                const struct cvmm_feature *f = cvmm_feature_find(item + 1);
                if (!f)
                        return cvmm_errf(err, "%s: unknown feature '%s'", what, item + 1);
                if (f->dynamic)
                        return cvmm_errf(err,
                                         "%s: '%s' reflects guest state (CR4) and "
                                         "cannot be removed",
                                         what, item + 1);
                bool dup = false;
                for (size_t i = 0; i < out->count; i++)
                        dup |= out->items[i] == f;
                if (!dup) {
                        if (out->count == sizeof(out->items) / sizeof(out->items[0]))
                                return cvmm_errf(err, "%s: too many items", what);
                        out->items[out->count++] = f;
                }
                if (!comma)
                        return 0;
                p = comma + 1;
        }
}
