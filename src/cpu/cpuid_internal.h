/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the CPUID readers; not part of the public API. The readers depend one way:
 * cpuid_parse.c (format detection, `cpuid -r`, cvmm JSON) calls cpuid_firecracker.c, and both
 * call cpuid_read.c; none calls back up.
 */
#ifndef CVMM_CPUID_INTERNAL_H
#define CVMM_CPUID_INTERNAL_H

#include <json-c/json.h>

#include "cvmm/cpuid.h"

/*
 * cpuid_read.c: adds an entry, refusing bad keys (leaf 0xD subleaf above 63), duplicates and
 * more than CVMM_MAX_ENTRIES with a message prefixed by `where`.
 */
int cvmm_cpuid_add_unique(struct cvmm_cpuid_table *t, const struct cvmm_cpuid_entry *e,
                          const char *where, struct cvmm_err *err);
/* cpuid_firecracker.c: true when root looks like a Firecracker CPU template or fingerprint. */
bool cvmm_firecracker_detect(struct json_object *root);
/* cpuid_firecracker.c: reads the cpuid_modifiers of a Firecracker template/fingerprint into t. */
int cvmm_firecracker_parse(struct cvmm_cpuid_table *t, struct json_object *root, const char *name,
                           struct cvmm_err *err);

#endif
