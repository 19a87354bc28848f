/* SPDX-License-Identifier: MIT */
/*
 * A token bucket for log lines a guest can trigger, shared by all vCPUs of a VM.
 *
 * It is the GCRA form of a token bucket: one 64-bit "theoretical arrival time" (TAT). An
 * event at time t is allowed when max(TAT, t) + T - t <= burst * T, where T = 1 / rate; the
 * allowed event moves TAT forward by T with one compare-and-swap. A suppressed event only
 * reads TAT: no write to shared memory, no lock, no system call, no allocation. Callers count
 * suppressed events in their own (per-vCPU) counters and pass the sum when they emit, so the
 * emitted line can say how many were suppressed.
 *
 * The clock is injected (nanoseconds, any epoch). A clock that goes backwards further than the
 * bucket's depth restarts the bucket instead of suppressing until it catches up.
 *
 * Errors (cvmm/err.h): cvmm_ratelimit_init is the only function that fails (a rate or burst out
 * of range), with the library's convention: -1 and one line in err.
 */
#ifndef CVMM_RATELIMIT_H
#define CVMM_RATELIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct cvmm_err;

struct cvmm_ratelimit {
        uint64_t interval_ns; /* T = 1e9 / rate */
        uint64_t depth_ns;    /* burst * T */
        _Atomic uint64_t tat; /* 0: fresh */
};

/*
 * Sets up a limiter allowing `burst` events at once and `per_sec` events per second on
 * average. Returns 0, or -1 with err filled when either is 0 or per_sec is above 1e9.
 */
int cvmm_ratelimit_init(struct cvmm_ratelimit *rl, uint32_t per_sec, uint32_t burst,
                        struct cvmm_err *err);

/* Whether an event at now_ns may be logged. Safe from any thread. */
bool cvmm_ratelimit_allow(struct cvmm_ratelimit *rl, uint64_t now_ns);

/* Adds without wrapping: counters stay at UINT64_MAX instead of restarting at 0. */
static inline uint64_t cvmm_sat_add(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

#endif
