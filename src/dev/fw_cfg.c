/* SPDX-License-Identifier: MIT */
/*
 * fw_cfg, QEMU's firmware configuration interface, in its traditional I/O port form: a 16-bit
 * write to 0x510 selects an entry and rewinds it, and each 8-bit read from 0x511 returns the
 * entry's next byte; past an entry's end, and for an entry cvmm does not have, reads return 0
 * (as QEMU's do). Writes to the data port are ignored (QEMU has ignored them since 2.4).
 *
 * The entries are those that firmware and kvm-unit-tests read first: the signature "QEMU"
 * (guests check for it before trusting the rest), the interface ID (1: I/O ports, no DMA),
 * the RAM size in bytes, the CPU count and the maximum CPU count (both the --cpus count: cvmm
 * has no CPU hot-plug) and an empty file directory. Every other selector reads as 0.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev.h"

#define FW_CFG_PORT_SEL  0x510
#define FW_CFG_PORT_DATA 0x511

#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID        0x01
#define FW_CFG_RAM_SIZE  0x03
#define FW_CFG_NB_CPUS   0x05
#define FW_CFG_MAX_CPUS  0x0f
#define FW_CFG_FILE_DIR  0x19
#define FW_CFG_ENTRIES   0x1a

struct fw_cfg_entry {
        uint8_t len;
        uint8_t data[8];
};

struct fw_cfg {
        pthread_mutex_t lock;
        struct fw_cfg_entry e[FW_CFG_ENTRIES];
        uint16_t selector;
        uint32_t offset;
};

static void put_le(struct fw_cfg_entry *e, uint64_t v, uint8_t len)
{
        e->len = len;
        for (unsigned i = 0; i < len; i++)
                e->data[i] = (uint8_t)(v >> (8 * i));
}

static void fw_cfg_sel_in(void *dev, uint16_t port, uint8_t *data, unsigned size)
{
        (void)dev;
        (void)port;
        memset(data, 0xff, size); /* the selector is write-only */
}

static void fw_cfg_sel_out(void *dev, uint16_t port, const uint8_t *data, unsigned size)
{
        struct fw_cfg *f = dev;
        (void)port;
        if (size != 2)
                return; /* QEMU accepts only 16-bit selector writes */
        pthread_mutex_lock(&f->lock);
        f->selector = (uint16_t)(data[0] | data[1] << 8);
        f->offset = 0;
        pthread_mutex_unlock(&f->lock);
}

static void fw_cfg_data_in(void *dev, uint16_t port, uint8_t *data, unsigned size)
{
        struct fw_cfg *f = dev;
        (void)port;
        if (size != 1) {
                memset(data, 0xff, size); /* QEMU accepts only 8-bit data reads */
                return;
        }
        pthread_mutex_lock(&f->lock);
        const struct fw_cfg_entry *e = f->selector < FW_CFG_ENTRIES ? &f->e[f->selector] : NULL;
        if (e && f->offset < e->len)
                data[0] = e->data[f->offset++];
        else
                data[0] = 0;
        pthread_mutex_unlock(&f->lock);
}

static void fw_cfg_data_out(void *dev, uint16_t port, const uint8_t *data, unsigned size)
{
        (void)dev, (void)port, (void)data, (void)size;
}

static void fw_cfg_destroy(void *state)
{
        struct fw_cfg *f = state;
        pthread_mutex_destroy(&f->lock);
        free(f);
}

static int fw_cfg_create(const struct dev_host *host, const struct dev_config *cfg,
                         struct io_bus *bus, struct hw_platform *plat, void **state,
                         struct cvmm_err *err)
{
        (void)host;
        (void)plat;
        *state = NULL;
        struct fw_cfg *f = calloc(1, sizeof(*f));
        if (!f)
                return cvmm_errf(err, "fw_cfg: out of memory");
        pthread_mutex_init(&f->lock, NULL);
        memcpy(f->e[FW_CFG_SIGNATURE].data, "QEMU", 4);
        f->e[FW_CFG_SIGNATURE].len = 4;
        put_le(&f->e[FW_CFG_ID], 1, 4);
        put_le(&f->e[FW_CFG_RAM_SIZE], cfg->ram_size, 8);
        put_le(&f->e[FW_CFG_NB_CPUS], cfg->cpus, 2);
        put_le(&f->e[FW_CFG_MAX_CPUS], cfg->cpus, 2);
        f->e[FW_CFG_FILE_DIR].len = 4; /* a big-endian count of 0 files */
        struct io_range sel = {FW_CFG_PORT_SEL, 1, "fw_cfg", f, fw_cfg_sel_in, fw_cfg_sel_out};
        struct io_range dat = {FW_CFG_PORT_DATA, 1, "fw_cfg", f, fw_cfg_data_in, fw_cfg_data_out};
        if (iobus_register(bus, &sel, err) || iobus_register(bus, &dat, err)) {
                fw_cfg_destroy(f);
                return -1;
        }
        *state = f;
        return 0;
}

static void fw_cfg_reset(void *state)
{
        struct fw_cfg *f = state;
        pthread_mutex_lock(&f->lock);
        f->selector = 0;
        f->offset = 0;
        pthread_mutex_unlock(&f->lock);
}

/* fw_cfg at ports 0x510-0x511 (what it holds: above). */
const struct dev_ops dev_fw_cfg = {
    .name = "fw_cfg", .create = fw_cfg_create, .reset = fw_cfg_reset, .destroy = fw_cfg_destroy};
