/* SPDX-License-Identifier: MIT */
/*
 * The CPU model's cost without the process around it: parse a dump once, then repeatedly copy
 * the source table, build the tdx (or host) profile and format it, as `cvmm cpuid show` does.
 * Prints the median time per derivation over several batches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cvmm/profile.h"

static double now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: bench_model DUMP host|tdx\n");
                return 2;
        }
        struct cvmm_cpuid_table src;
        struct cvmm_err err;
        enum cvmm_profile p;
        if (cvmm_cpuid_load(&src, argv[1], NULL, &err) || cvmm_profile_parse(argv[2], &p, &err)) {
                fprintf(stderr, "bench_model: %s\n", err.msg);
                return 2;
        }
        enum { BATCHES = 15, ITERS = 200 };
        double per[BATCHES];
        size_t sink = 0;
        for (int b = 0; b < BATCHES; b++) {
                double t0 = now_ns();
                for (int i = 0; i < ITERS; i++) {
                        struct cvmm_cpuid_table t;
                        struct cvmm_model_result res;
                        struct cvmm_model_opts o = {.profile = p, .cpus = 4};
                        if (cvmm_cpuid_copy(&t, &src) || cvmm_model_build(&t, &o, &res, &err)) {
                                fprintf(stderr, "bench_model: build failed\n");
                                return 1;
                        }
                        char *out = cvmm_cpuid_format_raw(&t);
                        sink += out ? strlen(out) : 0;
                        free(out);
                        cvmm_cpuid_free(&t);
                }
                per[b] = (now_ns() - t0) / ITERS;
        }
        qsort(per, BATCHES, sizeof(per[0]), cmp);
        printf("derivation (%s profile, %zu entries, copy+build+format): median %.1f us, min %.1f "
               "us, max %.1f us over %d batches of %d (%zu bytes out)\n",
               argv[2], src.count, per[BATCHES / 2] / 1e3, per[0] / 1e3, per[BATCHES - 1] / 1e3,
               BATCHES, ITERS, sink / ((size_t)BATCHES * ITERS));
        cvmm_cpuid_free(&src);
        return 0;
}
