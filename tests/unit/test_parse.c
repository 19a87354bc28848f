/* SPDX-License-Identifier: MIT */
/* Readers: `cpuid -r`, Firecracker JSON, cvmm JSON; every bad-input path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int parse(struct cvmm_cpuid_table *t, const char *text, struct cvmm_err *err)
{
        return cvmm_cpuid_parse(t, text, strlen(text), "in", NULL, err);
}

static void test_raw_first_cpu_only(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_err err;
        enum cvmm_cpuid_format fmt;
        const char *two = "CPU 0:\n"
                          "   0x00000000 0x00: eax=0x0000000d ebx=0x68747541 ecx=0x444d4163 "
                          "edx=0x69746e65\n"
                          "CPU 1:\n"
                          "   0x00000000 0x00: eax=0x00000001 ebx=0x00000000 ecx=0x00000000 "
                          "edx=0x00000000\n";
        assert_int_equal(cvmm_cpuid_parse(&t, two, strlen(two), "two", &fmt, &err), 0);
        assert_int_equal(fmt, CVMM_FMT_CPUID_RAW);
        assert_int_equal(t.count, 1);
        assert_int_equal(cvmm_cpuid_reg(&t, 0, 0, CVMM_EAX), 0xd);
        assert_true(t.partial);
        cvmm_cpuid_free(&t);
}

static void test_raw_real_dump(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        load_data(&t, "intel-sapphire-rapids.cpuid");
        assert_false(t.partial);
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 0x12, CVMM_EAX), 0x2000);
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 0x12, CVMM_ECX), 6);
        cvmm_cpuid_free(&t);
        load_data(&t, "intel-amx-host-leaf0d-partial.cpuid");
        assert_true(t.partial);
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 1, CVMM_EBX), 0x2d00);
        cvmm_cpuid_free(&t);
}

/* Every malformed input names the place and leaves the table empty. */
static void test_raw_bad_input(void **state)
{
        (void)state;
        static const struct {
                const char *text;
                const char *needle;
        } cases[] = {
            {"   0x0000000d 0x01: eax=0x0000000f ebx=0x00000988 ecx=0x0\n", "in:1: truncated"},
            {"   0x0000000d 0x01: eax=0x0000000f ebx=0x00000988\n", "in:1: truncated"},
            {"   0x0000000d 0x01 eax=0x0000000f ebx=0 ecx=0 edx=0\n", "in:1: truncated"},
            {"hello world\n", "in:1: not a `cpuid -r` line"},
            {"CPU:\n   0x0000000d 0x40: eax=0x1 ebx=0x0 ecx=0x0 edx=0x0\n",
             "in:2: subleaf 0x40 of leaf 0xd is out of range"},
            {"   0x1 0x0: eax=0x1 ebx=0x0 ecx=0x0 edx=0x0\n   0x1 0x0: eax=0x2 ebx=0x0 "
             "ecx=0x0 edx=0x0\n",
             "in:2: leaf 0x00000001 subleaf 0x00 given twice with different values"},
            {"   0x1 0x0: eax=0x123456789 ebx=0x0 ecx=0x0 edx=0x0\n", "in:1: truncated"},
            {"   0x1 0x0: eax=0x1 ebx=0x0 ecx=0x0 edx=0x0trailing\n", "in:1: unexpected text"},
            {"CPU:\n\n", "in: no CPUID entries"},
            {"CPU x:\n", "in:1: malformed CPU header"},
            {"{\"entries\": [", "in:1: invalid JSON"},
            {"{\"entries\": [{\"leaf\": \"0x1\"}]}", "in: entries[0]: \"subleaf\" missing"},
            {"{\"entries\": [{\"leaf\": -1, \"subleaf\": 0, \"eax\": 0, \"ebx\": 0, \"ecx\": "
             "0, \"edx\": 0}]}",
             "\"leaf\" missing or not a 32-bit number"},
            {"{\"something\": 1}", "neither a cvmm table"},
            {"{\"entries\": []} trailing", "in:1: invalid JSON"},
            {"{\"cpuid_modifiers\": [{\"leaf\": \"1\", \"subleaf\": \"0x0\", \"flags\": 0, "
             "\"modifiers\": []}]}",
             "\"leaf\" missing or not a \"0x\"/\"0b\" string"},
            {"{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, "
             "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0b1x\"}]}]}",
             "this is a template"},
            {"{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, "
             "\"modifiers\": [{\"register\": \"eex\", \"bitmap\": \"0b1\"}]}]}",
             "unknown register \"eex\""},
            {"{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, "
             "\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0b2\"}]}]}",
             "eax bitmap is not"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct cvmm_cpuid_table t;
                struct cvmm_err err = {{0}};
                assert_int_equal(parse(&t, cases[i].text, &err), -1);
                if (!strstr(err.msg, cases[i].needle))
                        fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].needle);
                assert_null(strchr(err.msg, '\n'));
                assert_int_equal(t.count, 0);
                assert_null(t.entries);
        }
        struct cvmm_cpuid_table t;
        struct cvmm_err err;
        const char bin[] = "CPU:\n\0\x01";
        assert_int_equal(cvmm_cpuid_parse(&t, bin, sizeof(bin), "bin", NULL, &err), -1);
        assert_non_null(strstr(err.msg, "binary"));
        assert_int_equal(cvmm_cpuid_load(&t, "/nonexistent/file", NULL, &err), -1);
        assert_non_null(strstr(err.msg, "/nonexistent/file: cannot open"));
        assert_int_equal(cvmm_cpuid_load(&t, "/", NULL, &err), -1);
        assert_non_null(strstr(err.msg, "not a regular file"));
}

