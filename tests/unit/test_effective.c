/* SPDX-License-Identifier: MIT */
/*
 * The effective CPU model on the exact view measured on a PVM-style KVM host
 * (tests/data/pvm-host): attribution, reconciliation, and the Linux 6.1 model, whose expected
 * lines are what Debian's 6.1 kernel printed there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "cvmm/effective.h"
#include "cvmm/features.h"
#include "cvmm/linux.h"
#include "cvmm/xsave.h"

/* The table cvmm a585a9c handed over, the guest's view of it, and QEMU's guest's view. */
static void load_pvm(struct cvmm_cpuid_table *table, struct cvmm_cpuid_table *seen,
                     struct cvmm_cpuid_table *qemu)
{
        load_data(table, "pvm-host/cvmm-host-profile-table.cpuid");
        load_data(seen, "pvm-host/guest-view-cvmm-host-profile.cpuid");
        if (qemu)
                load_data(qemu, "pvm-host/guest-view-qemu-host.cpuid");
}

/* The lines of the kernel's console that the model predicts, timestamps removed. */
static size_t console_lines(char lines[][CVMM_LINUX_LINE], size_t max)
{
        size_t len, n = 0;
        char *buf = read_data("pvm-host/debian-6.1-console-cvmm-host-profile.log", &len);
        for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
                char *p = strstr(l, "] ");
                if (l[0] != '[' || !p)
                        continue;
                p += 2;
                if (cvmm_linux_line_modelled(p) && n < max)
                        snprintf(lines[n++], CVMM_LINUX_LINE, "%s", p);
        }
        free(buf);
        return n;
}

/* What the kernel read back after XSETBV(0xe7), from its own leaf dump in the console. */
static const struct cvmm_linux_runtime pvm_rt = {
    .measured = true, .d0_ebx = 0x980, .d1_ebx = 0x980};

