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
        BOOT_MULTIBOOT, /* Multiboot v1 header in the first 8 KiB: 32-bit entry, EAX 0x2BADB002 */
};

/* A Multiboot v1 header as found in the image (multiboot.c says how each flag is honoured). */
struct boot_multiboot {
        bool found;
        long bad_magic_off; /* not found: offset of a magic whose checksum is wrong, or -1 */
        uint32_t header_off, flags;
        /* flags bit 16 (address fields): */
        uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
        uint64_t file_off, file_len; /* the bytes loaded at load_addr */
        uint64_t mem_end;            /* load_addr + file_len, or bss_end_addr */
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
        struct boot_elf elf;  /* BOOT_ELF_* and ELF Multiboot: the file's headers */
        struct boot_multiboot mb;
        const char *initrd_path; /* the Multiboot module's string */
};

/* The state the boot protocol wants the boot vCPU in. */
struct boot_entry {
        enum boot_kind kind;
        uint64_t rip;
        uint64_t rsi; /* 64-bit protocol: boot_params */
        uint64_t rbx; /* PVH: hvm_start_info; Multiboot: the information structure */
        uint64_t rax; /* Multiboot: 0x2BADB002 */
};

/*
 * Reads kernel (and initrd when not NULL) and validates the kernel: a bzImage with boot
 * protocol 2.12 or later and XLF_KERNEL_64, a Multiboot v1 kernel, or an x86 ELF. On failure err
 * says what and where (the caller exits with status 2).
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
/*
 * Whether boot_image_load puts any of the kernel image into guest RAM [start, end): only a
 * Multiboot kernel may load below 1 MiB, where the fixed boot structures leave room
 * (hw/layout.h); the initrd goes at the top of RAM.
 */
bool boot_image_loads_in(const struct boot_image *img, uint64_t start, uint64_t end);
/*
 * Checks, before any guest RAM or KVM exists, that the image fits a guest of memory bytes
 * with this command line: the command line within the kernel's (and cvmm's) limit, the
 * kernel below the MMIO hole, the initrd where boot_image_load will place it. boot_image_load
 * checks the same again.
 */
int boot_image_check_fit(const struct boot_image *img, uint64_t memory, const char *cmdline,
                         struct cvmm_err *err);
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
