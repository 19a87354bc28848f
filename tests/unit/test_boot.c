/* SPDX-License-Identifier: MIT */
/*
 * The loader without KVM: kernel image checks (each refusal says why), what lands in guest RAM
 * (boot_params, PVH start info, e820, initrd placement, command line) and the MP table, read
 * back the way the guest's kernel reads them. Expected values come from the boot protocol and
 * the MP specification, not from the loader.
 */
#include <asm/bootparam.h>
#include <elf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "hw/layout.h"
#include "testutil.h"

/* The registers cvmm's system-control device claims (dev/sysctl.c) */
static const struct hw_platform plat = {
    .reset_port = 0xcf9, .reset_value = 0x06, .sleep_port = 0x600};

#define MiB (1ull << 20)

/* Writes buf to a temporary file; returns its path (static buffer per call site). */
static char *tmpfile_with(const void *buf, size_t len)
{
        char *path = strdup("/tmp/cvmm-boot-XXXXXX");
        assert_non_null(path);
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, buf, len), (ssize_t)len);
        close(fd);
        return path;
}

/* A minimal bzImage: 4 setup sectors, the header fields the loader reads, a small payload. */
static uint8_t *make_bzimage(uint16_t version, uint16_t xloadflags, size_t *len)
{
        *len = 5 * 512 + 4096;
        uint8_t *b = calloc(1, *len);
        assert_non_null(b);
        struct setup_header *h = (void *)(b + 0x1f1);
        h->setup_sects = 4;
        h->boot_flag = 0xaa55;
        h->jump = 0x66eb; /* the header ends at 0x202 + 0x66 */
        h->header = 0x53726448;
        h->version = version;
        h->xloadflags = xloadflags;
        h->relocatable_kernel = 1;
        h->cmdline_size = 2047;
        h->initrd_addr_max = 0x7fffffff;
        h->init_size = 8 * MiB;
        for (size_t i = 5 * 512; i < *len; i++)
                b[i] = (uint8_t)i;
        return b;
}

static void expect_refusal(const void *buf, size_t len, const char *needle)
{
        char *path = tmpfile_with(buf, len);
        struct boot_image img;
        struct cvmm_err err;
        assert_int_equal(boot_image_open(&img, path, NULL, &err), -1);
        if (!strstr(err.msg, needle) || !strstr(err.msg, path))
                fail_msg("'%s' does not say '%s' and name the file", err.msg, needle);
        unlink(path);
        free(path);
}

static void test_bzimage_refusals(void **state)
{
        (void)state;
        size_t len;
        uint8_t *b = make_bzimage(0x20b, 1, &len);
        expect_refusal(b, len, "2.11 is too old");
        free(b);
        b = make_bzimage(0x20f, 0, &len);
        expect_refusal(b, len, "XLF_KERNEL_64");
        free(b);
        b = make_bzimage(0x20f, 1, &len);
        expect_refusal(b, 5 * 512, "truncated");
        free(b);
        expect_refusal("hello, not a kernel at all", 26, "neither a bzImage");
        expect_refusal("", 0, "neither a bzImage");
}

static void guest_ram(struct guest_mem *m, uint64_t size)
{
        struct cvmm_err err;
        assert_int_equal(guestmem_init(m, size, &err), 0);
}

static void test_bzimage_load(void **state)
{
        (void)state;
        size_t len;
        uint8_t *b = make_bzimage(0x20f, 1, &len);
        char *kpath = tmpfile_with(b, len);
        uint8_t initrd[10000];
        memset(initrd, 0x5a, sizeof(initrd));
        char *ipath = tmpfile_with(initrd, sizeof(initrd));
        struct boot_image img;
        struct cvmm_err err;
        assert_int_equal(boot_image_open(&img, kpath, ipath, &err), 0);
        assert_int_equal(img.kind, BOOT_BZIMAGE);
        struct guest_mem m;
        guest_ram(&m, 256 * MiB);
        struct boot_entry e;
        const char *cmd = "console=ttyS0 cvmm.test=1";
        assert_int_equal(boot_image_load(&img, &m, &plat, cmd, 2, &e, &err), 0);
        /* The 64-bit entry is startup_64: 0x200 past the protected-mode kernel at 1 MiB. */
        assert_int_equal(e.rip, 0x100200);
        assert_int_equal(e.rsi, LAYOUT_ZERO_PAGE);
        assert_memory_equal(guestmem_ptr(&m, 0x100000, 4096), b + 5 * 512, 4096);
        const struct boot_params *bp = guestmem_ptr(&m, LAYOUT_ZERO_PAGE, sizeof(*bp));
        assert_int_equal(bp->hdr.header, 0x53726448);
        assert_int_equal(bp->hdr.type_of_loader, 0xff);
        assert_string_equal((const char *)guestmem_ptr(&m, bp->hdr.cmd_line_ptr, 1), cmd);
        /* initrd: page aligned, wholly in RAM, above the kernel's init_size, at the top. */
        uint64_t ia = bp->hdr.ramdisk_image | (uint64_t)bp->ext_ramdisk_image << 32;
        assert_int_equal(bp->hdr.ramdisk_size, sizeof(initrd));
        assert_int_equal(ia & 0xfff, 0);
        assert_true(ia >= 0x100000 + 8 * MiB);
        assert_true(ia + sizeof(initrd) <= 256 * MiB && ia + sizeof(initrd) > 256 * MiB - 8192);
        assert_memory_equal(guestmem_ptr(&m, ia, sizeof(initrd)), initrd, sizeof(initrd));
        /* e820: low RAM up to the EBDA (0x9e000: 254 vCPUs' MP table), two reserved holes, RAM from
         * 1 MiB to the end. */
        assert_int_equal(bp->e820_entries, 4);
        const struct boot_e820_entry *t = bp->e820_table;
        assert_true(t[0].addr == 0 && t[0].size == 0x9e000 && t[0].type == 1);
        assert_true(t[1].addr == 0x9e000 && t[1].type == 2);
        assert_true(t[2].addr == 0xf0000 && t[2].addr + t[2].size == 0x100000);
        assert_true(t[3].addr == 0x100000 && t[3].addr + t[3].size == 256 * MiB);
        /* A command line longer than the header's cmdline_size is refused, naming the limit. */
        char longcmd[3000];
        memset(longcmd, 'a', sizeof(longcmd) - 1);
        longcmd[sizeof(longcmd) - 1] = 0;
        assert_int_equal(boot_image_load(&img, &m, &plat, longcmd, 1, &e, &err), -1);
        assert_non_null(strstr(err.msg, "at most 2047"));
        /* Too little RAM for the initrd above the kernel: refused with a hint. */
        struct guest_mem small;
        guest_ram(&small, 9 * MiB);
        assert_int_equal(boot_image_load(&img, &small, &plat, cmd, 1, &e, &err), -1);
        assert_non_null(strstr(err.msg, "--memory"));
        guestmem_free(&small);
        guestmem_free(&m);
        boot_image_free(&img);
        unlink(kpath);
        unlink(ipath);
        free(kpath);
        free(ipath);
        free(b);
}

