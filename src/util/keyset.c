/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "cvmm/keyset.h"

#include "cvmm/err.h"

/* The README and MSR_KEYS_MAX's comment state the table's memory from these sizes. */
_Static_assert(sizeof(struct cvmm_keyset_slot) == 24, "keyset slot size");
_Static_assert(sizeof(struct cvmm_keyset_count) == 32, "keyset count size");

int cvmm_keyset_init(struct cvmm_keyset *k, size_t max_keys, unsigned nshards, struct cvmm_err *err)
{
        memset(k, 0, sizeof(*k));
        if (max_keys < 1 || max_keys > (1u << 20))
                return cvmm_errf(err, "key set of %zu keys: must be 1 to %u", max_keys, 1u << 20);
        if (nshards < 1 || nshards > 4096)
                return cvmm_errf(err, "key set for %u writers: must be 1 to 4096", nshards);
        size_t n = 1;
        while (n < 2 * max_keys)
                n <<= 1;
        k->slots = calloc(n, sizeof(*k->slots));
        k->counts = calloc(n * nshards, sizeof(*k->counts));
        if (!k->slots || !k->counts) {
                free(k->slots);
                free(k->counts);
                memset(k, 0, sizeof(*k));
                return cvmm_errf(err, "key set of %zu keys: out of memory", max_keys);
        }
        k->nslots = n;
        k->max_keys = max_keys;
        k->nshards = nshards;
        atomic_init(&k->used, 0);
        atomic_init(&k->overflow, 0);
        atomic_init(&k->overflow_noted, false);
        return 0;
}

void cvmm_keyset_free(struct cvmm_keyset *k)
{
        free(k->slots);
        free(k->counts);
        memset(k, 0, sizeof(*k));
}

static uint64_t mix(uint64_t x)
{
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
        return x;
}

#define RIP_MASK 0xffffffffffffull

static uint64_t canonical(uint64_t r)
{
        r &= RIP_MASK;
        return r >> 47 ? r | ~RIP_MASK : r;
}

static struct cvmm_keyset_count *cell(const struct cvmm_keyset *k, size_t slot, unsigned shard)
{
        return &k->counts[(size_t)shard * k->nslots + slot];
}

/* The owner's increment: a load and a store, no locked instruction, no shared line. */
static void bump(_Atomic uint64_t *v)
{
        atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + 1,
                              memory_order_relaxed);
}

static long count(struct cvmm_keyset *k, size_t slot, unsigned shard, uint64_t rip, uint64_t now_ns)
{
        struct cvmm_keyset_count *c = cell(k, slot, shard);
        bump(&c->count);
        atomic_store_explicit(&c->last, rip & RIP_MASK, memory_order_relaxed);
        atomic_store_explicit(&c->last_ns, now_ns, memory_order_relaxed);
        return (long)slot;
}

long cvmm_keyset_hit(struct cvmm_keyset *k, uint64_t key, unsigned shard, uint64_t rip,
                     uint64_t now_ns, bool *first)
{
        *first = false;
        if (shard >= k->nshards)
                shard = k->nshards - 1;
        uint64_t want = key + 1;
        size_t mask = k->nslots - 1;
        for (size_t i = 0, s = (size_t)mix(key) & mask; i < k->nslots; i++, s = (s + 1) & mask) {
                struct cvmm_keyset_slot *e = &k->slots[s];
                uint64_t cur = atomic_load_explicit(&e->key1, memory_order_acquire);
                if (cur == want)
                        return count(k, s, shard, rip, now_ns);
                if (cur != 0)
                        continue;
                /* An empty slot: the key is new. Reserve room for it, then claim the slot. */
                if (atomic_fetch_add(&k->used, 1) >= k->max_keys) {
                        atomic_fetch_sub(&k->used, 1);
                        atomic_fetch_add_explicit(&k->overflow, 1, memory_order_relaxed);
                        bool f = false;
                        *first = atomic_compare_exchange_strong(&k->overflow_noted, &f, true);
                        return -1;
                }
                uint64_t empty = 0;
                if (atomic_compare_exchange_strong(&e->key1, &empty, want)) {
                        atomic_store_explicit(&e->first,
                                              (uint64_t)(shard & 0xffff) << 48 | (rip & RIP_MASK),
                                              memory_order_relaxed);
                        *first = true;
                        return count(k, s, shard, rip, now_ns);
                }
                atomic_fetch_sub(&k->used, 1); /* another thread took the slot */
                if (empty == want)
                        return count(k, s, shard, rip, now_ns);
        }
        /* Unreachable while nslots >= 2 * max_keys; counted as overflow all the same. */
        atomic_fetch_add_explicit(&k->overflow, 1, memory_order_relaxed);
        return -1;
}

void cvmm_keyset_suppress(struct cvmm_keyset *k, long slot, unsigned shard)
{
        if (slot < 0)
                return;
        if (shard >= k->nshards)
                shard = k->nshards - 1;
        bump(&cell(k, (size_t)slot, shard)->suppressed);
}

uint64_t cvmm_keyset_take_suppressed(struct cvmm_keyset *k, long slot)
{
        if (slot < 0)
                return 0;
        uint64_t total = 0;
        for (unsigned s = 0; s < k->nshards; s++)
                total += atomic_load_explicit(&cell(k, (size_t)slot, s)->suppressed,
                                              memory_order_relaxed);
        uint64_t before = atomic_exchange(&k->slots[slot].reported, total);
        return total > before ? total - before : 0;
}

static int by_count(const void *a, const void *b)
{
        const struct cvmm_keyset_item *x = a, *y = b;
        if (x->count != y->count)
                return x->count > y->count ? -1 : 1;
        return x->key < y->key ? -1 : x->key > y->key;
}

long cvmm_keyset_snapshot(const struct cvmm_keyset *k, struct cvmm_keyset_item **out)
{
        *out = NULL;
        size_t n = 0;
        for (size_t s = 0; s < k->nslots; s++)
                n += atomic_load(&k->slots[s].key1) != 0;
        if (!n)
                return 0;
        struct cvmm_keyset_item *v = calloc(n, sizeof(*v));
        if (!v)
                return -1;
        size_t j = 0;
        for (size_t s = 0; s < k->nslots && j < n; s++) {
                uint64_t k1 = atomic_load(&k->slots[s].key1);
                if (!k1)
                        continue;
                struct cvmm_keyset_item *it = &v[j++];
                it->key = k1 - 1;
                uint64_t f = atomic_load(&k->slots[s].first);
                it->first_vcpu = (unsigned)(f >> 48);
                it->first_rip = canonical(f);
                uint64_t latest = 0;
                for (unsigned sh = 0; sh < k->nshards; sh++) {
                        const struct cvmm_keyset_count *c = cell(k, s, sh);
                        uint64_t cnt = atomic_load(&c->count);
                        if (!cnt)
                                continue;
                        it->count += cnt;
                        uint64_t t = atomic_load(&c->last_ns);
                        if (t >= latest) {
                                latest = t;
                                it->last_vcpu = sh;
                                it->last_rip = canonical(atomic_load(&c->last));
                        }
                }
        }
        qsort(v, j, sizeof(*v), by_count);
        *out = v;
        return (long)j;
}
