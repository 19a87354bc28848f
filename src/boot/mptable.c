/* SPDX-License-Identifier: MIT */
/*
 * Intel MultiProcessor Specification 1.4 tables: how a guest without ACPI learns its
 * processors (one local APIC per vCPU, APIC ID = vCPU index), the I/O APIC and ISA IRQ routing.
 */
#include <string.h>

#include "boot/boot.h"
#include "hw/layout.h"

#define MPC_APIC_VERSION 0x14 /* integrated local APIC */
#define IOAPIC_VERSION   0x11
#define ISA_IRQS         16

struct mpf_intel { /* floating pointer structure */
        char signature[4];
        uint32_t physptr;
        uint8_t length, specification, checksum, feature1, feature2, feature3, feature4, feature5;
} __attribute__((packed));

struct mpc_table { /* configuration table header */
        char signature[4];
        uint16_t length;
        uint8_t spec, checksum;
        char oem[8], productid[12];
        uint32_t oemptr;
        uint16_t oemsize, oemcount;
        uint32_t lapic;
        uint32_t reserved;
} __attribute__((packed));

struct mpc_cpu {
        uint8_t type, apicid, apicver, cpuflag;
        uint32_t cpufeature, featureflag, reserved[2];
} __attribute__((packed));

struct mpc_bus {
        uint8_t type, busid;
        char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
        uint8_t type, apicid, apicver, flags;
        uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc { /* I/O (type 3) and local (type 4) interrupt assignment */
        uint8_t type, irqtype;
        uint16_t irqflag;
        uint8_t srcbus, srcbusirq, dstapic, dstirq;
} __attribute__((packed));

static uint8_t checksum(const uint8_t *p, size_t n)
{
        uint8_t s = 0;
        for (size_t i = 0; i < n; i++)
                s = (uint8_t)(s + p[i]);
        return (uint8_t)-s;
}

/* The floating pointer structure at base, pointing at the configuration table at LAYOUT_EBDA. */
static void write_mpf(uint8_t *base)
{
        struct mpf_intel *mpf = (void *)base;
        memcpy(mpf->signature, "_MP_", 4);
        mpf->physptr = (uint32_t)LAYOUT_EBDA;
        mpf->length = 1; /* in 16-byte units */
        mpf->specification = 4;
        mpf->checksum = checksum(base, sizeof(*mpf));
}

/* Appends entry e of len bytes at *q and counts it. */
static void append(uint8_t **q, uint16_t *entries, const void *e, size_t len)
{
        memcpy(*q, e, len);
        *q += len;
        (*entries)++;
}

/* One processor entry per vCPU: APIC ID = index, vCPU 0 the BSP. */
static void append_cpus(uint8_t **q, uint16_t *entries, unsigned cpus)
{
        for (unsigned i = 0; i < cpus; i++) {
                struct mpc_cpu c = {
                    .type = 0,
                    .apicid = (uint8_t)i,
                    .apicver = MPC_APIC_VERSION,
                    .cpuflag = (uint8_t)(1 | (i == 0 ? 2 : 0)), /* enabled, BSP */
                    .cpufeature = 0x600,                        /* family 6 */
                    .featureflag = 0x201 | (1u << 9),           /* FPU, APIC */
                };
                append(q, entries, &c, sizeof(c));
        }
}

/* The ISA bus, the I/O APIC (ID ioapic_id), its 16 ISA IRQs, and ExtINT and NMI on LINT0/1. */
static void append_irq_routing(uint8_t **q, uint16_t *entries, uint8_t ioapic_id)
{
        struct mpc_bus bus = {.type = 1, .busid = 0};
        memcpy(bus.bustype, "ISA   ", 6);
        append(q, entries, &bus, sizeof(bus));
        struct mpc_ioapic io = {.type = 2,
                                .apicid = ioapic_id,
                                .apicver = IOAPIC_VERSION,
                                .flags = 1,
                                .apicaddr = (uint32_t)LAYOUT_IOAPIC};
        append(q, entries, &io, sizeof(io));
        for (uint8_t irq = 0; irq < ISA_IRQS; irq++) {
                struct mpc_intsrc s = {.type = 3,
                                       .irqtype = 0, /* INT */
                                       .irqflag = 0, /* conforms to the bus */
                                       .srcbus = 0,
                                       .srcbusirq = irq,
                                       .dstapic = ioapic_id,
                                       .dstirq = irq};
                append(q, entries, &s, sizeof(s));
        }
        struct mpc_intsrc extint = {.type = 4, .irqtype = 3, .dstapic = 0xff, .dstirq = 0};
        struct mpc_intsrc nmi = {.type = 4, .irqtype = 1, .dstapic = 0xff, .dstirq = 1};
        append(q, entries, &extint, sizeof(extint));
        append(q, entries, &nmi, sizeof(nmi));
}

int boot_write_mptable(const struct guest_mem *m, unsigned cpus, struct cvmm_err *err)
{
        if (cpus > 254)
                return cvmm_errf(err, "--cpus %u: the MP table describes at most 254 vCPUs", cpus);
        /* 254 vCPUs: 44 + 254 * 20 + 8 + 8 + 18 * 8 = 5284 bytes, in the 7 KiB below the MPF */
        size_t size = sizeof(struct mpc_table) + cpus * sizeof(struct mpc_cpu) +
                      sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
                      (ISA_IRQS + 2) * sizeof(struct mpc_intsrc);
        _Static_assert(LAYOUT_MPF - LAYOUT_EBDA >= 5284, "the MP table for 254 vCPUs fits");
        if (size > LAYOUT_MPF - LAYOUT_EBDA)
                return cvmm_errf(err, "--cpus %u: the MP table does not fit in the EBDA", cpus);
        uint8_t *mpfp = guestmem_ptr(m, LAYOUT_MPF, sizeof(struct mpf_intel));
        uint8_t *p = guestmem_ptr(m, LAYOUT_EBDA, size);
        if (!mpfp || !p)
                return cvmm_errf(err, "guest RAM too small for the MP table");
        memset(mpfp, 0, sizeof(struct mpf_intel));
        write_mpf(mpfp);
        memset(p, 0, size);

        struct mpc_table *mpc = (void *)p;
        uint8_t *q = p + sizeof(*mpc);
        uint16_t entries = 0;
        append_cpus(&q, &entries, cpus);
        append_irq_routing(&q, &entries, (uint8_t)cpus); /* the I/O APIC's ID follows the CPUs' */

        memcpy(mpc->signature, "PCMP", 4);
        mpc->length = (uint16_t)(q - p);
        mpc->spec = 4;
        memcpy(mpc->oem, "CVMM    ", 8);
        memcpy(mpc->productid, "CVMM VM     ", 12);
        mpc->oemcount = entries;
        mpc->lapic = (uint32_t)LAYOUT_LAPIC;
        mpc->checksum = checksum(p, mpc->length);
        return 0;
}