/* The e820 map above 3 GiB: the MMIO hole is skipped and the rest starts at 4 GiB. */
static void test_e820_high(void **state)
{
        (void)state;
        struct guest_mem m;
        guest_ram(&m, 5ull << 30);
        struct boot_e820 map[8];
        size_t n = boot_e820_map(&m, map, 8);
        assert_int_equal(n, 5);
        assert_int_equal(map[3].addr + map[3].size, 3ull << 30);
        assert_int_equal(map[4].addr, 4ull << 30);
        assert_int_equal(map[4].size, 2ull << 30);
        uint64_t ram = 0;
        for (size_t i = 0; i < n; i++)
                ram += map[i].type == 1 ? map[i].size : 0;
        /* All RAM but the EBDA and the 640K-1M hole is handed out. */
        assert_int_equal(ram, (5ull << 30) - (0x100000 - 0x9e000));
        assert_null(guestmem_ptr(&m, (3ull << 30) + 5, 1));
        assert_non_null(guestmem_ptr(&m, (6ull << 30) - 1, 1));
        assert_null(guestmem_ptr(&m, (6ull << 30) - 1, 2));
        assert_null(guestmem_ptr(&m, UINT64_MAX, 2));
        guestmem_free(&m);
}

/* The test guest (a real PVH ELF from the build) loads with the entry from its Xen note. */
static void test_pvh_elf(void **state)
{
        (void)state;
        const char *path = getenv("CVMM_TESTGUEST");
        assert_non_null(path);
        struct boot_image img;
        struct cvmm_err err;
        if (boot_image_open(&img, path, NULL, &err))
                fail_msg("%s", err.msg);
        assert_int_equal(img.kind, BOOT_ELF_PVH);
        /* The note's value, found independently by walking the section headers. */
        Elf64_Ehdr eh;
        memcpy(&eh, img.data, sizeof(eh));
        uint64_t note_entry = 0;
        for (unsigned i = 0; i < eh.e_shnum; i++) {
                Elf64_Shdr sh;
                memcpy(&sh, img.data + eh.e_shoff + i * sizeof(sh), sizeof(sh));
                if (sh.sh_type == SHT_NOTE && sh.sh_size >= 20) {
                        uint32_t type, v;
                        memcpy(&type, img.data + sh.sh_offset + 8, 4);
                        memcpy(&v, img.data + sh.sh_offset + 16, 4);
                        if (type == 18)
                                note_entry = v;
                }
        }
        assert_int_equal(img.entry, note_entry);
        struct guest_mem m;
        guest_ram(&m, 64 * MiB);
        struct boot_entry e;
        assert_int_equal(boot_image_load(&img, &m, &plat, "cpuid", 1, &e, &err), 0);
        assert_int_equal(e.kind, BOOT_ELF_PVH);
        assert_int_equal(e.rip, note_entry);
        const uint32_t *si = guestmem_ptr(&m, e.rbx, 48);
        assert_int_equal(si[0], 0x336ec578); /* magic */
        assert_int_equal(si[1], 1);          /* version */
        uint64_t cmd, map;
        memcpy(&cmd, si + 6, 8);
        memcpy(&map, si + 10, 8);
        assert_string_equal((const char *)guestmem_ptr(&m, cmd, 6), "cpuid");
        assert_int_equal(si[12], 4); /* memmap entries */
        const uint64_t *mm = guestmem_ptr(&m, map, 4 * 24);
        assert_int_equal(mm[3 * 3 + 0], 0x100000);
        assert_int_equal(mm[3 * 3 + 1], 64 * MiB - 0x100000);
        guestmem_free(&m);
        boot_image_free(&img);
}

/* Makes buf (zeroed, at least an ELF header long) the header of an i386 ELF32 executable. */
static Elf32_Ehdr *elf32_exec(uint8_t *buf)
{
        Elf32_Ehdr *eh = (void *)buf;
        memcpy(eh->e_ident, ELFMAG, SELFMAG);
        eh->e_ident[EI_CLASS] = ELFCLASS32;
        eh->e_ident[EI_DATA] = ELFDATA2LSB;
        eh->e_type = ET_EXEC;
        eh->e_machine = EM_386;
        return eh;
}

