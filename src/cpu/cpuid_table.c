/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "cvmm/cpuid.h"

void cvmm_cpuid_init(struct cvmm_cpuid_table *t)
{
        memset(t, 0, sizeof(*t));
}

void cvmm_cpuid_free(struct cvmm_cpuid_table *t)
{
        free(t->entries);
        free(t->changes);
        cvmm_cpuid_init(t);
}

int cvmm_cpuid_copy(struct cvmm_cpuid_table *dst, const struct cvmm_cpuid_table *src)
{
        cvmm_cpuid_init(dst);
        if (src->count) {
                dst->entries = malloc(src->count * sizeof(*src->entries));
                if (!dst->entries)
                        return -1;
                memcpy(dst->entries, src->entries, src->count * sizeof(*src->entries));
        }
        if (src->nchanges) {
                dst->changes = malloc(src->nchanges * sizeof(*src->changes));
                if (!dst->changes) {
                        cvmm_cpuid_free(dst);
                        return -1;
                }
                memcpy(dst->changes, src->changes, src->nchanges * sizeof(*src->changes));
        }
        dst->count = dst->capacity = src->count;
        dst->nchanges = dst->changes_capacity = src->nchanges;
        dst->partial = src->partial;
        dst->trace = src->trace;
        return 0;
}

static int key_cmp(uint32_t la, uint32_t sa, uint32_t lb, uint32_t sb)
{
        if (la != lb)
                return la < lb ? -1 : 1;
        if (sa != sb)
                return sa < sb ? -1 : 1;
        return 0;
}

/* Index of the first entry not less than (leaf, subleaf). */
static size_t lower_bound(const struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf)
{
        size_t lo = 0, hi = t->count;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const struct cvmm_cpuid_entry *e = &t->entries[mid];
                if (key_cmp(e->leaf, e->subleaf, leaf, subleaf) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

const struct cvmm_cpuid_entry *cvmm_cpuid_get(const struct cvmm_cpuid_table *t, uint32_t leaf,
                                              uint32_t subleaf)
{
        size_t i = lower_bound(t, leaf, subleaf);
        if (i < t->count && t->entries[i].leaf == leaf && t->entries[i].subleaf == subleaf)
                return &t->entries[i];
        return NULL;
}

uint32_t cvmm_cpuid_reg(const struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf,
                        enum cvmm_reg reg)
{
        const struct cvmm_cpuid_entry *e = cvmm_cpuid_get(t, leaf, subleaf);
        return e ? e->regs[reg] : 0;
}

bool cvmm_cpuid_bit(const struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf,
                    enum cvmm_reg reg, unsigned bit)
{
        return (cvmm_cpuid_reg(t, leaf, subleaf, reg) >> bit) & 1u;
}

/* Returns the slot for (leaf, subleaf), inserting a zeroed entry if needed; NULL on ENOMEM. */
static struct cvmm_cpuid_entry *slot(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf)
{
        size_t i = lower_bound(t, leaf, subleaf);
        if (i < t->count && t->entries[i].leaf == leaf && t->entries[i].subleaf == subleaf)
                return &t->entries[i];
        if (t->count == t->capacity) {
                size_t cap = t->capacity ? t->capacity * 2 : 64;
                struct cvmm_cpuid_entry *p = realloc(t->entries, cap * sizeof(*p));
                if (!p)
                        return NULL;
                t->entries = p;
                t->capacity = cap;
        }
        memmove(&t->entries[i + 1], &t->entries[i], (t->count - i) * sizeof(*t->entries));
        t->count++;
        memset(&t->entries[i], 0, sizeof(t->entries[i]));
        t->entries[i].leaf = leaf;
        t->entries[i].subleaf = subleaf;
        t->entries[i].flags = cvmm_cpuid_flags_for(leaf, subleaf);
        return &t->entries[i];
}

int cvmm_cpuid_put(struct cvmm_cpuid_table *t, const struct cvmm_cpuid_entry *e)
{
        struct cvmm_cpuid_entry *s = slot(t, e->leaf, e->subleaf);
        if (!s)
                return -1;
        *s = *e;
        /* A subleaf other than 0 only exists where CPUID matches on it. */
        if (s->subleaf)
                s->flags |= CVMM_CPUID_FLAG_INDEXED;
        return 0;
}

bool cvmm_cpuid_remove(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf)
{
        size_t i = lower_bound(t, leaf, subleaf);
        if (i >= t->count || t->entries[i].leaf != leaf || t->entries[i].subleaf != subleaf)
                return false;
        memmove(&t->entries[i], &t->entries[i + 1], (t->count - i - 1) * sizeof(*t->entries));
        t->count--;
        return true;
}

static int record(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf, enum cvmm_reg reg,
                  uint32_t before, uint32_t after, const char *rule)
{
        if (!t->trace || before == after)
                return 0;
        if (t->nchanges == t->changes_capacity) {
                size_t cap = t->changes_capacity ? t->changes_capacity * 2 : 64;
                struct cvmm_cpuid_change *p = realloc(t->changes, cap * sizeof(*p));
                if (!p)
                        return -1;
                t->changes = p;
                t->changes_capacity = cap;
        }
        t->changes[t->nchanges++] = (struct cvmm_cpuid_change){
            .leaf = leaf,
            .subleaf = subleaf,
            .reg = reg,
            .before = before,
            .after = after,
            .rule = rule,
        };
        return 0;
}

int cvmm_cpuid_set_reg(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf,
                       enum cvmm_reg reg, uint32_t value, const char *rule)
{
        struct cvmm_cpuid_entry *s = slot(t, leaf, subleaf);
        if (!s)
                return -1;
        uint32_t before = s->regs[reg];
        s->regs[reg] = value;
        return record(t, leaf, subleaf, reg, before, value, rule);
}

int cvmm_cpuid_drop(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf, const char *rule)
{
        if (!cvmm_cpuid_remove(t, leaf, subleaf))
                return 0;
        if (!t->trace)
                return 0;
        /* before != after so that record() keeps it; the values mean nothing for a removal. */
        return record(t, leaf, subleaf, CVMM_NREGS, 0, 1, rule);
}

int cvmm_cpuid_clear_bits(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf,
                          enum cvmm_reg reg, uint32_t mask, const char *rule)
{
        const struct cvmm_cpuid_entry *e = cvmm_cpuid_get(t, leaf, subleaf);
        if (!e || !(e->regs[reg] & mask))
                return 0;
        return cvmm_cpuid_set_reg(t, leaf, subleaf, reg, e->regs[reg] & ~mask, rule);
}

const char *cvmm_reg_name(enum cvmm_reg reg)
{
        static const char *const names[CVMM_NREGS] = {"eax", "ebx", "ecx", "edx"};
        return reg < CVMM_NREGS ? names[reg] : "?";
}

bool cvmm_cpuid_leaf_indexed(uint32_t leaf)
{
        switch (leaf) {
        case 0x4:
        case 0x7:
        case 0xb:
        case 0xd:
        case 0xf:
        case 0x10:
        case 0x12:
        case 0x14:
        case 0x17:
        case 0x18:
        case 0x1d:
        case 0x1e:
        case 0x1f:
        case 0x20:
        case 0x23:
        case 0x24:
        case 0x8000001d:
        case 0x80000020:
        case 0x80000026:
                return true;
        default:
                return false;
        }
}

uint32_t cvmm_cpuid_flags_for(uint32_t leaf, uint32_t subleaf)
{
        return cvmm_cpuid_leaf_indexed(leaf) || subleaf ? CVMM_CPUID_FLAG_INDEXED : 0;
}
