/* SPDX-License-Identifier: MIT */
#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/multiboot.h"
#include "hw/layout.h"

#define HDR_MAGIC          0x53726448u /* "HdrS" */
#define XEN_ELFNOTE_PHYS32 18
#define PVH_MAGIC          0x336ec578u
#define MAX_IMAGE          (1ull << 31)

/* The Xen PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h), version 1. */
struct hvm_start_info {
        uint32_t magic, version, flags, nr_modules;
        uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
        uint32_t memmap_entries, reserved;
};
struct hvm_modlist_entry {
        uint64_t paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_entry {
        uint64_t addr, size;
        uint32_t type, reserved;
};

const char *boot_kind_name(enum boot_kind k)
{
        switch (k) {
        case BOOT_BZIMAGE:
                return "bzImage (64-bit boot protocol)";
        case BOOT_ELF_LINUX:
                return "ELF vmlinux (64-bit boot protocol)";
        case BOOT_ELF_PVH:
                return "ELF (PVH entry)";
        case BOOT_MULTIBOOT:
                return "Multiboot";
        }
        return "?";
}

/* What fstat found, for the refusal of anything but a regular file. */
static const char *file_type(mode_t m)
{
        return S_ISDIR(m)    ? "a directory"
               : S_ISFIFO(m) ? "a FIFO"
               : S_ISCHR(m)  ? "a character device"
               : S_ISBLK(m)  ? "a block device"
               : S_ISSOCK(m) ? "a socket"
                             : "a special file";
}

/*
 * Reads a whole regular file of at most MAX_IMAGE bytes. flag names it ("--kernel"). It is
 * opened without blocking (a FIFO would block open until a writer came) and refused unless
 * regular; standard input ("-") is refused: the loader needs the file's size up front.
 */
static int read_file(const char *flag, const char *path, uint8_t **data, size_t *size,
                     struct cvmm_err *err)
{
        if (strcmp(path, "-") == 0)
                return cvmm_errf(err,
                                 "%s '-': standard input is not supported (the image must be "
                                 "a regular file)",
                                 flag);
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return cvmm_errf(err, "%s '%s': %s", flag, path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) != 0) {
                int e = errno;
                close(fd);
                return cvmm_errf(err, "%s '%s': %s", flag, path, strerror(e));
        }
        if (!S_ISREG(st.st_mode)) {
                close(fd);
                return cvmm_errf(err, "%s '%s': %s, not a regular file", flag, path,
                                 file_type(st.st_mode));
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
                int e = errno;
                close(fd);
                return cvmm_errf(err, "%s '%s': %s", flag, path, strerror(e));
        }
        if ((unsigned long long)st.st_size > MAX_IMAGE) {
                close(fd);
                return cvmm_errf(err, "%s '%s': larger than 2 GiB", flag, path);
        }
        size_t n = (size_t)st.st_size;
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf) {
                close(fd);
                return cvmm_errf(err, "%s '%s': out of memory", flag, path);
        }
        size_t got = 0;
        while (got < n) {
                ssize_t r = read(fd, buf + got, n - got);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0) {
                        free(buf);
                        close(fd);
                        return cvmm_errf(err, "%s '%s': read error (the file shrank?)", flag, path);
                }
                got += (size_t)r;
        }
        close(fd);
        *data = buf;
        *size = n;
        return 0;
}

/*
 * Copies len bytes at offset off of the image into dst, or refuses: every header field the
 * checks read goes through here, so none is read past the end of the file.
 */
static int read_at(const struct boot_image *img, uint64_t off, void *dst, size_t len,
                   const char *what, struct cvmm_err *err)
{
        if (off > img->size || len > img->size - off)
                return cvmm_errf(err,
                                 "kernel '%s': truncated: the %s (%zu bytes at offset 0x%llx) "
                                 "lies past the end of the file (%zu bytes)",
                                 img->path, what, len, (unsigned long long)off, img->size);
        memcpy(dst, img->data + off, len);
        return 0;
}

