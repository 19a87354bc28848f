/* SPDX-License-Identifier: MIT */
/*
 * Counters with one writer (a vCPU thread) that another thread may read while the guest runs
 * (--metrics-interval). A relaxed atomic load and store: on x86-64 a plain load and store, no
 * locked instruction, so counting costs what `++` did; a reader sees each counter's latest or
 * an earlier value, never a torn one. Counters of several writers use atomic_fetch_add.
 */
#ifndef CVMM_UTIL_COUNTER_H
#define CVMM_UTIL_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

#include "cvmm/ratelimit.h"

typedef _Atomic uint64_t cvmm_counter;

static inline uint64_t counter_get(const cvmm_counter *c)
{
        return atomic_load_explicit((cvmm_counter *)c, memory_order_relaxed);
}

/* Only the counter's own writer calls this. Saturates rather than wraps. */
static inline void counter_add(cvmm_counter *c, uint64_t n)
{
        atomic_store_explicit(c, cvmm_sat_add(atomic_load_explicit(c, memory_order_relaxed), n),
                              memory_order_relaxed);
}

#endif
