/* SPDX-License-Identifier: MIT */
/*
 * What the firmware tables describe about the platform's devices. The devices fill it in as
 * they are created (dev/dev.h), and the ACPI and MP writers (boot/) read it, so a table never
 * names a port that no device claims.
 */
#ifndef CVMM_HW_PLATFORM_H
#define CVMM_HW_PLATFORM_H

#include <stdint.h>

struct hw_platform {
        uint16_t reset_port; /* ACPI reset register (an I/O port); 0: none */
        uint8_t reset_value; /* the value written to it to reset */
        uint16_t sleep_port; /* ACPI sleep control register; its status register follows */
};

#endif
