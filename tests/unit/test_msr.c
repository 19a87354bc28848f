/* SPDX-License-Identifier: MIT */
/*
 * The MSR policy against the TDX module's table, read here from the TSV itself (not the
 * compiled copy): every row, both directions, with DYN features off and on; the emulation table;
 * the MSRs that stay KVM's; unknown MSRs; the host profile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmm/msr.h"
#include "testutil.h"

static bool kvm_owned(uint32_t i)
{
        return i == 0x1b || i == 0x6e0 || (i >= 0x800 && i <= 0x8ff) || i == 0x11 || i == 0x12 ||
               (i >= 0x4b564d00 && i <= 0x4b564dff);
}

static const struct cvmm_msr_emulated *emulated(uint32_t i)
{
        for (size_t k = 0; k < cvmm_msr_emulated_count; k++)
                if (i >= cvmm_msr_emulated[k].first && i <= cvmm_msr_emulated[k].last)
                        return &cvmm_msr_emulated[k];
        return NULL;
}

/* What the TSV columns say, by the TDX rules (tdx.md), for one access. */
static enum cvmm_msr_class expected(uint32_t i, const char *bitmap, const char *action, bool dyn_on)
{
        if (kvm_owned(i))
                return CVMM_MSR_NATIVE;
        if (strcmp(bitmap, "FIXED_0") == 0 || (strncmp(bitmap, "DYN_", 4) == 0 && dyn_on))
                return CVMM_MSR_NATIVE;
        if (strcmp(action, "GP") == 0)
                return CVMM_MSR_GP;
        if (strcmp(action, "OTHER") == 0)
                return CVMM_MSR_NATIVE;
        return emulated(i) ? CVMM_MSR_EMULATED : CVMM_MSR_UNKNOWN; /* VE, GP_OR_VE */
}

static void test_every_tsv_row(void **state)
{
        (void)state;
        const char *dir = getenv("CVMM_DATA");
        assert_non_null(dir);
        char path[512];
        snprintf(path, sizeof(path), "%s/tdx-msr-virtualization.tsv", dir);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char line[512];
        assert_non_null(fgets(line, sizeof(line), f)); /* header */
        unsigned rows = 0, checks = 0;
        while (fgets(line, sizeof(line), f)) {
                char name[128], rb[32], ra[32], wb[32], wa[32];
                unsigned first, last;
                assert_int_equal(sscanf(line, "%127s %x %x %31s %31s %31s %31s", name, &first,
                                        &last, rb, ra, wb, wa),
                                 7);
                rows++;
                for (int on = 0; on < 2; on++) {
                        struct cvmm_msr_env env = {.dyn_enabled = on ? ~0u : 0};
                        uint32_t probe[] = {first, last, first + (last - first) / 2};
                        for (int k = 0; k < 3; k++) {
                                for (int w = 0; w < 2; w++) {
                                        struct cvmm_msr_decision d;
                                        cvmm_msr_classify(CVMM_PROFILE_TDX, &env, probe[k], w, &d);
                                        enum cvmm_msr_class want =
                                            expected(probe[k], w ? wb : rb, w ? wa : ra, on);
                                        if (d.cls != want)
                                                fail_msg("%s 0x%x %s dyn=%d: %s, want %s", name,
                                                         probe[k], w ? "write" : "read", on,
                                                         cvmm_msr_class_name(d.cls),
                                                         cvmm_msr_class_name(want));
                                        assert_non_null(d.reason);
                                        checks++;
                                }
                        }
                }
        }
        fclose(f);
        assert_int_equal(rows, cvmm_tdx_msr_rows_count);
        assert_int_equal(checks, rows * 12);
}

/* Unlisted MSRs: the emulation table, else unknown; KVM's own stay native. */
static void test_unlisted(void **state)
{
        (void)state;
        struct cvmm_msr_env env = {0};
        struct cvmm_msr_decision d;
        cvmm_msr_classify(CVMM_PROFILE_TDX, &env, 0x3a, false, &d);
        assert_int_equal(d.cls, CVMM_MSR_EMULATED);
        assert_int_equal(d.read_value, 1); /* FEATURE_CONTROL: locked */
        cvmm_msr_classify(CVMM_PROFILE_TDX, &env, 0x79, false, &d);
        assert_int_equal(d.cls, CVMM_MSR_EMULATED);
        assert_true(d.read_gp);
        cvmm_msr_classify(CVMM_PROFILE_TDX, &env, 0x1cf0, true, &d);
        assert_int_equal(d.cls, CVMM_MSR_UNKNOWN);
        cvmm_msr_classify(CVMM_PROFILE_TDX, &env, 0x4b564d01, true, &d); /* kvmclock */
        assert_int_equal(d.cls, CVMM_MSR_NATIVE);
        cvmm_msr_classify(CVMM_PROFILE_TDX, &env, 0x4b564e00, true, &d);
        assert_int_equal(d.cls, CVMM_MSR_UNKNOWN);
        cvmm_msr_classify(CVMM_PROFILE_TDX, &env, 0x830, true, &d); /* x2APIC ICR */
        assert_int_equal(d.cls, CVMM_MSR_NATIVE);
        assert_non_null(strstr(d.reason, "cannot filter"));
        for (size_t k = 0; k < cvmm_msr_emulated_count; k++) {
                assert_true(cvmm_msr_emulated[k].first <= cvmm_msr_emulated[k].last);
                assert_non_null(cvmm_msr_emulated[k].reason);
                if (k)
                        assert_true(cvmm_msr_emulated[k - 1].last < cvmm_msr_emulated[k].first);
        }
        /* The host profile leaves everything to KVM. */
        cvmm_msr_classify(CVMM_PROFILE_HOST, &env, 0x8c, false, &d);
        assert_int_equal(d.cls, CVMM_MSR_NATIVE);
}

/* DYN rows follow the guest's CPUID: PKS (7.0 ECX[31]) and perfmon (0xA EAX). */
static void test_env_from_cpuid(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        cvmm_cpuid_init(&t);
        put(&t, 0, 0, 0xd, 0, 0, 0);
        put(&t, 7, 0, 0, 0, 1u << 31, 0);
        put(&t, 0xa, 0, 0, 0, 0, 0);
        struct cvmm_msr_env env;
        cvmm_msr_env_from_cpuid(&env, &t);
        assert_true(env.dyn_enabled >> CVMM_TDX_DYN_PKS & 1);
        assert_false(env.dyn_enabled >> CVMM_TDX_DYN_PERFMON & 1);
        put(&t, 0xa, 0, 0x4, 0, 0, 0);
        cvmm_msr_env_from_cpuid(&env, &t);
        assert_true(env.dyn_enabled >> CVMM_TDX_DYN_PERFMON & 1);
        cvmm_cpuid_free(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_tsv_row),
            cmocka_unit_test(test_unlisted),
            cmocka_unit_test(test_env_from_cpuid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
