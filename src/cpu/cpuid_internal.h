/* SPDX-License-Identifier: MIT */
/* Helpers shared by the CPUID readers; not part of the public API. */
#ifndef CVMM_CPUID_INTERNAL_H
#define CVMM_CPUID_INTERNAL_H

#include <json-c/json.h>

#include "cvmm/cpuid.h"

/* Rejects keys no CPU can have (leaf 0xD subleaf above 63). `where` prefixes the message. */
int cvmm_cpuid_check_key(uint32_t leaf, uint32_t subleaf, const char *where, struct cvmm_err *err);
/* Adds an entry, refusing duplicates and bad keys with a message prefixed by `where`. */
int cvmm_cpuid_add_unique(struct cvmm_cpuid_table *t, const struct cvmm_cpuid_entry *e,
                          const char *where, struct cvmm_err *err);
/* A JSON number, or a string with a decimal or 0x-hex number, that fits in 32 bits. */
int cvmm_json_u32(struct json_object *v, uint32_t *out);
/* True when root looks like a Firecracker CPU template or fingerprint. */
bool cvmm_firecracker_detect(struct json_object *root);
/* Reads the cpuid_modifiers of a Firecracker template/fingerprint into t. */
int cvmm_firecracker_parse(struct cvmm_cpuid_table *t, struct json_object *root, const char *name,
                           struct cvmm_err *err);

#endif