/* ELF refusals: 32-bit without a PVH note, nothing loadable, segments below 1 MiB. */
static void test_elf_refusals(void **state)
{
        (void)state;
        uint8_t buf[512];
        memset(buf, 0, sizeof(buf));
        Elf32_Ehdr *eh = elf32_exec(buf);
        eh->e_phoff = sizeof(*eh);
        eh->e_phentsize = sizeof(Elf32_Phdr);
        eh->e_phnum = 1;
        Elf32_Phdr *ph = (void *)(buf + sizeof(*eh));
        ph->p_type = PT_LOAD;
        ph->p_paddr = 0x100000;
        ph->p_offset = 0;
        ph->p_filesz = 64;
        ph->p_memsz = 64;
        expect_refusal(buf, sizeof(buf), "without a PVH entry note");
        ph->p_paddr = 0x7000;
        expect_refusal(buf, sizeof(buf), "below 1 MiB");
        ph->p_paddr = 0x100000;
        ph->p_filesz = 4096;
        expect_refusal(buf, sizeof(buf), "outside the file");
        ph->p_type = PT_NULL;
        expect_refusal(buf, sizeof(buf), "nothing to load");
        eh->e_type = ET_DYN;
        expect_refusal(buf, sizeof(buf), "not an executable");
}

/*
 * A PVH ELF of either class with the same segments: a PT_NOTE with the Xen PVH entry, a
 * PT_LOAD at 1 MiB whose memory size exceeds its file size (bss), and one at 3 MiB.
 */
#define PVH_ENTRY 0x101040
static size_t make_pvh_elf(uint8_t *buf, size_t len, bool is64)
{
        assert_true(len >= 0x2000);
        memset(buf, 0, len);
        /* The note: namesz 4, descsz 4, type 18 (XEN_ELFNOTE_PHYS32_ENTRY), "Xen", the entry. */
        const uint32_t note[5] = {4, 4, 18, 0x006e6558, PVH_ENTRY};
        memcpy(buf + 0x800, note, sizeof(note));
        for (size_t i = 0x1000; i < 0x2000; i++)
                buf[i] = (uint8_t)(i * 13);
        /* The headers in the 64-bit layout, narrowed below for ELFCLASS32. */
        Elf64_Ehdr eh = {.e_type = ET_EXEC,
                         .e_machine = is64 ? EM_X86_64 : EM_386,
                         .e_entry = 0xffffffff81000000ull, /* not the PVH entry */
                         .e_phoff = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr),
                         .e_phentsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr),
                         .e_phnum = 3};
        memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = is64 ? ELFCLASS64 : ELFCLASS32;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        const uint64_t high = 0xffffffff80000000ull; /* virtual addresses: not where they load */
        const Elf64_Phdr ph[3] = {
            /* type, flags, offset, vaddr, paddr, filesz, memsz, align */
            {PT_LOAD, 0, 0x1000, high + 0x100000, 0x100000, 0x300, 0x2000, 0x1000},
            {PT_NOTE, 0, 0x800, 0, 0, sizeof(note), sizeof(note), 4},
            {PT_LOAD, 0, 0x1400, high + 0x300000, 0x300000, 0xc00, 0xc00, 0x1000},
        };
        if (is64) {
                memcpy(buf, &eh, sizeof(eh));
                memcpy(buf + sizeof(eh), ph, sizeof(ph));
                return 0x2000;
        }
        Elf32_Ehdr eh32 = {.e_type = eh.e_type,
                           .e_machine = eh.e_machine,
                           .e_entry = (uint32_t)eh.e_entry,
                           .e_phoff = (uint32_t)eh.e_phoff,
                           .e_phentsize = eh.e_phentsize,
                           .e_phnum = eh.e_phnum};
        memcpy(eh32.e_ident, eh.e_ident, EI_NIDENT);
        memcpy(buf, &eh32, sizeof(eh32));
        for (unsigned i = 0; i < 3; i++) {
                Elf32_Phdr p = {.p_type = ph[i].p_type,
                                .p_offset = (uint32_t)ph[i].p_offset,
                                .p_vaddr = (uint32_t)ph[i].p_vaddr,
                                .p_paddr = (uint32_t)ph[i].p_paddr,
                                .p_filesz = (uint32_t)ph[i].p_filesz,
                                .p_memsz = (uint32_t)ph[i].p_memsz,
                                .p_align = (uint32_t)ph[i].p_align};
                memcpy(buf + sizeof(eh32) + i * sizeof(p), &p, sizeof(p));
        }
        return 0x2000;
}

/* Opens buf as a kernel; fails the test when it is refused. */
static void open_ok(struct boot_image *img, const void *buf, size_t len, char **path)
{
        struct cvmm_err err;
        *path = tmpfile_with(buf, len);
        if (boot_image_open(img, *path, NULL, &err))
                fail_msg("%s", err.msg);
}

/*
 * Headers cut short or pointing past the end: each is refused by name, nothing is read past
 * the file (run under valgrind/ASan this also catches the read itself).
 */
static void test_truncated_headers(void **state)
{
        (void)state;
        /* 0x206 bytes, zero but "HdrS" at 0x202: the setup header's fields lie past the end. */
        uint8_t small[0x206] = {0};
        memcpy(small + 0x202, "HdrS", 4);
        expect_refusal(small, sizeof(small), "truncated: the bzImage setup header");
        /* An ELF identification of each class and no more of the header. */
        uint8_t id[EI_NIDENT + 8] = {0};
        memcpy(id, ELFMAG, SELFMAG);
        id[EI_DATA] = ELFDATA2LSB;
        id[EI_CLASS] = ELFCLASS64;
        expect_refusal(id, sizeof(id), "truncated: the ELF header");
        id[EI_CLASS] = ELFCLASS32;
        expect_refusal(id, sizeof(id), "truncated: the ELF header");
        /* Program headers past the end: by offset, and by count. */
        static uint8_t buf[0x2000];
        size_t len = make_pvh_elf(buf, sizeof(buf), true);
        Elf64_Ehdr *eh = (void *)buf;
        eh->e_phoff = len - sizeof(Elf64_Phdr) + 1;
        expect_refusal(buf, len, "program headers lie outside the file");
        eh->e_phoff = sizeof(Elf64_Ehdr);
        eh->e_phnum = 0xffff;
        expect_refusal(buf, len, "program headers lie outside the file");
}

