/* SPDX-License-Identifier: MIT */
/*
 * The user-space I/O APIC against the 82093AA datasheet (register layout, read-only bits,
 * masking, Remote IRR and EOI) and the MSI format of the Intel SDM (vol. 3, 11.11: address
 * 0xFEE with the destination in bits 19:12 and the destination mode in bit 2; data with the
 * vector in bits 7:0, the delivery mode in 10:8 and the trigger mode in bit 15).
 */
#include <string.h>

#include "dev/ioapic.h"
#include "hw/layout.h"
#include "testutil.h"

struct sink {
        unsigned n, routes;
        unsigned n_at_route; /* messages sent when the routes last changed */
        uint64_t address[16];
        uint32_t data[16];
};

static void on_msi(void *ctx, uint64_t address, uint32_t data)
{
        struct sink *s = ctx;
        assert_true(s->n < 16);
        s->address[s->n] = address;
        s->data[s->n++] = data;
}

static void on_routes(void *ctx)
{
        struct sink *s = ctx;
        s->routes++;
        s->n_at_route = s->n;
}

static struct ioapic *make(struct sink *s, struct io_bus *bus)
{
        memset(s, 0, sizeof(*s));
        memset(bus, 0, sizeof(*bus));
        struct ioapic_host h = {.ctx = s, .msi = on_msi, .routes_changed = on_routes};
        struct ioapic *a;
        struct cvmm_err err;
        assert_int_equal(ioapic_create(&h, LAYOUT_IOAPIC, bus, &a, &err), 0);
        return a;
}

static uint32_t rd(struct ioapic *a, uint32_t idx)
{
        ioapic_mmio_write(a, 0x00, idx);
        return ioapic_mmio_read(a, 0x10);
}

static void wr(struct ioapic *a, uint32_t idx, uint32_t v)
{
        ioapic_mmio_write(a, 0x00, idx);
        ioapic_mmio_write(a, 0x10, v);
}

static void registers(void **state)
{
        (void)state;
        struct sink s;
        struct io_bus bus;
        struct ioapic *a = make(&s, &bus);
        /* version 0x11, maximum redirection entry 23 */
        assert_int_equal(rd(a, 1), 0x00170011);
        wr(a, 0, 0x0f000000u | 0x00ffffffu);
        assert_int_equal(rd(a, 0), 0x0f000000); /* only the 4 ID bits are kept */
        assert_int_equal(rd(a, 2), 0x0f000000);
        /* every pin comes out of reset masked */
        for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
                assert_int_equal(rd(a, 0x10 + 2 * pin), 1u << 16);
        /* delivery status (12) and Remote IRR (14) are read-only; reserved high bits read 0 */
        wr(a, 0x10 + 2 * 3, 0xffffffffu);
        assert_int_equal(rd(a, 0x10 + 2 * 3), 0x0001afffu);
        wr(a, 0x11 + 2 * 3, 0xffffffffu);
        assert_int_equal(rd(a, 0x11 + 2 * 3), 0xff000000u);
        /* past the last entry: reads 0 */
        assert_int_equal(rd(a, 0x10 + 2 * IOAPIC_PINS), 0);
        /* the bus window: IOREGSEL and IOWIN through the MMIO range it claimed */
        const struct mmio_range *r = iobus_find_mmio(&bus, LAYOUT_IOAPIC + 0x10);
        assert_non_null(r);
        uint8_t sel[4] = {1, 0, 0, 0}, val[4];
        r->write(r->dev, LAYOUT_IOAPIC, sel, 4);
        r->read(r->dev, LAYOUT_IOAPIC + 0x10, val, 4);
        assert_int_equal(val[0] | val[1] << 8 | val[2] << 16, 0x170011);
        r->read(r->dev, LAYOUT_IOAPIC + 0x12, val, 1); /* one byte: bits 23:16 */
        assert_int_equal(val[0], 0x17);
        r->read(r->dev, LAYOUT_IOAPIC + 0x20, val, 4);
        assert_int_equal(val[0] | val[1] | val[2] | val[3], 0);
        assert_null(iobus_find_mmio(&bus, LAYOUT_IOAPIC + IOAPIC_SIZE));
        ioapic_destroy(a);
}

