/* SPDX-License-Identifier: MIT */
/* What the benchmarks share: a millisecond clock and the median of a sample. */
#ifndef CVMM_BENCH_UTIL_H
#define CVMM_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

static inline double bench_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* Sorts v[0..n) and returns its median (the mean of the middle two for an even n). */
static inline double bench_median(double *v, int n)
{
        qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