/* A PT_NOTE whose note's name or descriptor runs past the segment is refused. */
static void test_note_overrun(void **state)
{
        (void)state;
        static uint8_t buf[0x2000];
        /* make_pvh_elf's note is at 0x800: namesz, descsz, type, "Xen", entry (20 bytes). */
        const uint32_t sizes[][2] = {
            {4, 0x1000},     /* descriptor past the segment */
            {4, 0xfffffffd}, /* descriptor size that wraps when rounded up in 32 bits */
            {0x1000, 4},     /* name past the segment */
            {0xfffffffd, 4}, /* name size that wraps */
        };
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                for (int is64 = 0; is64 < 2; is64++) {
                        size_t len = make_pvh_elf(buf, sizeof(buf), is64);
                        memcpy(buf + 0x800, sizes[i], 8);
                        expect_refusal(buf, len, "runs past the end of the segment");
                }
        }
}

/*
 * A bzImage's cmdline_size of 0xffffffff: cmdline_size + 1 must not wrap to 0 (which refused
 * every command line); the limit is cvmm's own buffer, LAYOUT_CMDLINE_MAX with the NUL.
 */
static void test_cmdline_size_wrap(void **state)
{
        (void)state;
        size_t len;
        uint8_t *b = make_bzimage(0x20f, 1, &len);
        ((struct setup_header *)(b + 0x1f1))->cmdline_size = 0xffffffffu;
        struct boot_image img;
        char *path;
        open_ok(&img, b, len, &path);
        assert_int_equal(img.cmdline_max, LAYOUT_CMDLINE_MAX);
        struct cvmm_err err;
        assert_int_equal(boot_image_check_fit(&img, 64 * MiB, "console=ttyS0", &err), 0);
        char *big = malloc(LAYOUT_CMDLINE_MAX + 1);
        assert_non_null(big);
        memset(big, 'a', LAYOUT_CMDLINE_MAX);
        big[LAYOUT_CMDLINE_MAX] = '\0';
        assert_int_equal(boot_image_check_fit(&img, 64 * MiB, big, &err), -1);
        assert_non_null(strstr(err.msg, "at most 65535"));
        big[LAYOUT_CMDLINE_MAX - 1] = '\0'; /* 65535 bytes and the NUL: fits exactly */
        assert_int_equal(boot_image_check_fit(&img, 64 * MiB, big, &err), 0);
        free(big);
        boot_image_free(&img);
        unlink(path);
        free(path);
        free(b);
}

/* boot_image_check_fit refuses, without guest RAM, what boot_image_load would refuse. */
static void test_check_fit(void **state)
{
        (void)state;
        size_t len;
        uint8_t *b = make_bzimage(0x20f, 1, &len); /* init_size 8 MiB, cmdline_size 2047 */
        struct boot_image img;
        char *path;
        open_ok(&img, b, len, &path);
        struct cvmm_err err;
        /* The kernel takes 1 MiB + 8 MiB: 9 MiB of RAM is enough, 8 MiB is not. */
        assert_int_equal(boot_image_check_fit(&img, 9 * MiB, "", &err), 0);
        assert_int_equal(boot_image_check_fit(&img, 8 * MiB, "", &err), -1);
        assert_non_null(strstr(err.msg, "kernel needs guest RAM up to 0x900000"));
        char line[2049];
        memset(line, 'x', sizeof(line) - 1);
        line[2047] = '\0'; /* 2047 bytes: the header's limit */
        assert_int_equal(boot_image_check_fit(&img, 64 * MiB, line, &err), 0);
        line[2048] = '\0';
        line[2047] = 'x';
        assert_int_equal(boot_image_check_fit(&img, 64 * MiB, line, &err), -1);
        assert_non_null(strstr(err.msg, "--cmdline is 2048 bytes; this kernel takes at most 2047"));
        /* An initrd of 8 MiB above a kernel ending at 9 MiB: 17 MiB fits, 16 MiB does not. */
        img.initrd = calloc(1, 8 * MiB);
        assert_non_null(img.initrd);
        img.initrd_size = 8 * MiB;
        assert_int_equal(boot_image_check_fit(&img, 17 * MiB, "", &err), 0);
        assert_int_equal(boot_image_check_fit(&img, 16 * MiB, "", &err), -1);
        assert_non_null(strstr(err.msg, "initrd (8388608 bytes) does not fit"));
        boot_image_free(&img);
        unlink(path);
        free(path);
        free(b);
}

/* Opens and loads a PVH ELF of the given class into fresh 64 MiB guest RAM. */
static void load_pvh_elf(struct guest_mem *m, bool is64)
{
        static uint8_t buf[0x2000];
        size_t len = make_pvh_elf(buf, sizeof(buf), is64);
        char *path = tmpfile_with(buf, len);
        struct boot_image img;
        struct cvmm_err err;
        if (boot_image_open(&img, path, NULL, &err))
                fail_msg("%s", err.msg);
        assert_int_equal(img.kind, BOOT_ELF_PVH);
        assert_int_equal(img.entry, PVH_ENTRY);
        guest_ram(m, 64 * MiB);
        struct boot_entry e;
        if (boot_image_load(&img, m, &plat, "console=ttyS0", 2, &e, &err))
                fail_msg("%s", err.msg);
        assert_int_equal(e.rip, PVH_ENTRY);
        assert_int_equal(e.rbx, LAYOUT_PVH_INFO);
        /* Each PT_LOAD at its physical address: the file's bytes, then zeros up to memsz. */
        const uint8_t *lo = guestmem_ptr(m, 0x100000, 0x2000);
        assert_memory_equal(lo, buf + 0x1000, 0x300);
        for (size_t i = 0x300; i < 0x2000; i++)
                assert_int_equal(lo[i], 0);
        assert_memory_equal(guestmem_ptr(m, 0x300000, 0xc00), buf + 0x1400, 0xc00);
        boot_image_free(&img);
        unlink(path);
        free(path);
}

