/* SPDX-License-Identifier: MIT */
/*
 * An 82093AA-style I/O APIC (version 0x11, 24 pins) in user space, for VMs whose local APICs
 * are KVM's and whose I/O APIC is not (KVM_CAP_SPLIT_IRQCHIP). It knows nothing of KVM: an
 * interrupt leaves it as an MSI (address, data) through ioapic_host.msi, and for each pin it
 * says what MSI a level-triggered pin sends (ioapic_route), so the VMM can tell KVM which
 * vectors' EOIs it must report; the VMM hands those EOIs back with ioapic_eoi.
 *
 * Semantics (82093AA datasheet): a masked pin ignores edges, and asserts on it have no side
 * effects; a level-triggered pin sets Remote IRR when its interrupt is sent and sends again
 * after the EOI while the line is still asserted. Delivery status is always 0 (sent at once).
 * ExtINT has no 8259A behind it here and is not sent. Thread-safe: edges may come from any
 * thread.
 */
#ifndef CVMM_DEV_IOAPIC_H
#define CVMM_DEV_IOAPIC_H
#include <stdbool.h>
#include <stdint.h>
#include "cvmm/err.h"
#include "hw/bus.h"

#define IOAPIC_PINS    24
#define IOAPIC_VERSION 0x11
#define IOAPIC_SIZE    0x100 /* the window KVM's own I/O APIC claims */

struct ioapic_host {
        void *ctx;
        /* one interrupt message: address 0xfee..., data vector | mode << 8 | level << 14 | ... */
        void (*msi)(void *ctx, uint64_t address, uint32_t data);
        /* the level-triggered routes changed (ioapic_route says how); called with no lock held */
        void (*routes_changed)(void *ctx);
};

struct ioapic;

/* Creates the I/O APIC at base on bus; 0 or -1 with err set. */
int ioapic_create(const struct ioapic_host *host, uint64_t base, struct io_bus *bus,
                  struct ioapic **out, struct cvmm_err *err);
void ioapic_destroy(struct ioapic *a);
/* The reset state: every pin masked, edge, vector 0, ID 0. */
void ioapic_reset(struct ioapic *a);

/* One edge on pin (an ISA device's pulse). */
void ioapic_edge(struct ioapic *a, unsigned pin);
/* The line of pin asserted (true) or not. */
void ioapic_set_level(struct ioapic *a, unsigned pin, bool asserted);
/* The guest's local APIC took an EOI for vector: ends Remote IRR of the level pins that sent it. */
void ioapic_eoi(struct ioapic *a, uint8_t vector);

/* The MSI pin sends; false when it is masked or not level-triggered (no EOI to report). */
bool ioapic_route(struct ioapic *a, unsigned pin, uint64_t *address, uint32_t *data);

/* Register access as the guest's MMIO does it (offset within the window; tests use these). */
uint32_t ioapic_mmio_read(struct ioapic *a, uint64_t offset);
void ioapic_mmio_write(struct ioapic *a, uint64_t offset, uint32_t value);
#endif
