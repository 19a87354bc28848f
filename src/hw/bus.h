/* SPDX-License-Identifier: MIT */
/*
 * The platform's bus: devices claim I/O port ranges and MMIO ranges; the VMM looks the port or
 * address up on every IO or MMIO exit. Error convention: 0, or -1 with err filled with one line.
 */
#ifndef CVMM_HW_BUS_H
#define CVMM_HW_BUS_H

#include <stdint.h>

#include "cvmm/err.h"

#define IOBUS_MAX   16
#define MMIOBUS_MAX 16

struct io_range {
        uint16_t base, len;
        const char *name;
        void *dev;
        /* size is 1, 2 or 4; port is the absolute port. in must fill data[0..size). */
        void (*in)(void *dev, uint16_t port, uint8_t *data, unsigned size);
        void (*out)(void *dev, uint16_t port, const uint8_t *data, unsigned size);
};

struct mmio_range {
        uint64_t base, len;
        const char *name;
        void *dev;
        /* size is 1..8; addr is the absolute guest-physical address. read fills data[0..size). */
        void (*read)(void *dev, uint64_t addr, uint8_t *data, unsigned size);
        void (*write)(void *dev, uint64_t addr, const uint8_t *data, unsigned size);
};

struct io_bus {
        struct io_range r[IOBUS_MAX];
        unsigned n;
        struct mmio_range m[MMIOBUS_MAX];
        unsigned nm;
};

/* Adds a range; refuses overlaps and a full bus. */
int iobus_register(struct io_bus *b, const struct io_range *r, struct cvmm_err *err);
/* The range holding port, or NULL. */
const struct io_range *iobus_find(const struct io_bus *b, uint16_t port);

/* Adds an MMIO range; refuses an empty or wrapping range, overlaps and a full bus. */
int iobus_register_mmio(struct io_bus *b, const struct mmio_range *r, struct cvmm_err *err);
/* The MMIO range holding addr, or NULL. */
const struct mmio_range *iobus_find_mmio(const struct io_bus *b, uint64_t addr);

#endif
