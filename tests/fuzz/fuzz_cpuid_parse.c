/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the CPUID readers (format auto-detected: `cpuid -r`, Firecracker, cvmm
 * JSON), then everything the CLI does with a table it read: check (with and without the TDX
 * constraints), each profile's model build, both output formats, a diff against itself, and
 * the round trip of each output format (format -> parse -> the same table, or abort()).
 * Public API (include/cvmm) only, so the parser's internals can change under it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmm/check.h"
#include "cvmm/cpuid.h"
#include "cvmm/diff.h"
#include "cvmm/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Same keys and registers in the same order (flags and the trace are not content). */
static int same_content(const struct cvmm_cpuid_table *a, const struct cvmm_cpuid_table *b)
{
        if (a->count != b->count)
                return 0;
        for (size_t i = 0; i < a->count; i++) {
                const struct cvmm_cpuid_entry *x = &a->entries[i], *y = &b->entries[i];
                if (x->leaf != y->leaf || x->subleaf != y->subleaf ||
                    memcmp(x->regs, y->regs, sizeof(x->regs)) != 0)
                        return 0;
        }
        return 1;
}

/* Parses what a formatter wrote; a table cvmm wrote must read back as the same table. */
static void round_trip(const struct cvmm_cpuid_table *t, char *text, const char *what)
{
        if (!text)
                return; /* out of memory */
        struct cvmm_cpuid_table back;
        struct cvmm_err err = {{0}};
        cvmm_cpuid_init(&back);
        if (cvmm_cpuid_parse(&back, text, strlen(text), what, NULL, &err) != 0) {
                fprintf(stderr, "round trip: %s output does not read back: %s\n%s", what, err.msg,
                        text);
                abort();
        }
        if (!same_content(t, &back)) {
                fprintf(stderr, "round trip: %s output reads back as another table\n%s", what,
                        text);
                abort();
        }
        cvmm_cpuid_free(&back);
        free(text);
}

static void check(const struct cvmm_cpuid_table *t, int tdx)
{
        struct cvmm_check_opts opts = {.tdx = tdx != 0};
        struct cvmm_check_report r;
        memset(&r, 0, sizeof(r));
        cvmm_check(t, &opts, &r);
        cvmm_check_report_free(&r);
}

static void outputs(const struct cvmm_cpuid_table *t, const char *profile)
{
        struct cvmm_cpuid_meta meta = {.profile = profile, .source = "file", .cpus = 1};
        size_t ndiff = 0;
        char *d = cvmm_cpuid_diff(t, t, &ndiff);
        if (d && ndiff != 0) {
                fprintf(stderr, "a table differs from itself:\n%s", d);
                abort();
        }
        free(d);
        if (t->count == 0)
                return; /* an empty table has no output that reads back (issue 13, item 7) */
        round_trip(t, cvmm_cpuid_format_raw(t), "raw");
        round_trip(t, cvmm_cpuid_format_json(t, &meta), "json");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct cvmm_cpuid_table t;
        struct cvmm_err err = {{0}};
        enum cvmm_cpuid_format fmt;
        cvmm_cpuid_init(&t);
        if (cvmm_cpuid_parse(&t, (const char *)data, size, "fuzz", &fmt, &err) != 0) {
                if (memchr(err.msg, '\n', sizeof(err.msg)))
                        abort(); /* the library's messages are one line */
                cvmm_cpuid_free(&t);
                return 0;
        }
        check(&t, 0);
        check(&t, 1);
        outputs(&t, NULL);
        /* The vCPU count comes from the input's size so that it varies without a format. */
        unsigned cpus = 1u + (unsigned)(size % 8u);
        for (unsigned p = CVMM_PROFILE_NONE; p < CVMM_NPROFILES; p++) {
                struct cvmm_cpuid_table m;
                if (cvmm_cpuid_copy(&m, &t) != 0)
                        break;
                m.trace = true;
                struct cvmm_model_opts opts = {.profile = (enum cvmm_profile)p, .cpus = cpus};
                struct cvmm_model_result res;
                struct cvmm_err merr = {{0}};
                if (cvmm_model_build(&m, &opts, &res, &merr) == 0) {
                        check(&m, p == CVMM_PROFILE_TDX);
                        outputs(&m, cvmm_profile_name((enum cvmm_profile)p));
                } else if (memchr(merr.msg, '\n', sizeof(merr.msg))) {
                        abort();
                }
                cvmm_cpuid_free(&m);
        }
        cvmm_cpuid_free(&t);
        return 0;
}
