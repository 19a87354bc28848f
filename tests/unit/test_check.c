/* SPDX-License-Identifier: MIT */
/* The checker: a consistent base, then one rule broken at a time. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "cvmm/check.h"
#include "cvmm/profile.h"

/* Sapphire Rapids through the host profile: the consistent base every case starts from. */
static void base(struct cvmm_cpuid_table *t)
{
        struct cvmm_err err;
        struct cvmm_model_result res;
        struct cvmm_model_opts o = {.profile = CVMM_PROFILE_HOST, .cpus = 1};
        load_data(t, "intel-sapphire-rapids.cpuid");
        assert_int_equal(cvmm_model_build(t, &o, &res, &err), 0);
}

static void set(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t sub, enum cvmm_reg r,
                uint32_t v)
{
        assert_int_equal(cvmm_cpuid_set_reg(t, leaf, sub, r, v, "test"), 0);
}

static const struct cvmm_finding *find(const struct cvmm_check_report *r, const char *rule)
{
        for (size_t i = 0; i < r->count; i++)
                if (strcmp(r->findings[i].rule, rule) == 0)
                        return &r->findings[i];
        return NULL;
}

static void expect(const struct cvmm_cpuid_table *t, const struct cvmm_check_opts *o,
                   const char *rule, enum cvmm_severity sev)
{
        struct cvmm_check_report r;
        cvmm_check(t, o, &r);
        const struct cvmm_finding *f = find(&r, rule);
        if (!f)
                fail_msg("rule %s did not fire (%zu findings)", rule, r.count);
        assert_int_equal(f->severity, sev);
        assert_true(f->message[0] != '\0');
        if (sev == CVMM_SEV_ERROR)
                assert_true(r.errors > 0);
        cvmm_check_report_free(&r);
}

static void test_base_is_clean(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_check_opts o = {0};
        struct cvmm_check_report r;
        base(&t);
        cvmm_check(&t, &o, &r);
        assert_int_equal(r.errors, 0);
        assert_int_equal(r.warnings, 0);
        assert_true(r.linux_view.xsave_used);
        assert_true(r.linux_view.compacted);
        cvmm_check_report_free(&r);
        cvmm_cpuid_free(&t);
}

typedef void (*mutate_fn)(struct cvmm_cpuid_table *t);

