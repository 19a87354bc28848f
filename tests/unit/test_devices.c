/* SPDX-License-Identifier: MIT */
/*
 * The devices and the firmware tables together: every device in the registry is created on a
 * bus, the ACPI tables are written from the platform they filled in, and every resource an SSDT
 * describes is read back the way an ACPI interpreter reads it (ACPI 6, 6.4 resource data
 * types; 20.2 AML grammar) and checked against what the devices really claim and raise.
 */
#include <string.h>

#include "boot/boot.h"
#include "dev/dev.h"
#include "hw/layout.h"
#include "testutil.h"

#define MiB (1ull << 20)

/* A host that records the interrupt lines the devices raise. */
struct recorder {
        unsigned edges[16];
        unsigned attached;
};

static void rec_edge(void *ctx, unsigned line)
{
        struct recorder *r = ctx;
        assert_true(line < 16);
        r->edges[line]++;
}

static void rec_level(void *ctx, unsigned line, bool high)
{
        (void)ctx, (void)line, (void)high;
        fail_msg("no device drives a level-triggered line yet");
}

static void rec_request(void *ctx, enum dev_request req, int status)
{
        (void)ctx, (void)req, (void)status;
}

static void rec_console(void *ctx, const uint8_t *data, size_t len)
{
        (void)ctx, (void)data, (void)len;
}

static void rec_attach(void *ctx, void *dev,
                       void (*receive)(void *dev, const uint8_t *data, unsigned len))
{
        (void)dev, (void)receive;
        ((struct recorder *)ctx)->attached++;
}

struct rig {
        struct recorder rec;
        struct dev_host host;
        struct io_bus bus;
        struct hw_platform plat;
        void *state[DEV_MAX];
};

static void rig_up(struct rig *g, const struct dev_config *dc)
{
        memset(g, 0, sizeof(*g));
        g->host = (struct dev_host){.ctx = &g->rec,
                                    .irq_edge = rec_edge,
                                    .irq_level = rec_level,
                                    .request = rec_request,
                                    .console_write = rec_console,
                                    .console_attach = rec_attach};
        struct cvmm_err err;
        for (unsigned i = 0; dev_registry[i]; i++)
                if (dev_registry[i]->create(&g->host, dc, &g->bus, &g->plat, &g->state[i], &err))
                        fail_msg("%s: %s", dev_registry[i]->name, err.msg);
}

static void rig_down(struct rig *g)
{
        for (unsigned i = 0; dev_registry[i]; i++)
                if (g->state[i] && dev_registry[i]->destroy)
                        dev_registry[i]->destroy(g->state[i]);
}

/* AML PkgLength (20.2.4): returns the length and advances *p past the encoding. */
static size_t pkg_length(const uint8_t **p)
{
        const uint8_t *q = *p;
        unsigned extra = q[0] >> 6;
        size_t len = extra ? (q[0] & 0x0f) : (q[0] & 0x3f);
        for (unsigned i = 0; i < extra; i++)
                len |= (size_t)q[1 + i] << (4 + 8 * i);
        *p = q + 1 + extra;
        return len;
}

struct described {
        uint16_t io_base[8], io_len[8];
        unsigned io, irq[8], irqs;
};

/*
 * Reads the resource template of the one Name (_CRS, Buffer (...) {...}) in a definition block:
 * IO port descriptors (small item 0x08) and extended interrupt descriptors (large item 0x09),
 * up to the end tag. Any other descriptor fails the test, so a new kind gets checked here.
 */
static void read_crs(const uint8_t *t, uint32_t len, struct described *d)
{
        const uint8_t *crs = memmem(t, len, "_CRS", 4);
        assert_non_null(crs);
        const uint8_t *p = crs + 4;
        assert_int_equal(*p++, 0x11); /* BufferOp */
        const uint8_t *pkg = p;
        size_t pkglen = pkg_length(&p);
        const uint8_t *end = pkg + pkglen;
        assert_true(end <= t + len);
        assert_int_equal(*p, 0x0a); /* BytePrefix: the buffer's size */
        p += 2;
        memset(d, 0, sizeof(*d));
        while (p < end) {
                uint8_t tag = *p;
                if (tag == 0x79) /* end tag */
                        return;
                if (!(tag & 0x80)) {
                        assert_int_equal((tag >> 3) & 0x0f, 0x08); /* IO port descriptor */
                        assert_int_equal(tag & 7, 7);
                        uint16_t min = (uint16_t)(p[2] | p[3] << 8);
                        uint16_t max = (uint16_t)(p[4] | p[5] << 8);
                        assert_int_equal(min, max); /* fixed, as the devices' ports are */
                        assert_true(d->io < 8);
                        d->io_base[d->io] = min;
                        d->io_len[d->io++] = p[7];
                        p += 8;
                        continue;
                }
                assert_int_equal(tag, 0x89); /* extended interrupt descriptor */
                uint16_t dlen = (uint16_t)(p[1] | p[2] << 8);
                uint8_t flags = p[3], count = p[4];
                assert_int_equal(flags & 0x02, 0x02); /* edge */
                assert_int_equal(flags & 0x04, 0);    /* active high */
                for (unsigned i = 0; i < count; i++) {
                        uint32_t irq;
                        memcpy(&irq, p + 5 + 4 * i, 4);
                        assert_true(d->irqs < 8);
                        d->irq[d->irqs++] = irq;
                }
                p += 3 + dlen;
        }
        fail_msg("resource template without an end tag");
}

