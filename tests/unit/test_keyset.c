/* SPDX-License-Identifier: MIT */
/* The distinct-key set behind first-sighting logs and exact per-key accounting. */
#include <pthread.h>
#include <stdlib.h>

#include "testutil.h"
#include "cvmm/err.h"
#include "cvmm/keyset.h"

static void first_sighting_once_per_key(void **state)
{
        (void)state;
        struct cvmm_keyset k;
        assert_int_equal(cvmm_keyset_init(&k, 4, 2, NULL), 0);
        bool first;
        long a = cvmm_keyset_hit(&k, 0x1cf0u << 1, 0, 0x100, 10, &first);
        assert_true(a >= 0);
        assert_true(first);
        assert_int_equal(cvmm_keyset_hit(&k, 0x1cf0u << 1, 1, 0x200, 20, &first), a);
        assert_false(first);
        /* The same MSR written is another key. */
        assert_true(cvmm_keyset_hit(&k, 0x1cf0u << 1 | 1, 0, 0x300, 30, &first) >= 0);
        assert_true(first);
        /* A kernel-half RIP survives the packing (canonical, sign-extended). */
        assert_true(cvmm_keyset_hit(&k, 7, 1, 0xffffffff8105e26cull, 40, &first) >= 0);
        struct cvmm_keyset_item *v;
        assert_int_equal(cvmm_keyset_snapshot(&k, &v), 3);
        assert_int_equal(v[0].key, 0x1cf0u << 1); /* most frequent first */
        assert_int_equal(v[0].count, 2);
        assert_int_equal(v[0].first_vcpu, 0);
        assert_int_equal(v[0].first_rip, 0x100);
        assert_int_equal(v[0].last_vcpu, 1); /* the latest event, over the shards */
        assert_int_equal(v[0].last_rip, 0x200);
        assert_int_equal(v[1].key, 7); /* equal counts: by key */
        assert_int_equal(v[1].first_rip, 0xffffffff8105e26cull);
        assert_int_equal(v[1].first_vcpu, 1);
        assert_int_equal(v[2].count, 1);
        free(v);
        cvmm_keyset_free(&k);
}

static void suppressed_counts_are_per_key(void **state)
{
        (void)state;
        struct cvmm_keyset k;
        assert_int_equal(cvmm_keyset_init(&k, 8, 2, NULL), 0);
        bool first;
        long a = cvmm_keyset_hit(&k, 1, 0, 0, 0, &first);
        long b = cvmm_keyset_hit(&k, 2, 0, 0, 0, &first);
        for (int i = 0; i < 5; i++)
                cvmm_keyset_suppress(&k, a, i & 1);
        cvmm_keyset_suppress(&k, b, 0);
        assert_int_equal(cvmm_keyset_take_suppressed(&k, a), 5); /* both shards */
        assert_int_equal(cvmm_keyset_take_suppressed(&k, a), 0); /* since the last line */
        cvmm_keyset_suppress(&k, a, 1);
        assert_int_equal(cvmm_keyset_take_suppressed(&k, a), 1);
        assert_int_equal(cvmm_keyset_take_suppressed(&k, b), 1);
        assert_int_equal(cvmm_keyset_take_suppressed(&k, -1), 0); /* untracked: none here */
        cvmm_keyset_free(&k);
}

static void the_bound_and_its_one_overflow_line(void **state)
{
        (void)state;
        struct cvmm_keyset k;
        assert_int_equal(cvmm_keyset_init(&k, 3, 1, NULL), 0);
        bool first;
        for (uint64_t key = 0; key < 3; key++)
                assert_true(cvmm_keyset_hit(&k, key, 0, 0, 0, &first) >= 0);
        assert_int_equal(cvmm_keyset_hit(&k, 100, 0, 0, 0, &first), -1);
        assert_true(first); /* the first overflow says tracking is full */
        assert_int_equal(cvmm_keyset_hit(&k, 101, 0, 0, 0, &first), -1);
        assert_false(first);
        assert_int_equal(cvmm_keyset_hit(&k, 100, 0, 0, 0, &first), -1);
        assert_false(first);
        /* Known keys still count when the set is full. */
        assert_true(cvmm_keyset_hit(&k, 2, 0, 0, 0, &first) >= 0);
        assert_false(first);
        assert_int_equal(atomic_load(&k.overflow), 3);
        cvmm_keyset_free(&k);
        struct cvmm_err err;
        assert_int_equal(cvmm_keyset_init(&k, 0, 1, &err), -1);
        assert_string_equal(err.msg, "key set of 0 keys: must be 1 to 1048576");
        assert_int_equal(cvmm_keyset_init(&k, (1u << 20) + 1, 1, &err), -1);
        assert_string_equal(err.msg, "key set of 1048577 keys: must be 1 to 1048576");
        assert_int_equal(cvmm_keyset_init(&k, 4, 0, &err), -1);
        assert_string_equal(err.msg, "key set for 0 writers: must be 1 to 4096");
}

#define PER_THREAD 200000
#define KEYS       64

struct worker {
        struct cvmm_keyset *k;
        unsigned id;
        unsigned firsts;
};

static void *hammer(void *arg)
{
        struct worker *w = arg;
        bool first;
        for (unsigned i = 0; i < PER_THREAD; i++) {
                long s = cvmm_keyset_hit(w->k, (i * 7u) % KEYS, w->id, i, i, &first);
                w->firsts += first;
                if (!first)
                        cvmm_keyset_suppress(w->k, s, w->id);
        }
        return NULL;
}

static void counts_add_up_under_two_threads(void **state)
{
        (void)state;
        struct cvmm_keyset k;
        assert_int_equal(cvmm_keyset_init(&k, KEYS, 2, NULL), 0);
        struct worker w[2] = {{&k, 0, 0}, {&k, 1, 0}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
                assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
        for (int i = 0; i < 2; i++)
                pthread_join(t[i], NULL);
        assert_int_equal(w[0].firsts + w[1].firsts, KEYS); /* each key's first, exactly once */
        struct cvmm_keyset_item *v;
        assert_int_equal(cvmm_keyset_snapshot(&k, &v), KEYS);
        uint64_t sum = 0, sup = 0;
        for (int i = 0; i < KEYS; i++) {
                sum += v[i].count;
                bool f;
                sup += cvmm_keyset_take_suppressed(&k, cvmm_keyset_hit(&k, v[i].key, 0, 0, 0, &f));
        }
        assert_int_equal(sum, 2 * PER_THREAD);
        assert_int_equal(sup, 2 * PER_THREAD - KEYS); /* every event but each key's first */
        assert_int_equal(atomic_load(&k.overflow), 0);
        free(v);
        cvmm_keyset_free(&k);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(first_sighting_once_per_key),
            cmocka_unit_test(suppressed_counts_are_per_key),
            cmocka_unit_test(the_bound_and_its_one_overflow_line),
            cmocka_unit_test(counts_add_up_under_two_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