static void linux61_predicts_the_console_word_for_word(void **state)
{
        (void)state;
        struct cvmm_cpuid_table table, seen;
        load_pvm(&table, &seen, NULL);
        struct cvmm_linux_boot b;
        cvmm_linux_predict(&seen, CVMM_LINUX_6_1, &pvm_rt, &b);
        static char want[CVMM_LINUX_MAX_LINES][CVMM_LINUX_LINE];
        size_t n = console_lines(want, CVMM_LINUX_MAX_LINES);
        assert_true(n > 30); /* misordered, four struct warnings, the dump, the problem */
        assert_int_equal(b.nlines, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(b.lines[i], want[i]);
        assert_true(b.misordered);
        assert_true(b.consistency_problem);
        assert_false(b.xsave_used);
        assert_int_equal(b.computed_size, 576);
        assert_int_equal(b.kernel_size, 2432);
        /* The verdict quotes the line that disabled XSAVE, not one of the leaf dump's. */
        assert_true(b.size_mismatch);
        assert_string_equal(b.verdict, "the kernel disables XSAVE: XSAVE consistency problem: "
                                       "size 576 != kernel_size 2432");
        cvmm_cpuid_free(&table);
        cvmm_cpuid_free(&seen);
}

static void attribution_of_the_measured_rewrite(void **state)
{
        (void)state;
        struct cvmm_cpuid_table table, seen;
        load_pvm(&table, &seen, NULL);
        struct cvmm_attribution a;
        /* KVM_GET_CPUID2 returned what the guest saw (kvm.md): every field is KVM's. */
        struct cvmm_cpuid_table kvm;
        assert_int_equal(cvmm_cpuid_copy(&kvm, &seen), 0);
        assert_int_equal(cvmm_attribute(&table, &kvm, &seen, &a), 0);
        /* leaf 1 ECX/EDX, 7.0 EBX/ECX/EDX, 7.1 EAX, 0xD.0 EAX/ECX, 0xD.1 EAX */
        assert_int_equal(a.count, 9);
        for (size_t i = 0; i < a.count; i++)
                assert_int_equal(a.fields[i].source, CVMM_ATTR_KVM);
        char d[400];
        cvmm_attr_describe(&a.fields[0], d, sizeof(d));
        assert_non_null(strstr(d, "leaf 0x1.0 ecx: KVM forces"));
        assert_non_null(strstr(d, " +xsave "));
        assert_non_null(strstr(d, " +avx "));
        assert_non_null(strstr(d, "0x81202000"));
        assert_non_null(strstr(d, "0xf7f83203"));
        assert_non_null(strstr(d, "KVM_GET_CPUID2 and the guest: 0xf7f83203"));
        assert_true(a.fields[0].guest_ran);
        cvmm_attribution_free(&a);
        /* KVM_GET_CPUID2 standing in for a sweep no guest ran (seen is kvm): said so. */
        assert_int_equal(cvmm_attribute(&table, &kvm, &kvm, &a), 0);
        assert_int_equal(a.count, 9);
        assert_false(a.fields[0].guest_ran);
        cvmm_attr_describe(&a.fields[0], d, sizeof(d));
        assert_non_null(strstr(d, "leaf 0x1.0 ecx: KVM forces"));
        assert_non_null(strstr(d, "(cvmm set 0x81202000, KVM_GET_CPUID2: 0xf7f83203, read before "
                                  "any guest ran the table)"));
        cvmm_attribution_free(&a);
        cvmm_cpuid_free(&kvm);
        /* Had KVM_GET_CPUID2 returned the table, the guest's view would be neither's. */
        assert_int_equal(cvmm_attribute(&table, &table, &seen, &a), 0);
        assert_int_equal(a.count, 9);
        for (size_t i = 0; i < a.count; i++)
                assert_int_equal(a.fields[i].source, CVMM_ATTR_GUEST);
        cvmm_attr_describe(&a.fields[0], d, sizeof(d));
        assert_non_null(strstr(d, "the guest sees"));
        cvmm_attribution_free(&a);
        /* KVM's answer for an absent topology subleaf: the invalid-level pattern only when the
         * table has subleaf 1 (the tdx profile keeps 0xB.0 alone, zeroed: then zeros). */
        uint32_t r[4];
        cvmm_cpuid_absent_regs(&seen, 0xb, 5, r);
        assert_int_equal(r[CVMM_ECX], cvmm_cpuid_get(&seen, 0xb, 1) ? 5 : 0);
        struct cvmm_cpuid_table only0;
        cvmm_cpuid_init(&only0);
        put(&only0, 0xb, 0, 0, 0, 0, 0);
        cvmm_cpuid_absent_regs(&only0, 0xb, 5, r);
        assert_int_equal(r[CVMM_ECX], 0);
        put(&only0, 0xb, 1, 1, 2, 0x201, 7);
        cvmm_cpuid_absent_regs(&only0, 0xb, 5, r);
        assert_int_equal(r[CVMM_ECX], 5);
        assert_int_equal(r[CVMM_EDX], 7);
        cvmm_cpuid_free(&only0);
        /* Dynamic fields never count: the APIC ID and the XSAVE sizes. */
        assert_int_equal(cvmm_cpuid_dynamic_mask(0xd, 0, CVMM_EBX), 0xffffffffu);
        assert_int_equal(cvmm_cpuid_dynamic_mask(1, 0, CVMM_EBX), 0xff000000u);
        assert_int_equal(cvmm_cpuid_dynamic_mask(0xd, 2, CVMM_EBX), 0);
        cvmm_cpuid_free(&table);
        cvmm_cpuid_free(&seen);
}

static bool listed(const char *const *names, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(names[i], name) == 0)
                        return true;
        return false;
}

