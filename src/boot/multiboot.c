/* SPDX-License-Identifier: MIT */
/*
 * Multiboot v1 (the Multiboot Specification 0.6.96): the header a kernel carries in its first
 * 8 KiB, and the information structure the boot loader hands it in EBX.
 *
 * What cvmm does with each header flag (bits 0-15 are requirements: a loader that cannot meet
 * one must refuse the image; bits 16-31 are optional):
 *   bit 0  modules page aligned: always done (the module is placed on a page boundary).
 *   bit 1  memory information: always given (mem_lower/mem_upper and the memory map).
 *   bit 2  video mode information: refused, cvmm has no display.
 *   3-15   unknown requirements: refused, naming the bit.
 *   bit 16 the address fields are valid: the image is loaded from them (a.out kludge);
 *          without it the image must be an ELF file, loaded by its program headers.
 */
#include <elf.h>
#include <stddef.h>
#include <string.h>

#include "boot/boot.h"
#include "boot/multiboot.h"
#include "hw/layout.h"

#define MB_SEARCH     8192u /* the header lies 32-bit aligned in the first 8 KiB */
#define MB_HEADER_MIN 12u   /* magic, flags, checksum */
#define MB_HEADER_ADR 32u   /* ... header_addr, load_addr, load_end_addr, bss_end_addr, entry */

#define MB_PAGE_ALIGN (1u << 0)
#define MB_MEMORY     (1u << 1)
#define MB_VIDEO      (1u << 2)

/* Information structure flags (what the structure holds). */
#define MBI_MEM      (1u << 0)
#define MBI_CMDLINE  (1u << 2)
#define MBI_MODS     (1u << 3)
#define MBI_MMAP     (1u << 6)
#define MBI_LOADER   (1u << 9)
#define MBI_PATH_MAX 2048u

static uint32_t rd32(const uint8_t *p)
{
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
}

static bool overlaps(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
        return a < d && c < b;
}

bool mb_low_ok(uint64_t start, uint64_t end)
{
        return start >= 0x1000 && end <= LAYOUT_EBDA && start < end &&
               !overlaps(start, end, LAYOUT_MB_INFO, LAYOUT_MB_INFO + LAYOUT_MB_INFO_SIZE) &&
               !overlaps(start, end, LAYOUT_CMDLINE, LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX);
}

