/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

static const char *dir(void)
{
        const char *d = getenv("CVMM_TESTDATA");
        return d ? d : "tests/data";
}

void load_data(struct cvmm_cpuid_table *t, const char *name)
{
        char path[4096];
        struct cvmm_err err;
        snprintf(path, sizeof(path), "%s/%s", dir(), name);
        if (cvmm_cpuid_load(t, path, NULL, &err))
                fail_msg("%s", err.msg);
}

char *read_data(const char *name, size_t *len)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir(), name);
        FILE *f = fopen(path, "rb");
        if (!f)
                fail_msg("cannot open %s", path);
        char *buf = NULL;
        size_t n = 0, cap = 0;
        int c;
        while ((c = fgetc(f)) != EOF) {
                if (n + 1 >= cap) {
                        cap = cap ? cap * 2 : 4096;
                        buf = realloc(buf, cap);
                        assert_non_null(buf);
                }
                buf[n++] = (char)c;
        }
        fclose(f);
        if (!buf)
                buf = calloc(1, 1);
        buf[n] = '\0';
        *len = n;
        return buf;
}

void put(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t sub, uint32_t eax, uint32_t ebx,
         uint32_t ecx, uint32_t edx)
{
        struct cvmm_cpuid_entry e = {
            leaf, sub, {eax, ebx, ecx, edx}, cvmm_cpuid_flags_for(leaf, sub)};
        assert_int_equal(cvmm_cpuid_put(t, &e), 0);
}

uint8_t byte_sum(const uint8_t *p, size_t n)
{
        uint8_t s = 0;
        for (size_t i = 0; i < n; i++)
                s = (uint8_t)(s + p[i]);
        return s;
}
