/* SPDX-License-Identifier: MIT */
/*
 * The library's CPUID field knowledge on real dumps: the indexed leaves and the entry flags,
 * the dynamic fields and their marks in cvmm JSON, and each vCPU's table (the APIC IDs set per
 * vCPU, nothing else changed).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "cvmm/diff.h"
#include "cvmm/effective.h"
#include "cvmm/profile.h"

static void indexed_leaves(void **state)
{
        (void)state;
        static const uint32_t indexed[] = {
            0x4,  0x7,  0xb,  0xd,  0xf,  0x10, 0x12,       0x14,       0x17,      0x18,
            0x1d, 0x1e, 0x1f, 0x20, 0x23, 0x24, 0x8000001d, 0x80000020, 0x80000026};
        static const uint32_t plain[] = {0x0,        0x1,        0x2,        0x3,        0x5,
                                         0x6,        0xa,        0x16,       0x19,       0x21,
                                         0x22,       0x40000000, 0x80000000, 0x80000001, 0x80000008,
                                         0x8000001e, 0x8000001f, 0x80000021};
        for (size_t i = 0; i < sizeof(indexed) / sizeof(indexed[0]); i++) {
                assert_true(cvmm_cpuid_leaf_indexed(indexed[i]));
                assert_int_equal(cvmm_cpuid_flags_for(indexed[i], 0), CVMM_CPUID_FLAG_INDEXED);
        }
        for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
                assert_false(cvmm_cpuid_leaf_indexed(plain[i]));
                assert_int_equal(cvmm_cpuid_flags_for(plain[i], 0), 0);
                /* a subleaf other than 0 exists only where the subleaf counts */
                assert_int_equal(cvmm_cpuid_flags_for(plain[i], 1), CVMM_CPUID_FLAG_INDEXED);
        }
}

#define Z32 "00000000000000000000000000000000"

/* A Firecracker fingerprint keeps the flags KVM (Linux 5.10) gave; they agree with the list. */
static void flags_of_a_kvm_fingerprint(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        load_data(&t, "firecracker/fingerprint_INTEL_SKYLAKE_5.10host.json");
        size_t flagged = 0;
        for (size_t i = 0; i < t.count; i++) {
                const struct cvmm_cpuid_entry *e = &t.entries[i];
                assert_int_equal(e->flags, cvmm_cpuid_flags_for(e->leaf, e->subleaf));
                flagged += e->flags == CVMM_CPUID_FLAG_INDEXED;
        }
        assert_true(flagged > 10); /* 4, 7, 0xb, 0xd's subleaves, ... */
        assert_int_equal(cvmm_cpuid_get(&t, 0xd, 0)->flags, CVMM_CPUID_FLAG_INDEXED);
        assert_int_equal(cvmm_cpuid_get(&t, 0x1, 0)->flags, 0);
        cvmm_cpuid_free(&t);
        /* A file's flag is kept even where the list would say otherwise. */
        const char *fc = "{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", "
                         "\"flags\": 1, \"modifiers\": ["
                         "{\"register\": \"eax\", \"bitmap\": \"0b" Z32 "\"},"
                         "{\"register\": \"ebx\", \"bitmap\": \"0b" Z32 "\"},"
                         "{\"register\": \"ecx\", \"bitmap\": \"0b" Z32 "\"},"
                         "{\"register\": \"edx\", \"bitmap\": \"0b" Z32 "\"}]}]}";
        struct cvmm_err err;
        if (cvmm_cpuid_parse(&t, fc, strlen(fc), "fc", NULL, &err))
                fail_msg("%s", err.msg);
        assert_int_equal(cvmm_cpuid_get(&t, 0x1, 0)->flags, CVMM_CPUID_FLAG_INDEXED);
        cvmm_cpuid_free(&t);
}