/* ELF32 and ELF64 with the same segments and note leave the same bytes in all of guest RAM. */
static void test_elf_classes(void **state)
{
        (void)state;
        struct guest_mem m32, m64;
        load_pvh_elf(&m32, false);
        load_pvh_elf(&m64, true);
        assert_int_equal(m32.size, m64.size);
        assert_true(memcmp(m32.host, m64.host, m32.size) == 0);
        guestmem_free(&m32);
        guestmem_free(&m64);
}

/* Linux's first scan: the last KiB of base memory (639K-640K), on 16-byte boundaries. */
static const uint8_t *find_mpf(const struct guest_mem *m)
{
        for (uint64_t a = 639 * 1024; a < 640 * 1024; a += 16) {
                const uint8_t *p = guestmem_ptr(m, a, 16);
                if (p && memcmp(p, "_MP_", 4) == 0)
                        return p;
        }
        fail_msg("no MP floating pointer in 639K-640K");
        return NULL;
}

/* Whether [a, a + len) lies in one e820 range of type t. */
static bool in_e820(const struct guest_mem *m, uint64_t a, uint64_t len, uint32_t t)
{
        struct boot_e820 e[16];
        size_t n = boot_e820_map(m, e, 16);
        for (size_t i = 0; i < n && i < 16; i++)
                if (e[i].type == t && e[i].addr <= a && a + len <= e[i].addr + e[i].size)
                        return true;
        return false;
}

static void check_mptable(unsigned want);

/* The MP table as Linux's mpparse reads it, for 1, 4 and the 254 vCPUs --cpus allows. */
static void test_mptable(void **state)
{
        (void)state;
        check_mptable(1);
        check_mptable(4);
        check_mptable(254);
        struct guest_mem m;
        struct cvmm_err err;
        guest_ram(&m, 16 * MiB);
        assert_int_equal(boot_write_mptable(&m, 255, &err), -1);
        guestmem_free(&m);
}

/* Floating pointer, checksums, one CPU per vCPU, all in memory the e820 map reserves. */
static void check_mptable(unsigned want)
{
        struct guest_mem m;
        guest_ram(&m, 16 * MiB);
        struct cvmm_err err;
        if (boot_write_mptable(&m, want, &err))
                fail_msg("%u vCPUs: %s", want, err.msg);
        const uint8_t *mpf = find_mpf(&m);
        assert_int_equal(byte_sum(mpf, 16), 0);
        uint32_t phys;
        memcpy(&phys, mpf + 4, 4);
        const uint8_t *mpc = guestmem_ptr(&m, phys, 44);
        assert_memory_equal(mpc, "PCMP", 4);
        uint16_t length, count;
        memcpy(&length, mpc + 4, 2);
        memcpy(&count, mpc + 34, 2);
        assert_int_equal(byte_sum(mpc, length), 0);
        assert_true(in_e820(&m, phys, length, 2));
        assert_true(in_e820(&m, 639 * 1024, 1024, 2));
        unsigned cpus = 0, bsp = 0, ioapics = 0;
        const uint8_t *p = mpc + 44;
        for (unsigned i = 0; i < count; i++) {
                switch (p[0]) {
                case 0:
                        assert_int_equal(p[1], cpus); /* APIC ID = vCPU index */
                        cpus++;
                        bsp += p[3] >> 1 & 1;
                        p += 20;
                        break;
                case 2:
                        ioapics++;
                        p += 8;
                        break;
                default:
                        p += p[0] == 1 ? 8 : 8;
                }
        }
        assert_int_equal(cpus, want);
        assert_int_equal(bsp, 1);
        assert_int_equal(ioapics, 1);
        assert_int_equal(p - mpc, length);
        guestmem_free(&m);
}

/* Finds the table with signature sig through the RSDP at LAYOUT_ACPI and the XSDT. */
static const uint8_t *acpi_table(const struct guest_mem *m, const char *sig)
{
        const uint8_t *rsdp = guestmem_ptr(m, LAYOUT_ACPI, 36);
        assert_memory_equal(rsdp, "RSD PTR ", 8);
        assert_int_equal(rsdp[15], 2); /* revision: ACPI 2+, has the XSDT */
        assert_int_equal(byte_sum(rsdp, 20), 0);
        assert_int_equal(byte_sum(rsdp, 36), 0);
        uint64_t xsdt_at;
        memcpy(&xsdt_at, rsdp + 24, 8);
        const uint8_t *xsdt = guestmem_ptr(m, xsdt_at, 36);
        assert_memory_equal(xsdt, "XSDT", 4);
        uint32_t len;
        memcpy(&len, xsdt + 4, 4);
        assert_true(len >= 36 && (len - 36) % 8 == 0);
        assert_int_equal(byte_sum(guestmem_ptr(m, xsdt_at, len), len), 0);
        for (uint32_t off = 36; off < len; off += 8) {
                uint64_t at;
                memcpy(&at, xsdt + off, 8);
                const uint8_t *t = guestmem_ptr(m, at, 36);
                if (memcmp(t, sig, 4) != 0)
                        continue;
                uint32_t tlen;
                memcpy(&tlen, t + 4, 4);
                assert_int_equal(byte_sum(guestmem_ptr(m, at, tlen), tlen), 0);
                return t;
        }
        fail_msg("no %s table in the XSDT", sig);
        return NULL;
}

