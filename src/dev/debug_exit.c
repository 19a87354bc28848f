/* SPDX-License-Identifier: MIT */
/*
 * The test-exit port (`--debug-exit PORT`), with the behaviour of QEMU's isa-debug-exit: a
 * write of value V ends cvmm with exit status (V << 1) | 1, so a test program can report its
 * result (kvm-unit-tests writes to 0xf4). Off by default, so that a production guest cannot
 * choose cvmm's exit status. Reads return all-ones, as from an empty port.
 */
#include <string.h>

#include "dev/dev.h"

#define DEBUG_EXIT_LEN 4 /* iosize=4: one port takes a byte, word or dword write */

static void debug_exit_in(void *dev, uint16_t port, uint8_t *data, unsigned size)
{
        (void)dev;
        (void)port;
        memset(data, 0xff, size);
}

static void debug_exit_out(void *dev, uint16_t port, const uint8_t *data, unsigned size)
{
        const struct dev_host *h = dev;
        uint32_t v = 0;
        (void)port;
        for (unsigned i = 0; i < size && i < 4; i++)
                v |= (uint32_t)data[i] << (8 * i);
        /* QEMU's status is (V << 1) | 1 truncated by exit(): only the low 8 bits survive. */
        h->request(h->ctx, DEV_EXIT, (int)(((v << 1) | 1) & 0xff));
}

static int debug_exit_create(const struct dev_host *host, const struct dev_config *cfg,
                             struct io_bus *bus, struct hw_platform *plat, void **state,
                             struct cvmm_err *err)
{
        (void)plat; /* a test device: no firmware table describes it */
        *state = NULL;
        if (!cfg->debug_exit_port)
                return 0;
        struct io_range r = {.base = cfg->debug_exit_port,
                             .len = DEBUG_EXIT_LEN,
                             .name = "debug-exit",
                             .dev = (void *)host,
                             .in = debug_exit_in,
                             .out = debug_exit_out};
        return iobus_register(bus, &r, err);
}

const struct dev_ops dev_debug_exit = {.name = "debug-exit", .create = debug_exit_create};
