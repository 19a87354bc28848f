/* SPDX-License-Identifier: MIT */
/*
 * What the firmware tables describe about the platform's devices. The devices fill it in as
 * they are created (dev/dev.h), and the ACPI and MP writers (boot/) read it, so a table never
 * names a port that no device claims.
 *
 * Error convention: hw_platform_add_acpi returns 0, or -1 with err set when the platform
 * already holds HW_ACPI_TABLES tables; hw_platform_edge_irq returns 0, or -1 with err set for a
 * line that is not an ISA line.
 */
#ifndef CVMM_HW_PLATFORM_H
#define CVMM_HW_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "cvmm/err.h"

#define HW_ACPI_TABLES 4  /* device tables (SSDTs) one platform may hold */
#define HW_ISA_IRQS    16 /* ISA interrupt lines 0-15 */

/* A definition block a device contributes (an SSDT, compiled from its ASL by iasl). */
struct hw_acpi_table {
        const unsigned char *aml; /* the whole table, header and checksum included */
        size_t len;
};

struct hw_platform {
        uint16_t reset_port; /* ACPI reset register (an I/O port); 0: none */
        uint8_t reset_value; /* the value written to it to reset */
        uint16_t sleep_port; /* ACPI sleep control register; its status register follows */
        /* the devices' own ACPI tables, in creation order, listed in the XSDT after the MADT */
        struct hw_acpi_table acpi[HW_ACPI_TABLES];
        unsigned acpi_count;
        /* ISA lines a device raises edges on (bit N: line N); the VMM gives each an irqfd */
        uint16_t edge_irqs;
};

static inline int hw_platform_add_acpi(struct hw_platform *plat, const unsigned char *aml,
                                       size_t len, struct cvmm_err *err)
{
        if (plat->acpi_count == HW_ACPI_TABLES)
                return cvmm_errf(err, "the platform holds at most %d device ACPI tables",
                                 HW_ACPI_TABLES);
        plat->acpi[plat->acpi_count++] = (struct hw_acpi_table){aml, len};
        return 0;
}

/* Declares that a device raises edges on ISA line `line` (what it calls dev_host.irq_edge with). */
static inline int hw_platform_edge_irq(struct hw_platform *plat, unsigned line,
                                       struct cvmm_err *err)
{
        if (line >= HW_ISA_IRQS)
                return cvmm_errf(err, "IRQ %u is not an ISA line (0-%d)", line, HW_ISA_IRQS - 1);
        plat->edge_irqs |= (uint16_t)(1u << line);
        return 0;
}

#endif
