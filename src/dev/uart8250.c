/* SPDX-License-Identifier: MIT */
/* 8250/16550A UART: what Linux's 8250 driver and early console need, nothing more. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev.h"
#include "dev/uart8250.h"

/* 8250 UART (16550A without FIFO timing) at UART_BASE, IRQ UART_IRQ: the console. */
#define UART_RXBUF 1024

/* The SSDT compiled from uart8250.asl (meson.build). */
extern const unsigned char dev_uart8250_aml[];
extern const size_t dev_uart8250_aml_len;

struct uart8250 {
        pthread_mutex_t lock;
        const struct dev_host *host;
        uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
        bool thre_pending;
        uint8_t rx[UART_RXBUF];
        unsigned rx_head, rx_count;
};

enum {
        REG_DATA = 0, /* RBR/THR, DLL with DLAB */
        REG_IER = 1,  /* DLM with DLAB */
        REG_IIR = 2,  /* FCR on write */
        REG_LCR = 3,
        REG_MCR = 4,
        REG_LSR = 5,
        REG_MSR = 6,
        REG_SCR = 7,
};
#define IER_RDI     0x01
#define IER_THRI    0x02
#define LCR_DLAB    0x80
#define MCR_LOOP    0x10
#define LSR_DR      0x01
#define LSR_THRE    0x20
#define LSR_TEMT    0x40
#define IIR_NONE    0x01
#define IIR_THRI    0x02
#define IIR_RDI     0x04
#define IIR_FIFO    0xc0
#define MSR_DEFAULT 0xb0 /* DCD, DSR, CTS */

/* Called with the lock held: whether an interrupt condition is pending. */
static bool irq_pending(const struct uart8250 *u)
{
        return ((u->ier & IER_RDI) && u->rx_count) || ((u->ier & IER_THRI) && u->thre_pending);
}

static void uart_in(void *dev, uint16_t port, uint8_t *data, unsigned size)
{
        struct uart8250 *u = dev;
        uint8_t v = 0;
        pthread_mutex_lock(&u->lock);
        switch (port - UART_BASE) {
        case REG_DATA:
                if (u->lcr & LCR_DLAB) {
                        v = u->dll;
                } else if (u->rx_count) {
                        v = u->rx[u->rx_head];
                        u->rx_head = (u->rx_head + 1) % UART_RXBUF;
                        u->rx_count--;
                }
                break;
        case REG_IER:
                v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
                break;
        case REG_IIR:
                if ((u->ier & IER_RDI) && u->rx_count) {
                        v = IIR_RDI;
                } else if ((u->ier & IER_THRI) && u->thre_pending) {
                        v = IIR_THRI;
                        u->thre_pending = false; /* reading IIR acknowledges THRE */
                } else {
                        v = IIR_NONE;
                }
                if (u->fcr & 1)
                        v |= IIR_FIFO;
                break;
        case REG_LCR:
                v = u->lcr;
                break;
        case REG_MCR:
                v = u->mcr;
                break;
        case REG_LSR:
                v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
                break;
        case REG_MSR:
                if (u->mcr & MCR_LOOP) /* loopback: outputs appear on the inputs */
                        v = (uint8_t)(((u->mcr & 0x02) << 3) | ((u->mcr & 0x01) << 5) |
                                      ((u->mcr & 0x04) << 4) | ((u->mcr & 0x08) << 4));
                else
                        v = MSR_DEFAULT;
                break;
        case REG_SCR:
                v = u->scr;
                break;
        }
        pthread_mutex_unlock(&u->lock);
        memset(data, v, size);
}

