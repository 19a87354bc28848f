/* SPDX-License-Identifier: MIT */
/*
 * Comparing two CPUID tables.
 *
 * Errors (cvmm/err.h): none but out of memory, when NULL is returned.
 */
#ifndef CVMM_DIFF_H
#define CVMM_DIFF_H

#include <stddef.h>

#include "cvmm/cpuid.h"

/*
 * One line per differing register ("0x00000007 0x00 ebx: 0x... -> 0x... -avx512f") or missing
 * entry ("only in A"), in (leaf, subleaf) order. Sizes in leaf 0xD are printed in decimal
 * instead of bit names. *ndiff gets the line count. Returns a malloc'ed string, NULL on ENOMEM.
 */
char *cvmm_cpuid_diff(const struct cvmm_cpuid_table *a, const struct cvmm_cpuid_table *b,
                      size_t *ndiff);

#endif