static void reconcile_restores_forced_features_and_their_state(void **state)
{
        (void)state;
        struct cvmm_cpuid_table table, seen, qemu;
        load_pvm(&table, &seen, &qemu);
        /* QEMU's guest's 0xD subleaves are KVM_GET_SUPPORTED_CPUID's: the source of state. */
        struct cvmm_reconcile_report r;
        assert_int_equal(cvmm_reconcile(&table, &qemu, &seen, &r), 0);
        assert_true(r.changed);
        assert_true(listed(r.restored, r.nrestored, "xsave"));
        assert_true(listed(r.restored, r.nrestored, "avx"));
        assert_true(listed(r.restored, r.nrestored, "avx512f"));
        assert_true(listed(r.restored, r.nrestored, "xsavec"));
        assert_int_equal(r.comps_restored, 0xe7);
        assert_int_equal(r.comps_missing, 0);
        for (uint32_t n = 2; n <= 7; n++) {
                const struct cvmm_cpuid_entry *q = cvmm_cpuid_get(&qemu, 0xd, n);
                const struct cvmm_cpuid_entry *t = cvmm_cpuid_get(&table, 0xd, n);
                if (q && q->regs[CVMM_EAX]) {
                        assert_non_null(t);
                        assert_memory_equal(t->regs, q->regs, sizeof(t->regs));
                }
        }
        /* The re-derived standard size is the one this KVM forces (0xD.0 ECX it reported). */
        assert_int_equal(cvmm_cpuid_reg(&table, 0xd, 0, CVMM_ECX),
                         cvmm_cpuid_reg(&seen, 0xd, 0, CVMM_ECX));
        assert_int_equal(cvmm_cpuid_reg(&table, 1, 0, CVMM_ECX) & ~(1u << 27),
                         cvmm_cpuid_reg(&seen, 1, 0, CVMM_ECX) & ~(1u << 27));
        /* What remains against the old view: only the subleaves it lacked (size, offset). */
        struct cvmm_attribution a;
        assert_int_equal(cvmm_attribute(&table, NULL, &seen, &a), 0);
        for (size_t i = 0; i < a.count; i++) {
                assert_int_equal(a.fields[i].leaf, 0xd);
                assert_true(a.fields[i].subleaf >= 2 && a.fields[i].subleaf <= 7);
        }
        assert_int_equal(a.count, 8); /* 4 components x (EAX size, EBX offset) */
        cvmm_attribution_free(&a);
        /* On the reconciled table Linux 6.1 supports what it supported under QEMU there. */
        struct cvmm_linux_boot b;
        cvmm_linux_predict(&table, CVMM_LINUX_6_1, &pvm_rt, &b);
        assert_false(b.misordered);
        assert_false(b.consistency_problem);
        assert_true(b.xsave_used);
        assert_int_equal(b.features, 0xe7);
        size_t supporting = 0;
        for (size_t i = 0; i < b.nlines; i++)
                if (strncmp(b.lines[i], "x86/fpu: Supporting XSAVE feature ", 34) == 0)
                        supporting++;
        assert_int_equal(supporting, 6); /* 0x001 .. 0x080, as the issue measured under QEMU */
        assert_string_equal(
            b.lines[0], "x86/fpu: Supporting XSAVE feature 0x001: 'x87 floating point registers'");
        assert_string_equal(b.lines[5],
                            "x86/fpu: Supporting XSAVE feature 0x080: 'AVX-512 ZMM_Hi256'");
        cvmm_cpuid_free(&table);
        cvmm_cpuid_free(&seen);
        cvmm_cpuid_free(&qemu);
}

static void reconcile_reports_state_it_cannot_invent(void **state)
{
        (void)state;
        struct cvmm_cpuid_table table, seen, source;
        load_pvm(&table, &seen, NULL);
        /* A source with no 0xD subleaves: the forced components have no sizes to take. */
        load_data(&source, "pvm-host/cvmm-host-profile-table.cpuid");
        struct cvmm_reconcile_report r;
        assert_int_equal(cvmm_reconcile(&table, &source, &seen, &r), 0);
        assert_int_equal(r.comps_missing, 0xe4); /* AVX, opmask, ZMM_Hi256, Hi16_ZMM */
        assert_int_equal(r.comps_restored & ~3ull, 0);
        for (uint32_t n = 2; n < 64; n++)
                assert_null(cvmm_cpuid_get(&table, 0xd, n));
        cvmm_cpuid_free(&table);
        cvmm_cpuid_free(&seen);
        cvmm_cpuid_free(&source);
}