static void m_no_x87(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 0, CVMM_EAX, cvmm_cpuid_reg(t, 0xd, 0, CVMM_EAX) & ~1u);
}
static void m_both_masks(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 1, CVMM_ECX, cvmm_cpuid_reg(t, 0xd, 1, CVMM_ECX) | 0x4);
}
static void m_subleaf_missing(struct cvmm_cpuid_table *t)
{
        assert_true(cvmm_cpuid_remove(t, 0xd, 9));
}
static void m_stale_subleaf(struct cvmm_cpuid_table *t)
{
        put(t, 0xd, 3, 64, 960, 0, 0);
}
static void m_user_flag(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 2, CVMM_ECX, 1);
}
static void m_supervisor_flag(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 11, CVMM_ECX, 0);
}
static void m_supervisor_offset(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 11, CVMM_EBX, 0x1000);
}
static void m_reserved_edx(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 2, CVMM_EDX, 1);
}
static void m_pkru_64(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 9, CVMM_EAX, 64);
}
static void m_offset_low(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 2, CVMM_EBX, 0x100);
}
static void m_overlap(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 5, CVMM_EBX, 0x240 + 0x80); /* inside AVX's 0x240..0x340 */
}
static void m_order(struct cvmm_cpuid_table *t)
{
        /* Move PKRU (bit 9) below opmask without overlapping anything: into the MPX hole. */
        set(t, 0xd, 9, CVMM_EBX, 0x3c0);
}
static void m_ecx0(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 0, CVMM_ECX, cvmm_cpuid_reg(t, 0xd, 0, CVMM_ECX) + 64);
}
static void m_beyond_ecx0(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 0x12, CVMM_EAX, 0x2000 + 64);
}
static void m_ebx0(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 0, CVMM_EBX, 576);
}
static void m_ebx1_hashorder(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 1, CVMM_EBX, 10704);
}
static void m_avx512_partial(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 0, CVMM_EAX, cvmm_cpuid_reg(t, 0xd, 0, CVMM_EAX) & ~0x40u);
        cvmm_cpuid_remove(t, 0xd, 6);
}
static void m_amx_partial(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 0, CVMM_EAX, cvmm_cpuid_reg(t, 0xd, 0, CVMM_EAX) & ~(1u << 18));
        cvmm_cpuid_remove(t, 0xd, 18);
}
static void m_cet_partial(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 1, CVMM_ECX, cvmm_cpuid_reg(t, 0xd, 1, CVMM_ECX) & ~(1u << 12));
        cvmm_cpuid_remove(t, 0xd, 12);
}
static void m_avx_feature_off(struct cvmm_cpuid_table *t)
{
        set(t, 1, 0, CVMM_ECX, cvmm_cpuid_reg(t, 1, 0, CVMM_ECX) & ~(1u << 28));
}
static void m_pku_without_state(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 0, CVMM_EAX, cvmm_cpuid_reg(t, 0xd, 0, CVMM_EAX) & ~(1u << 9));
        cvmm_cpuid_remove(t, 0xd, 9);
}
static void m_no_xsaves(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 1, CVMM_EAX, cvmm_cpuid_reg(t, 0xd, 1, CVMM_EAX) & ~(1u << 3));
}
static void m_no_xfd(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 1, CVMM_EAX, cvmm_cpuid_reg(t, 0xd, 1, CVMM_EAX) & ~(1u << 4));
}
static void m_xfd_without_component(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 0x12, CVMM_ECX, 2);
}
static void m_dependency(struct cvmm_cpuid_table *t)
{
        /* avx2 needs avx: drop AVX state and feature bit but keep avx2. */
        set(t, 1, 0, CVMM_ECX, cvmm_cpuid_reg(t, 1, 0, CVMM_ECX) & ~(1u << 28));
}
static void m_xsave_off(struct cvmm_cpuid_table *t)
{
        set(t, 1, 0, CVMM_ECX, cvmm_cpuid_reg(t, 1, 0, CVMM_ECX) & ~(1u << 26));
}
static void m_xss_x87(struct cvmm_cpuid_table *t)
{
        set(t, 0xd, 1, CVMM_ECX, cvmm_cpuid_reg(t, 0xd, 1, CVMM_ECX) | 3);
}
static void m_tdx_signature(struct cvmm_cpuid_table *t)
{
        put(t, 0x21, 0, 0, 0x65746e49, 0x20202020, 0x5844546c);
}

static void test_each_rule(void **state)
{
        (void)state;
        static const struct {
                mutate_fn fn;
                const char *rule;
                enum cvmm_severity sev;
        } cases[] = {
            {m_no_x87, "xsave.x87-sse", CVMM_SEV_ERROR},
            {m_both_masks, "xsave.user-and-supervisor", CVMM_SEV_ERROR},
            {m_subleaf_missing, "xsave.subleaf-missing", CVMM_SEV_ERROR},
            {m_stale_subleaf, "xsave.stale-subleaf", CVMM_SEV_WARNING},
            {m_user_flag, "xsave.user-flag", CVMM_SEV_ERROR},
            {m_supervisor_flag, "xsave.supervisor-flag", CVMM_SEV_ERROR},
            {m_supervisor_offset, "xsave.supervisor-offset", CVMM_SEV_ERROR},
            {m_reserved_edx, "xsave.reserved-edx", CVMM_SEV_WARNING},
            {m_pkru_64, "xsave.size-architectural", CVMM_SEV_WARNING},
            {m_offset_low, "xsave.offset-range", CVMM_SEV_ERROR},
            {m_overlap, "xsave.overlap", CVMM_SEV_ERROR},
            {m_order, "xsave.offset-order", CVMM_SEV_WARNING},
            {m_ecx0, "xsave.ecx0-standard-size", CVMM_SEV_ERROR},
            {m_beyond_ecx0, "xsave.inside-ecx0", CVMM_SEV_ERROR},
            {m_ebx0, "xsave.ebx0-size", CVMM_SEV_WARNING},
            {m_ebx1_hashorder, "xsave.ebx1-size", CVMM_SEV_WARNING},
            {m_avx512_partial, "xsave.group-complete", CVMM_SEV_ERROR},
            {m_amx_partial, "xsave.group-complete", CVMM_SEV_ERROR},
            {m_cet_partial, "xsave.group-complete", CVMM_SEV_WARNING},
            {m_avx_feature_off, "feature.state-without-feature", CVMM_SEV_ERROR},
            {m_pku_without_state, "feature.needs-state", CVMM_SEV_ERROR},
            {m_no_xsaves, "feature.supervisor-needs-xsaves", CVMM_SEV_ERROR},
            {m_no_xfd, "feature.xfd-consistent", CVMM_SEV_ERROR},
            {m_xfd_without_component, "feature.xfd-consistent", CVMM_SEV_ERROR},
            {m_dependency, "feature.dependency", CVMM_SEV_WARNING},
            {m_xsave_off, "feature.state-without-feature", CVMM_SEV_ERROR},
            {m_tdx_signature, "tdx.signature-leaf", CVMM_SEV_WARNING},
            {m_xss_x87, "xsave.xss-reserved", CVMM_SEV_ERROR},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct cvmm_cpuid_table t;
                struct cvmm_check_opts o = {0};
                base(&t);
                cases[i].fn(&t);
                expect(&t, &o, cases[i].rule, cases[i].sev);
                cvmm_cpuid_free(&t);
        }
}

