/* SPDX-License-Identifier: MIT */
/* --features: names, and removal of everything that depends on a feature. */
#include <string.h>

#include "testutil.h"
#include "cvmm/check.h"
#include "cvmm/features.h"
#include "cvmm/profile.h"
#include "cvmm/xsave.h"

static bool has(const struct cvmm_cpuid_table *t, const char *name)
{
        const struct cvmm_feature *f = cvmm_feature_find(name);
        assert_non_null(f);
        return cvmm_feature_state(t, f) == CVMM_PRESENT;
}

/* Builds Sapphire Rapids (host profile) with `spec` removed; checks the result is consistent. */
static void build(struct cvmm_cpuid_table *t, const char *spec)
{
        struct cvmm_err err;
        struct cvmm_model_result res;
        struct cvmm_model_opts o = {.profile = CVMM_PROFILE_HOST, .cpus = 1};
        load_data(t, "intel-sapphire-rapids.cpuid");
        if (spec)
                assert_int_equal(cvmm_feature_list_parse(&o.remove, spec, "--features", &err), 0);
        assert_int_equal(cvmm_model_build(t, &o, &res, &err), 0);
        struct cvmm_check_opts co = {0};
        struct cvmm_check_report r;
        cvmm_check(t, &co, &r);
        if (r.errors)
                fail_msg("%s: %s", spec, r.findings[0].message);
        assert_true(r.linux_view.xsave_used || !has(t, "xsave"));
        cvmm_check_report_free(&r);
}

static uint64_t xcr0(const struct cvmm_cpuid_table *t)
{
        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(t, &l);
        return l.xcr0_supported;
}

static void test_names(void **state)
{
        (void)state;
        assert_ptr_equal(cvmm_feature_find("amx_tile"), cvmm_feature_find("amx-tile"));
        assert_ptr_equal(cvmm_feature_find("avx512_vnni"), cvmm_feature_find("avx512vnni"));
        assert_ptr_equal(cvmm_feature_find("sse4_1"), cvmm_feature_find("sse4.1"));
        assert_ptr_equal(cvmm_feature_find("pni"), cvmm_feature_find("sse3"));
        assert_ptr_equal(cvmm_feature_find("tsc_deadline_timer"),
                         cvmm_feature_find("tsc-deadline"));
        assert_null(cvmm_feature_find("avx1024"));
        struct cvmm_feature_list l;
        struct cvmm_err err;
        assert_int_equal(
            cvmm_feature_list_parse(&l, "-avx512f,-amx-tile,-pku,-avx,-xsaves", "--features", &err),
            0);
        assert_int_equal(l.count, 5);
        assert_int_equal(cvmm_feature_list_parse(&l, "-avx1024", "--features", &err), -1);
        assert_string_equal(err.msg, "--features: unknown feature 'avx1024'");
        assert_int_equal(cvmm_feature_list_parse(&l, "avx", "--features", &err), -1);
        assert_non_null(strstr(err.msg, "only removals"));
        assert_int_equal(cvmm_feature_list_parse(&l, "-avx,,-pku", "--features", &err), -1);
        assert_non_null(strstr(err.msg, "empty item"));
        assert_int_equal(cvmm_feature_list_parse(&l, "-osxsave", "--features", &err), -1);
}

static void test_remove_avx512f(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        build(&t, "-avx512f");
        assert_false(has(&t, "avx512f"));
        assert_false(has(&t, "avx512bw"));
        assert_false(has(&t, "avx512_vnni"));
        assert_false(has(&t, "avx512_fp16"));
        assert_false(has(&t, "avx512_bf16"));
        assert_true(has(&t, "avx2"));
        assert_true(has(&t, "amx_tile"));
        assert_int_equal(xcr0(&t) & 0xe0, 0);
        assert_null(cvmm_cpuid_get(&t, 0xd, 5));
        assert_null(cvmm_cpuid_get(&t, 0xd, 6));
        assert_null(cvmm_cpuid_get(&t, 0xd, 7));
        /* Standard size keeps AMX's fixed offsets; compacted shrinks by 64+512+1024. */
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 0, CVMM_ECX), 0x2b00);
        cvmm_cpuid_free(&t);
}

static void test_remove_avx(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        build(&t, "-avx");
        assert_false(has(&t, "avx"));
        assert_false(has(&t, "avx2"));
        assert_false(has(&t, "fma"));
        assert_false(has(&t, "avx512f"));
        assert_false(has(&t, "vaes"));
        assert_false(has(&t, "avx_vnni"));
        assert_true(has(&t, "sse4_2"));
        assert_int_equal(xcr0(&t) & 0xe4, 0);
        cvmm_cpuid_free(&t);
}

static void test_remove_amx(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        build(&t, "-amx_tile");
        assert_false(has(&t, "amx_int8"));
        assert_false(has(&t, "amx_bf16"));
        assert_int_equal(xcr0(&t) & CVMM_XSTATE_AMX, 0);
        /* Nothing needs XFD any more: XFD goes too (no component supports it). */
        assert_false(has(&t, "xfd"));
        /* Standard size drops to the end of PKRU (0xa80 + 8). */
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 0, CVMM_ECX), 0xa88);
        cvmm_cpuid_free(&t);
}

static void test_remove_pku_and_xsaves(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        build(&t, "-pku");
        assert_int_equal(xcr0(&t) & 0x200, 0);
        assert_null(cvmm_cpuid_get(&t, 0xd, 9));
        cvmm_cpuid_free(&t);
        build(&t, "-xsaves");
        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(&t, &l);
        assert_int_equal(l.xss_supported, 0);
        assert_false(has(&t, "shstk"));
        assert_false(has(&t, "xfd"));
        assert_false(has(&t, "amx_tile")); /* AMX needs XFD, which needs XSAVES */
        assert_true(has(&t, "avx512f"));
        cvmm_cpuid_free(&t);
}

static void test_remove_xsave(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        build(&t, "-xsave");
        assert_false(has(&t, "avx"));
        assert_false(has(&t, "xsaves"));
        for (unsigned s = 0; s < 2; s++)
                for (int r = 0; r < CVMM_NREGS; r++)
                        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, s, (enum cvmm_reg)r), 0);
        assert_null(cvmm_cpuid_get(&t, 0xd, 2));
        cvmm_cpuid_free(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_names),
            cmocka_unit_test(test_remove_avx512f),
            cmocka_unit_test(test_remove_avx),
            cmocka_unit_test(test_remove_amx),
            cmocka_unit_test(test_remove_pku_and_xsaves),
            cmocka_unit_test(test_remove_xsave),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