/* Writes the ACPI tables for g's platform and returns the XSDT's entries (count in *n). */
static void xsdt_entries(const struct guest_mem *m, uint64_t *at, unsigned *n)
{
        const uint8_t *rsdp = guestmem_ptr(m, LAYOUT_ACPI, 36);
        assert_memory_equal(rsdp, "RSD PTR ", 8);
        uint64_t xsdt_at;
        memcpy(&xsdt_at, rsdp + 24, 8);
        const uint8_t *xsdt = guestmem_ptr(m, xsdt_at, 36);
        assert_memory_equal(xsdt, "XSDT", 4);
        uint32_t len;
        memcpy(&len, xsdt + 4, 4);
        *n = (len - 36) / 8;
        assert_true(*n <= 8);
        memcpy(at, xsdt + 36, *n * 8);
}

/* Every SSDT describes ports some device claims, exactly, and only lines devices raise. */
static void test_ssdts_match_devices(void **state)
{
        (void)state;
        struct rig g;
        rig_up(&g, &(struct dev_config){.debug_exit_port = 0xf4});
        assert_true(g.plat.acpi_count >= 1); /* the console UART describes itself */
        struct guest_mem m;
        struct cvmm_err err;
        assert_int_equal(guestmem_init(&m, 16 * MiB, &err), 0);
        if (boot_write_acpi(&m, &g.plat, 2, &err))
                fail_msg("%s", err.msg);
        uint64_t at[8];
        unsigned n, ssdts = 0, uart_seen = 0;
        xsdt_entries(&m, at, &n);
        assert_int_equal(n, 2 + g.plat.acpi_count);
        for (unsigned i = 0; i < n; i++) {
                const uint8_t *t = guestmem_ptr(&m, at[i], 36);
                uint32_t len;
                memcpy(&len, t + 4, 4);
                assert_int_equal(byte_sum(guestmem_ptr(&m, at[i], len), len), 0);
                if (memcmp(t, "SSDT", 4) != 0)
                        continue;
                ssdts++;
                struct described d;
                read_crs(t, len, &d);
                assert_true(d.io >= 1);
                for (unsigned k = 0; k < d.io; k++) {
                        const struct io_range *r = iobus_find(&g.bus, d.io_base[k]);
                        assert_non_null(r);
                        assert_int_equal(r->base, d.io_base[k]);
                        assert_int_equal(r->len, d.io_len[k]);
                        if (r->base != 0x3f8)
                                continue;
                        /* the UART: enabling its transmit interrupt with THR empty raises
                         * the line its SSDT names, and only that one */
                        uart_seen++;
                        assert_int_equal(d.irqs, 1);
                        assert_int_equal(g.plat.edge_irqs, 1u << d.irq[0]); /* declared */
                        r->out(r->dev, 0x3f9, &(uint8_t){0x02}, 1);
                        for (unsigned line = 0; line < 16; line++)
                                assert_int_equal(g.rec.edges[line], line == d.irq[0] ? 1 : 0);
                }
        }
        assert_int_equal(ssdts, g.plat.acpi_count);
        assert_int_equal(uart_seen, 1);
        assert_int_equal(g.rec.attached, 1);
        guestmem_free(&m);
        rig_down(&g);
}

/* A platform no device describes gets an XSDT of the FADT and the MADT only. */
static void test_no_device_tables(void **state)
{
        (void)state;
        struct guest_mem m;
        struct cvmm_err err;
        assert_int_equal(guestmem_init(&m, 16 * MiB, &err), 0);
        struct hw_platform plat = {0};
        assert_int_equal(boot_write_acpi(&m, &plat, 1, &err), 0);
        uint64_t at[8];
        unsigned n;
        xsdt_entries(&m, at, &n);
        assert_int_equal(n, 2);
        assert_memory_equal(guestmem_ptr(&m, at[0], 4), "FACP", 4);
        assert_memory_equal(guestmem_ptr(&m, at[1], 4), "APIC", 4);
        guestmem_free(&m);
}

