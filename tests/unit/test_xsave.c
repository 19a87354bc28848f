/* SPDX-License-Identifier: MIT */
/* Leaf 0xD arithmetic on real dumps, the Sapphire Rapids AMX case, and order independence. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "cvmm/profile.h"
#include "cvmm/xsave.h"

static const char *const full_dumps[] = {
    "host-amd-epyc-pvm.cpuid",        "amd-epyc-7502-rome.cpuid",
    "amd-epyc-7742-rome.cpuid",       "amd-epyc-9334-genoa.cpuid",
    "amd-ryzen9-7950x-raphael.cpuid", "intel-core-i7-1270p-alder-lake.cpuid",
    "intel-sapphire-rapids.cpuid",    "intel-emerald-rapids.cpuid",
};
#define NDUMPS (sizeof(full_dumps) / sizeof(full_dumps[0]))

/* The hardware's own 0xD.0 ECX is the standard size of every supported user component. */
static void test_standard_size_matches_hardware(void **state)
{
        (void)state;
        for (size_t i = 0; i < NDUMPS; i++) {
                struct cvmm_cpuid_table t;
                struct cvmm_xsave_layout l;
                load_data(&t, full_dumps[i]);
                cvmm_xsave_layout_read(&t, &l);
                assert_int_equal(cvmm_xsave_standard_size(&l, l.xcr0_supported),
                                 cvmm_cpuid_reg(&t, 0xd, 0, CVMM_ECX));
                cvmm_cpuid_free(&t);
        }
}

/*
 * The hardware's own 0xD.1 EBX, reported for the XCR0|XSS its OS had enabled, is reproduced by
 * the ascending walk. The masks are the ones whose size matches: PKRU and CET_U on Linux hosts,
 * PT and CET_U on Windows (AIDA64 dumps), CET_U and LBR on the Alder Lake host.
 */
static void test_compacted_size_matches_hardware(void **state)
{
        (void)state;
        static const struct {
                const char *file;
                uint64_t mask;
        } cases[] = {
            {"host-amd-epyc-pvm.cpuid", 0xe7},
            {"amd-epyc-9334-genoa.cpuid", 0x2e7 | 0x800},
            {"amd-ryzen9-7950x-raphael.cpuid", 0xe7 | 0x800},
            {"intel-sapphire-rapids.cpuid", 0x602e7 | 0x900},
            {"intel-emerald-rapids.cpuid", 0x602e7 | 0x900},
            {"intel-core-i7-1270p-alder-lake.cpuid", 0x207 | 0x8800},
            {"amd-epyc-7742-rome.cpuid", 0x7},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct cvmm_cpuid_table t;
                struct cvmm_xsave_layout l;
                load_data(&t, cases[i].file);
                cvmm_xsave_layout_read(&t, &l);
                assert_int_equal(cvmm_xsave_compacted_size(&l, cases[i].mask),
                                 cvmm_cpuid_reg(&t, 0xd, 1, CVMM_EBX));
                cvmm_cpuid_free(&t);
        }
}

/* xsave.md's worked example on the Sapphire Rapids component data. */
static void test_sapphire_rapids_amx(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_xsave_layout l;
        load_data(&t, "intel-sapphire-rapids.cpuid");
        cvmm_xsave_layout_read(&t, &l);
        /* 576 +256 +64 +512 +1024 = 2432, CET_U +16 = 2448, pad 2496, +64 = 2560, +8192. */
        assert_int_equal(cvmm_xsave_compacted_size(&l, 0x600e7 | 0x800), 10752);
        /* The hash-order bug: AMX visited before CET_U loses the padding. */
        uint32_t wrong = 576 + 256 + 64 + 512 + 1024;
        wrong = (wrong + 63) & ~63u;
        wrong += 64;
        wrong = (wrong + 63) & ~63u;
        wrong += 8192 + 16;
        assert_int_equal(wrong, 10704);
        assert_int_not_equal(cvmm_xsave_compacted_size(&l, 0x600e7 | 0x800), wrong);

        /* Derivation writes it into 0xD.1 EBX, and the standard sizes into 0xD.0. */
        assert_int_equal(cvmm_xsave_derive(&t, 0x600e7, 0x800), 0);
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 1, CVMM_EBX), 10752);
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 0, CVMM_EBX), 0xb00 + 0x2000);
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 0, CVMM_ECX), 0x2b00);
        cvmm_cpuid_free(&t);
}

static void test_standard_size_rules(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_xsave_layout l;
        load_data(&t, "intel-sapphire-rapids.cpuid");
        cvmm_xsave_layout_read(&t, &l);
        assert_int_equal(cvmm_xsave_standard_size(&l, 0x3), 576);
        assert_int_equal(cvmm_xsave_standard_size(&l, 0x7), 576 + 256);
        /* Offsets are fixed: PKRU alone still ends at its offset (0xa80) + 8. */
        assert_int_equal(cvmm_xsave_standard_size(&l, 0x203), 0xa80 + 8);
        /* Supervisor components have no standard-format place. */
        assert_int_equal(cvmm_xsave_standard_size(&l, 0x7 | 0x800), 576 + 256);
        cvmm_cpuid_free(&t);
}