/* More entries than any CPU has is refused (bounds the work a hostile file can cause). */
static void test_entry_limit(void **state)
{
        (void)state;
        size_t cap = (CVMM_MAX_ENTRIES + 1) * 80 + 1, off = 0;
        char *buf = malloc(cap);
        assert_non_null(buf);
        for (unsigned i = 0; i <= CVMM_MAX_ENTRIES; i++)
                off += (size_t)snprintf(buf + off, cap - off,
                                        "   0x%08x 0x00: eax=0x0 ebx=0x0 ecx=0x0 edx=0x0\n",
                                        0x40000000u - i);
        struct cvmm_cpuid_table t;
        struct cvmm_err err;
        assert_int_equal(cvmm_cpuid_parse(&t, buf, off, "big", NULL, &err), -1);
        assert_non_null(strstr(err.msg, "big:4097: more than 4096 entries"));
        free(buf);
}

/* A Firecracker fingerprint is a full table; its values land bit for bit. */
static void test_firecracker_fingerprint(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_err err;
        enum cvmm_cpuid_format fmt;
        size_t len;
        char *text = read_data("firecracker/fingerprint_INTEL_SKYLAKE_5.10host.json", &len);
        assert_int_equal(cvmm_cpuid_parse(&t, text, len, "fp", &fmt, &err), 0);
        assert_int_equal(fmt, CVMM_FMT_FIRECRACKER);
        assert_int_equal(t.count, 47);
        /* "0b00000000000000000000001011111111" and "0b...101010001000" in the file. */
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 0, CVMM_EAX), 0x2ff);
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 0, CVMM_ECX), 0xa88);
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 1, CVMM_EAX), 0xf);
        /* Vendor "GenuineIntel". */
        assert_int_equal(cvmm_cpuid_reg(&t, 0, 0, CVMM_EBX), 0x756e6547);
        cvmm_cpuid_free(&t);
        free(text);
        /* The T2 static template modifies a base table: refused by name. */
        text = read_data("firecracker/t2.json", &len);
        assert_int_equal(cvmm_cpuid_parse(&t, text, len, "t2.json", &fmt, &err), -1);
        assert_non_null(strstr(err.msg, "t2.json: cpuid_modifiers[0]"));
        assert_non_null(strstr(err.msg, "template"));
        free(text);
}

/* cvmm JSON written and read back is the same table, with hex or decimal numbers. */
static void test_cvmm_json_roundtrip(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t, u;
        struct cvmm_err err;
        enum cvmm_cpuid_format fmt;
        load_data(&t, "amd-epyc-9334-genoa.cpuid");
        struct cvmm_cpuid_meta meta = {.profile = "host", .source = "x", .cpus = 1};
        char *json = cvmm_cpuid_format_json(&t, &meta);
        assert_non_null(json);
        assert_int_equal(cvmm_cpuid_parse(&u, json, strlen(json), "json", &fmt, &err), 0);
        assert_int_equal(fmt, CVMM_FMT_CVMM_JSON);
        char *a = cvmm_cpuid_format_raw(&t), *b = cvmm_cpuid_format_raw(&u);
        assert_string_equal(a, b);
        free(a);
        free(b);
        free(json);
        cvmm_cpuid_free(&t);
        cvmm_cpuid_free(&u);
        const char *dec = "{\"entries\": [{\"leaf\": 13, \"subleaf\": 1, \"eax\": 15, \"ebx\": "
                          "\"0x988\", \"ecx\": 0, \"edx\": 0}]}";
        assert_int_equal(parse(&t, dec, &err), 0);
        assert_int_equal(cvmm_cpuid_reg(&t, 0xd, 1, CVMM_EBX), 0x988);
        cvmm_cpuid_free(&t);
}

