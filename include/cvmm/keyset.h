/* SPDX-License-Identifier: MIT */
/*
 * The distinct keys of a guest-triggered event (an MSR and its access type, a port, ...) seen
 * by a VM, with exact per-key counts, so that the first sighting of each key can always be
 * reported and every key accounted for, whatever the rate limit. Bounded: past max_keys
 * distinct keys, events are counted as untracked overflow.
 *
 * Lock-free and shared-write-free on the hot path: the key table is written once per key (one
 * compare-and-swap); counts live in one shard per writer (a vCPU), written only by it, and are
 * summed when a line is reported or a report is made. No lock, no allocation after init, no
 * system call. The shards are one calloc: pages of shards that never count stay untouched.
 *
 * Errors (cvmm/err.h): cvmm_keyset_init returns -1 with one line in err (sizes out of range, out
 * of memory); cvmm_keyset_snapshot's only failure is out of memory, -1 with no message (the
 * convention's exception); cvmm_keyset_hit's -1 is a full set, not an error.
 */
#ifndef CVMM_KEYSET_H
#define CVMM_KEYSET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cvmm_err;

struct cvmm_keyset_slot {
        _Atomic uint64_t key1;     /* the key + 1; 0: empty slot */
        _Atomic uint64_t first;    /* shard << 48 | RIP's low 48 bits of the first event */
        _Atomic uint64_t reported; /* suppressed events already named in a line */
};

/* One shard's counters for one slot; written by the shard's owner only. */
struct cvmm_keyset_count {
        _Atomic uint64_t count, suppressed;
        _Atomic uint64_t last;    /* RIP's low 48 bits of the shard's latest event */
        _Atomic uint64_t last_ns; /* when (the caller's clock) */
};

struct cvmm_keyset {
        struct cvmm_keyset_slot *slots;
        struct cvmm_keyset_count *counts; /* [shard][slot] */
        size_t nslots;   /* a power of two, at least twice max_keys: probes stay short */
        size_t max_keys; /* distinct keys tracked at most */
        unsigned nshards;
        _Atomic size_t used;
        _Atomic uint64_t overflow;   /* events whose key did not fit */
        _Atomic bool overflow_noted; /* the first overflow was reported */
};

/*
 * Allocates a set for up to max_keys (1 .. 1 << 20) keys counted by nshards (1 .. 4096)
 * writers. Returns 0, or -1 with err filled (range, ENOMEM).
 */
int cvmm_keyset_init(struct cvmm_keyset *k, size_t max_keys, unsigned nshards,
                     struct cvmm_err *err);
void cvmm_keyset_free(struct cvmm_keyset *k);

/*
 * Counts one event of key (< UINT64_MAX) by writer shard at rip, at now_ns. Returns the key's
 * slot, with *first true for exactly one caller per key: the one whose event added it. Returns
 * -1 when the key is new and the set is full; the event is then counted as overflow, and
 * *first is true for exactly one such caller (the first overflow), so it can say so.
 */
long cvmm_keyset_hit(struct cvmm_keyset *k, uint64_t key, unsigned shard, uint64_t rip,
                     uint64_t now_ns, bool *first);

/* Records that shard's last event of slot was not reported (suppressed by a rate limit). */
void cvmm_keyset_suppress(struct cvmm_keyset *k, long slot, unsigned shard);

/* The slot's events suppressed since the last call for it (over all shards). */
uint64_t cvmm_keyset_take_suppressed(struct cvmm_keyset *k, long slot);

/* A summed copy of one key, for reports. */
struct cvmm_keyset_item {
        uint64_t key, count;
        unsigned first_vcpu, last_vcpu; /* shards */
        uint64_t first_rip, last_rip;   /* 0: not known */
};

/*
 * Copies every tracked key into a malloc'ed array, most frequent first, then by key (so the
 * order never depends on the slot layout); the last vCPU is the shard with the latest event.
 * Returns the count (0 with *out NULL when empty), or -1 on ENOMEM.
 */
long cvmm_keyset_snapshot(const struct cvmm_keyset *k, struct cvmm_keyset_item **out);

#endif
