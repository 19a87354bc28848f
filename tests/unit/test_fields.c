/* SPDX-License-Identifier: MIT */
/*
 * The library's CPUID field knowledge on real dumps: the dynamic fields and each vCPU's table
 * (the APIC IDs set per vCPU, nothing else changed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "cvmm/effective.h"
#include "cvmm/profile.h"

/* The source and the table of vCPU apic_id agree outside the APIC ID fields, which hold it. */
static void assert_vcpu_table(const struct cvmm_cpuid_table *t, const struct cvmm_cpuid_table *v,
                              uint32_t apic_id)
{
        assert_int_equal(v->count, t->count);
        for (size_t i = 0; i < t->count; i++) {
                const struct cvmm_cpuid_entry *a = &t->entries[i], *b = &v->entries[i];
                assert_int_equal(b->leaf, a->leaf);
                assert_int_equal(b->subleaf, a->subleaf);
                for (int r = 0; r < CVMM_NREGS; r++) {
                        uint32_t want = a->regs[r];
                        if (a->leaf == 0x1 && r == CVMM_EBX)
                                want = (want & 0x00ffffffu) | (apic_id & 0xff) << 24;
                        else if ((a->leaf == 0xb || a->leaf == 0x1f) && r == CVMM_EDX)
                                want = apic_id;
                        else if (a->leaf == 0x8000001e && r == CVMM_EAX)
                                want = apic_id;
                        if (b->regs[r] != want)
                                fail_msg("leaf 0x%x.%u %s: 0x%08x, want 0x%08x", a->leaf,
                                         a->subleaf, cvmm_reg_name((enum cvmm_reg)r), b->regs[r],
                                         want);
                        /* what differs per vCPU is dynamic */
                        uint32_t keep = ~cvmm_cpuid_dynamic_mask(a->leaf, a->subleaf, r);
                        assert_int_equal(b->regs[r] & keep, a->regs[r] & keep);
                }
        }
}

static void vcpu_tables_of_a_real_dump(void **state)
{
        (void)state;
        static const char *const dumps[] = {"intel-sapphire-rapids.cpuid",
                                            "intel-core-i7-1270p-alder-lake.cpuid",
                                            "amd-epyc-9334-genoa.cpuid"};
        static const uint32_t ids[] = {0, 1, 3, 0xff, 0x123};
        for (size_t d = 0; d < sizeof(dumps) / sizeof(dumps[0]); d++) {
                struct cvmm_cpuid_table t;
                load_data(&t, dumps[d]);
                t.trace = true;
                struct cvmm_model_opts o = {.profile = CVMM_PROFILE_HOST, .cpus = 4};
                struct cvmm_model_result res;
                struct cvmm_err err;
                assert_int_equal(cvmm_model_build(&t, &o, &res, &err), 0);
                assert_true(t.nchanges > 0);
                for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
                        struct cvmm_cpuid_table v;
                        assert_int_equal(cvmm_cpuid_for_vcpu(&t, ids[k], &v), 0);
                        assert_vcpu_table(&t, &v, ids[k]);
                        assert_false(v.trace);
                        assert_int_equal(v.nchanges, t.nchanges);
                        cvmm_cpuid_free(&v);
                }
                cvmm_cpuid_free(&t);
        }
}

/* vCPU 3's fields, from the dump as it is (no profile). */
static void vcpu_three_of_sapphire_rapids(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t, v;
        load_data(&t, "intel-sapphire-rapids.cpuid");
        uint32_t ebx1 = cvmm_cpuid_reg(&t, 1, 0, CVMM_EBX);
        assert_int_equal(cvmm_cpuid_for_vcpu(&t, 3, &v), 0);
        assert_int_equal(cvmm_cpuid_reg(&v, 1, 0, CVMM_EBX), (ebx1 & 0x00ffffffu) | 3u << 24);
        for (uint32_t s = 0; s < 3; s++) {
                if (cvmm_cpuid_get(&t, 0xb, s))
                        assert_int_equal(cvmm_cpuid_reg(&v, 0xb, s, CVMM_EDX), 3);
                if (cvmm_cpuid_get(&t, 0x1f, s))
                        assert_int_equal(cvmm_cpuid_reg(&v, 0x1f, s, CVMM_EDX), 3);
        }
        assert_non_null(cvmm_cpuid_get(&t, 0x1f, 1));
        /* 0xD.0 EBX is dynamic too, but follows XCR0, not the vCPU */
        assert_int_equal(cvmm_cpuid_reg(&v, 0xd, 0, CVMM_EBX),
                         cvmm_cpuid_reg(&t, 0xd, 0, CVMM_EBX));
        cvmm_cpuid_free(&v);
        cvmm_cpuid_free(&t);
}

static void dynamic_fields(void **state)
{
        (void)state;
        assert_int_equal(cvmm_cpuid_dynamic_mask(0x1, 0, CVMM_EBX), 0xff000000u);
        assert_int_equal(cvmm_cpuid_dynamic_mask(0x1, 0, CVMM_ECX), 1u << 27);
        assert_int_equal(cvmm_cpuid_dynamic_mask(0x1, 0, CVMM_EAX), 0);
        assert_int_equal(cvmm_cpuid_dynamic_mask(0x1, 0, CVMM_EDX), 0);
        assert_int_equal(cvmm_cpuid_dynamic_mask(0x7, 0, CVMM_ECX), 1u << 4);
        assert_int_equal(cvmm_cpuid_dynamic_mask(0x7, 1, CVMM_ECX), 0);
        for (uint32_t s = 0; s < 4; s++) {
                assert_int_equal(cvmm_cpuid_dynamic_mask(0xb, s, CVMM_EDX), 0xffffffffu);
                assert_int_equal(cvmm_cpuid_dynamic_mask(0x1f, s, CVMM_EDX), 0xffffffffu);
                assert_int_equal(cvmm_cpuid_dynamic_mask(0xb, s, CVMM_ECX), 0);
                assert_int_equal(cvmm_cpuid_dynamic_mask(0x8000001e, s, CVMM_EAX), 0xffffffffu);
        }
        assert_int_equal(cvmm_cpuid_dynamic_mask(0xd, 0, CVMM_EBX), 0xffffffffu);
        assert_int_equal(cvmm_cpuid_dynamic_mask(0xd, 1, CVMM_EBX), 0xffffffffu);
        assert_int_equal(cvmm_cpuid_dynamic_mask(0xd, 1, CVMM_EAX), 0);
        assert_int_equal(cvmm_cpuid_dynamic_mask(0xd, 2, CVMM_EBX), 0);
        assert_int_equal(cvmm_cpuid_dynamic_mask(0x8000001e, 0, CVMM_EBX), 0);
        assert_int_equal(cvmm_cpuid_dynamic_mask(0x4, 0, CVMM_EAX), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(dynamic_fields),
            cmocka_unit_test(vcpu_tables_of_a_real_dump),
            cmocka_unit_test(vcpu_three_of_sapphire_rapids),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
