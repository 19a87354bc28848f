/* SPDX-License-Identifier: MIT */
/*
 * The console UART's resources, shared by its C model (uart8250.c) and its ACPI description
 * (uart8250.asl, through iasl's preprocessor), so the two cannot disagree.
 */
#ifndef CVMM_DEV_UART8250_H
#define CVMM_DEV_UART8250_H

#define UART_BASE 0x3F8 /* COM1 */
#define UART_LEN  8
#define UART_IRQ  4

#endif
