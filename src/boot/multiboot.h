/* SPDX-License-Identifier: MIT */
/* Multiboot v1 header parsing and the information structure (inside the boot layer). */
#ifndef CVMM_BOOT_MULTIBOOT_H
#define CVMM_BOOT_MULTIBOOT_H

#include "boot/boot.h"

#define MB_HEADER_MAGIC 0x1badb002u
#define MB_BOOT_MAGIC   0x2badb002u
#define MB_ADDRESSES    (1u << 16) /* header flag: the address fields are valid */

/*
 * Looks for a Multiboot header (magic and checksum) 32-bit aligned in the first 8 KiB of
 * [d, d+n): 0 when there is none (mb->bad_magic_off says where a magic with a wrong checksum
 * was), 1 when there is one cvmm can honour (mb filled and checked against the file), -1 with
 * err naming what is wrong.
 */
int mb_find(const uint8_t *d, size_t n, struct boot_multiboot *mb, const char *path,
            struct cvmm_err *err);

/*
 * Whether a Multiboot kernel may load [start, end) below 1 MiB: in conventional memory from
 * 4 KiB to the EBDA, clear of the information page and the command line (the other tables
 * cvmm writes there, the 64-bit page tables, a Multiboot kernel does not use).
 */
bool mb_low_ok(uint64_t start, uint64_t end);

/* Refuses a module string (the initrd's path) longer than the information page holds. */
int mb_check_module_path(const char *path, struct cvmm_err *err);

/*
 * Writes the Multiboot information at LAYOUT_MB_INFO (memory sizes and map from m, the command
 * line at LAYOUT_CMDLINE, the initrd as the one module when initrd_path is not NULL) and sets
 * out's EAX and EBX.
 */
int mb_write_info(const struct guest_mem *m, const char *initrd_path, uint64_t initrd,
                  uint64_t initrd_size, struct boot_entry *out, struct cvmm_err *err);

#endif