/* A generic address structure (ACPI 6, 5.2.3.2): a byte-wide system I/O port, or all zero. */
static void expect_gas(const uint8_t *gas, uint16_t port)
{
        if (!port) {
                static const uint8_t zero[12];
                assert_memory_equal(gas, zero, 12);
                return;
        }
        assert_int_equal(gas[0], 1); /* address space: system I/O */
        assert_int_equal(gas[1], 8); /* register bit width */
        assert_int_equal(gas[2], 0); /* bit offset */
        assert_int_equal(gas[3], 1); /* access size: byte */
        uint64_t addr;
        memcpy(&addr, gas + 4, 8);
        assert_int_equal(addr, port);
}

/*
 * The FADT (ACPI 6, table 5.9: flags at 112, RESET_REG at 116, RESET_VALUE at 128,
 * SLEEP_CONTROL_REG at 244, SLEEP_STATUS_REG at 256) describes the registers plat names.
 */
static void expect_fadt(const struct hw_platform *p)
{
        struct guest_mem m;
        guest_ram(&m, 16 * MiB);
        struct cvmm_err err;
        if (boot_write_acpi(&m, p, 2, &err))
                fail_msg("%s", err.msg);
        const uint8_t *fadt = acpi_table(&m, "FACP");
        uint32_t len, flags;
        memcpy(&len, fadt + 4, 4);
        assert_int_equal(len, 276);
        memcpy(&flags, fadt + 112, 4);
        assert_true(flags & (1u << 20));                                 /* HW_REDUCED_ACPI */
        assert_int_equal(!!(flags & (1u << 10)), p->reset_port ? 1 : 0); /* RESET_REG_SUP */
        expect_gas(fadt + 116, p->reset_port);
        assert_int_equal(fadt[128], p->reset_port ? p->reset_value : 0);
        expect_gas(fadt + 244, p->sleep_port);
        expect_gas(fadt + 256, p->sleep_port ? (uint16_t)(p->sleep_port + 1) : 0);
        guestmem_free(&m);
}

static void test_fadt_platform(void **state)
{
        (void)state;
        expect_fadt(&plat);
        expect_fadt(
            &(struct hw_platform){.reset_port = 0x1234, .reset_value = 0x5a, .sleep_port = 0x700});
        expect_fadt(&(struct hw_platform){.reset_port = 0x92, .reset_value = 1});
        expect_fadt(&(struct hw_platform){.sleep_port = 0x404});
        expect_fadt(&(struct hw_platform){0}); /* no reset port, no sleep port */
}

/*
 * A Multiboot v1 image of len bytes with a header at off: magic 0x1BADB002, flags, checksum
 * (-(magic + flags), or wrong when bad), then header_addr, load_addr, load_end_addr,
 * bss_end_addr and entry_addr when given. The rest is a byte pattern.
 */
static uint8_t *mb_image(size_t len, size_t off, uint32_t flags, bool bad, const uint32_t *adr)
{
        uint8_t *b = calloc(1, len);
        assert_non_null(b);
        for (size_t i = 0; i < len; i++)
                b[i] = (uint8_t)(i * 7 + 1);
        uint32_t h[8] = {0x1badb002u, flags, (uint32_t)(0u - 0x1badb002u - flags) + (bad ? 1 : 0)};
        size_t n = 3;
        if (adr) {
                memcpy(h + 3, adr, 5 * 4);
                n = 8;
        }
        if (off + n * 4 > len)
                n = (len - off) / 4;
        memcpy(b + off, h, n * 4);
        return b;
}

static void mb_refusal(size_t len, size_t off, uint32_t flags, bool bad, const uint32_t *adr,
                       const char *needle)
{
        uint8_t *b = mb_image(len, off, flags, bad, adr);
        expect_refusal(b, len, needle);
        free(b);
}

#define MB_ADDR (1u << 16)

/*
 * A Multiboot kernel with address fields (the a.out kludge): the bytes from the file that
 * the fields name land at load_addr, the bss is zeroed, and the information structure in EBX
 * holds what the Multiboot Specification 0.6.96 (section 3.3) says, read at its offsets.
 */
