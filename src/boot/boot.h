/* SPDX-License-Identifier: MIT */
/*
 * Linux x86-64 boot: reads and validates a kernel image, then writes the kernel, initrd,
 * command line, memory map, GDT, page tables and MP table into guest RAM.
 *
 * Every function here that can fail returns 0, or -1 with err (when not NULL) filled with
 * one line saying what and where; none prints.
 */
#ifndef CVMM_BOOT_H
#define CVMM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmm/err.h"
#include "hw/guestmem.h"
#include "hw/platform.h"

enum boot_kind {
        BOOT_BZIMAGE,   /* Linux bzImage, 64-bit boot protocol */
        BOOT_ELF_LINUX, /* ELF64 without a PVH note: Linux vmlinux, 64-bit entry at e_entry */
        BOOT_ELF_PVH,   /* ELF (32 or 64) with XEN_ELFNOTE_PHYS32_ENTRY: PVH entry */
};

/* A program header of either ELF class, widened to 64 bits. */
struct boot_elf_phdr {
        uint32_t type;
        uint64_t offset, paddr, filesz, memsz;
};

/* An ELF kernel's header and program headers, either class, read once by boot_image_open. */
struct boot_elf {
        bool is64; /* ELFCLASS64 */
        uint16_t type, machine;
        uint64_t entry; /* e_entry */
        uint64_t phoff;
        unsigned phnum, phentsize;
        struct boot_elf_phdr *phdr; /* phnum entries; PT_LOAD and PT_NOTE lie in the file */
};

struct boot_image {
        enum boot_kind kind;
        uint8_t *data; /* the whole file */
        size_t size;
        const char *path;
        uint8_t *initrd; /* NULL when none */
        size_t initrd_size;
        uint64_t entry;       /* bzImage: startup_64; ELF: e_entry or the PVH entry */
        uint64_t load_end;    /* highest guest address the kernel image needs (excl.) */
        uint32_t cmdline_max; /* including the terminating NUL */
        uint64_t initrd_max;  /* highest address the initrd may end at (excl.) */
        struct boot_elf elf;  /* BOOT_ELF_*: the file's headers; zero for a bzImage */
};

/* The state the boot protocol wants the boot vCPU in. */
struct boot_entry {
        enum boot_kind kind;
        uint64_t rip;
        uint64_t rsi; /* 64-bit protocol: boot_params */
        uint64_t rbx; /* PVH: hvm_start_info */
};

/*
 * Reads kernel (and initrd when not NULL) and validates the kernel: a bzImage with boot
 * protocol 2.12 or later and XLF_KERNEL_64, or an x86 ELF. On failure err says what and where
 * (the caller exits with status 2).
 */
int boot_image_open(struct boot_image *img, const char *kernel, const char *initrd,
                    struct cvmm_err *err);
/*
 * As boot_image_open for a kernel image already in memory (size bytes at data, copied; no
 * initrd); name stands for the path in messages and must outlive img.
 */
int boot_image_open_mem(struct boot_image *img, const void *data, size_t size, const char *name,
                        struct cvmm_err *err);
void boot_image_free(struct boot_image *img);
const char *boot_kind_name(enum boot_kind k);

/*
 * Writes everything the guest needs at reset into (zeroed) guest RAM for a VM with cpus
 * vCPUs and the devices plat describes: returns 0 and the entry state, or -1 when it does not
 * fit (err says what).
 */
int boot_image_load(const struct boot_image *img, const struct guest_mem *m,
                    const struct hw_platform *plat, const char *cmdline, unsigned cpus,
                    struct boot_entry *out, struct cvmm_err *err);

/* The guest-physical RAM map handed to the guest (also used to test the kernel's report). */
struct boot_e820 {
        uint64_t addr, size;
        uint32_t type; /* 1 RAM, 2 reserved */
};
/* Fills up to max entries of the memory map for m; returns the count. */
size_t boot_e820_map(const struct guest_mem *m, struct boot_e820 *out, size_t max);

/* Writes an Intel MP 1.4 table for cpus processors at LAYOUT_EBDA; returns 0 or -1. */
int boot_write_mptable(const struct guest_mem *m, unsigned cpus, struct cvmm_err *err);

/*
 * Writes hardware-reduced ACPI tables (RSDP at LAYOUT_ACPI, XSDT, FADT, DSDT, MADT) for cpus
 * processors, the FADT's reset and sleep registers from plat; returns 0 or -1.
 */
int boot_write_acpi(const struct guest_mem *m, const struct hw_platform *plat, unsigned cpus,
                    struct cvmm_err *err);

#endif
