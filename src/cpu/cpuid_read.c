/* SPDX-License-Identifier: MIT */
/*
 * What every CPUID reader (cpuid_parse.c's `cpuid -r` and cvmm JSON, cpuid_firecracker.c)
 * does with an entry it has read: refuse bad keys, duplicates and oversized tables with a
 * message naming where, else add it. Readers call this; it calls no reader.
 */
#include "cpu/cpuid_internal.h"

/* Rejects keys no CPU can have (leaf 0xD subleaf above 63). */
static int check_key(uint32_t leaf, uint32_t subleaf, const char *where, struct cvmm_err *err)
{
        if (leaf == 0xd && subleaf > 63)
                return cvmm_errf(err, "%s: subleaf 0x%x of leaf 0xd is out of range (0 to 63)",
                                 where, subleaf);
        return 0;
}

int cvmm_cpuid_add_unique(struct cvmm_cpuid_table *t, const struct cvmm_cpuid_entry *e,
                          const char *where, struct cvmm_err *err)
{
        if (t->count >= CVMM_MAX_ENTRIES)
                return cvmm_errf(err, "%s: more than %u entries: not the CPUID table of one CPU",
                                 where, CVMM_MAX_ENTRIES);
        if (check_key(e->leaf, e->subleaf, where, err))
                return -1;
        if (cvmm_cpuid_get(t, e->leaf, e->subleaf))
                return cvmm_errf(err, "%s: leaf 0x%08x subleaf 0x%02x appears twice", where,
                                 e->leaf, e->subleaf);
        if (cvmm_cpuid_put(t, e))
                return cvmm_errf(err, "%s: out of memory", where);
        return 0;
}