/* Dumps and cvmm JSON have no flags: every entry gets the library's, and so do added ones. */
static void flags_of_tables_without_flags(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t, j;
        load_data(&t, "intel-sapphire-rapids.cpuid");
        char *json = cvmm_cpuid_format_json(&t, NULL);
        assert_non_null(json);
        struct cvmm_err err;
        assert_int_equal(cvmm_cpuid_parse(&j, json, strlen(json), "json", NULL, &err), 0);
        free(json);
        assert_int_equal(j.count, t.count);
        for (size_t i = 0; i < t.count; i++) {
                const struct cvmm_cpuid_entry *e = &t.entries[i];
                assert_int_equal(e->flags, cvmm_cpuid_flags_for(e->leaf, e->subleaf));
                assert_int_equal(j.entries[i].flags, e->flags);
        }
        assert_int_equal(cvmm_cpuid_get(&t, 0x7, 0)->flags, CVMM_CPUID_FLAG_INDEXED);
        assert_int_equal(cvmm_cpuid_get(&t, 0x6, 0)->flags, 0);
        /* an entry a rule adds */
        assert_null(cvmm_cpuid_get(&t, 0x24, 0));
        assert_int_equal(cvmm_cpuid_set_reg(&t, 0x24, 0, CVMM_EAX, 1, "test"), 0);
        assert_int_equal(cvmm_cpuid_get(&t, 0x24, 0)->flags, CVMM_CPUID_FLAG_INDEXED);
        /* put keeps the flags it is given (KVM's) */
        struct cvmm_cpuid_entry e = {.leaf = 0x80000020, .flags = 0};
        assert_int_equal(cvmm_cpuid_put(&t, &e), 0);
        assert_int_equal(cvmm_cpuid_get(&t, 0x80000020, 0)->flags, 0);
        /* ... but a subleaf other than 0 is always indexed */
        e = (struct cvmm_cpuid_entry){.leaf = 0x80000020, .subleaf = 1, .flags = 0};
        assert_int_equal(cvmm_cpuid_put(&t, &e), 0);
        assert_int_equal(cvmm_cpuid_get(&t, 0x80000020, 1)->flags, CVMM_CPUID_FLAG_INDEXED);
        cvmm_cpuid_free(&j);
        cvmm_cpuid_free(&t);
}

/* Flags are not content: the same registers under other flags are the same table. */
static void flags_do_not_enter_output_or_diff(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t, u;
        load_data(&t, "intel-sapphire-rapids.cpuid");
        assert_int_equal(cvmm_cpuid_copy(&u, &t), 0);
        for (size_t i = 0; i < u.count; i++)
                u.entries[i].flags ^= CVMM_CPUID_FLAG_INDEXED | 0x6;
        size_t n = 1;
        char *d = cvmm_cpuid_diff(&t, &u, &n);
        assert_non_null(d);
        assert_int_equal(n, 0);
        free(d);
        char *a = cvmm_cpuid_format_raw(&t), *b = cvmm_cpuid_format_raw(&u);
        assert_string_equal(a, b);
        free(a);
        free(b);
        a = cvmm_cpuid_format_json(&t, NULL);
        b = cvmm_cpuid_format_json(&u, NULL);
        assert_string_equal(a, b);
        free(a);
        free(b);
        cvmm_cpuid_free(&u);
        cvmm_cpuid_free(&t);
}

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

/* The "dynamic" object of entry (leaf, subleaf) in cvmm JSON, or NULL. */
static struct json_object *dynamic_of(struct json_object *root, uint32_t leaf, uint32_t subleaf)
{
        struct json_object *entries, *v;
        assert_true(json_object_object_get_ex(root, "entries", &entries));
        for (size_t i = 0; i < json_object_array_length(entries); i++) {
                struct json_object *o = json_object_array_get_idx(entries, i);
                uint32_t l, s;
                assert_true(json_object_object_get_ex(o, "leaf", &v));
                l = (uint32_t)strtoul(json_object_get_string(v), NULL, 16);
                assert_true(json_object_object_get_ex(o, "subleaf", &v));
                s = (uint32_t)strtoul(json_object_get_string(v), NULL, 16);
                if (l == leaf && s == subleaf)
                        return json_object_object_get_ex(o, "dynamic", &v) ? v : NULL;
        }
        fail_msg("no entry 0x%x.%u", leaf, subleaf);
        return NULL;
}

