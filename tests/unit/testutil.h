/* SPDX-License-Identifier: MIT */
/* Helpers for the cmocka unit tests: loading the real dumps in tests/data. */
#ifndef CVMM_TESTUTIL_H
#define CVMM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cvmm/cpuid.h"

/* Loads tests/data/<name> (directory from $CVMM_TESTDATA); fails the test on error. */
/* The 8-bit sum of n bytes (ACPI and MP tables sum to 0). */
uint8_t byte_sum(const uint8_t *p, size_t n);

void load_data(struct cvmm_cpuid_table *t, const char *name);
/* Reads a whole data file into a malloc'ed NUL-terminated buffer. */
char *read_data(const char *name, size_t *len);
/* Sets or replaces one entry. */
void put(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t sub, uint32_t eax, uint32_t ebx,
         uint32_t ecx, uint32_t edx);

#endif
