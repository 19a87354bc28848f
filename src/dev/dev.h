/* SPDX-License-Identifier: MIT */
/*
 * The device model. A device is one file src/dev/NAME.c that defines `struct dev_ops dev_NAME`
 * and is named in meson.build's dev_names, from which tools/dev-registry.py writes
 * dev_registry. The VMM creates every listed device once per VM, in list
 * order, resets each at a platform reset and destroys each at the end. A device claims I/O
 * port or MMIO ranges on the VM's bus, says what the firmware tables must describe in struct
 * hw_platform, and reaches the VM only through struct dev_host: none knows about KVM.
 *
 * Error convention: create returns 0 or -1 with err set to one line saying what failed;
 * the other operations cannot fail.
 */
#ifndef CVMM_DEV_H
#define CVMM_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmm/err.h"
#include "hw/bus.h"
#include "hw/platform.h"

enum dev_request { DEV_POWEROFF = 1, DEV_RESET, DEV_EXIT };

/* What a device may ask of its VM. Every callback may be called from a vCPU thread. */
struct dev_host {
        void *ctx;
        /* one edge on an ISA line the device declared (hw_platform_edge_irq) */
        void (*irq_edge)(void *ctx, unsigned line);
        void (*irq_level)(void *ctx, unsigned line, bool high); /* a level-triggered line */
        /* power-off, reset, or (DEV_EXIT) end the VMM with exit status `status` */
        void (*request)(void *ctx, enum dev_request req, int status);
        /* console output; called with no device lock held */
        void (*console_write)(void *ctx, const uint8_t *data, size_t len);
        /* the device that takes console input (one per VM); receive may be called any time */
        void (*console_attach)(void *ctx, void *dev,
                               void (*receive)(void *dev, const uint8_t *data, unsigned len));
};

/* What the VM's configuration says about optional devices. */
struct dev_config {
        uint16_t debug_exit_port; /* --debug-exit PORT; 0: no debug-exit device */
        uint64_t ram_size;        /* guest RAM in bytes (fw_cfg reports it) */
        unsigned cpus;            /* vCPUs (fw_cfg reports it) */
};

struct dev_ops {
        const char *name;
        /*
         * Creates the device for one VM: claims its ranges on bus, fills in what plat must
         * describe, and sets *state, which reset and destroy get; they are called only for
         * a state that is not NULL. A device the configuration leaves out claims nothing and
         * returns 0; on failure *state stays NULL and nothing is left allocated.
         */
        int (*create)(const struct dev_host *host, const struct dev_config *cfg, struct io_bus *bus,
                      struct hw_platform *plat, void **state, struct cvmm_err *err);
        void (*reset)(void *state);   /* a platform reset; NULL: nothing to reset */
        void (*destroy)(void *state); /* NULL: nothing to free */
};

/* Every device cvmm has, in creation order, NULL-terminated. */
extern const struct dev_ops *const dev_registry[];
#define DEV_MAX 16 /* entries dev_registry may hold */

#endif