/* Given --xcr0/--xss, the EBX fields are checked strictly. */
static void test_strict_ebx_with_given_xcr0(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        base(&t);
        struct cvmm_check_opts o = {.have_xcr0 = true, .xcr0 = 0x7};
        expect(&t, &o, "xsave.ebx0-size", CVMM_SEV_ERROR);
        expect(&t, &o, "xsave.ebx1-size", CVMM_SEV_ERROR);
        cvmm_cpuid_free(&t);
}

/* Advice on dynamic fields names the options as the caller does, or in the library's words. */
static void test_advice_names_options_as_the_caller_does(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        base(&t);
        set(&t, 0xd, 0, CVMM_EBX, 0x1000);
        set(&t, 0xd, 1, CVMM_EBX, 0x1000);
        const struct cvmm_model_names flags = {.xcr0 = "--xcr0", .xss = "--xss"};
        const struct {
                const struct cvmm_model_names *names;
                const char *ebx0, *ebx1;
        } cases[] = {
            {NULL, "give XCR0 to judge)", "give XCR0/XSS to judge)"},
            {&flags, "give --xcr0 to judge)", "give --xcr0/--xss to judge)"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct cvmm_check_opts o = {.names = cases[i].names};
                struct cvmm_check_report r;
                assert_int_equal(cvmm_check(&t, &o, &r), 0);
                const struct cvmm_finding *f0 = find(&r, "xsave.ebx0-size");
                const struct cvmm_finding *f1 = find(&r, "xsave.ebx1-size");
                assert_non_null(f0);
                assert_non_null(f1);
                assert_non_null(strstr(f0->message, cases[i].ebx0));
                assert_non_null(strstr(f1->message, cases[i].ebx1));
                assert_null(strstr(f0->message, "pass "));
                cvmm_check_report_free(&r);
        }
        cvmm_cpuid_free(&t);
}

/* The OpenVMM case: 10704 in 0xD.1 EBX for XCR0 0x600e7 | XSS 0x800 disables XSAVE in Linux. */
static void test_linux_consistency_problem(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_err err;
        struct cvmm_model_result res;
        struct cvmm_model_opts mo = {.profile = CVMM_PROFILE_HOST,
                                     .cpus = 1,
                                     .have_xcr0 = true,
                                     .xcr0 = 0x600e7,
                                     .have_xss = true,
                                     .xss = 0x800};
        load_data(&t, "intel-sapphire-rapids.cpuid");
        assert_int_equal(cvmm_model_build(&t, &mo, &res, &err), 0);
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 1, CVMM_EBX), 10752);
        /* Drop PKRU and PASID as that guest had them off, so Linux enables exactly 0x60ae7... */
        struct cvmm_check_opts o = {
            .have_xcr0 = true, .xcr0 = 0x600e7, .have_xss = true, .xss = 0x800};
        struct cvmm_check_report r;
        cvmm_check(&t, &o, &r);
        assert_int_equal(r.errors, 0);
        cvmm_check_report_free(&r);
        /* ...and with pku/enqcmd absent, Linux's mask equals the declared one. */
        set(&t, 7, 0, CVMM_ECX, cvmm_cpuid_reg(&t, 7, 0, CVMM_ECX) & ~((1u << 3) | (1u << 29)));
        set(&t, 0xd, 1, CVMM_EBX, 10704);
        cvmm_check(&t, &o, &r);
        assert_true(r.linux_view.consistency_warning);
        assert_false(r.linux_view.xsave_used);
        assert_int_equal(r.linux_view.computed_size, 10752);
        assert_int_equal(r.linux_view.kernel_size, 10704);
        assert_string_equal(r.linux_view.disable_reason,
                            "XSAVE consistency problem: size 10752 != kernel_size 10704");
        cvmm_check_report_free(&r);
        cvmm_cpuid_free(&t);
}

