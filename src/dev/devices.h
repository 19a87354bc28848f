/* SPDX-License-Identifier: MIT */
/*
 * Devices. None knows about KVM: each registers I/O ranges and reaches the VM through the
 * callbacks in struct dev_host (raise an IRQ line, request power-off or reset).
 */
#ifndef CVMM_DEVICES_H
#define CVMM_DEVICES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/iobus.h"

enum dev_request { DEV_POWEROFF = 1, DEV_RESET = 2 };

struct dev_host {
        void *ctx;
        void (*irq)(void *ctx, unsigned line);            /* one edge on an ISA IRQ line */
        void (*request)(void *ctx, enum dev_request req); /* power-off or reset */
        int out_fd;                                       /* console output */
};

/* 8250 UART (16550A without FIFO timing) at 0x3f8, IRQ 4. */
#define UART_BASE  0x3f8
#define UART_IRQ   4
#define UART_RXBUF 1024
struct uart8250 {
        pthread_mutex_t lock;
        const struct dev_host *host;
        uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
        bool thre_pending;
        uint8_t rx[UART_RXBUF];
        unsigned rx_head, rx_count;
        uint64_t tx_bytes;
};
int uart_init(struct uart8250 *u, const struct dev_host *host, struct io_bus *bus,
              struct cvmm_err *err);
/* Platform reset: control registers back to power-on values; SCR and the divisor stay. */
void uart_reset(struct uart8250 *u);
void uart_destroy(struct uart8250 *u);
/* Queues input bytes for the guest (drops what does not fit); raises the IRQ when enabled. */
void uart_receive(struct uart8250 *u, const uint8_t *data, unsigned len);

/*
 * System control: the i8042 reset line (command 0xfe to port 0x64), the reset control register
 * at 0xcf9, and a power register at 0x600 whose write of SLP_EN (bit 5) powers the VM off
 * (the layout of the ACPI sleep control register).
 */
#define SYSCTL_POWER_PORT 0x600
#define SYSCTL_SLP_EN     0x20
int sysctl_init(const struct dev_host *host, struct io_bus *bus, struct cvmm_err *err);

#endif
