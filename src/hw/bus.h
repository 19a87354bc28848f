/* SPDX-License-Identifier: MIT */
/* Port I/O dispatch: devices register ranges; the VMM looks the port up on every IO exit. */
#ifndef CVMM_HW_BUS_H
#define CVMM_HW_BUS_H

#include <stdint.h>

#include "cvmm/err.h"

#define IOBUS_MAX 16

struct io_range {
        uint16_t base, len;
        const char *name;
        void *dev;
        /* size is 1, 2 or 4; port is the absolute port. in must fill data[0..size). */
        void (*in)(void *dev, uint16_t port, uint8_t *data, unsigned size);
        void (*out)(void *dev, uint16_t port, const uint8_t *data, unsigned size);
};

struct io_bus {
        struct io_range r[IOBUS_MAX];
        unsigned n;
};

/* Adds a range; refuses overlaps and a full bus. */
int iobus_register(struct io_bus *b, const struct io_range *r, struct cvmm_err *err);
/* The range holding port, or NULL. */
const struct io_range *iobus_find(const struct io_bus *b, uint16_t port);

#endif