/* A platform holds HW_ACPI_TABLES device tables; a table whose header lies is refused. */
static void test_device_table_limits(void **state)
{
        (void)state;
        struct hw_platform plat = {0};
        struct cvmm_err err;
        static const unsigned char bogus[36] = {'S', 'S', 'D', 'T', 200}; /* says 200 bytes */
        for (unsigned i = 0; i < HW_ACPI_TABLES; i++)
                assert_int_equal(hw_platform_add_acpi(&plat, bogus, sizeof(bogus), &err), 0);
        assert_int_equal(hw_platform_add_acpi(&plat, bogus, sizeof(bogus), &err), -1);
        assert_non_null(strstr(err.msg, "at most 4"));
        struct guest_mem m;
        assert_int_equal(guestmem_init(&m, 16 * MiB, &err), 0);
        assert_int_equal(boot_write_acpi(&m, &plat, 1, &err), -1);
        assert_non_null(strstr(err.msg, "SSDT says 200 bytes but has 36"));
        guestmem_free(&m);
}

/* Reads n bytes of fw_cfg entry sel, one 8-bit read of the data port each. */
static void fw_cfg_read(const struct io_range *sel, const struct io_range *dat, uint16_t key,
                        uint8_t *out, unsigned n)
{
        uint8_t k[2] = {(uint8_t)key, (uint8_t)(key >> 8)};
        sel->out(sel->dev, 0x510, k, 2);
        for (unsigned i = 0; i < n; i++)
                dat->in(dat->dev, 0x511, &out[i], 1);
}

/*
 * fw_cfg as QEMU's docs/specs/fw_cfg.rst has it for the I/O port interface: a 16-bit selector
 * at 0x510, 8-bit data at 0x511, little-endian integers, reads past an entry's end and of an
 * absent entry give 0. The values are the configuration's, not the device's own.
 */
static void test_fw_cfg(void **state)
{
        (void)state;
        struct rig g;
        rig_up(&g, &(struct dev_config){.ram_size = 3 * 1024 * MiB + 5, .cpus = 7});
        const struct io_range *sel = iobus_find(&g.bus, 0x510);
        const struct io_range *dat = iobus_find(&g.bus, 0x511);
        assert_non_null(sel);
        assert_non_null(dat);
        assert_null(iobus_find(&g.bus, 0x512)); /* no DMA interface */
        uint8_t b[10];
        fw_cfg_read(sel, dat, 0x00, b, 5);
        assert_memory_equal(b, "QEMU\0", 5); /* signature, then 0 past its end */
        fw_cfg_read(sel, dat, 0x01, b, 4);
        assert_memory_equal(b, "\x01\0\0\0", 4); /* ID: traditional interface only */
        fw_cfg_read(sel, dat, 0x03, b, 9);
        uint64_t ram;
        memcpy(&ram, b, 8);
        assert_int_equal(ram, 3 * 1024 * MiB + 5);
        assert_int_equal(b[8], 0);
        fw_cfg_read(sel, dat, 0x05, b, 3);
        assert_memory_equal(b, "\x07\0\0", 3); /* CPU count, 16-bit */
        fw_cfg_read(sel, dat, 0x0f, b, 2);
        assert_memory_equal(b, "\x07\0", 2); /* maximum CPUs: no hot-plug */
        fw_cfg_read(sel, dat, 0x19, b, 4);
        assert_memory_equal(b, "\0\0\0\0", 4); /* file directory: no files */
        fw_cfg_read(sel, dat, 0x42, b, 4);
        assert_memory_equal(b, "\0\0\0\0", 4); /* an entry cvmm lacks */
        fw_cfg_read(sel, dat, 0x8000, b, 4);
        assert_memory_equal(b, "\0\0\0\0", 4); /* architecture-local: none */
        /* Selecting rewinds; an 8-bit selector write and a 16-bit data read are not accepted. */
        fw_cfg_read(sel, dat, 0x00, b, 2);
        sel->out(sel->dev, 0x510, &(uint8_t){0x03}, 1);
        dat->in(dat->dev, 0x511, b, 1);
        assert_int_equal(b[0], 'M'); /* still the signature, at its third byte */
        uint8_t w[2];
        dat->in(dat->dev, 0x511, w, 2);
        assert_int_equal(w[0] & w[1], 0xff);
        dat->in(dat->dev, 0x511, b, 1);
        assert_int_equal(b[0], 'U'); /* the refused read did not advance */
        /* A platform reset selects the signature from its start. */
        for (unsigned i = 0; dev_registry[i]; i++)
                if (g.state[i] == sel->dev && dev_registry[i]->reset)
                        dev_registry[i]->reset(g.state[i]);
        dat->in(dat->dev, 0x511, b, 1);
        assert_int_equal(b[0], 'Q');
        rig_down(&g);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ssdts_match_devices),
            cmocka_unit_test(test_no_device_tables),
            cmocka_unit_test(test_device_table_limits),
            cmocka_unit_test(test_fw_cfg),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