/* The raw output format is exactly `cpuid -r`'s: a dump round-trips byte for byte. */
static void test_raw_roundtrip_bytes(void **state)
{
        (void)state;
        size_t len;
        char *text = read_data("host-amd-epyc-pvm.cpuid", &len);
        struct cvmm_cpuid_table t;
        struct cvmm_err err;
        assert_int_equal(cvmm_cpuid_parse(&t, text, len, "host", NULL, &err), 0);
        char *out = cvmm_cpuid_format_raw(&t);
        assert_string_equal(out, text);
        free(out);
        free(text);
        cvmm_cpuid_free(&t);
}

/* No byte below 0x20 (or 0x7f) anywhere in the message. */
static void assert_one_printable_line(const char *msg)
{
        for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        fail_msg("control byte 0x%02x in '%s'", *p, msg);
}

/* Input text quoted into an error (a name, a pasted line) cannot break the message's one line. */
static void test_error_escapes_control_bytes(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_err err;
        const char *text = "   0x0 0x0: eax=0x0 ebx=0x0 ecx=0x0 edx=0x0x\ry\033[2Jz\tw\x7f";
        assert_int_equal(cvmm_cpuid_parse(&t, text, strlen(text), "a\nb", NULL, &err), -1);
        assert_one_printable_line(err.msg);
        assert_string_equal(err.msg,
                            "a\\nb:1: unexpected text after edx: 'x\\x0dy\\x1b[2Jz\\x09w\\x7f'");
}