static int check_bzimage(struct boot_image *img, struct cvmm_err *err)
{
        struct setup_header hdr;
        memset(&hdr, 0, sizeof(hdr));
        if (read_at(img, 0x1f1, &hdr, sizeof(hdr), "bzImage setup header", err))
                return -1;
        const struct setup_header *h = &hdr;
        if (h->version < 0x20c)
                return cvmm_errf(err,
                                 "kernel '%s': bzImage boot protocol %u.%02u is too old (the "
                                 "64-bit entry needs 2.12 or later)",
                                 img->path, h->version >> 8, h->version & 0xff);
        if (!(h->xloadflags & XLF_KERNEL_64))
                return cvmm_errf(err,
                                 "kernel '%s': bzImage has no 64-bit entry point (XLF_KERNEL_64 "
                                 "is clear: a 32-bit kernel?)",
                                 img->path);
        unsigned setup_sects = h->setup_sects ? h->setup_sects : 4;
        uint64_t pm = (uint64_t)(setup_sects + 1) * 512;
        if (pm >= img->size)
                return cvmm_errf(err,
                                 "kernel '%s': bzImage is truncated (%zu bytes, setup "
                                 "alone takes %llu)",
                                 img->path, img->size, (unsigned long long)pm);
        if (!h->relocatable_kernel && h->pref_address != LAYOUT_HIMEM &&
            h->pref_address < LAYOUT_HIMEM)
                return cvmm_errf(err, "kernel '%s': bzImage is not relocatable", img->path);
        img->kind = BOOT_BZIMAGE;
        uint64_t load = LAYOUT_HIMEM;
        img->entry = load + 0x200; /* startup_64 */
        uint64_t need = h->init_size > img->size - pm ? h->init_size : img->size - pm;
        img->load_end = load + need;
        /* cmdline_size excludes the NUL; 64-bit so 0xffffffff does not wrap, capped by ours */
        uint64_t cl = h->cmdline_size ? (uint64_t)h->cmdline_size + 1 : 256;
        img->cmdline_max = cl < LAYOUT_CMDLINE_MAX ? (uint32_t)cl : (uint32_t)LAYOUT_CMDLINE_MAX;
        img->initrd_max = (uint64_t)h->initrd_addr_max + 1;
        if (h->xloadflags & (1u << 1)) /* XLF_CAN_BE_LOADED_ABOVE_4G */
                img->initrd_max = LAYOUT_GAP_START;
        return 0;
}

/*
 * Walks the notes of PT_NOTE segment seg, [off, off+len) of the file (which elf_check_segments
 * found in it): sets *have and *entry when one is the PVH entry note. A note whose name or
 * descriptor runs past the segment is refused.
 */
static int find_pvh_note(const struct boot_image *img, unsigned seg, uint64_t off, uint64_t len,
                         bool *have, uint64_t *entry, struct cvmm_err *err)
{
        const uint64_t end = off + len;
        uint64_t at = off;
        while (end - at >= 12) {
                uint32_t nh[3]; /* namesz, descsz, type */
                if (read_at(img, at, nh, sizeof(nh), "ELF note header", err))
                        return -1;
                /* 64-bit sums: a 32-bit size near 4 GiB does not wrap to a small one */
                uint64_t name = at + 12;
                uint64_t desc = name + (((uint64_t)nh[0] + 3) & ~3ull);
                uint64_t next = desc + (((uint64_t)nh[1] + 3) & ~3ull);
                if (name + nh[0] > end || desc + nh[1] > end || next > end + 3)
                        return cvmm_errf(err,
                                         "kernel '%s': segment %u: the note at offset 0x%llx "
                                         "(name %u bytes, descriptor %u bytes) runs past the "
                                         "end of the segment",
                                         img->path, seg, (unsigned long long)at, nh[0], nh[1]);
                if (!*have && nh[2] == XEN_ELFNOTE_PHYS32 && nh[0] == 4 &&
                    memcmp(img->data + name, "Xen", 4) == 0 && (nh[1] == 4 || nh[1] == 8)) {
                        uint64_t v = 0;
                        if (read_at(img, desc, &v, nh[1], "PVH entry note", err))
                                return -1;
                        *entry = v & 0xffffffffu;
                        *have = true;
                }
                if (next >= end)
                        break;
                at = next;
        }
        return 0;
}

