/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/ioapic.h"

#define REG_SELECT 0x00
#define REG_WINDOW 0x10
#define IDX_ID     0x00
#define IDX_VER    0x01
#define IDX_ARB    0x02
#define IDX_REDIR  0x10 /* two registers per pin: low, high */

#define RTE_VECTOR    0xffull
#define RTE_MODE      (7ull << 8)
#define RTE_DESTMODE  (1ull << 11)
#define RTE_POLARITY  (1ull << 13)
#define RTE_REMOTEIRR (1ull << 14)
#define RTE_LEVEL     (1ull << 15)
#define RTE_MASKED    (1ull << 16)
#define RTE_DEST      (0xffull << 56)
/* What the guest may write: the read-only bits are delivery status (12) and Remote IRR (14). */
#define RTE_WRITABLE                                                                               \
        (RTE_VECTOR | RTE_MODE | RTE_DESTMODE | RTE_POLARITY | RTE_LEVEL | RTE_MASKED | RTE_DEST)
#define MODE_EXTINT 7u

struct ioapic {
        struct ioapic_host host;
        uint64_t base;
        pthread_mutex_t lock;
        uint32_t select, id;
        uint64_t rte[IOAPIC_PINS];
        bool line[IOAPIC_PINS]; /* asserted, for level-triggered pins */
};

/* The interrupt message of an entry: what an 82093AA sends on the APIC bus, as an MSI. */
static void rte_msi(uint64_t e, uint64_t *address, uint32_t *data)
{
        *address = 0xfee00000ull | ((e >> 56) & 0xff) << 12 | ((e & RTE_DESTMODE) ? 1u : 0u) << 2;
        *data = (uint32_t)(e & (RTE_VECTOR | RTE_MODE)) | ((e & RTE_LEVEL) ? 1u << 15 : 0u);
}

/* Sends pin's interrupt; a level-triggered pin holds Remote IRR until the EOI. Lock held. */
static void send(struct ioapic *a, unsigned pin)
{
        uint64_t e = a->rte[pin];
        if (((e & RTE_MODE) >> 8) == MODE_EXTINT)
                return; /* no 8259A to supply the vector */
        if (e & RTE_LEVEL)
                a->rte[pin] |= RTE_REMOTEIRR;
        uint64_t address;
        uint32_t data;
        rte_msi(e, &address, &data);
        a->host.msi(a->host.ctx, address, data);
}

/* A level-triggered pin sends when its line is up, it is unmasked and no EOI is pending. */
static void level_check(struct ioapic *a, unsigned pin)
{
        uint64_t e = a->rte[pin];
        if ((e & RTE_LEVEL) && a->line[pin] && !(e & (RTE_MASKED | RTE_REMOTEIRR)))
                send(a, pin);
}

static void mmio_read(void *dev, uint64_t addr, uint8_t *data, unsigned size);
static void mmio_write(void *dev, uint64_t addr, const uint8_t *data, unsigned size);

/* The state at power-on and after a reset: every pin masked, edge, vector 0; ID 0. */
static void power_on(struct ioapic *a)
{
        a->select = 0;
        a->id = 0;
        for (unsigned i = 0; i < IOAPIC_PINS; i++) {
                a->rte[i] = RTE_MASKED;
                a->line[i] = false;
        }
}

void ioapic_reset(struct ioapic *a)
{
        pthread_mutex_lock(&a->lock);
        power_on(a);
        pthread_mutex_unlock(&a->lock);
        a->host.routes_changed(a->host.ctx);
}

int ioapic_create(const struct ioapic_host *host, uint64_t base, struct io_bus *bus,
                  struct ioapic **out, struct cvmm_err *err)
{
        *out = NULL;
        struct ioapic *a = calloc(1, sizeof(*a));
        if (!a)
                return cvmm_errf(err, "I/O APIC: out of memory");
        a->host = *host;
        a->base = base;
        pthread_mutex_init(&a->lock, NULL);
        power_on(a);
        struct mmio_range r = {.base = base,
                               .len = IOAPIC_SIZE,
                               .name = "ioapic",
                               .dev = a,
                               .read = mmio_read,
                               .write = mmio_write};
        if (iobus_register_mmio(bus, &r, err)) {
                ioapic_destroy(a);
                return -1;
        }
        *out = a;
        return 0;
}

void ioapic_destroy(struct ioapic *a)
{
        if (!a)
                return;
        pthread_mutex_destroy(&a->lock);
        free(a);
}

void ioapic_edge(struct ioapic *a, unsigned pin)
{
        if (pin >= IOAPIC_PINS)
                return;
        pthread_mutex_lock(&a->lock);
        uint64_t e = a->rte[pin];
        /* A pulse: an edge pin sends; a level pin sends once (its Remote IRR then waits). */
        if (!(e & RTE_MASKED) && !(e & RTE_REMOTEIRR))
                send(a, pin);
        pthread_mutex_unlock(&a->lock);
}

void ioapic_set_level(struct ioapic *a, unsigned pin, bool asserted)
{
        if (pin >= IOAPIC_PINS)
                return;
        pthread_mutex_lock(&a->lock);
        bool rising = asserted && !a->line[pin];
        a->line[pin] = asserted;
        uint64_t e = a->rte[pin];
        if (e & RTE_LEVEL)
                level_check(a, pin);
        else if (rising && !(e & RTE_MASKED))
                send(a, pin);
        pthread_mutex_unlock(&a->lock);
}

