/* SPDX-License-Identifier: MIT */
/* The platform bus: port and MMIO ranges, overlaps refused, every address found once. */
#include <string.h>

#include "testutil.h"
#include "hw/bus.h"

static void port_in(void *dev, uint16_t port, uint8_t *data, unsigned size)
{
        (void)dev, (void)port;
        memset(data, 0, size);
}

static void port_out(void *dev, uint16_t port, const uint8_t *data, unsigned size)
{
        (void)dev, (void)port, (void)data, (void)size;
}

static void mmio_read(void *dev, uint64_t addr, uint8_t *data, unsigned size)
{
        (void)dev, (void)addr;
        memset(data, 0, size);
}

static void mmio_write(void *dev, uint64_t addr, const uint8_t *data, unsigned size)
{
        (void)dev, (void)addr, (void)data, (void)size;
}

static void ports(void **state)
{
        (void)state;
        struct io_bus b = {0};
        struct cvmm_err err;
        struct io_range uart = {0x3f8, 8, "uart", NULL, port_in, port_out};
        struct io_range exitp = {0xf4, 4, "debug-exit", NULL, port_in, port_out};
        assert_int_equal(iobus_register(&b, &uart, &err), 0);
        assert_int_equal(iobus_register(&b, &exitp, &err), 0);
        struct io_range clash = {0x3fc, 8, "clash", NULL, port_in, port_out};
        assert_int_equal(iobus_register(&b, &clash, &err), -1);
        assert_string_equal(err.msg, "I/O ports of clash overlap uart");
        assert_ptr_equal(iobus_find(&b, 0x3f8)->name, uart.name);
        assert_ptr_equal(iobus_find(&b, 0x3ff)->name, uart.name);
        assert_ptr_equal(iobus_find(&b, 0xf7)->name, exitp.name);
        assert_null(iobus_find(&b, 0x400));
        assert_null(iobus_find(&b, 0xf8));
        assert_null(iobus_find(&b, 0xf3));
}

static void mmio(void **state)
{
        (void)state;
        struct io_bus b = {0};
        struct cvmm_err err;
        struct mmio_range dev = {0xd0000000u, 0x1000, "dev", NULL, mmio_read, mmio_write};
        assert_int_equal(iobus_register_mmio(&b, &dev, &err), 0);
        struct mmio_range next = {0xd0001000u, 0x1000, "next", NULL, mmio_read, mmio_write};
        assert_int_equal(iobus_register_mmio(&b, &next, &err), 0); /* adjacent: fine */
        struct mmio_range clash = {0xd0000ff8u, 16, "clash", NULL, mmio_read, mmio_write};
        assert_int_equal(iobus_register_mmio(&b, &clash, &err), -1);
        assert_string_equal(err.msg, "MMIO range of clash overlaps dev");
        struct mmio_range empty = {0xe0000000u, 0, "empty", NULL, mmio_read, mmio_write};
        assert_int_equal(iobus_register_mmio(&b, &empty, &err), -1);
        struct mmio_range wrap = {UINT64_MAX - 0xfff, 0x2000, "wrap", NULL, mmio_read, mmio_write};
        assert_int_equal(iobus_register_mmio(&b, &wrap, &err), -1);
        assert_string_equal(err.msg, "MMIO range of wrap is empty or wraps");
        assert_ptr_equal(iobus_find_mmio(&b, 0xd0000000u)->name, dev.name);
        assert_ptr_equal(iobus_find_mmio(&b, 0xd0000fffu)->name, dev.name);
        assert_ptr_equal(iobus_find_mmio(&b, 0xd0001000u)->name, next.name);
        assert_null(iobus_find_mmio(&b, 0xcfffffffu));
        assert_null(iobus_find_mmio(&b, 0xd0002000u));
}

static void full(void **state)
{
        (void)state;
        struct io_bus b = {0};
        struct cvmm_err err;
        for (unsigned i = 0; i < MMIOBUS_MAX; i++) {
                struct mmio_range r = {
                    0x100000000ull + i * 0x1000ull, 0x1000, "r", NULL, mmio_read, mmio_write};
                assert_int_equal(iobus_register_mmio(&b, &r, &err), 0);
        }
        struct mmio_range one = {0x200000000ull, 0x1000, "one more", NULL, mmio_read, mmio_write};
        assert_int_equal(iobus_register_mmio(&b, &one, &err), -1);
        assert_string_equal(err.msg, "MMIO bus full registering one more");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(ports),
            cmocka_unit_test(mmio),
            cmocka_unit_test(full),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