/* json-c would read "1\u0000x" as "1" and keep the last of two equal keys: both are refused. */
static void test_json_nul_and_duplicate_keys(void **state)
{
        (void)state;
        static const struct {
                const char *text;
                const char *msg;
        } cases[] = {
            {"{\"entries\": [{\"leaf\": \"1\\u0000x\", \"subleaf\": 0, \"eax\": 1, \"ebx\": 0, "
             "\"ecx\": 0, \"edx\": 0}]}",
             "in:1: the string under key \"leaf\" contains a NUL (\\u0000)"},
            {"{\"entries\": [{\"leaf\": 1, \"subleaf\": 0, \"eax\": 1, \"ebx\": 0, \"ecx\": 0,\n"
             " \"edx\": 0, \"eax\": 2}]}",
             "in:2: key \"eax\" given twice in one object"},
            /* the same key spelled with an escape */
            {"{\"entries\": [{\"leaf\": 1, \"subleaf\": 0, \"eax\": 1, \"ebx\": 0, \"ecx\": 0, "
             "\"edx\": 0, \"e\\u0061x\": 2}]}",
             "in:1: key \"e\\u0061x\" given twice in one object"},
            /* a key json-c would cut at the NUL, into a second "leaf" */
            {"{\"entries\": [{\"leaf\": 1, \"leaf\\u0000\": 3, \"subleaf\": 0, \"eax\": 1, "
             "\"ebx\": 0, \"ecx\": 0, \"edx\": 0}]}",
             "in:1: key \"leaf\\u0000\" contains a NUL (\\u0000)"},
            {"{\"entries\": [], \"entries\": [{\"leaf\": 1, \"subleaf\": 0, \"eax\": 1, "
             "\"ebx\": 0, \"ecx\": 0, \"edx\": 0}]}",
             "in:1: key \"entries\" given twice in one object"},
            /* Firecracker: a register given as a NUL-carrying string */
            {"{\"cpuid_modifiers\": [{\"leaf\": \"0x0\", \"subleaf\": \"0x0\", \"flags\": 0,\n"
             "\"modifiers\": [{\"register\": \"eax\\u0000\", \"bitmap\": \"0b1\"}]}]}",
             "in:2: the string under key \"register\" contains a NUL (\\u0000)"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct cvmm_cpuid_table t;
                struct cvmm_err err;
                if (parse(&t, cases[i].text, &err) != -1)
                        fail_msg("case %zu accepted", i);
                assert_string_equal(err.msg, cases[i].msg);
                assert_int_equal(t.count, 0);
        }
        /* Equal keys in different objects, nested or side by side, are fine. */
        const char *ok = "{\"entries\": [{\"leaf\": 1, \"subleaf\": 0, \"eax\": 1, \"ebx\": 0, "
                         "\"ecx\": 0, \"edx\": 0, \"x\": {\"leaf\": 5, \"s\": \"a\\\\u0000\"}},\n"
                         "{\"leaf\": 2, \"subleaf\": 0, \"eax\": 1, \"ebx\": 0, \"ecx\": 0, "
                         "\"edx\": 0, \"y\": [{\"z\": 1}, {\"z\": 2}]}]}";
        struct cvmm_cpuid_table t;
        struct cvmm_err err;
        if (parse(&t, ok, &err))
                fail_msg("%s", err.msg);
        assert_int_equal(t.count, 2);
        cvmm_cpuid_free(&t);
}

/* Input over CVMM_MAX_INPUT (4 MiB) is refused from its size; exactly the cap is read. */
static void test_input_size_cap(void **state)
{
        (void)state;
        assert_int_equal(CVMM_MAX_INPUT, 4u << 20);
        size_t cap = CVMM_MAX_INPUT;
        char *buf = malloc(cap + 1);
        assert_non_null(buf);
        const char *head = "CPU 0:\n   0x00000000 0x00: eax=0x1 ebx=0x0 ecx=0x0 edx=0x0\nCPU 1:\n";
        memset(buf, '\n', cap + 1);
        memcpy(buf, head, strlen(head));
        struct cvmm_cpuid_table t;
        struct cvmm_err err;
        if (cvmm_cpuid_parse(&t, buf, cap, "cap", NULL, &err))
                fail_msg("%s", err.msg);
        assert_int_equal(t.count, 1);
        cvmm_cpuid_free(&t);
        assert_int_equal(cvmm_cpuid_parse(&t, buf, cap + 1, "big", NULL, &err), -1);
        assert_string_equal(err.msg, "big: too large for a CPUID table (4194305 bytes; the limit "
                                     "is 4194304 bytes, 4096 entries of 1 KiB)");
        char path[] = "/tmp/cvmm-test-cap-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, buf, cap + 1), (ssize_t)(cap + 1));
        close(fd);
        assert_int_equal(cvmm_cpuid_load(&t, path, NULL, &err), -1);
        assert_non_null(strstr(err.msg, ": too large for a CPUID table (4194305 bytes;"));
        unlink(path);
        free(buf);
}

/* Both formats the library writes read back as the same table, for every dump and edge table. */
static void assert_reads_back(const struct cvmm_cpuid_table *t, const char *what)
{
        struct cvmm_cpuid_meta meta = {.source = "x", .cpus = 1};
        char *text[2] = {cvmm_cpuid_format_raw(t), cvmm_cpuid_format_json(t, &meta)};
        char *want = cvmm_cpuid_format_raw(t);
        for (int k = 0; k < 2; k++) {
                struct cvmm_cpuid_table u;
                struct cvmm_err err;
                assert_non_null(text[k]);
                if (cvmm_cpuid_parse(&u, text[k], strlen(text[k]), what, NULL, &err))
                        fail_msg("%s (%s) does not read back: %s", what, k ? "json" : "raw",
                                 err.msg);
                assert_int_equal(u.count, t->count);
                char *got = cvmm_cpuid_format_raw(&u);
                assert_string_equal(got, want);
                free(got);
                free(text[k]);
                cvmm_cpuid_free(&u);
        }
        free(want);
}

static void test_every_format_reads_back(void **state)
{
        (void)state;
        static const char *const dumps[] = {
            "amd-epyc-7402p-leaf0d-partial.cpuid",
            "amd-epyc-7502-rome.cpuid",
            "amd-epyc-7742-rome.cpuid",
            "amd-epyc-9334-genoa.cpuid",
            "amd-ryzen9-7950x-raphael.cpuid",
            "host-amd-epyc-pvm.cpuid",
            "intel-amx-host-leaf0d-partial.cpuid",
            "intel-core-i7-1270p-alder-lake.cpuid",
            "intel-emerald-rapids.cpuid",
            "intel-sapphire-rapids.cpuid",
            "firecracker/fingerprint_INTEL_SKYLAKE_5.10host.json",
        };
        struct cvmm_cpuid_table t;
        for (size_t i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
                load_data(&t, dumps[i]);
                assert_reads_back(&t, dumps[i]);
                cvmm_cpuid_free(&t);
        }
        cvmm_cpuid_init(&t); /* one leaf */
        put(&t, 0, 0, 1, 0x756e6547, 0x6c65746e, 0x49656e69);
        assert_reads_back(&t, "one leaf");
        put(&t, 4, 1, 0xfc004122, 0x01c0003f, 0x3f, 0); /* a leaf with subleaves */
        put(&t, 4, 0, 0xfc004121, 0x02c0003f, 0x3f, 0);
        cvmm_cpuid_remove(&t, 0, 0);
        assert_reads_back(&t, "subleaves");
        cvmm_cpuid_free(&t);
        /* An empty table has no form a reader takes: why `show` refuses an empty result. */
        struct cvmm_err err;
        struct cvmm_cpuid_table u;
        char *raw = cvmm_cpuid_format_raw(&t);
        assert_int_equal(cvmm_cpuid_parse(&u, raw, strlen(raw), "empty", NULL, &err), -1);
        assert_non_null(strstr(err.msg, "no CPUID entries"));
        free(raw);
}

/* What a paste from a mail or a bug tracker carries around a dump is read past; the rest not. */
static void test_raw_paste(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_err err;
        const char *paste = "# cpuid -r on the reporter's box\r\n"
                            "> CPU:\r\n"
                            ">    0x00000000 0x00: eax=0x0000000d ebx=0x68747541 ecx=0x444d4163 "
                            "edx=0x69746e65   <- vendor\r\n"
                            ">\r\n"
                            ">>   0x00000001 0x00: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\r\n"
                            ">0x00000001 0x00: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4  \r\n"
                            "\r\n";
        assert_int_equal(parse(&t, paste, &err), 0);
        assert_int_equal(t.count, 2);
        assert_int_equal(cvmm_cpuid_reg(&t, 0, 0, CVMM_EDX), 0x69746e65);
        assert_int_equal(cvmm_cpuid_reg(&t, 1, 0, CVMM_EDX), 4);
        cvmm_cpuid_free(&t);
        const char *dup = "> 0x1 0x0: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\n"
                          "# again\n"
                          "> 0x1 0x0: eax=0x1 ebx=0x2 ecx=0x3 edx=0x5\n";
        assert_int_equal(parse(&t, dup, &err), -1);
        assert_string_equal(err.msg,
                            "in:3: leaf 0x00000001 subleaf 0x00 given twice with different values");
        assert_int_equal(parse(&t, "# c\n> 0x1 0x0: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4q\n", &err), -1);
        assert_non_null(strstr(err.msg, "in:2: unexpected text after edx"));
        assert_int_equal(parse(&t, "> 0x1 0x0: eax=0x1 ebx=0x2 ecx=zz edx=0x4\n", &err), -1);
        assert_non_null(strstr(err.msg, "in:1: truncated or malformed entry (ecx"));
}

/* A real dump quoted, CRLF'd, headed and followed by a second CPU reads as the dump itself. */
static void test_raw_realistic_paste(void **state)
{
        (void)state;
        struct cvmm_cpuid_table a, b;
        load_data(&a, "intel-sapphire-rapids.cpuid");
        load_data(&b, "pasted-quoted-crlf-2cpu.cpuid");
        assert_true(a.count > 50);
        assert_int_equal(b.count, a.count);
        assert_int_equal(b.partial, a.partial);
        for (size_t i = 0; i < a.count; i++) {
                assert_int_equal(b.entries[i].leaf, a.entries[i].leaf);
                assert_int_equal(b.entries[i].subleaf, a.entries[i].subleaf);
                assert_memory_equal(b.entries[i].regs, a.entries[i].regs,
                                    sizeof(a.entries[i].regs));
                assert_int_equal(b.entries[i].flags, a.entries[i].flags);
        }
        cvmm_cpuid_free(&a);
        cvmm_cpuid_free(&b);
}

/*
 * --cpu: CPU 1 of a two-CPU paste is the second block's lines and nothing of the first; the
 * expected tables are built here entry by entry, not read back from the parser.
 */
static void test_raw_pick_cpu(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t, want;
        struct cvmm_err err;
        enum cvmm_cpuid_format fmt;
        /* two CPUs differing in their APIC IDs: leaf 1 EBX[31:24], leaf 0xB EDX */
        const char *two = "# from the report\r\n"
                          "> CPU 0:\r\n"
                          ">    0x00000000 0x00: eax=0x0000000d ebx=0x68747541 ecx=0x444d4163 "
                          "edx=0x69746e65\r\n"
                          ">    0x00000001 0x00: eax=0x00a00f11 ebx=0x00100800 ecx=0x7ef8320b "
                          "edx=0x178bfbff\r\n"
                          ">    0x0000000b 0x00: eax=0x00000001 ebx=0x00000002 ecx=0x00000100 "
                          "edx=0x00000000\r\n"
                          "> CPU 1:\r\n"
                          ">    0x00000000 0x00: eax=0x0000000d ebx=0x68747541 ecx=0x444d4163 "
                          "edx=0x69746e65\r\n"
                          ">    0x00000001 0x00: eax=0x00a00f11 ebx=0x01100800 ecx=0x7ef8320b "
                          "edx=0x178bfbff\r\n"
                          ">    0x0000000b 0x00: eax=0x00000001 ebx=0x00000002 ecx=0x00000100 "
                          "edx=0x00000001\r\n";
        static const struct cvmm_cpuid_entry cpu1[] = {
            {0x0, 0, {0x0000000d, 0x68747541, 0x444d4163, 0x69746e65}, 0},
            {0x1, 0, {0x00a00f11, 0x01100800, 0x7ef8320b, 0x178bfbff}, 0},
            {0xb, 0, {0x00000001, 0x00000002, 0x00000100, 0x00000001}, 0},
        };
        cvmm_cpuid_init(&want);
        for (size_t i = 0; i < sizeof(cpu1) / sizeof(cpu1[0]); i++) {
                struct cvmm_cpuid_entry e = cpu1[i];
                e.flags = cvmm_cpuid_flags_for(e.leaf, e.subleaf);
                assert_int_equal(cvmm_cpuid_put(&want, &e), 0);
        }
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, two, strlen(two), "in", 1, &fmt, &err), 0);
        assert_int_equal(fmt, CVMM_FMT_CPUID_RAW);
        assert_int_equal(t.count, want.count);
        for (size_t i = 0; i < want.count; i++) {
                assert_int_equal(t.entries[i].leaf, want.entries[i].leaf);
                assert_int_equal(t.entries[i].subleaf, want.entries[i].subleaf);
                assert_memory_equal(t.entries[i].regs, want.entries[i].regs,
                                    sizeof(want.entries[i].regs));
                assert_int_equal(t.entries[i].flags, want.entries[i].flags);
        }
        cvmm_cpuid_free(&t);
        cvmm_cpuid_free(&want);
        /* CPU 0, by the old function and by index, has CPU 0's APIC IDs */
        assert_int_equal(parse(&t, two, &err), 0);
        assert_int_equal(cvmm_cpuid_reg(&t, 1, 0, CVMM_EBX), 0x00100800);
        assert_int_equal(cvmm_cpuid_reg(&t, 0xb, 0, CVMM_EDX), 0);
        cvmm_cpuid_free(&t);
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, two, strlen(two), "in", 0, NULL, &err), 0);
        assert_int_equal(cvmm_cpuid_reg(&t, 1, 0, CVMM_EBX), 0x00100800);
        cvmm_cpuid_free(&t);

        /* out of range: named, with the count and the last CPU header's line (line 6) */
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, two, strlen(two), "in", 2, NULL, &err), -1);
        assert_string_equal(err.msg, "in:6: no CPU 2: the input holds 2 CPUs, CPU 0 to 1 (the "
                                     "last one's header is here)");
        assert_int_equal(t.count, 0);
        /* no headers: one CPU, the line given is the input's last */
        const char *one = "0x1 0x0: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\n"
                          "0x2 0x0: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\n";
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, one, strlen(one), "in", 1, NULL, &err), -1);
        assert_string_equal(err.msg, "in:2: no CPU 1: the input ends here and holds one CPU "
                                     "(CPU 0: it has no 'CPU N:' headers)");
        const char *hdr1 = "CPU:\n0x1 0x0: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\n";
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, hdr1, strlen(hdr1), "in", 1, NULL, &err), -1);
        assert_string_equal(err.msg, "in:1: no CPU 1: the input holds one CPU, CPU 0 (its "
                                     "header is here)");
        /* an excerpt whose headers do not count from 0: CPU 1 is not clearly "CPU 3:" */
        const char *excerpt = "CPU 2:\n0x1 0x0: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\n"
                              "CPU 3:\n0x1 0x0: eax=0x1 ebx=0x3 ecx=0x3 edx=0x4\n";
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, excerpt, strlen(excerpt), "in", 1, NULL, &err),
                         -1);
        assert_string_equal(err.msg, "in:3: CPU 1, counting the headers from 0, is headed 'CPU "
                                     "3:': the headers do not count from 0, so which CPU is "
                                     "meant is unclear");
        /* "CPU:" headers carry no number: counted */
        const char *plain = "CPU:\n0x1 0x0: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\n"
                            "CPU:\n0x1 0x0: eax=0x1 ebx=0x3 ecx=0x3 edx=0x4\n";
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, plain, strlen(plain), "in", 1, NULL, &err), 0);
        assert_int_equal(cvmm_cpuid_reg(&t, 1, 0, CVMM_EBX), 3);
        cvmm_cpuid_free(&t);
        /* a header with nothing under it */
        const char *bare = "CPU 0:\n0x1 0x0: eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\nCPU 1:\n";
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, bare, strlen(bare), "in", 1, NULL, &err), -1);
        assert_string_equal(err.msg, "in:3: CPU 1 has no CPUID entries");

        /* the data file: its CPU 1 is one line, leaf 0 with EAX 1 */
        size_t len;
        char *buf = read_data("pasted-quoted-crlf-2cpu.cpuid", &len);
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, buf, len, "paste", 1, NULL, &err), 0);
        assert_int_equal(t.count, 1);
        assert_int_equal(cvmm_cpuid_reg(&t, 0, 0, CVMM_EAX), 1);
        assert_true(t.partial);
        cvmm_cpuid_free(&t);
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, buf, len, "paste", 2, NULL, &err), -1);
        assert_string_equal(err.msg, "paste:81: no CPU 2: the input holds 2 CPUs, CPU 0 to 1 (the "
                                     "last one's header is here)");
        free(buf);
}