int mb_find(const uint8_t *d, size_t n, struct boot_multiboot *mb, const char *path,
            struct cvmm_err *err)
{
        memset(mb, 0, sizeof(*mb));
        size_t end = n < MB_SEARCH ? n : MB_SEARCH;
        size_t bad = (size_t)-1; /* the first magic whose checksum is wrong */
        for (size_t off = 0; off + 4 <= end; off += 4) {
                if (rd32(d + off) != MB_HEADER_MAGIC)
                        continue;
                if (off + MB_HEADER_MIN > n) {
                        if (bad == (size_t)-1)
                                bad = off;
                        continue;
                }
                uint32_t flags = rd32(d + off + 4);
                if ((uint32_t)(MB_HEADER_MAGIC + flags + rd32(d + off + 8)) != 0) {
                        if (bad == (size_t)-1)
                                bad = off;
                        continue;
                }
                mb->found = true;
                mb->header_off = (uint32_t)off;
                mb->flags = flags;
                break;
        }
        if (!mb->found) {
                mb->bad_magic_off = bad == (size_t)-1 ? -1 : (long)bad;
                return 0;
        }
        const uint32_t off = mb->header_off, f = mb->flags;
        if (f & MB_VIDEO)
                return cvmm_errf(err,
                                 "kernel '%s': Multiboot header at 0x%x requires video mode "
                                 "information (flags bit 2): cvmm has no display",
                                 path, off);
        uint32_t unknown = f & 0xffffu & ~(MB_PAGE_ALIGN | MB_MEMORY | MB_VIDEO);
        if (unknown) {
                unsigned bit = 0;
                while (!(unknown & (1u << bit)))
                        bit++;
                return cvmm_errf(err,
                                 "kernel '%s': Multiboot header at 0x%x requires flags bit %u, "
                                 "which cvmm does not know (flags 0x%08x)",
                                 path, off, bit, f);
        }
        if (!(f & MB_ADDRESSES))
                return 1;
        if ((size_t)off + MB_HEADER_ADR > n)
                return cvmm_errf(err,
                                 "kernel '%s': Multiboot header at 0x%x has address fields "
                                 "(flags bit 16) past the end of the file",
                                 path, off);
        mb->header_addr = rd32(d + off + 12);
        mb->load_addr = rd32(d + off + 16);
        mb->load_end_addr = rd32(d + off + 20);
        mb->bss_end_addr = rd32(d + off + 24);
        mb->entry_addr = rd32(d + off + 28);
        if (mb->load_addr > mb->header_addr)
                return cvmm_errf(err,
                                 "kernel '%s': Multiboot load_addr 0x%x is above header_addr "
                                 "0x%x",
                                 path, mb->load_addr, mb->header_addr);
        uint32_t before = mb->header_addr - mb->load_addr; /* image bytes before the header */
        if (before > off)
                return cvmm_errf(err,
                                 "kernel '%s': Multiboot header_addr 0x%x - load_addr 0x%x "
                                 "puts the image start %u bytes before the file's start",
                                 path, mb->header_addr, mb->load_addr, before - off);
        mb->file_off = off - before;
        if (mb->load_end_addr) {
                if (mb->load_end_addr <= mb->load_addr)
                        return cvmm_errf(err,
                                         "kernel '%s': Multiboot load_end_addr 0x%x is not above "
                                         "load_addr 0x%x",
                                         path, mb->load_end_addr, mb->load_addr);
                mb->file_len = mb->load_end_addr - mb->load_addr;
                if (mb->file_len > n - mb->file_off)
                        return cvmm_errf(err,
                                         "kernel '%s': Multiboot load_end_addr 0x%x needs %llu "
                                         "bytes from file offset 0x%llx; the file has %llu",
                                         path, mb->load_end_addr, (unsigned long long)mb->file_len,
                                         (unsigned long long)mb->file_off,
                                         (unsigned long long)(n - mb->file_off));
        } else {
                mb->file_len = n - mb->file_off;
        }
        uint64_t load_end = (uint64_t)mb->load_addr + mb->file_len;
        if (load_end > 0x100000000ull)
                return cvmm_errf(err,
                                 "kernel '%s': Multiboot image (%llu bytes at 0x%x) runs past "
                                 "4 GiB",
                                 path, (unsigned long long)mb->file_len, mb->load_addr);
        mb->mem_end = load_end;
        if (mb->bss_end_addr) {
                if (mb->bss_end_addr < load_end)
                        return cvmm_errf(err,
                                         "kernel '%s': Multiboot bss_end_addr 0x%x is below the "
                                         "end of the loaded image 0x%llx",
                                         path, mb->bss_end_addr, (unsigned long long)load_end);
                mb->mem_end = mb->bss_end_addr;
        }
        if (mb->load_addr < LAYOUT_HIMEM && !mb_low_ok(mb->load_addr, mb->mem_end))
                return cvmm_errf(err,
                                 "kernel '%s': Multiboot image [0x%x, 0x%llx) is below 1 MiB but "
                                 "not within 0x1000-0x%llx clear of 0x%llx-0x%llx and "
                                 "0x%llx-0x%llx (where cvmm puts the information and the "
                                 "command line)",
                                 path, mb->load_addr, (unsigned long long)mb->mem_end,
                                 (unsigned long long)LAYOUT_EBDA,
                                 (unsigned long long)LAYOUT_MB_INFO,
                                 (unsigned long long)(LAYOUT_MB_INFO + LAYOUT_MB_INFO_SIZE),
                                 (unsigned long long)LAYOUT_CMDLINE,
                                 (unsigned long long)(LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX));
        if (mb->entry_addr < mb->load_addr || mb->entry_addr >= mb->mem_end)
                return cvmm_errf(err,
                                 "kernel '%s': Multiboot entry_addr 0x%x lies outside the image "
                                 "[0x%x, 0x%llx)",
                                 path, mb->entry_addr, mb->load_addr,
                                 (unsigned long long)mb->mem_end);
        return 1;
}

/* The information structure, the layout the specification gives (offsets in comments). */
struct mb_info {
        uint32_t flags;                /* 0 */
        uint32_t mem_lower, mem_upper; /* 4, 8: KiB */
        uint32_t boot_device;          /* 12 */
        uint32_t cmdline;              /* 16 */
        uint32_t mods_count, mods_addr;
        uint32_t syms[4];                    /* 28 */
        uint32_t mmap_length, mmap_addr;     /* 44, 48 */
        uint32_t drives_length, drives_addr; /* 52, 56 */
        uint32_t config_table;               /* 60 */
        uint32_t boot_loader_name;           /* 64 */
        uint32_t apm_table;                  /* 68 */
        uint32_t vbe[4];                     /* 72..87 (flags bit 11 clear) */
        uint32_t framebuffer[7];             /* 88..115 (flags bit 12 clear) */
};
_Static_assert(offsetof(struct mb_info, mmap_length) == 44, "Multiboot info layout");
_Static_assert(offsetof(struct mb_info, boot_loader_name) == 64, "Multiboot info layout");
_Static_assert(sizeof(struct mb_info) == 116, "Multiboot info layout");