static void uart_out(void *dev, uint16_t port, const uint8_t *data, unsigned size)
{
        (void)size;
        struct uart8250 *u = dev;
        uint8_t v = data[0];
        bool raise = false, console = false;
        pthread_mutex_lock(&u->lock);
        bool before = irq_pending(u);
        switch (port - UART_BASE) {
        case REG_DATA:
                if (u->lcr & LCR_DLAB) {
                        u->dll = v;
                } else if (u->mcr & MCR_LOOP) {
                        if (u->rx_count < UART_RXBUF) {
                                u->rx[(u->rx_head + u->rx_count) % UART_RXBUF] = v;
                                u->rx_count++;
                        }
                        u->thre_pending = true;
                } else {
                        console = true; /* written below, with the lock released */
                        u->thre_pending = true;
                }
                break;
        case REG_IER:
                if (u->lcr & LCR_DLAB) {
                        u->dlm = v;
                } else {
                        if ((v & IER_THRI) && !(u->ier & IER_THRI))
                                u->thre_pending = true; /* enabling THRI with THR empty */
                        u->ier = v & 0x0f;
                }
                break;
        case REG_IIR:
                u->fcr = v;
                if (v & 0x02) { /* clear the receive FIFO */
                        u->rx_count = 0;
                        u->rx_head = 0;
                }
                break;
        case REG_LCR:
                u->lcr = v;
                break;
        case REG_MCR:
                u->mcr = v & 0x1f;
                break;
        case REG_SCR:
                u->scr = v;
                break;
        default:
                break;
        }
        raise = !before && irq_pending(u);
        if (!raise && (port - UART_BASE) == REG_DATA && irq_pending(u))
                raise = true; /* every transmitted byte is a new THRE event */
        pthread_mutex_unlock(&u->lock);
        if (console)
                u->host->console_write(u->host->ctx, &v, 1);
        if (raise)
                u->host->irq_edge(u->host->ctx, UART_IRQ);
}

/* Console input: queued for the guest (what does not fit is dropped); raises the IRQ. */
static void uart_receive(void *dev, const uint8_t *data, unsigned len)
{
        struct uart8250 *u = dev;
        pthread_mutex_lock(&u->lock);
        bool before = irq_pending(u);
        for (unsigned i = 0; i < len && u->rx_count < UART_RXBUF; i++) {
                u->rx[(u->rx_head + u->rx_count) % UART_RXBUF] = data[i];
                u->rx_count++;
        }
        bool raise = !before && irq_pending(u);
        pthread_mutex_unlock(&u->lock);
        if (raise)
                u->host->irq_edge(u->host->ctx, UART_IRQ);
}

static void uart_destroy(void *state)
{
        struct uart8250 *u = state;
        pthread_mutex_destroy(&u->lock);
        free(u);
}

static int uart_create(const struct dev_host *host, const struct dev_config *cfg,
                       struct io_bus *bus, struct hw_platform *plat, void **state,
                       struct cvmm_err *err)
{
        (void)cfg;
        if (hw_platform_add_acpi(plat, dev_uart8250_aml, dev_uart8250_aml_len, err) ||
            hw_platform_edge_irq(plat, UART_IRQ, err))
                return -1;
        struct uart8250 *u = calloc(1, sizeof(*u));
        if (!u)
                return cvmm_errf(err, "out of memory");
        pthread_mutex_init(&u->lock, NULL);
        u->host = host;
        u->dll = 0x0c; /* 9600 baud */
        u->lcr = 0x03; /* 8N1 */
        u->mcr = 0x08; /* OUT2 */
        struct io_range r = {.base = UART_BASE,
                             .len = UART_LEN,
                             .name = "uart 0x3f8",
                             .dev = u,
                             .in = uart_in,
                             .out = uart_out};
        if (iobus_register(bus, &r, err)) {
                uart_destroy(u);
                return -1;
        }
        host->console_attach(host->ctx, u, uart_receive);
        *state = u;
        return 0;
}

static void uart_reset(void *state)
{
        struct uart8250 *u = state;
        /* A platform reset clears the control registers; the scratch register and the divisor
         * latch keep their values, as on a 16550 (guests may count boots in SCR). */
        pthread_mutex_lock(&u->lock);
        u->ier = 0;
        u->lcr = 0x03;
        u->mcr = 0x08;
        u->fcr = 0;
        u->thre_pending = false;
        u->rx_head = u->rx_count = 0;
        pthread_mutex_unlock(&u->lock);
}

const struct dev_ops dev_uart8250 = {
    .name = "uart8250", .create = uart_create, .reset = uart_reset, .destroy = uart_destroy};