/* The JSON formats hold one CPU: CPU 0 reads, any other is refused saying so. */
static void test_json_one_cpu(void **state)
{
        (void)state;
        struct cvmm_cpuid_table t;
        struct cvmm_err err;
        const char *js = "{\"entries\": [{\"leaf\": 1, \"subleaf\": 0, \"eax\": 1, \"ebx\": 2, "
                         "\"ecx\": 3, \"edx\": 4}]}";
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, js, strlen(js), "j", 0, NULL, &err), 0);
        assert_int_equal(cvmm_cpuid_reg(&t, 1, 0, CVMM_EDX), 4);
        cvmm_cpuid_free(&t);
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, js, strlen(js), "j", 1, NULL, &err), -1);
        assert_string_equal(err.msg, "j: no CPU 1: a cvmm JSON table holds one CPU (CPU 0)");
        assert_int_equal(t.count, 0);
        const char *fc = "{\"cpuid_modifiers\": []}";
        assert_int_equal(cvmm_cpuid_parse_cpu(&t, fc, strlen(fc), "f", 3, NULL, &err), -1);
        assert_string_equal(err.msg,
                            "f: no CPU 3: a Firecracker CPU template holds one CPU (CPU 0)");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_raw_first_cpu_only),
            cmocka_unit_test(test_raw_real_dump),
            cmocka_unit_test(test_raw_bad_input),
            cmocka_unit_test(test_firecracker_fingerprint),
            cmocka_unit_test(test_cvmm_json_roundtrip),
            cmocka_unit_test(test_raw_roundtrip_bytes),
            cmocka_unit_test(test_entry_limit),
            cmocka_unit_test(test_error_escapes_control_bytes),
            cmocka_unit_test(test_json_nul_and_duplicate_keys),
            cmocka_unit_test(test_input_size_cap),
            cmocka_unit_test(test_raw_paste),
            cmocka_unit_test(test_raw_realistic_paste),
            cmocka_unit_test(test_raw_pick_cpu),
            cmocka_unit_test(test_json_one_cpu),
            cmocka_unit_test(test_every_format_reads_back),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