/* Partial dumps: rules whose leaves are absent are skipped and said so. */
static void test_partial_skips(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_check_opts o = {0};
        struct cvmm_check_report r;
        load_data(&t, "intel-amx-host-leaf0d-partial.cpuid");
        cvmm_check(&t, &o, &r);
        assert_int_equal(r.errors, 0);
        assert_int_equal(r.nskipped, 2);
        assert_non_null(strstr(r.skipped[0], "leaf 1"));
        assert_non_null(strstr(r.skipped[1], "leaf 7"));
        cvmm_check_report_free(&r);
        cvmm_cpuid_free(&t);
}

/* Real parts: Zen 2 lists PKRU state without PKU, which the checker reports. */
static void test_zen2_pkru_without_pku(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_check_opts o = {0};
        load_data(&t, "amd-epyc-7742-rome.cpuid");
        expect(&t, &o, "feature.state-without-feature", CVMM_SEV_ERROR);
        expect(&t, &o, "xsave.size-architectural", CVMM_SEV_WARNING);
        cvmm_cpuid_free(&t);
}

/* TDX: components outside XFAM, and a TD profile on an AMD table. */
static void test_tdx_rules(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_check_opts o = {.tdx = true};
        load_data(&t, "intel-sapphire-rapids.cpuid"); /* lists PASID (bit 10) */
        expect(&t, &o, "tdx.xfam", CVMM_SEV_ERROR);
        cvmm_cpuid_free(&t);
        load_data(&t, "amd-epyc-9334-genoa.cpuid");
        expect(&t, &o, "tdx.vendor", CVMM_SEV_WARNING);
        cvmm_cpuid_free(&t);
}

/* A leaf 0xD paste without 0xD.1: the XSAVES/XFD rules are skipped, not failed. */
static void test_partial_without_d1(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_check_opts o = {0};
        struct cvmm_check_report r;
        load_data(&t, "intel-amx-host-leaf0d-partial.cpuid");
        assert_true(cvmm_cpuid_remove(&t, 0xd, 1));
        cvmm_check(&t, &o, &r);
        assert_null(find(&r, "feature.xfd-consistent"));
        assert_int_equal(r.errors, 0);
        cvmm_check_report_free(&r);
        cvmm_cpuid_free(&t);
}

/*
 * A dump whose OS had enabled less than everything: its EBX is the OS's, so a mismatch with the
 * default mask is a warning; given --xcr0 it is judged strictly.
 */
static void test_dump_ebx_is_dynamic(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_check_report r;
        load_data(&t, "host-amd-epyc-pvm.cpuid");
        set(&t, 0xd, 0, CVMM_EBX, 576);
        set(&t, 0xd, 1, CVMM_EBX, 576); /* as if the OS had XCR0 = 0x3 */
        struct cvmm_check_opts o = {0};
        cvmm_check(&t, &o, &r);
        assert_int_equal(r.errors, 0);
        assert_non_null(find(&r, "linux.xsave-disabled"));
        cvmm_check_report_free(&r);
        struct cvmm_check_opts strict = {.have_xcr0 = true, .xcr0 = 0x3};
        cvmm_check(&t, &strict, &r);
        assert_int_equal(r.errors, 0); /* EBX right for 0x3 */
        cvmm_check_report_free(&r);
        struct cvmm_check_opts wrong = {.have_xcr0 = true, .xcr0 = 0xe7};
        cvmm_check(&t, &wrong, &r);
        assert_true(r.errors > 0);
        cvmm_check_report_free(&r);
        cvmm_cpuid_free(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_base_is_clean),
            cmocka_unit_test(test_each_rule),
            cmocka_unit_test(test_strict_ebx_with_given_xcr0),
            cmocka_unit_test(test_advice_names_options_as_the_caller_does),
            cmocka_unit_test(test_linux_consistency_problem),
            cmocka_unit_test(test_partial_skips),
            cmocka_unit_test(test_zen2_pkru_without_pku),
            cmocka_unit_test(test_tdx_rules),
            cmocka_unit_test(test_partial_without_d1),
            cmocka_unit_test(test_dump_ebx_is_dynamic),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