static void reconcile_removes_what_the_host_forces_off(void **state)
{
        (void)state;
        struct cvmm_cpuid_table table, seen;
        load_pvm(&table, &seen, NULL);
        /* The guest lacks AES (1.ECX[25]) although the table has it. */
        assert_int_equal(cvmm_cpuid_set_reg(&table, 1, 0, CVMM_ECX,
                                            cvmm_cpuid_reg(&seen, 1, 0, CVMM_ECX), "test"),
                         0);
        assert_int_equal(cvmm_cpuid_set_reg(&seen, 1, 0, CVMM_ECX,
                                            cvmm_cpuid_reg(&seen, 1, 0, CVMM_ECX) & ~(1u << 25),
                                            "test"),
                         0);
        struct cvmm_reconcile_report r;
        assert_int_equal(cvmm_reconcile(&table, &table, &seen, &r), 0);
        assert_true(listed(r.removed, r.nremoved, "aes"));
        assert_false(cvmm_cpuid_bit(&table, 1, 0, CVMM_ECX, 25));
        cvmm_cpuid_free(&table);
        cvmm_cpuid_free(&seen);
}

static void reconcile_of_an_enforced_view_changes_nothing(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t, copy;
        load_data(&t, "intel-sapphire-rapids.cpuid");
        assert_int_equal(cvmm_cpuid_copy(&copy, &t), 0);
        struct cvmm_reconcile_report r;
        assert_int_equal(cvmm_reconcile(&t, &copy, &copy, &r), 0);
        assert_false(r.changed);
        struct cvmm_attribution a;
        assert_int_equal(cvmm_attribute(&t, &copy, &copy, &a), 0);
        assert_int_equal(a.count, 0);
        assert_true(a.compared > 0);
        cvmm_attribution_free(&a);
        cvmm_cpuid_free(&t);
        cvmm_cpuid_free(&copy);
}

/* 6.6 names the component in its struct-size warning; the sizes and the verdict agree. */
static void linux66_differs_in_wording_only(void **state)
{
        (void)state;
        struct cvmm_cpuid_table table, seen;
        load_pvm(&table, &seen, NULL);
        struct cvmm_linux_boot b61, b66;
        cvmm_linux_predict(&seen, CVMM_LINUX_6_1, &pvm_rt, &b61);
        cvmm_linux_predict(&seen, CVMM_LINUX_6_6, &pvm_rt, &b66);
        assert_int_equal(b61.nlines, b66.nlines);
        assert_string_equal(b66.lines[1],
                            "[AVX registers]: struct is 256 bytes, cpu state 0 bytes");
        assert_true(cvmm_linux_line_modelled(b66.lines[1]));
        assert_false(
            cvmm_linux_line_modelled("[Firmware Bug]: TSC doesn't count with P0 frequency!"));
        assert_string_equal(b66.lines[b66.nlines - 1], b61.lines[b61.nlines - 1]);
        cvmm_cpuid_free(&table);
        cvmm_cpuid_free(&seen);
}

static void linux_versions_and_plan(void **state)
{
        (void)state;
        enum cvmm_linux_version v;
        struct cvmm_err err;
        assert_int_equal(cvmm_linux_version_parse("6.6", &v, &err), 0);
        assert_int_equal(v, CVMM_LINUX_6_6);
        assert_int_equal(cvmm_linux_version_parse("5.15", &v, &err), -1);
        assert_non_null(strstr(err.msg, "5.15"));
        assert_int_equal(CVMM_LINUX_DEFAULT, CVMM_LINUX_6_1);
        /* Without XSAVE the kernel says which legacy save it uses, and nothing else. */
        struct cvmm_cpuid_table t;
        load_data(&t, "pvm-host/cvmm-host-profile-table.cpuid");
        struct cvmm_linux_boot b;
        cvmm_linux_predict(&t, CVMM_LINUX_6_1, NULL, &b);
        assert_int_equal(b.nlines, 1);
        assert_string_equal(b.lines[0], "x86/fpu: x87 FPU will use FXSAVE");
        cvmm_cpuid_free(&t);
}