void ioapic_eoi(struct ioapic *a, uint8_t vector)
{
        pthread_mutex_lock(&a->lock);
        for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
                uint64_t e = a->rte[pin];
                if ((e & RTE_LEVEL) && (e & RTE_REMOTEIRR) && (e & RTE_VECTOR) == vector) {
                        a->rte[pin] &= ~RTE_REMOTEIRR;
                        level_check(a, pin);
                }
        }
        pthread_mutex_unlock(&a->lock);
}

bool ioapic_route(struct ioapic *a, unsigned pin, uint64_t *address, uint32_t *data)
{
        if (pin >= IOAPIC_PINS)
                return false;
        pthread_mutex_lock(&a->lock);
        uint64_t e = a->rte[pin];
        pthread_mutex_unlock(&a->lock);
        if (!(e & RTE_LEVEL) || (e & RTE_MASKED) || ((e & RTE_MODE) >> 8) == MODE_EXTINT)
                return false;
        rte_msi(e, address, data);
        return true;
}

uint32_t ioapic_mmio_read(struct ioapic *a, uint64_t offset)
{
        pthread_mutex_lock(&a->lock);
        uint32_t v = 0;
        if (offset == REG_SELECT) {
                v = a->select;
        } else if (offset == REG_WINDOW) {
                uint32_t idx = a->select;
                if (idx == IDX_ID)
                        v = a->id << 24;
                else if (idx == IDX_VER)
                        v = (uint32_t)(IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
                else if (idx == IDX_ARB)
                        v = a->id << 24;
                else if (idx >= IDX_REDIR && idx < IDX_REDIR + 2 * IOAPIC_PINS)
                        v = (uint32_t)(a->rte[(idx - IDX_REDIR) / 2] >> (idx & 1 ? 32 : 0));
        }
        pthread_mutex_unlock(&a->lock);
        return v;
}

void ioapic_mmio_write(struct ioapic *a, uint64_t offset, uint32_t value)
{
        bool routes = false;
        int send_pin = -1;
        pthread_mutex_lock(&a->lock);
        if (offset == REG_SELECT) {
                a->select = value & 0xff;
        } else if (offset == REG_WINDOW) {
                uint32_t idx = a->select;
                if (idx == IDX_ID) {
                        a->id = (value >> 24) & 0xf;
                } else if (idx >= IDX_REDIR && idx < IDX_REDIR + 2 * IOAPIC_PINS) {
                        unsigned pin = (idx - IDX_REDIR) / 2;
                        uint64_t old = a->rte[pin];
                        uint64_t half = idx & 1 ? (uint64_t)value << 32 : value;
                        uint64_t keep = idx & 1 ? 0xffffffffull : 0xffffffffull << 32;
                        uint64_t e =
                            (old & keep) | (half & ~keep & RTE_WRITABLE) | (old & RTE_REMOTEIRR);
                        if (!(e & RTE_LEVEL))
                                e &= ~RTE_REMOTEIRR; /* an edge pin has no EOI to wait for */
                        a->rte[pin] = e;
                        routes = (old & ~RTE_REMOTEIRR) != (e & ~RTE_REMOTEIRR) &&
                                 ((old | e) & RTE_LEVEL);
                        if (!routes)
                                level_check(a, pin); /* unmasked with the line up: it sends */
                        else
                                send_pin = (int)pin;
                }
        }
        pthread_mutex_unlock(&a->lock);
        if (!routes)
                return;
        /* KVM learns the pin's route first, so the EOI of what it sends is reported even when
         * another vCPU takes it at once; then the pin sends if its line is up. */
        a->host.routes_changed(a->host.ctx);
        pthread_mutex_lock(&a->lock);
        level_check(a, (unsigned)send_pin);
        pthread_mutex_unlock(&a->lock);
}

/*
 * The guest's MMIO: IOREGSEL at 0x00 and IOWIN at 0x10, each 32 bits; a narrower access reads
 * or merges its bytes of the register, anything else in the window reads 0 and ignores writes.
 */
static void mmio_read(void *dev, uint64_t addr, uint8_t *data, unsigned size)
{
        struct ioapic *a = dev;
        uint64_t off = addr - a->base, reg = off & ~0xfull, lane = off & 0xf;
        memset(data, 0, size);
        if (lane >= 4 || (reg != REG_SELECT && reg != REG_WINDOW))
                return;
        uint32_t v = ioapic_mmio_read(a, reg) >> (8 * lane);
        for (unsigned i = 0; i < size && lane + i < 4; i++)
                data[i] = (uint8_t)(v >> (8 * i));
}

static void mmio_write(void *dev, uint64_t addr, const uint8_t *data, unsigned size)
{
        struct ioapic *a = dev;
        uint64_t off = addr - a->base, reg = off & ~0xfull, lane = off & 0xf;
        if (lane >= 4 || (reg != REG_SELECT && reg != REG_WINDOW))
                return;
        uint32_t v = lane == 0 && size >= 4 ? 0 : ioapic_mmio_read(a, reg);
        for (unsigned i = 0; i < size && lane + i < 4; i++) {
                v &= ~(0xffu << (8 * (lane + i)));
                v |= (uint32_t)data[i] << (8 * (lane + i));
        }
        ioapic_mmio_write(a, reg, v);
}
