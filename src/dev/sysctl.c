/* SPDX-License-Identifier: MIT */
/* Reset and power-off registers. Stateless: every write is decided on its own. */
#include <string.h>

#include "dev/dev.h"

#define I8042_DATA      0x60
#define I8042_CMD       0x64
#define I8042_CMD_RESET 0xfe
#define RST_CNT         0xcf9
#define RST_CNT_RST_CPU 0x04
#define RST_CNT_SYS_RST 0x02
/* The power register at 0x600 has the layout of the ACPI sleep control register. */
#define POWER_PORT 0x600
#define SLP_EN     0x20

static void i8042_in(void *dev, uint16_t port, uint8_t *data, unsigned size)
{
        (void)dev;
        (void)port;
        memset(data, 0, size); /* no keyboard: status and data read as empty */
}

static void i8042_out(void *dev, uint16_t port, const uint8_t *data, unsigned size)
{
        (void)size;
        const struct dev_host *h = dev;
        if (port == I8042_CMD && data[0] == I8042_CMD_RESET)
                h->request(h->ctx, DEV_RESET, 0);
}

static void rst_in(void *dev, uint16_t port, uint8_t *data, unsigned size)
{
        (void)dev;
        (void)port;
        memset(data, 0, size);
}

static void rst_out(void *dev, uint16_t port, const uint8_t *data, unsigned size)
{
        (void)port;
        (void)size;
        const struct dev_host *h = dev;
        if (data[0] & RST_CNT_RST_CPU)
                h->request(h->ctx, DEV_RESET, 0);
}

static void power_in(void *dev, uint16_t port, uint8_t *data, unsigned size)
{
        (void)dev;
        (void)port;
        memset(data, 0, size);
}

static void power_out(void *dev, uint16_t port, const uint8_t *data, unsigned size)
{
        (void)size;
        const struct dev_host *h = dev;
        if (port == POWER_PORT && (data[0] & SLP_EN))
                h->request(h->ctx, DEV_POWEROFF, 0);
}

static int sysctl_create(const struct dev_host *host, const struct dev_config *cfg,
                         struct io_bus *bus, struct hw_platform *plat, void **state,
                         struct cvmm_err *err)
{
        (void)cfg;
        *state = NULL;
        /* The registers are stateless, so the VM's dev_host is their only context. */
        void *ctx = (void *)host;
        struct io_range kbd_data = {I8042_DATA, 1, "i8042", ctx, i8042_in, i8042_out};
        struct io_range kbd_cmd = {I8042_CMD, 1, "i8042", ctx, i8042_in, i8042_out};
        struct io_range rst = {RST_CNT, 1, "reset control", ctx, rst_in, rst_out};
        struct io_range pwr = {POWER_PORT, 4, "power", ctx, power_in, power_out};
        if (iobus_register(bus, &kbd_data, err) || iobus_register(bus, &kbd_cmd, err) ||
            iobus_register(bus, &rst, err) || iobus_register(bus, &pwr, err))
                return -1;
        plat->reset_port = RST_CNT;
        plat->reset_value = RST_CNT_RST_CPU | RST_CNT_SYS_RST;
        plat->sleep_port = POWER_PORT;
        return 0;
}

/*
 * System control: the i8042 reset line (command 0xfe to port 0x64), the reset control register
 * at 0xcf9, and a power register at 0x600 whose write of SLP_EN (bit 5) powers the VM off.
 */
const struct dev_ops dev_sysctl = {.name = "system control", .create = sysctl_create};
