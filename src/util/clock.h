/* SPDX-License-Identifier: MIT */
/* The monotonic clock in nanoseconds: start-up times, the probe's cost, the metrics. */
#ifndef CVMM_UTIL_CLOCK_H
#define CVMM_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_mono_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
