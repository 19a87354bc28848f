/* SPDX-License-Identifier: MIT */
/*
 * The loader without KVM: kernel image checks (each refusal says why), what lands in guest RAM
 * (boot_params, PVH start info, e820, initrd placement, command line) and the MP table, read
 * back the way the guest's kernel reads them. Expected values come from the boot protocol and
 * the MP specification, not from the loader.
 */
#include <asm/bootparam.h>
#include <elf.h>
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
        /* e820: low RAM up to the EBDA, two reserved holes, RAM from 1 MiB to the end. */
        assert_int_equal(bp->e820_entries, 4);
        const struct boot_e820_entry *t = bp->e820_table;
        assert_true(t[0].addr == 0 && t[0].size == 0x9fc00 && t[0].type == 1);
        assert_true(t[1].addr == 0x9fc00 && t[1].type == 2);
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
        assert_int_equal(ram, (5ull << 30) - (0x100000 - 0x9fc00));
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

/* ELF refusals: 32-bit without a PVH note, nothing loadable, segments below 1 MiB. */
static void test_elf_refusals(void **state)
{
        (void)state;
        uint8_t buf[512];
        memset(buf, 0, sizeof(buf));
        Elf32_Ehdr *eh = (void *)buf;
        memcpy(eh->e_ident, ELFMAG, SELFMAG);
        eh->e_ident[EI_CLASS] = ELFCLASS32;
        eh->e_ident[EI_DATA] = ELFDATA2LSB;
        eh->e_type = ET_EXEC;
        eh->e_machine = EM_386;
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

static uint8_t sum(const uint8_t *p, size_t n)
{
        uint8_t s = 0;
        for (size_t i = 0; i < n; i++)
                s = (uint8_t)(s + p[i]);
        return s;
}

/* The MP table as Linux's mpparse reads it: floating pointer, checksums, one CPU per vCPU. */
static void test_mptable(void **state)
{
        (void)state;
        struct guest_mem m;
        guest_ram(&m, 16 * MiB);
        struct cvmm_err err;
        assert_int_equal(boot_write_mptable(&m, 4, &err), 0);
        const uint8_t *mpf = guestmem_ptr(&m, LAYOUT_EBDA, 16);
        assert_memory_equal(mpf, "_MP_", 4);
        assert_int_equal(sum(mpf, 16), 0);
        uint32_t phys;
        memcpy(&phys, mpf + 4, 4);
        const uint8_t *mpc = guestmem_ptr(&m, phys, 44);
        assert_memory_equal(mpc, "PCMP", 4);
        uint16_t length, count;
        memcpy(&length, mpc + 4, 2);
        memcpy(&count, mpc + 34, 2);
        assert_int_equal(sum(mpc, length), 0);
        assert_true(phys + length <= LAYOUT_LOW_END);
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
        assert_int_equal(cpus, 4);
        assert_int_equal(bsp, 1);
        assert_int_equal(ioapics, 1);
        assert_int_equal(p - mpc, length);
        assert_int_equal(boot_write_mptable(&m, 255, &err), -1);
        guestmem_free(&m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bzimage_refusals), cmocka_unit_test(test_bzimage_load),
            cmocka_unit_test(test_e820_high),        cmocka_unit_test(test_pvh_elf),
            cmocka_unit_test(test_elf_refusals),     cmocka_unit_test(test_mptable),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
