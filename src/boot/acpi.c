/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables for a hardware-reduced platform: RSDP, XSDT, FADT, DSDT (compiled by iasl from
 * acpi/dsdt.asl), MADT, and the SSDTs the devices add to struct hw_platform (each compiled
 * from the device's own ASL, for example the console UART's). They give the guest its processors
 * (Linux kernels built without MP-table support, Debian's among them, need the MADT for SMP), the
 * I/O APIC, the reset register (0xcf9) and the sleep control register (0x600) that powers the VM
 * off.
 */
#include <string.h>

#include "boot/boot.h"
#include "hw/layout.h"

extern const unsigned char cvmm_dsdt_aml[];
extern const size_t cvmm_dsdt_aml_len;

struct acpi_header {
        char signature[4];
        uint32_t length;
        uint8_t revision, checksum;
        char oem_id[6], oem_table_id[8];
        uint32_t oem_revision;
        char creator_id[4];
        uint32_t creator_revision;
} __attribute__((packed));

struct acpi_gas { /* generic address structure */
        uint8_t space, bit_width, bit_offset, access_size;
        uint64_t address;
} __attribute__((packed));

struct acpi_rsdp {
        char signature[8];
        uint8_t checksum;
        char oem_id[6];
        uint8_t revision;
        uint32_t rsdt;
        uint32_t length;
        uint64_t xsdt;
        uint8_t ext_checksum, reserved[3];
} __attribute__((packed));

struct acpi_fadt { /* ACPI 6.x, 276 bytes */
        struct acpi_header h;
        uint32_t firmware_ctrl, dsdt;
        uint8_t reserved0, preferred_pm_profile;
        uint16_t sci_int;
        uint32_t smi_cmd;
        uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
        uint32_t pm1a_evt, pm1b_evt, pm1a_cnt, pm1b_cnt, pm2_cnt, pm_tmr, gpe0, gpe1;
        uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_len, gpe1_len, gpe1_base,
            cst_cnt;
        uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
        uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
        uint16_t iapc_boot_arch;
        uint8_t reserved1;
        uint32_t flags;
        struct acpi_gas reset_reg;
        uint8_t reset_value;
        uint16_t arm_boot_arch;
        uint8_t minor_version;
        uint64_t x_firmware_ctrl, x_dsdt;
        struct acpi_gas x_pm1a_evt, x_pm1b_evt, x_pm1a_cnt, x_pm1b_cnt, x_pm2_cnt, x_pm_tmr, x_gpe0,
            x_gpe1, sleep_control, sleep_status;
        uint64_t hypervisor_vendor;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT is 276 bytes in ACPI 6");

#define FADT_RESET_REG_SUP    (1u << 10)
#define FADT_HW_REDUCED_ACPI  (1u << 20)
#define BOOT_ARCH_NO_VGA      (1u << 2)
#define BOOT_ARCH_NO_CMOS_RTC (1u << 5)
#define GAS_SYSTEM_IO         1
#define GAS_ACCESS_BYTE       1

static uint8_t checksum(const void *p, size_t n)
{
        const uint8_t *b = p;
        uint8_t s = 0;
        for (size_t i = 0; i < n; i++)
                s = (uint8_t)(s + b[i]);
        return (uint8_t)-s;
}

static void header(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
        memcpy(h->signature, sig, 4);
        h->length = len;
        h->revision = rev;
        memcpy(h->oem_id, "CVMM  ", 6);
        memcpy(h->oem_table_id, "CVMMVM  ", 8);
        h->oem_revision = 1;
        memcpy(h->creator_id, "CVMM", 4);
        h->creator_revision = 1;
}

/*
 * Copies a finished table (header first) to gpa; *next is the 64-byte aligned address after
 * it. Refuses a table that does not fit the area.
 */
static int put(uint8_t *base, uint64_t gpa, const void *table, size_t len, uint64_t *next,
               struct cvmm_err *err)
{
        if (len > LAYOUT_ACPI + LAYOUT_ACPI_SIZE - gpa)
                return cvmm_errf(err, "ACPI table %.4s does not fit the ACPI area",
                                 (const char *)table);
        memcpy(base + (gpa - LAYOUT_ACPI), table, len);
        *next = (gpa + len + 63) & ~63ull;
        return 0;
}

/* Checksums a table cvmm built and puts it at gpa. */
static int place(uint8_t *base, uint64_t gpa, void *table, uint32_t len, uint64_t *next,
                 struct cvmm_err *err)
{
        struct acpi_header *h = table;
        h->checksum = 0;
        h->checksum = checksum(table, len);
        return put(base, gpa, table, len, next, err);
}

/*
 * Copies a definition block (the DSDT or a device's SSDT), as iasl compiled and checksummed it,
 * to gpa; *next is the 64-byte aligned address after it. Refuses a block whose header does not
 * give its own length, or one that does not fit the area.
 */
static int copy_aml(uint8_t *base, uint64_t gpa, const unsigned char *aml, size_t len,
                    uint64_t *next, struct cvmm_err *err)
{
        struct acpi_header h;
        if (len < sizeof(h))
                return cvmm_errf(err, "an ACPI definition block of %zu bytes has no header", len);
        memcpy(&h, aml, sizeof(h));
        if (h.length != len)
                return cvmm_errf(err, "ACPI table %.4s says %u bytes but has %zu", h.signature,
                                 h.length, len);
        return put(base, gpa, aml, len, next, err);
}

/* A byte-wide register at an I/O port. */
static struct acpi_gas io_byte(uint64_t port)
{
        return (struct acpi_gas){GAS_SYSTEM_IO, 8, 0, GAS_ACCESS_BYTE, port};
}

/* The FADT: hardware-reduced, the DSDT at dsdt, the reset and sleep registers from plat. */
static void build_fadt(struct acpi_fadt *fadt, uint64_t dsdt, const struct hw_platform *plat)
{
        memset(fadt, 0, sizeof(*fadt));
        header(&fadt->h, "FACP", sizeof(*fadt), 6);
        fadt->dsdt = (uint32_t)dsdt;
        fadt->x_dsdt = dsdt;
        fadt->flags = FADT_HW_REDUCED_ACPI | (plat->reset_port ? FADT_RESET_REG_SUP : 0);
        /* No 8042 is declared: the guest skips probing a keyboard controller that is not
         * there; cvmm still takes its reset command (reboot=k). */
        fadt->iapc_boot_arch = BOOT_ARCH_NO_VGA | BOOT_ARCH_NO_CMOS_RTC;
        /* The registers the devices said they have (dev/sysctl.c); none: left zero. */
        if (plat->reset_port) {
                fadt->reset_reg = io_byte(plat->reset_port);
                fadt->reset_value = plat->reset_value;
        }
        fadt->minor_version = 0;
        if (plat->sleep_port) {
                fadt->sleep_control = io_byte(plat->sleep_port);
                fadt->sleep_status = io_byte((uint64_t)plat->sleep_port + 1);
        }
        memcpy(&fadt->hypervisor_vendor, "CVMM", 4);
}

/* The largest MADT: the header, local APIC address and flags, 254 local APICs, an I/O APIC. */
#define MADT_MAX (sizeof(struct acpi_header) + 8 + 254 * 8 + 12)

/* Fills the MADT (at most MADT_MAX bytes) for cpus <= 254 vCPUs; returns its length. */
static uint32_t build_madt(uint8_t *madt, unsigned cpus)
{
        memset(madt, 0, MADT_MAX);
        uint32_t off = sizeof(struct acpi_header);
        uint32_t lapic = (uint32_t)LAYOUT_LAPIC;
        memcpy(madt + off, &lapic, 4);
        off += 8; /* flags 0: no 8259 pair to mask (hardware-reduced) */
        for (unsigned i = 0; i < cpus; i++) {
                uint8_t e[8] = {0, 8, (uint8_t)i, (uint8_t)i, 1, 0, 0, 0};
                memcpy(madt + off, e, 8);
                off += 8;
        }
        uint8_t io[12] = {1, 12, (uint8_t)cpus, 0};
        uint32_t ioaddr = (uint32_t)LAYOUT_IOAPIC, gsi = 0;
        memcpy(io + 4, &ioaddr, 4);
        memcpy(io + 8, &gsi, 4);
        memcpy(madt + off, io, 12);
        off += 12;
        header((struct acpi_header *)madt, "APIC", off, 5);
        return off;
}

/* The XSDT's entries: the FADT, the MADT, then the devices' own tables. */
#define XSDT_MAX (2 + HW_ACPI_TABLES)

struct acpi_xsdt {
        struct acpi_header h;
        uint64_t entries[XSDT_MAX];
} __attribute__((packed));

/* Fills the XSDT with n entries from at[]; returns its length. */
static uint32_t build_xsdt(struct acpi_xsdt *xsdt, const uint64_t *at, unsigned n)
{
        memset(xsdt, 0, sizeof(*xsdt));
        uint32_t len = (uint32_t)(sizeof(xsdt->h) + n * sizeof(xsdt->entries[0]));
        header(&xsdt->h, "XSDT", len, 1);
        memcpy(xsdt->entries, at, n * sizeof(at[0]));
        return len;
}

/* The ACPI 2 RSDP, at the start of the area, pointing at the XSDT. */
static void write_rsdp(uint8_t *base, uint64_t xsdt_at)
{
        struct acpi_rsdp rsdp;
        memset(&rsdp, 0, sizeof(rsdp));
        memcpy(rsdp.signature, "RSD PTR ", 8);
        memcpy(rsdp.oem_id, "CVMM  ", 6);
        rsdp.revision = 2;
        rsdp.length = sizeof(rsdp);
        rsdp.xsdt = xsdt_at;
        rsdp.checksum = checksum(&rsdp, 20);
        rsdp.ext_checksum = checksum(&rsdp, sizeof(rsdp));
        memcpy(base, &rsdp, sizeof(rsdp));
}

int boot_write_acpi(const struct guest_mem *m, const struct hw_platform *plat, unsigned cpus,
                    struct cvmm_err *err)
{
        if (cpus > 254)
                return cvmm_errf(err, "--cpus %u: the MADT describes at most 254 vCPUs", cpus);
        if (plat->acpi_count > HW_ACPI_TABLES)
                return cvmm_errf(err, "%u device ACPI tables, at most %d", plat->acpi_count,
                                 HW_ACPI_TABLES);
        uint8_t *base = guestmem_ptr(m, LAYOUT_ACPI, LAYOUT_ACPI_SIZE);
        if (!base)
                return cvmm_errf(err, "guest RAM too small for the ACPI tables");
        memset(base, 0, LAYOUT_ACPI_SIZE);
        uint64_t dsdt = LAYOUT_ACPI + 64; /* the RSDP goes first, at a 16-byte boundary */
        uint64_t at = 0, listed[XSDT_MAX];
        if (copy_aml(base, dsdt, cvmm_dsdt_aml, cvmm_dsdt_aml_len, &at, err))
                return -1;

        struct acpi_fadt fadt;
        build_fadt(&fadt, dsdt, plat);
        listed[0] = at;
        if (place(base, at, &fadt, sizeof(fadt), &at, err))
                return -1;

        uint8_t madt[MADT_MAX];
        uint32_t madt_len = build_madt(madt, cpus);
        listed[1] = at;
        if (place(base, at, madt, madt_len, &at, err))
                return -1;

        for (unsigned i = 0; i < plat->acpi_count; i++) {
                listed[2 + i] = at;
                if (copy_aml(base, at, plat->acpi[i].aml, plat->acpi[i].len, &at, err))
                        return -1;
        }

        struct acpi_xsdt xsdt;
        uint32_t xsdt_len = build_xsdt(&xsdt, listed, 2 + plat->acpi_count);
        uint64_t xsdt_at = at;
        if (place(base, at, &xsdt, xsdt_len, &at, err))
                return -1;
        write_rsdp(base, xsdt_at);
        return 0;
}
