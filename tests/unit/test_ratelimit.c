/* SPDX-License-Identifier: MIT */
/*
 * The unknown-MSR log limiter with an injected clock: burst, refill, exact counts over long
 * storms, long idle, a clock going backwards, the end of time, saturating counters, and two
 * threads sharing one bucket. Expected counts are the token bucket's definition: over [0, D]
 * at most burst + floor(D / T) events pass.
 */
#include <pthread.h>
#include <stdint.h>

#include "cvmm/err.h"
#include "cvmm/ratelimit.h"
#include "testutil.h"

#define MS 1000000ull
#define S  1000000000ull

static struct cvmm_ratelimit make(uint32_t rate, uint32_t burst)
{
        struct cvmm_ratelimit rl;
        assert_int_equal(cvmm_ratelimit_init(&rl, rate, burst, NULL), 0);
        return rl;
}

static void test_init_refuses_zero(void **state)
{
        (void)state;
        struct cvmm_ratelimit rl;
        struct cvmm_err err;
        assert_int_equal(cvmm_ratelimit_init(&rl, 0, 5, &err), -1);
        assert_string_equal(err.msg, "log rate 0: must be 1 to 1000000000 lines per second");
        assert_int_equal(cvmm_ratelimit_init(&rl, 5, 0, &err), -1);
        assert_string_equal(err.msg, "log burst 0: must be at least 1 line");
        assert_int_equal(cvmm_ratelimit_init(&rl, 2000000000u, 5, &err), -1);
        assert_string_equal(err.msg,
                            "log rate 2000000000: must be 1 to 1000000000 lines per second");
        assert_int_equal(cvmm_ratelimit_init(&rl, 1, UINT32_MAX, NULL), 0);
}

static void test_burst_then_refill(void **state)
{
        (void)state;
        struct cvmm_ratelimit rl = make(10, 5); /* T = 100 ms */
        uint64_t t0 = 1000 * S;
        for (int i = 0; i < 5; i++)
                assert_true(cvmm_ratelimit_allow(&rl, t0));
        assert_false(cvmm_ratelimit_allow(&rl, t0));
        assert_false(cvmm_ratelimit_allow(&rl, t0 + 99 * MS));
        assert_true(cvmm_ratelimit_allow(&rl, t0 + 100 * MS));
        assert_false(cvmm_ratelimit_allow(&rl, t0 + 100 * MS));
        assert_true(cvmm_ratelimit_allow(&rl, t0 + 250 * MS)); /* 200 ms earned one more */
        assert_false(cvmm_ratelimit_allow(&rl, t0 + 250 * MS));
}

/* One event per millisecond for 10 s: exactly burst + 10 s * rate pass. */
static void test_storm_exact_count(void **state)
{
        (void)state;
        struct cvmm_ratelimit rl = make(10, 5);
        uint64_t allowed = 0, t0 = 5 * S;
        for (uint64_t i = 0; i <= 10000; i++)
                allowed += cvmm_ratelimit_allow(&rl, t0 + i * MS);
        assert_int_equal(allowed, 5 + 100);
}

static void test_long_idle_gives_burst_not_more(void **state)
{
        (void)state;
        struct cvmm_ratelimit rl = make(10, 5);
        for (int i = 0; i < 100; i++)
                cvmm_ratelimit_allow(&rl, 0);
        uint64_t later = 3600 * S, allowed = 0;
        for (int i = 0; i < 100; i++)
                allowed += cvmm_ratelimit_allow(&rl, later);
        assert_int_equal(allowed, 5);
}

static void test_clock_backwards(void **state)
{
        (void)state;
        struct cvmm_ratelimit rl = make(10, 5);
        uint64_t t0 = 100 * S, allowed = 0;
        for (int i = 0; i < 10; i++)
                allowed += cvmm_ratelimit_allow(&rl, t0);
        assert_int_equal(allowed, 5);
        /* A small step back (within the bucket's depth) earns nothing. */
        assert_false(cvmm_ratelimit_allow(&rl, t0 - 50 * MS));
        /* A jump back by an hour restarts the bucket rather than suppressing for an hour. */
        allowed = 0;
        for (int i = 0; i < 10; i++)
                allowed += cvmm_ratelimit_allow(&rl, t0 - 3600 * S);
        assert_int_equal(allowed, 5);
}

static void test_end_of_time_and_saturation(void **state)
{
        (void)state;
        struct cvmm_ratelimit rl = make(1, 1);
        assert_false(cvmm_ratelimit_allow(&rl, UINT64_MAX - 10));
        assert_int_equal(cvmm_sat_add(UINT64_MAX - 1, 5), UINT64_MAX);
        assert_int_equal(cvmm_sat_add(UINT64_MAX, 1), UINT64_MAX);
        assert_int_equal(cvmm_sat_add(7, 5), 12);
}

struct hammer {
        struct cvmm_ratelimit *rl;
        const _Atomic uint64_t *clock;
        uint64_t allowed, events;
};

static void *hammer_thread(void *arg)
{
        struct hammer *h = arg;
        for (uint64_t i = 0; i < 1000000; i++) {
                h->allowed += cvmm_ratelimit_allow(h->rl, atomic_load(h->clock));
                h->events++;
        }
        return NULL;
}

/* Two threads, a frozen clock: together they get exactly the burst. */
static void test_two_threads_share_the_bucket(void **state)
{
        (void)state;
        struct cvmm_ratelimit rl = make(10, 7);
        _Atomic uint64_t clock = 42 * S;
        struct hammer h[2] = {{&rl, &clock, 0, 0}, {&rl, &clock, 0, 0}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
                assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
        for (int i = 0; i < 2; i++)
                pthread_join(t[i], NULL);
        assert_int_equal(h[0].allowed + h[1].allowed, 7);
        assert_int_equal(h[0].events + h[1].events, 2000000);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_init_refuses_zero),
            cmocka_unit_test(test_burst_then_refill),
            cmocka_unit_test(test_storm_exact_count),
            cmocka_unit_test(test_long_idle_gives_burst_not_more),
            cmocka_unit_test(test_clock_backwards),
            cmocka_unit_test(test_end_of_time_and_saturation),
            cmocka_unit_test(test_two_threads_share_the_bucket),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