/* Reads the ELF header of either class into e (a 32-bit one widened to the 64-bit layout). */
static int elf_read_header(const struct boot_image *img, struct boot_elf *e, struct cvmm_err *err)
{
        const uint8_t *d = img->data;
        if (img->size < EI_NIDENT || d[EI_CLASS] < ELFCLASS32 || d[EI_CLASS] > ELFCLASS64)
                return cvmm_errf(err, "kernel '%s': ELF file of unknown class", img->path);
        bool is64 = d[EI_CLASS] == ELFCLASS64;
        if (d[EI_DATA] != ELFDATA2LSB)
                return cvmm_errf(err, "kernel '%s': ELF file is not little-endian", img->path);
        Elf64_Ehdr eh;
        memset(&eh, 0, sizeof(eh));
        if (is64) {
                if (read_at(img, 0, &eh, sizeof(eh), "ELF header", err))
                        return -1;
        } else {
                Elf32_Ehdr eh32;
                if (read_at(img, 0, &eh32, sizeof(eh32), "ELF header", err))
                        return -1;
                eh = (Elf64_Ehdr){.e_type = eh32.e_type,
                                  .e_machine = eh32.e_machine,
                                  .e_entry = eh32.e_entry,
                                  .e_phoff = eh32.e_phoff,
                                  .e_phentsize = eh32.e_phentsize,
                                  .e_phnum = eh32.e_phnum};
        }
        *e = (struct boot_elf){.is64 = is64,
                               .type = eh.e_type,
                               .machine = eh.e_machine,
                               .entry = eh.e_entry,
                               .phoff = eh.e_phoff,
                               .phnum = eh.e_phnum,
                               .phentsize = eh.e_phentsize};
        return 0;
}

