/* SPDX-License-Identifier: MIT */
#include "hw/bus.h"

int iobus_register(struct io_bus *b, const struct io_range *r, struct cvmm_err *err)
{
        if (b->n == IOBUS_MAX)
                return cvmm_errf(err, "I/O bus full registering %s", r->name);
        uint32_t end = (uint32_t)r->base + r->len;
        for (unsigned i = 0; i < b->n; i++) {
                uint32_t e = (uint32_t)b->r[i].base + b->r[i].len;
                if (r->base < e && b->r[i].base < end)
                        return cvmm_errf(err, "I/O ports of %s overlap %s", r->name, b->r[i].name);
        }
        b->r[b->n++] = *r;
        return 0;
}

const struct io_range *iobus_find(const struct io_bus *b, uint16_t port)
{
        for (unsigned i = 0; i < b->n; i++)
                if ((uint16_t)(port - b->r[i].base) < b->r[i].len)
                        return &b->r[i];
        return NULL;
}

int iobus_register_mmio(struct io_bus *b, const struct mmio_range *r, struct cvmm_err *err)
{
        if (!r->len || r->base + r->len < r->base)
                return cvmm_errf(err, "MMIO range of %s is empty or wraps", r->name);
        if (b->nm == MMIOBUS_MAX)
                return cvmm_errf(err, "MMIO bus full registering %s", r->name);
        for (unsigned i = 0; i < b->nm; i++)
                if (r->base < b->m[i].base + b->m[i].len && b->m[i].base < r->base + r->len)
                        return cvmm_errf(err, "MMIO range of %s overlaps %s", r->name,
                                         b->m[i].name);
        b->m[b->nm++] = *r;
        return 0;
}

const struct mmio_range *iobus_find_mmio(const struct io_bus *b, uint64_t addr)
{
        for (unsigned i = 0; i < b->nm; i++)
                if (addr - b->m[i].base < b->m[i].len)
                        return &b->m[i];
        return NULL;
}