static void test_multiboot_load(void **state)
{
        (void)state;
        const size_t len = 0x1800, off = 0x40;
        /* header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr */
        const uint32_t adr[5] = {0x200040, 0x200000, 0x201000, 0x203000, 0x200080};
        uint8_t *b = mb_image(len, off, 0x3 | MB_ADDR, false, adr);
        char *kpath = tmpfile_with(b, len);
        uint8_t initrd[5000];
        for (size_t i = 0; i < sizeof(initrd); i++)
                initrd[i] = (uint8_t)(i ^ 0x5a);
        char *ipath = tmpfile_with(initrd, sizeof(initrd));
        struct boot_image img;
        struct cvmm_err err;
        if (boot_image_open(&img, kpath, ipath, &err))
                fail_msg("%s", err.msg);
        assert_int_equal(img.kind, BOOT_MULTIBOOT);
        assert_string_equal(boot_kind_name(img.kind), "Multiboot");
        struct guest_mem m;
        guest_ram(&m, 64 * MiB);
        memset(guestmem_ptr(&m, 0x201000, 0x2000), 0xaa, 0x2000); /* must come back zero */
        struct boot_entry e;
        if (boot_image_load(&img, &m, &plat, "a b=c", 2, &e, &err))
                fail_msg("%s", err.msg);
        assert_int_equal(e.kind, BOOT_MULTIBOOT);
        assert_int_equal(e.rip, 0x200080);
        assert_int_equal(e.rax, 0x2badb002);
        /* load_addr = header_addr - (header's file offset - image's file offset): file 0.. */
        assert_memory_equal(guestmem_ptr(&m, 0x200000, 0x1000), b, 0x1000);
        const uint8_t *bss = guestmem_ptr(&m, 0x201000, 0x2000);
        for (size_t i = 0; i < 0x2000; i++)
                assert_int_equal(bss[i], 0);
        assert_true(e.rbx < 0x100000 && e.rbx % 4 == 0);
        const uint8_t *mbi = guestmem_ptr(&m, e.rbx, 116);
        uint32_t f[18];
        memcpy(f, mbi, sizeof(f));
        /* flags: mem_* (0), cmdline (2), mods (3), mmap (6), boot_loader_name (9) */
        assert_int_equal(f[0], (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
        assert_int_equal(f[1], 0x9e000 / 1024);               /* mem_lower: RAM below the EBDA */
        assert_int_equal(f[2], (64 * MiB - 0x100000) / 1024); /* mem_upper: from 1 MiB */
        /* the kernel's path first, as GRUB and QEMU pass a Multiboot command line */
        char want_cmd[256];
        snprintf(want_cmd, sizeof(want_cmd), "%s a b=c", kpath);
        assert_string_equal((const char *)guestmem_ptr(&m, f[4], strlen(want_cmd) + 1), want_cmd);
        assert_int_equal(f[5], 1); /* mods_count */
        uint32_t mod[4];
        memcpy(mod, guestmem_ptr(&m, f[6], 16), 16);
        assert_int_equal(mod[0] % 4096, 0); /* flags bit 0: page aligned */
        assert_true(mod[0] >= 0x203000);    /* above the kernel's bss */
        assert_int_equal(mod[1] - mod[0], sizeof(initrd));
        assert_memory_equal(guestmem_ptr(&m, mod[0], sizeof(initrd)), initrd, sizeof(initrd));
        assert_string_equal((const char *)guestmem_ptr(&m, mod[2], strlen(ipath) + 1), ipath);
        /* mmap: entries of size 20 (not counting the size field), covering the e820 map */
        uint32_t mmap_len = f[11], mmap_addr = f[12];
        struct boot_e820 want[8];
        size_t n = boot_e820_map(&m, want, 8);
        assert_int_equal(mmap_len, n * 24);
        for (size_t i = 0; i < n; i++) {
                const uint8_t *q = guestmem_ptr(&m, mmap_addr + i * 24, 24);
                uint32_t size, type;
                uint64_t addr, length;
                memcpy(&size, q, 4);
                memcpy(&addr, q + 4, 8);
                memcpy(&length, q + 12, 8);
                memcpy(&type, q + 20, 4);
                assert_int_equal(size, 20);
                assert_int_equal(addr, want[i].addr);
                assert_int_equal(length, want[i].size);
                assert_int_equal(type, want[i].type);
        }
        uint32_t name;
        memcpy(&name, mbi + 64, 4);
        assert_string_equal((const char *)guestmem_ptr(&m, name, 5), "cvmm");
        guestmem_free(&m);
        boot_image_free(&img);
        unlink(kpath);
        unlink(ipath);
        free(kpath);
        free(ipath);
        free(b);
}

/*
 * Multiboot without address fields in an ELF32 file (what kvm-unit-tests builds): loaded by
 * its program headers, entered at e_entry; before the ELF path, which would refuse a 32-bit
 * ELF without a PVH note. No initrd: flags bit 3 clear.
 */
static void test_multiboot_elf(void **state)
{
        (void)state;
        uint8_t buf[0x3000];
        memset(buf, 0, sizeof(buf));
        Elf32_Ehdr *eh = elf32_exec(buf);
        eh->e_entry = 0x400010;
        eh->e_phoff = sizeof(*eh);
        eh->e_phentsize = sizeof(Elf32_Phdr);
        eh->e_phnum = 1;
        Elf32_Phdr *ph = (void *)(buf + sizeof(*eh));
        *ph = (Elf32_Phdr){.p_type = PT_LOAD,
                           .p_offset = 0x1000,
                           .p_paddr = 0x400000,
                           .p_filesz = 0x2000,
                           .p_memsz = 0x3000};
        const uint32_t h[3] = {0x1badb002u, 0x2, 0u - 0x1badb002u - 0x2};
        memcpy(buf + 0x1000, h, sizeof(h)); /* at 0x1000: within the first 8 KiB */
        for (size_t i = 0x100c; i < sizeof(buf); i++)
                buf[i] = (uint8_t)i;
        char *path = tmpfile_with(buf, sizeof(buf));
        struct boot_image img;
        struct cvmm_err err;
        if (boot_image_open(&img, path, NULL, &err))
                fail_msg("%s", err.msg);
        assert_int_equal(img.kind, BOOT_MULTIBOOT);
        struct guest_mem m;
        guest_ram(&m, 32 * MiB);
        struct boot_entry e;
        if (boot_image_load(&img, &m, &plat, "", 1, &e, &err))
                fail_msg("%s", err.msg);
        assert_int_equal(e.rip, 0x400010);
        assert_int_equal(e.rax, 0x2badb002);
        assert_memory_equal(guestmem_ptr(&m, 0x400000, 0x2000), buf + 0x1000, 0x2000);
        uint32_t f[7];
        memcpy(f, guestmem_ptr(&m, e.rbx, sizeof(f)), sizeof(f));
        assert_int_equal(f[0] & (1u << 3), 0);
        assert_int_equal(f[5], 0);
        assert_int_equal(f[2], (32 * MiB - 0x100000) / 1024);
        guestmem_free(&m);
        boot_image_free(&img);
        unlink(path);
        free(path);
        /* The same file with a wrong checksum is no Multiboot kernel: the ELF path refuses it. */
        buf[0x1008] ^= 1;
        expect_refusal(buf, sizeof(buf), "32-bit ELF without a PVH entry note");
}

/* A Multiboot kernel may load in conventional memory clear of cvmm's pages (realmode.flat does). */
static void test_multiboot_low(void **state)
{
        (void)state;
        const uint32_t adr[5] = {0x8000, 0x8000, 0, 0xc000, 0x8010};
        uint8_t *b = mb_image(0x1000, 0, 0x2 | MB_ADDR, false, adr);
        char *path = tmpfile_with(b, 0x1000);
        struct boot_image img;
        struct cvmm_err err;
        if (boot_image_open(&img, path, NULL, &err))
                fail_msg("%s", err.msg);
        struct guest_mem m;
        guest_ram(&m, 16 * MiB);
        struct boot_entry e;
        if (boot_image_load(&img, &m, &plat, "x", 1, &e, &err))
                fail_msg("%s", err.msg);
        assert_int_equal(e.rip, 0x8010);
        assert_memory_equal(guestmem_ptr(&m, 0x8000, 0x1000), b, 0x1000);
        guestmem_free(&m);
        boot_image_free(&img);
        unlink(path);
        free(path);
        free(b);
}

/* Each malformed or unmeetable Multiboot header is refused with what is wrong. */
static void test_multiboot_refusals(void **state)
{
        (void)state;
        /* file length, header offset, flags, wrong checksum, address fields (when has_adr:
         * header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr), what it says */
        static const struct {
                size_t len, off;
                uint32_t flags;
                bool bad, has_adr;
                uint32_t adr[5];
                const char *needle;
        } cases[] = {
            {0x1000,
             0,
             MB_ADDR | (1u << 2),
             false,
             true,
             {0x100000, 0x100000, 0, 0, 0x100010},
             "video mode information"},
            {0x1000,
             0,
             MB_ADDR | (1u << 5),
             false,
             true,
             {0x100000, 0x100000, 0, 0, 0x100010},
             "flags bit 5"},
            {0x1000,
             0,
             MB_ADDR,
             true,
             true,
             {0x100000, 0x100000, 0, 0, 0x100010},
             "checksum is wrong"},
            {0x2000, 0x1ff8, MB_ADDR, false, false, {0}, "cut off"}, /* checksum past the end */
            {20, 0, MB_ADDR, false, false, {0}, "past the end of the file"},
            {0x1000, 0, 0x2, false, false, {0}, "the file is not ELF"},
            {0x1000,
             0,
             MB_ADDR,
             false,
             true,
             {0x100000, 0x100004, 0, 0, 0x100010},
             "above header_addr"},
            {0x1000,
             0x80,
             MB_ADDR,
             false,
             true,
             {0x100100, 0x100000, 0, 0, 0x100010},
             "before the file's start"},
            {0x1000,
             0,
             MB_ADDR,
             false,
             true,
             {0x100000, 0x100000, 0x100000, 0, 0x100000},
             "is not above load_addr"},
            {0x1000,
             0,
             MB_ADDR,
             false,
             true,
             {0x100000, 0x100000, 0x102000, 0, 0x100010},
             "the file has 4096"},
            {0x1000,
             0,
             MB_ADDR,
             false,
             true,
             {0x100000, 0x100000, 0, 0x100800, 0x100010},
             "bss_end_addr 0x100800 is below"},
            /* below 1 MiB: on the information page, across the EBDA, and at 0 */
            {0x1000,
             0,
             MB_ADDR,
             false,
             true,
             {0x6000, 0x6000, 0, 0, 0x6010},
             "is below 1 MiB but not within"},
            {0x1000,
             0,
             MB_ADDR,
             false,
             true,
             {0x9d000, 0x9d000, 0, 0x9f000, 0x9d010},
             "is below 1 MiB but not within"},
            {0x1000, 0, MB_ADDR, false, true, {0, 0, 0, 0, 0x10}, "is below 1 MiB but not within"},
            {0x1000,
             0,
             MB_ADDR,
             false,
             true,
             {0x100000, 0x100000, 0, 0x104000, 0x104000},
             "entry_addr 0x104000 lies outside"},
            {0x2000,
             0,
             MB_ADDR,
             false,
             true,
             {0xfffff000, 0xfffff000, 0, 0, 0xfffff010},
             "runs past 4 GiB"},
            /* a header beyond the first 8 KiB is not looked for */
            {0x3000,
             0x2000,
             MB_ADDR,
             false,
             true,
             {0x100000, 0x100000, 0, 0, 0x100010},
             "no header in the first 8 KiB"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                mb_refusal(cases[i].len, cases[i].off, cases[i].flags, cases[i].bad,
                           cases[i].has_adr ? cases[i].adr : NULL, cases[i].needle);
}

/* guestmem_resident counts the pages touched, across its 256 MiB windows and a partial last. */
static void test_resident(void **state)
{
        (void)state;
        struct guest_mem m;
        guest_ram(&m, (600ull << 20) + 8192); /* two whole windows, then 88 MiB and 2 pages */
        assert_int_equal(guestmem_resident(&m), 0);
        uint64_t at[] = {0,
                         4096 * 7,
                         (256ull << 20) - 4096,
                         256ull << 20,
                         (512ull << 20) + 12288,
                         (600ull << 20) + 4096};
        for (unsigned i = 0; i < sizeof(at) / sizeof(at[0]); i++)
                m.host[at[i]] = 1;
        assert_int_equal(guestmem_resident(&m), 6 * 4096);
        struct cvmm_err err;
        assert_int_equal(guestmem_reset(&m, &err), 0);
        assert_int_equal(guestmem_resident(&m), 0);
        guestmem_free(&m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_resident),      cmocka_unit_test(test_bzimage_refusals),
            cmocka_unit_test(test_bzimage_load),  cmocka_unit_test(test_e820_high),
            cmocka_unit_test(test_pvh_elf),       cmocka_unit_test(test_elf_refusals),
            cmocka_unit_test(test_mptable),       cmocka_unit_test(test_elf_classes),
            cmocka_unit_test(test_fadt_platform), cmocka_unit_test(test_truncated_headers),
            cmocka_unit_test(test_note_overrun),  cmocka_unit_test(test_cmdline_size_wrap),
            cmocka_unit_test(test_check_fit),     cmocka_unit_test(test_multiboot_load),
            cmocka_unit_test(test_multiboot_elf), cmocka_unit_test(test_multiboot_refusals),
            cmocka_unit_test(test_multiboot_low),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
