/* SPDX-License-Identifier: MIT */
/* Guest RAM: one reserved-on-demand host mapping, split around the 32-bit MMIO hole. */
#ifndef CVMM_GUESTMEM_H
#define CVMM_GUESTMEM_H

#include <stdint.h>

#include "cvmm/err.h"

struct guest_mem {
        uint8_t *host; /* size bytes, MAP_NORESERVE: untouched pages cost nothing */
        uint64_t size; /* bytes of guest RAM */
        uint64_t low;  /* bytes below LAYOUT_GAP_START; the rest starts at 4 GiB */
};

/* Reserves size bytes of guest RAM (no page is touched). */
int guestmem_init(struct guest_mem *m, uint64_t size, struct cvmm_err *err);
void guestmem_free(struct guest_mem *m);
/* Returns the host address of [gpa, gpa+len) when it lies wholly in guest RAM, else NULL. */
void *guestmem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* Returns 0 and clears all guest RAM back to zero pages (for reboot). */
int guestmem_reset(struct guest_mem *m, struct cvmm_err *err);
/* As guestmem_reset for the pages of [gpa, gpa+len), which must lie in guest RAM. */
int guestmem_clear(struct guest_mem *m, uint64_t gpa, uint64_t len, struct cvmm_err *err);

/* Bytes of guest RAM resident in host memory now (mincore), for the metrics. */
uint64_t guestmem_resident(const struct guest_mem *m);

#endif