/*
 * Two tables compared outside the dynamic bits, over the union of their entries: on the PVM
 * host's table and the guest's view of it, every static field the attribution finds differs,
 * and nothing else; a dynamic bit alone, or an entry of zeros only one table holds, is no
 * difference, and the first difference is reported with the side that lacks the entry.
 */
static void static_diff_counts_the_union_outside_dynamic_bits(void **state)
{
        (void)state;
        struct cvmm_cpuid_table table, seen;
        load_pvm(&table, &seen, NULL);
        struct cvmm_attribution a;
        assert_int_equal(cvmm_attribute(&table, NULL, &seen, &a), 0);
        assert_true(a.count > 0);
        struct cvmm_static_diff d;
        /* seen holds only leaves the table has, so the union is the table's entries */
        assert_int_equal(cvmm_cpuid_static_diff(&seen, &table, &d), a.count);
        assert_int_equal(d.leaf, a.fields[0].leaf);
        assert_int_equal(d.subleaf, a.fields[0].subleaf);
        assert_int_equal(d.reg, a.fields[0].reg);
        assert_int_equal(d.a, a.fields[0].guest);
        assert_int_equal(d.b, a.fields[0].table);
        assert_int_equal(cvmm_cpuid_static_diff(&table, &table, &d), 0);
        cvmm_attribution_free(&a);

        struct cvmm_cpuid_table x = {0}, y = {0};
        struct cvmm_cpuid_entry e1 = {.leaf = 1, .regs = {0x000806f8, 0x00010800, 0x1, 0x2}};
        assert_int_equal(cvmm_cpuid_put(&x, &e1), 0);
        e1.regs[CVMM_EBX] = 0x07010800; /* the initial APIC ID: dynamic */
        e1.regs[CVMM_ECX] |= 1u << 27;  /* OSXSAVE: dynamic */
        assert_int_equal(cvmm_cpuid_put(&y, &e1), 0);
        struct cvmm_cpuid_entry zero = {.leaf = 0x80000008};
        assert_int_equal(cvmm_cpuid_put(&y, &zero), 0);
        assert_int_equal(cvmm_cpuid_static_diff(&x, &y, &d), 0);
        struct cvmm_cpuid_entry extra = {.leaf = 0x80000007, .regs = {0, 0, 0, 0x100}};
        assert_int_equal(cvmm_cpuid_put(&y, &extra), 0);
        assert_int_equal(cvmm_cpuid_static_diff(&x, &y, &d), 1);
        assert_int_equal(d.leaf, 0x80000007);
        assert_int_equal(d.reg, CVMM_EDX);
        assert_false(d.a_has);
        assert_true(d.b_has);
        assert_int_equal(d.a, 0);
        assert_int_equal(d.b, 0x100);
        assert_int_equal(cvmm_cpuid_static_diff(&y, &x, &d), 1);
        assert_true(d.a_has);
        assert_false(d.b_has);
        cvmm_cpuid_free(&x);
        cvmm_cpuid_free(&y);
        cvmm_cpuid_free(&table);
        cvmm_cpuid_free(&seen);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(linux61_predicts_the_console_word_for_word),
            cmocka_unit_test(attribution_of_the_measured_rewrite),
            cmocka_unit_test(reconcile_restores_forced_features_and_their_state),
            cmocka_unit_test(reconcile_reports_state_it_cannot_invent),
            cmocka_unit_test(reconcile_removes_what_the_host_forces_off),
            cmocka_unit_test(reconcile_of_an_enforced_view_changes_nothing),
            cmocka_unit_test(linux66_differs_in_wording_only),
            cmocka_unit_test(linux_versions_and_plan),
            cmocka_unit_test(static_diff_counts_the_union_outside_dynamic_bits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