struct mb_module {
        uint32_t mod_start, mod_end, string, reserved;
};

/* One memory map entry: size counts the bytes after itself (20). */
struct __attribute__((packed)) mb_mmap {
        uint32_t size;
        uint64_t addr, len;
        uint32_t type;
};

int mb_check_module_path(const char *path, struct cvmm_err *err)
{
        size_t len = strlen(path);
        if (len >= MBI_PATH_MAX)
                return cvmm_errf(err,
                                 "initrd path is %zu bytes; a Multiboot module string takes at "
                                 "most %u",
                                 len, MBI_PATH_MAX - 1);
        return 0;
}

int mb_write_info(const struct guest_mem *m, const char *initrd_path, uint64_t initrd,
                  uint64_t initrd_size, struct boot_entry *out, struct cvmm_err *err)
{
        struct boot_e820 map[8];
        size_t n = boot_e820_map(m, map, 8);
        const char loader[] = "cvmm";
        size_t path_len = initrd_path ? strlen(initrd_path) : 0;
        if (initrd_path && mb_check_module_path(initrd_path, err))
                return -1;
        /* Structure, module, map and strings in one page at LAYOUT_MB_INFO. */
        size_t o_mod = sizeof(struct mb_info);
        size_t o_map = o_mod + sizeof(struct mb_module);
        size_t o_name = o_map + n * sizeof(struct mb_mmap);
        size_t o_path = o_name + sizeof(loader);
        size_t total = o_path + path_len + 1;
        _Static_assert(sizeof(struct mb_info) + sizeof(struct mb_module) +
                               8 * sizeof(struct mb_mmap) + 5 + MBI_PATH_MAX <=
                           LAYOUT_MB_INFO_SIZE,
                       "Multiboot information fits its page");
        uint8_t *p = guestmem_ptr(m, LAYOUT_MB_INFO, total);
        if (!p)
                return cvmm_errf(err, "guest RAM too small for the Multiboot information");
        memset(p, 0, total);
        struct mb_info mbi;
        memset(&mbi, 0, sizeof(mbi));
        /* mem_lower: RAM from 0 (640 KiB at most); mem_upper: RAM from 1 MiB to the first hole. */
        uint64_t lower = 0, upper = 0;
        for (size_t i = 0; i < n; i++) {
                if (map[i].type != 1)
                        continue;
                if (map[i].addr == 0)
                        lower = map[i].size;
                if (map[i].addr == LAYOUT_HIMEM)
                        upper = map[i].size;
        }
        mbi.flags = MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER;
        mbi.mem_lower = (uint32_t)(lower >> 10);
        mbi.mem_upper = (uint32_t)(upper >> 10);
        mbi.cmdline = (uint32_t)LAYOUT_CMDLINE;
        mbi.mmap_addr = (uint32_t)(LAYOUT_MB_INFO + o_map);
        mbi.mmap_length = (uint32_t)(n * sizeof(struct mb_mmap));
        mbi.boot_loader_name = (uint32_t)(LAYOUT_MB_INFO + o_name);
        if (initrd_path) {
                struct mb_module mod = {.mod_start = (uint32_t)initrd,
                                        .mod_end = (uint32_t)(initrd + initrd_size),
                                        .string = (uint32_t)(LAYOUT_MB_INFO + o_path)};
                memcpy(p + o_mod, &mod, sizeof(mod));
                memcpy(p + o_path, initrd_path, path_len + 1);
                mbi.flags |= MBI_MODS;
                mbi.mods_count = 1;
                mbi.mods_addr = (uint32_t)(LAYOUT_MB_INFO + o_mod);
        }
        for (size_t i = 0; i < n; i++) {
                struct mb_mmap e = {.size = sizeof(struct mb_mmap) - 4,
                                    .addr = map[i].addr,
                                    .len = map[i].size,
                                    .type = map[i].type};
                memcpy(p + o_map + i * sizeof(e), &e, sizeof(e));
        }
        memcpy(p + o_name, loader, sizeof(loader));
        memcpy(p, &mbi, sizeof(mbi));
        out->rax = MB_BOOT_MAGIC;
        out->rbx = LAYOUT_MB_INFO;
        return 0;
}