/* Every entry's "dynamic" names exactly the registers with a nonzero mask, with the mask. */
static void assert_marks(const struct cvmm_cpuid_table *t, struct json_object *root)
{
        for (size_t i = 0; i < t->count; i++) {
                const struct cvmm_cpuid_entry *e = &t->entries[i];
                struct json_object *dyn = dynamic_of(root, e->leaf, e->subleaf), *v;
                int marked = 0;
                for (int r = 0; r < CVMM_NREGS; r++) {
                        uint32_t m = cvmm_cpuid_dynamic_mask(e->leaf, e->subleaf, r);
                        const char *name = cvmm_reg_name((enum cvmm_reg)r);
                        if (!m) {
                                assert_false(dyn && json_object_object_get_ex(dyn, name, &v));
                                continue;
                        }
                        char want[16];
                        snprintf(want, sizeof(want), "0x%08x", m);
                        assert_non_null(dyn);
                        assert_true(json_object_object_get_ex(dyn, name, &v));
                        assert_string_equal(json_object_get_string(v), want);
                        marked++;
                }
                if (dyn)
                        assert_int_equal(json_object_object_length(dyn), marked);
                else
                        assert_int_equal(marked, 0);
        }
}

static void json_marks_dynamic_fields(void **state)
{
        (void)state;
        static const char *const dumps[] = {"intel-sapphire-rapids.cpuid",
                                            "amd-epyc-9334-genoa.cpuid"};
        for (size_t d = 0; d < 2; d++) {
                struct cvmm_cpuid_table t, back;
                load_data(&t, dumps[d]);
                char *json = cvmm_cpuid_format_json(&t, NULL);
                assert_non_null(json);
                struct json_object *root = json_tokener_parse(json);
                assert_non_null(root);
                assert_marks(&t, root);
                struct json_object *dyn = dynamic_of(root, 0x1, 0), *v;
                assert_non_null(dyn);
                assert_true(json_object_object_get_ex(dyn, "ebx", &v));
                assert_string_equal(json_object_get_string(v), "0xff000000");
                assert_true(json_object_object_get_ex(dyn, "ecx", &v));
                assert_string_equal(json_object_get_string(v), "0x08000000");
                assert_true(json_object_object_get_ex(dynamic_of(root, 0xd, 0), "ebx", &v));
                assert_string_equal(json_object_get_string(v), "0xffffffff");
                assert_null(dynamic_of(root, 0xd, 2));
                assert_null(dynamic_of(root, 0x7, 1));
                if (d == 1) {
                        assert_true(
                            json_object_object_get_ex(dynamic_of(root, 0x8000001e, 0), "eax", &v));
                        assert_string_equal(json_object_get_string(v), "0xffffffff");
                }
                json_object_put(root);
                /* The marks are output only: cvmm JSON reads back as the same table. */
                struct cvmm_err err;
                assert_int_equal(cvmm_cpuid_parse(&back, json, strlen(json), "json", NULL, &err),
                                 0);
                size_t n = 1;
                char *diff = cvmm_cpuid_diff(&t, &back, &n);
                assert_int_equal(n, 0);
                free(diff);
                free(json);
                cvmm_cpuid_free(&back);
                cvmm_cpuid_free(&t);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(indexed_leaves),
            cmocka_unit_test(flags_of_a_kvm_fingerprint),
            cmocka_unit_test(flags_of_tables_without_flags),
            cmocka_unit_test(flags_do_not_enter_output_or_diff),
            cmocka_unit_test(dynamic_fields),
            cmocka_unit_test(json_marks_dynamic_fields),
            cmocka_unit_test(vcpu_tables_of_a_real_dump),
            cmocka_unit_test(vcpu_three_of_sapphire_rapids),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