/* Components with odd hardware sizes are taken as reported (Zen 2's 64-byte PKRU). */
static void test_zen2_pkru_size_from_hardware(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_xsave_layout l;
        load_data(&t, "amd-epyc-7742-rome.cpuid");
        cvmm_xsave_layout_read(&t, &l);
        assert_int_equal(l.comp[9].size, 64);
        assert_int_equal(cvmm_xsave_arch_size(9), 8);
        assert_int_equal(cvmm_xsave_compacted_size(&l, 0x207), 576 + 256 + 64);
        cvmm_cpuid_free(&t);
}

static void test_xcr0_validation(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_xsave_layout l;
        struct cvmm_err err;
        load_data(&t, "intel-sapphire-rapids.cpuid");
        cvmm_xsave_layout_read(&t, &l);
        assert_int_equal(cvmm_xsave_validate_xcr0(&l, 0x602e7, "--xcr0", &err), 0);
        assert_int_equal(cvmm_xsave_validate_xcr0(&l, 0x3, "--xcr0", &err), 0);
        assert_int_equal(cvmm_xsave_validate_xcr0(&l, 0x2, "--xcr0", &err), -1);
        assert_non_null(strstr(err.msg, "x87"));
        assert_int_equal(cvmm_xsave_validate_xcr0(&l, 0x5, "--xcr0", &err), -1);
        assert_int_equal(cvmm_xsave_validate_xcr0(&l, 0x27, "--xcr0", &err), -1);
        assert_non_null(strstr(err.msg, "AVX-512"));
        assert_int_equal(cvmm_xsave_validate_xcr0(&l, 0x200e7, "--xcr0", &err), -1);
        assert_non_null(strstr(err.msg, "AMX"));
        assert_int_equal(cvmm_xsave_validate_xcr0(&l, 0x80003, "--xcr0", &err), -1);
        assert_non_null(strstr(err.msg, "not supported"));
        assert_int_equal(cvmm_xsave_validate_xss(&l, 0x800, "--xss", &err), 0);
        assert_int_equal(cvmm_xsave_validate_xss(&l, 0x1, "--xss", &err), -1);
        cvmm_cpuid_free(&t);
}

/* A table fed in any line order gives byte-identical output for every profile. */
static void test_order_independence(void **state)
{
        (void)state;
        for (size_t d = 0; d < NDUMPS; d++) {
                size_t len;
                char *text = read_data(full_dumps[d], &len);
                /* Split into lines (skipping the CPU: header). */
                char *lines[512];
                size_t n = 0;
                for (char *p = strtok(text, "\n"); p; p = strtok(NULL, "\n"))
                        if (strncmp(p, "CPU", 3) != 0 && n < 512)
                                lines[n++] = p;
                char *reference[3] = {NULL, NULL, NULL};
                unsigned seed = 12345;
                for (int round = 0; round < 6; round++) {
                        /* Shuffle (round 0 keeps the file order, round 1 reverses it). */
                        if (round == 1) {
                                for (size_t i = 0; i < n / 2; i++) {
                                        char *x = lines[i];
                                        lines[i] = lines[n - 1 - i];
                                        lines[n - 1 - i] = x;
                                }
                        } else if (round > 1) {
                                for (size_t i = n - 1; i > 0; i--) {
                                        seed = seed * 1103515245u + 12345u;
                                        size_t j = (seed >> 8) % (i + 1);
                                        char *x = lines[i];
                                        lines[i] = lines[j];
                                        lines[j] = x;
                                }
                        }
                        size_t total = 0;
                        for (size_t i = 0; i < n; i++)
                                total += strlen(lines[i]) + 1;
                        char *buf = malloc(total + 1);
                        assert_non_null(buf);
                        size_t off = 0;
                        for (size_t i = 0; i < n; i++) {
                                size_t k = strlen(lines[i]);
                                memcpy(buf + off, lines[i], k);
                                buf[off + k] = '\n';
                                off += k + 1;
                        }
                        buf[off] = '\0';
                        for (int p = 0; p < 3; p++) {
                                struct cvmm_cpuid_table t;
                                struct cvmm_err err;
                                assert_int_equal(
                                    cvmm_cpuid_parse(&t, buf, off, "shuffled", NULL, &err), 0);
                                struct cvmm_model_opts o = {.profile = (enum cvmm_profile)p,
                                                            .cpus = 4};
                                struct cvmm_model_result res;
                                assert_int_equal(cvmm_model_build(&t, &o, &res, &err), 0);
                                char *out = cvmm_cpuid_format_raw(&t);
                                assert_non_null(out);
                                if (!reference[p])
                                        reference[p] = out;
                                else {
                                        assert_string_equal(out, reference[p]);
                                        free(out);
                                }
                                cvmm_cpuid_free(&t);
                        }
                        free(buf);
                }
                for (int p = 0; p < 3; p++)
                        free(reference[p]);
                free(text);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_standard_size_matches_hardware),
            cmocka_unit_test(test_compacted_size_matches_hardware),
            cmocka_unit_test(test_sapphire_rapids_amx),
            cmocka_unit_test(test_standard_size_rules),
            cmocka_unit_test(test_zen2_pkru_size_from_hardware),
            cmocka_unit_test(test_xcr0_validation),
            cmocka_unit_test(test_order_independence),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