static void edges(void **state)
{
        (void)state;
        struct sink s;
        struct io_bus bus;
        struct ioapic *a = make(&s, &bus);
        ioapic_edge(a, 4);
        assert_int_equal(s.n, 0);     /* masked: the edge is ignored, not held */
        wr(a, 0x11 + 8, 0x03000000u); /* destination APIC 3 */
        wr(a, 0x10 + 8, 0x34);        /* vector 0x34, fixed, physical, edge, unmasked */
        assert_int_equal(s.n, 0);     /* unmasking sends nothing that was not held */
        ioapic_edge(a, 4);
        ioapic_edge(a, 4);
        assert_int_equal(s.n, 2); /* edges need no EOI */
        assert_int_equal(s.address[0], 0xfee03000u);
        assert_int_equal(s.data[0], 0x34);
        /* logical destination mode, lowest priority */
        wr(a, 0x10 + 8, 0x934);
        ioapic_edge(a, 4);
        assert_int_equal(s.address[2], 0xfee03004u);
        assert_int_equal(s.data[2], 0x134);
        /* ExtINT: there is no 8259A to supply a vector, nothing is sent */
        wr(a, 0x10 + 8, 0x734);
        ioapic_edge(a, 4);
        assert_int_equal(s.n, 3);
        /* an edge pin reports no route: KVM need not tell its EOIs */
        uint64_t ad;
        uint32_t d;
        wr(a, 0x10 + 8, 0x34);
        assert_false(ioapic_route(a, 4, &ad, &d));
        assert_int_equal(s.routes, 0);
        /* a rising line on an edge pin sends once; staying up sends nothing more */
        ioapic_set_level(a, 4, true);
        ioapic_set_level(a, 4, true);
        ioapic_set_level(a, 4, false);
        assert_int_equal(s.n, 4);
        ioapic_edge(a, IOAPIC_PINS); /* out of range: ignored */
        ioapic_destroy(a);
}

static void levels(void **state)
{
        (void)state;
        struct sink s;
        struct io_bus bus;
        struct ioapic *a = make(&s, &bus);
        ioapic_set_level(a, 9, true); /* asserted while masked: no side effect */
        assert_int_equal(s.n, 0);
        wr(a, 0x10 + 18, 0x18041); /* vector 0x41, level, still masked */
        assert_int_equal(s.routes, 1);
        uint64_t ad;
        uint32_t d;
        assert_false(ioapic_route(a, 9, &ad, &d)); /* masked: no route */
        wr(a, 0x10 + 18, 0x8041);                  /* unmasked with the line up: sends now */
        assert_int_equal(s.routes, 2);
        assert_int_equal(s.n, 1);
        assert_int_equal(s.n_at_route, 0); /* KVM had the route before the message went out */
        assert_int_equal(s.data[0], 0x8041);
        assert_true(ioapic_route(a, 9, &ad, &d));
        assert_int_equal(ad, 0xfee00000u);
        assert_int_equal(d, 0x8041);
        assert_int_equal(rd(a, 0x10 + 18), 0xc041); /* Remote IRR set */
        ioapic_set_level(a, 9, true);
        assert_int_equal(s.n, 1); /* Remote IRR: nothing until the EOI */
        ioapic_eoi(a, 0x42);      /* another vector's EOI */
        assert_int_equal(s.n, 1);
        ioapic_eoi(a, 0x41); /* the line is still up: sent again */
        assert_int_equal(s.n, 2);
        ioapic_set_level(a, 9, false);
        ioapic_eoi(a, 0x41); /* the line is down: Remote IRR clears, nothing is sent */
        assert_int_equal(s.n, 2);
        assert_int_equal(rd(a, 0x10 + 18), 0x8041);
        /* a pulse on a level pin sends once and waits for its EOI */
        ioapic_edge(a, 9);
        ioapic_edge(a, 9);
        assert_int_equal(s.n, 3);
        /* switching to edge drops Remote IRR, which only a level pin has */
        wr(a, 0x10 + 18, 0x0041);
        assert_int_equal(rd(a, 0x10 + 18), 0x0041);
        assert_int_equal(s.routes, 3);
        /* a write that changes nothing a route holds reports no change */
        wr(a, 0x10 + 18, 0x0041);
        assert_int_equal(s.routes, 3);
        /* reset: masked again, and the routes are gone */
        ioapic_reset(a);
        assert_int_equal(rd(a, 0x10 + 18), 1u << 16);
        assert_int_equal(s.routes, 4);
        ioapic_destroy(a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(registers),
            cmocka_unit_test(edges),
            cmocka_unit_test(levels),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
