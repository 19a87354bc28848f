/* SPDX-License-Identifier: MIT */
#include "cvmm/ratelimit.h"

#include "cvmm/err.h"

#define NS_PER_SEC 1000000000ull

int cvmm_ratelimit_init(struct cvmm_ratelimit *rl, uint32_t per_sec, uint32_t burst,
                        struct cvmm_err *err)
{
        if (per_sec == 0 || per_sec > NS_PER_SEC)
                return cvmm_errf(err, "log rate %u: must be 1 to %llu lines per second", per_sec,
                                 NS_PER_SEC);
        if (burst == 0)
                return cvmm_errf(err, "log burst 0: must be at least 1 line");
        rl->interval_ns = NS_PER_SEC / per_sec;
        rl->depth_ns = rl->interval_ns * burst; /* < 2^30 * 2^32: no overflow */
        atomic_init(&rl->tat, 0);
        return 0;
}

bool cvmm_ratelimit_allow(struct cvmm_ratelimit *rl, uint64_t now_ns)
{
        uint64_t tat = atomic_load_explicit(&rl->tat, memory_order_relaxed);
        for (;;) {
                uint64_t base = tat > now_ns ? tat : now_ns;
                /* The clock went backwards past the bucket: start the bucket again. */
                if (tat > now_ns && tat - now_ns > rl->depth_ns + rl->interval_ns)
                        base = now_ns;
                uint64_t next = base + rl->interval_ns;
                if (next < base)
                        return false; /* the clock is at the end of time */
                if (next - now_ns > rl->depth_ns)
                        return false; /* suppressed: nothing written */
                if (atomic_compare_exchange_weak_explicit(
                        &rl->tat, &tat, next, memory_order_relaxed, memory_order_relaxed))
                        return true;
        }
}