/* An x86 executable whose program headers, of its class's size, lie in the file. */
static int elf_check_header(const struct boot_image *img, const struct boot_elf *e,
                            struct cvmm_err *err)
{
        if (e->phentsize != (e->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
                return cvmm_errf(err, "kernel '%s': unexpected program header size %u", img->path,
                                 e->phentsize);
        if (e->type != ET_EXEC)
                return cvmm_errf(err, "kernel '%s': ELF type %u is not an executable", img->path,
                                 e->type);
        if (e->machine != EM_X86_64 && e->machine != EM_386)
                return cvmm_errf(err, "kernel '%s': ELF machine %u is not x86", img->path,
                                 e->machine);
        if (e->phnum == 0 || e->phoff > img->size ||
            (uint64_t)e->phnum * e->phentsize > img->size - e->phoff)
                return cvmm_errf(err, "kernel '%s': program headers lie outside the file",
                                 img->path);
        return 0;
}

/* Reads the program headers elf_check_header found in the file, widened, into e->phdr. */
static int elf_read_phdrs(const struct boot_image *img, struct boot_elf *e, struct cvmm_err *err)
{
        e->phdr = calloc(e->phnum, sizeof(*e->phdr));
        if (!e->phdr)
                return cvmm_errf(err, "kernel '%s': out of memory", img->path);
        for (unsigned i = 0; i < e->phnum; i++) {
                uint64_t off = e->phoff + (uint64_t)i * e->phentsize;
                Elf64_Phdr ph;
                memset(&ph, 0, sizeof(ph));
                if (e->is64) {
                        if (read_at(img, off, &ph, sizeof(ph), "program header", err))
                                return -1;
                } else {
                        Elf32_Phdr ph32;
                        if (read_at(img, off, &ph32, sizeof(ph32), "program header", err))
                                return -1;
                        ph = (Elf64_Phdr){.p_type = ph32.p_type,
                                          .p_offset = ph32.p_offset,
                                          .p_paddr = ph32.p_paddr,
                                          .p_filesz = ph32.p_filesz,
                                          .p_memsz = ph32.p_memsz};
                }
                e->phdr[i] = (struct boot_elf_phdr){ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz,
                                                    ph.p_memsz};
        }
        return 0;
}

/*
 * Checks the PT_LOAD and PT_NOTE segments: in the file, loaded at or above 1 MiB (or, for a
 * Multiboot kernel, where mb_low_ok allows). Sets img->load_end, and *pvh to the PVH entry when
 * a note has one (else leaves it alone).
 */
static int elf_check_segments(struct boot_image *img, bool multiboot, bool *have_pvh, uint64_t *pvh,
                              struct cvmm_err *err)
{
        bool have_load = false;
        img->load_end = 0;
        for (unsigned i = 0; i < img->elf.phnum; i++) {
                const struct boot_elf_phdr *s = &img->elf.phdr[i];
                if (s->type != PT_LOAD && s->type != PT_NOTE)
                        continue;
                if (s->offset > img->size || s->filesz > img->size - s->offset)
                        return cvmm_errf(err, "kernel '%s': segment %u lies outside the file",
                                         img->path, i);
                if (s->type == PT_NOTE) {
                        if (find_pvh_note(img, i, s->offset, s->filesz, have_pvh, pvh, err))
                                return -1;
                        continue;
                }
                if (s->filesz > s->memsz || s->paddr + s->memsz < s->paddr)
                        return cvmm_errf(err, "kernel '%s': segment %u has bad sizes", img->path,
                                         i);
                if (s->paddr < LAYOUT_HIMEM &&
                    !(multiboot && mb_low_ok(s->paddr, s->paddr + s->memsz)))
                        return cvmm_errf(err,
                                         "kernel '%s': segment %u loads at 0x%llx, below 1 MiB "
                                         "(where cvmm keeps boot structures)",
                                         img->path, i, (unsigned long long)s->paddr);
                have_load = true;
                if (s->paddr + s->memsz > img->load_end)
                        img->load_end = s->paddr + s->memsz;
        }
        if (!have_load)
                return cvmm_errf(err, "kernel '%s': ELF file has nothing to load", img->path);
        return 0;
}

/* The way in: the PVH entry when there is one, else a 64-bit vmlinux's e_entry. */
static int elf_choose_entry(struct boot_image *img, bool have_pvh, uint64_t pvh,
                            struct cvmm_err *err)
{
        if (have_pvh) {
                img->kind = BOOT_ELF_PVH;
                img->entry = pvh;
        } else if (img->elf.is64 && img->elf.machine == EM_X86_64) {
                img->kind = BOOT_ELF_LINUX;
                img->entry = img->elf.entry;
        } else {
                return cvmm_errf(err,
                                 "kernel '%s': 32-bit ELF without a PVH entry note "
                                 "(XEN_ELFNOTE_PHYS32_ENTRY): no way to enter it",
                                 img->path);
        }
        img->cmdline_max = 2048;
        img->initrd_max = LAYOUT_GAP_START;
        if (img->kind == BOOT_ELF_LINUX)
                img->initrd_max = 0x38000000; /* Linux's initrd_addr_max default */
        return 0;
}

/* Reads and checks an ELF file's header, program headers and segments into img->elf. */
static int elf_read(struct boot_image *img, bool multiboot, bool *have_pvh, uint64_t *pvh,
                    struct cvmm_err *err)
{
        return elf_read_header(img, &img->elf, err) || elf_check_header(img, &img->elf, err) ||
                       elf_read_phdrs(img, &img->elf, err) ||
                       elf_check_segments(img, multiboot, have_pvh, pvh, err)
                   ? -1
                   : 0;
}

/* Reads and checks an ELF kernel's headers into img->elf and picks its entry. */
static int check_elf(struct boot_image *img, struct cvmm_err *err)
{
        bool have_pvh = false;
        uint64_t pvh = 0;
        if (elf_read(img, false, &have_pvh, &pvh, err))
                return -1;
        return elf_choose_entry(img, have_pvh, pvh, err);
}

/*
 * A Multiboot kernel: loaded by the header's address fields (flags bit 16) or else by its ELF
 * program headers; entered at the header's entry_addr or e_entry, in 32-bit protected mode.
 */
static int check_multiboot(struct boot_image *img, bool is_elf, struct cvmm_err *err)
{
        const struct boot_multiboot *mb = &img->mb;
        if (mb->flags & MB_ADDRESSES) {
                img->entry = mb->entry_addr;
                img->load_end = mb->mem_end;
        } else {
                if (!is_elf)
                        return cvmm_errf(err,
                                         "kernel '%s': Multiboot header at 0x%x has no address "
                                         "fields (flags bit 16 clear) and the file is not ELF",
                                         img->path, mb->header_off);
                bool have_pvh = false;
                uint64_t pvh = 0;
                if (elf_read(img, true, &have_pvh, &pvh, err))
                        return -1;
                if (img->elf.entry >= 0x100000000ull || img->load_end > 0x100000000ull)
                        return cvmm_errf(err,
                                         "kernel '%s': Multiboot ELF loads or enters above 4 GiB "
                                         "(entry 0x%llx, end 0x%llx): the entry is 32-bit",
                                         img->path, (unsigned long long)img->elf.entry,
                                         (unsigned long long)img->load_end);
                img->entry = img->elf.entry;
        }
        img->kind = BOOT_MULTIBOOT;
        img->cmdline_max = LAYOUT_CMDLINE_MAX;
        img->initrd_max = LAYOUT_GAP_START; /* a module's addresses are 32-bit */
        return 0;
}

/* Tells a bzImage from an ELF file by its magic and checks its headers. */
static int check_image(struct boot_image *img, struct cvmm_err *err)
{
        const char *kernel = img->path;
        uint32_t magic = 0;
        if (img->size >= 0x206)
                memcpy(&magic, img->data + 0x202, 4);
        bool is_elf = img->size >= 4 && memcmp(img->data, ELFMAG, SELFMAG) == 0;
        int rc, mb = 0;
        if (!is_elf && magic == HDR_MAGIC) {
                rc = check_bzimage(img, err);
        } else if ((mb = mb_find(img->data, img->size, &img->mb, kernel, err)) != 0) {
                /* before plain ELF, as QEMU does: Multiboot kernels are often ELF files */
                rc = mb < 0 ? -1 : check_multiboot(img, is_elf, err);
        } else if (is_elf) {
                rc = check_elf(img, err);
        } else if (img->mb.bad_magic_off >= 0) {
                rc = cvmm_errf(err,
                               "kernel '%s': Multiboot magic at 0x%lx, but the header's checksum "
                               "is wrong (or it is cut off by the end of the file)",
                               kernel, img->mb.bad_magic_off);
        } else {
                rc = cvmm_errf(err,
                               "kernel '%s': neither a bzImage (no \"HdrS\" at 0x202), a "
                               "Multiboot kernel (no header in the first 8 KiB) nor an ELF file",
                               kernel);
        }
        return rc;
}

int boot_image_open(struct boot_image *img, const char *kernel, const char *initrd,
                    struct cvmm_err *err)
{
        memset(img, 0, sizeof(*img));
        img->path = kernel;
        img->initrd_path = initrd;
        if (read_file("--kernel", kernel, &img->data, &img->size, err))
                return -1;
        int rc = check_image(img, err);
        if (rc == 0 && initrd)
                rc = read_file("--initrd", initrd, &img->initrd, &img->initrd_size, err);
        if (rc)
                boot_image_free(img);
        return rc;
}

int boot_image_open_mem(struct boot_image *img, const void *data, size_t size, const char *name,
                        struct cvmm_err *err)
{
        memset(img, 0, sizeof(*img));
        img->path = name;
        img->data = malloc(size ? size : 1);
        if (!img->data)
                return cvmm_errf(err, "kernel '%s': out of memory", name);
        if (size)
                memcpy(img->data, data, size);
        img->size = size;
        int rc = check_image(img, err);
        if (rc)
                boot_image_free(img);
        return rc;
}

bool boot_image_loads_in(const struct boot_image *img, uint64_t start, uint64_t end)
{
        const struct boot_multiboot *mb = &img->mb;
        if (img->kind == BOOT_MULTIBOOT && (mb->flags & MB_ADDRESSES))
                return mb->load_addr < end && start < mb->mem_end;
        if (img->kind == BOOT_BZIMAGE)
                return LAYOUT_HIMEM < end && start < img->load_end;
        for (unsigned i = 0; i < img->elf.phnum; i++) {
                const struct boot_elf_phdr *s = &img->elf.phdr[i];
                if (s->type == PT_LOAD && s->memsz && s->paddr < end && start < s->paddr + s->memsz)
                        return true;
        }
        return false;
}

void boot_image_free(struct boot_image *img)
{
        free(img->data);
        free(img->initrd);
        free(img->elf.phdr);
        img->data = img->initrd = NULL;
        img->elf.phdr = NULL;
}

size_t boot_e820_map(const struct guest_mem *m, struct boot_e820 *out, size_t max)
{
        size_t n = 0;
#define ADD(a, s, t)                                                                               \
        do {                                                                                       \
                if (n < max)                                                                       \
                        out[n] = (struct boot_e820){(a), (s), (t)};                                \
                n++;                                                                               \
        } while (0)
        ADD(0, LAYOUT_EBDA, 1);
        ADD(LAYOUT_EBDA, LAYOUT_LOW_END - LAYOUT_EBDA, 2);
        ADD(LAYOUT_BIOS, LAYOUT_HIMEM - LAYOUT_BIOS, 2);
        ADD(LAYOUT_HIMEM, m->low - LAYOUT_HIMEM, 1);
        if (m->size > m->low)
                ADD(LAYOUT_GAP_END, m->size - m->low, 1);
#undef ADD
        return n < max ? n : max;
}

/* GDT (null, code32, code64, data, TSS) and an identity map of 4 GiB with 2 MiB pages. */
static int write_cpu_tables(const struct guest_mem *m, struct cvmm_err *err)
{
        static const uint64_t gdt[] = {
            0,
            0x00cf9b000000ffffull, /* 0x08: 32-bit code, flat */
            0x00af9b000000ffffull, /* 0x10: 64-bit code */
            0x00cf93000000ffffull, /* 0x18: data, flat */
            0x00008b0000000067ull, /* 0x20: 32-bit TSS (busy), base 0, limit 0x67 */
        };
        void *g = guestmem_ptr(m, LAYOUT_GDT, sizeof(gdt));
        uint64_t *pml4 = guestmem_ptr(m, LAYOUT_PML4, 0x1000);
        uint64_t *pdpt = guestmem_ptr(m, LAYOUT_PDPT, 0x1000);
        uint64_t *pd = guestmem_ptr(m, LAYOUT_PD, 4 * 0x1000);
        if (!g || !pml4 || !pdpt || !pd)
                return cvmm_errf(err, "guest RAM too small for the boot page tables");
        memcpy(g, gdt, sizeof(gdt));
        pml4[0] = LAYOUT_PDPT | 0x3; /* present, writable */
        for (uint64_t i = 0; i < 4; i++)
                pdpt[i] = (LAYOUT_PD + i * 0x1000) | 0x3;
        for (uint64_t i = 0; i < 4 * 512; i++)
                pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB */
        return 0;
}

/* Copies [src, src+len) to guest address gpa; err names what did not fit. */
static int put(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len,
               const char *what, struct cvmm_err *err)
{
        void *dst = guestmem_ptr(m, gpa, len);
        if (!dst)
                return cvmm_errf(err,
                                 "%s (%llu bytes at 0x%llx) does not fit in guest RAM "
                                 "(%llu MiB; try a larger --memory)",
                                 what, (unsigned long long)len, (unsigned long long)gpa,
                                 (unsigned long long)(m->size >> 20));
        memcpy(dst, src, len);
        return 0;
}

/*
 * Where the initrd goes in guest RAM whose part below the MMIO hole ends at low: as high as
 * allowed, page aligned, above the kernel. Returns 0 and *addr, or -1 when it does not fit.
 */
static int initrd_addr(const struct boot_image *img, uint64_t low, uint64_t *addr,
                       struct cvmm_err *err)
{
        uint64_t top = low < img->initrd_max ? low : img->initrd_max;
        uint64_t size = img->initrd_size;
        uint64_t floor = (img->load_end + 0xfff) & ~0xfffull;
        if (size > top || ((top - size) & ~0xfffull) < floor)
                return cvmm_errf(err,
                                 "initrd (%llu bytes) does not fit in guest RAM below 0x%llx "
                                 "above the kernel (try a larger --memory)",
                                 (unsigned long long)size, (unsigned long long)top);
        *addr = (top - size) & ~0xfffull;
        return 0;
}

/* Places the initrd (initrd_addr) and copies it there. */
static int place_initrd(const struct boot_image *img, const struct guest_mem *m, uint64_t *addr,
                        struct cvmm_err *err)
{
        if (initrd_addr(img, m->low, addr, err))
                return -1;
        return put(m, *addr, img->initrd, img->initrd_size, "initrd", err);
}

/*
 * The command line the kernel gets: --cmdline, except that a Multiboot kernel gets its own path
 * first, as GRUB and QEMU pass it (kvm-unit-tests, for one, takes that word as argv[0]).
 */
static uint64_t kernel_cmdline_len(const struct boot_image *img, const char *cmdline)
{
        uint64_t len = strlen(cmdline);
        if (img->kind == BOOT_MULTIBOOT)
                len += strlen(img->path) + (len ? 1 : 0);
        return len;
}

static int check_cmdline(const struct boot_image *img, const char *cmdline, struct cvmm_err *err)
{
        uint64_t len = kernel_cmdline_len(img, cmdline);
        uint64_t max =
            img->cmdline_max < LAYOUT_CMDLINE_MAX ? img->cmdline_max : LAYOUT_CMDLINE_MAX;
        if (len + 1 > max)
                return cvmm_errf(err, "--cmdline is %llu bytes; this kernel takes at most %llu",
                                 (unsigned long long)len, (unsigned long long)(max - 1));
        return 0;
}

static int check_kernel_fits(const struct boot_image *img, uint64_t low, struct cvmm_err *err)
{
        if (img->load_end > low)
                return cvmm_errf(err,
                                 "kernel needs guest RAM up to 0x%llx; guest RAM below the "
                                 "MMIO hole ends at 0x%llx (try a larger --memory)",
                                 (unsigned long long)img->load_end, (unsigned long long)low);
        return 0;
}

int boot_image_check_fit(const struct boot_image *img, uint64_t memory, const char *cmdline,
                         struct cvmm_err *err)
{
        uint64_t low = memory < LAYOUT_GAP_START ? memory : LAYOUT_GAP_START;
        uint64_t addr;
        if (check_cmdline(img, cmdline, err) || check_kernel_fits(img, low, err))
                return -1;
        if (img->kind == BOOT_MULTIBOOT && img->initrd &&
            mb_check_module_path(img->initrd_path, err))
                return -1;
        return img->initrd ? initrd_addr(img, low, &addr, err) : 0;
}

/* Copies each PT_LOAD segment to its physical address, zeroing the rest of its memory size. */
static int load_elf(const struct boot_image *img, const struct guest_mem *m, struct cvmm_err *err)
{
        for (unsigned i = 0; i < img->elf.phnum; i++) {
                const struct boot_elf_phdr *s = &img->elf.phdr[i];
                if (s->type != PT_LOAD)
                        continue;
                uint8_t *dst = guestmem_ptr(m, s->paddr, s->memsz);
                if (!dst)
                        return cvmm_errf(err,
                                         "kernel segment at 0x%llx (%llu bytes) does not fit in "
                                         "guest RAM (try a larger --memory)",
                                         (unsigned long long)s->paddr,
                                         (unsigned long long)s->memsz);
                memcpy(dst, img->data + s->offset, s->filesz);
                memset(dst + s->filesz, 0, s->memsz - s->filesz);
        }
        return 0;
}

static int load_linux64(const struct boot_image *img, const struct guest_mem *m,
                        const char *cmdline, uint64_t initrd, struct boot_entry *out,
                        struct cvmm_err *err)
{
        struct boot_params bp;
        memset(&bp, 0, sizeof(bp));
        if (img->kind == BOOT_BZIMAGE) {
                /* The setup header runs from 0x1f1 to the end given by the jump at 0x200. */
                size_t end = 0x202 + (size_t)img->data[0x201];
                if (end > sizeof(bp) || end > img->size)
                        end = 0x1f1 + sizeof(struct setup_header);
                memcpy((uint8_t *)&bp + 0x1f1, img->data + 0x1f1, end - 0x1f1);
                const struct setup_header *h = &bp.hdr;
                unsigned setup_sects = h->setup_sects ? h->setup_sects : 4;
                uint64_t pm = (uint64_t)(setup_sects + 1) * 512;
                if (put(m, LAYOUT_HIMEM, img->data + pm, img->size - pm, "kernel", err))
                        return -1;
                if (!guestmem_ptr(m, LAYOUT_HIMEM, img->load_end - LAYOUT_HIMEM))
                        return cvmm_errf(err,
                                         "kernel needs %llu MiB from 1 MiB up (init_size); "
                                         "guest RAM is %llu MiB",
                                         (unsigned long long)(img->load_end >> 20),
                                         (unsigned long long)(m->size >> 20));
        } else {
                if (load_elf(img, m, err))
                        return -1;
                bp.hdr.boot_flag = 0xaa55;
                bp.hdr.header = HDR_MAGIC;
                bp.hdr.kernel_alignment = 0x1000000;
        }
        bp.hdr.type_of_loader = 0xff;
        bp.acpi_rsdp_addr = LAYOUT_ACPI;
        bp.hdr.loadflags |= 0x01; /* LOADED_HIGH */
        bp.hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
        bp.hdr.cmdline_size = (uint32_t)strlen(cmdline);
        if (img->initrd) {
                bp.hdr.ramdisk_image = (uint32_t)initrd;
                bp.hdr.ramdisk_size = (uint32_t)img->initrd_size;
                bp.ext_ramdisk_image = (uint32_t)(initrd >> 32);
                bp.ext_ramdisk_size = (uint32_t)((uint64_t)img->initrd_size >> 32);
        }
        struct boot_e820 map[8];
        size_t n = boot_e820_map(m, map, 8);
        for (size_t i = 0; i < n; i++) {
                bp.e820_table[i].addr = map[i].addr;
                bp.e820_table[i].size = map[i].size;
                bp.e820_table[i].type = map[i].type;
        }
        bp.e820_entries = (uint8_t)n;
        if (put(m, LAYOUT_ZERO_PAGE, &bp, sizeof(bp), "boot_params", err))
                return -1;
        out->rip = img->entry;
        out->rsi = LAYOUT_ZERO_PAGE;
        return 0;
}

static int load_pvh(const struct boot_image *img, const struct guest_mem *m, uint64_t initrd,
                    struct boot_entry *out, struct cvmm_err *err)
{
        if (load_elf(img, m, err))
                return -1;
        struct {
                struct hvm_start_info si;
                struct hvm_modlist_entry mod;
                struct hvm_memmap_entry map[8];
        } pvh;
        memset(&pvh, 0, sizeof(pvh));
        struct boot_e820 map[8];
        size_t n = boot_e820_map(m, map, 8);
        for (size_t i = 0; i < n; i++)
                pvh.map[i] = (struct hvm_memmap_entry){map[i].addr, map[i].size, map[i].type, 0};
        pvh.si.magic = PVH_MAGIC;
        pvh.si.version = 1;
        pvh.si.cmdline_paddr = LAYOUT_CMDLINE;
        pvh.si.rsdp_paddr = LAYOUT_ACPI;
        pvh.si.memmap_paddr = LAYOUT_PVH_INFO + offsetof(__typeof__(pvh), map);
        pvh.si.memmap_entries = (uint32_t)n;
        if (img->initrd) {
                pvh.si.nr_modules = 1;
                pvh.si.modlist_paddr = LAYOUT_PVH_INFO + offsetof(__typeof__(pvh), mod);
                pvh.mod.paddr = initrd;
                pvh.mod.size = img->initrd_size;
        }
        if (put(m, LAYOUT_PVH_INFO, &pvh, sizeof(pvh), "PVH start info", err))
                return -1;
        out->rip = img->entry;
        out->rbx = LAYOUT_PVH_INFO;
        return 0;
}

/* A Multiboot kernel, its command line (kernel_cmdline_len) and the information structure. */
static int load_multiboot(const struct boot_image *img, const struct guest_mem *m,
                          const char *cmdline, uint64_t initrd, struct boot_entry *out,
                          struct cvmm_err *err)
{
        const struct boot_multiboot *mb = &img->mb;
        size_t pl = strlen(img->path), len = strlen(cmdline);
        if (put(m, LAYOUT_CMDLINE, img->path, pl + 1, "command line", err) ||
            (len && (put(m, LAYOUT_CMDLINE + pl, " ", 1, "command line", err) ||
                     put(m, LAYOUT_CMDLINE + pl + 1, cmdline, len + 1, "command line", err))))
                return -1;
        if (mb->flags & MB_ADDRESSES) {
                if (put(m, mb->load_addr, img->data + mb->file_off, mb->file_len, "kernel", err))
                        return -1;
                uint64_t bss = mb->load_addr + mb->file_len;
                uint8_t *z = guestmem_ptr(m, bss, mb->mem_end - bss);
                if (!z)
                        return cvmm_errf(err,
                                         "kernel bss (up to 0x%llx) does not fit in guest RAM "
                                         "(try a larger --memory)",
                                         (unsigned long long)mb->mem_end);
                memset(z, 0, mb->mem_end - bss);
        } else if (load_elf(img, m, err)) {
                return -1;
        }
        out->rip = img->entry;
        return mb_write_info(m, img->initrd ? img->initrd_path : NULL, initrd, img->initrd_size,
                             out, err);
}

int boot_image_load(const struct boot_image *img, const struct guest_mem *m,
                    const struct hw_platform *plat, const char *cmdline, unsigned cpus,
                    struct boot_entry *out, struct cvmm_err *err)
{
        memset(out, 0, sizeof(*out));
        out->kind = img->kind;
        size_t len = strlen(cmdline);
        if (check_cmdline(img, cmdline, err))
                return -1;
        if (m->low < LAYOUT_HIMEM + (1u << 20))
                return cvmm_errf(err, "guest RAM must be at least 2 MiB");
        if (write_cpu_tables(m, err) || boot_write_mptable(m, cpus, err) ||
            boot_write_acpi(m, plat, cpus, err))
                return -1;
        if (img->kind != BOOT_MULTIBOOT &&
            put(m, LAYOUT_CMDLINE, cmdline, len + 1, "command line", err))
                return -1;
        if (check_kernel_fits(img, m->low, err))
                return -1;
        uint64_t initrd = 0;
        if (img->initrd && place_initrd(img, m, &initrd, err))
                return -1;
        if (img->kind == BOOT_ELF_PVH)
                return load_pvh(img, m, initrd, out, err);
        if (img->kind == BOOT_MULTIBOOT)
                return load_multiboot(img, m, cmdline, initrd, out, err);
        return load_linux64(img, m, cmdline, initrd, out, err);
}
