/* SPDX-License-Identifier: MIT */
/*
 * The least a KVM program does to run the small PVH test guest, as a benchmark baseline (issue
 * 12), not a product: one VM with RAM of the size given, one vCPU with KVM_GET_SUPPORTED_CPUID
 * as it is, the ELF's PT_LOAD segments copied in, a PVH start info carrying the command line,
 * entry at the PVH entry in flat 32-bit protected mode (EBX = the start info), COM1 bytes to
 * stdout, until the guest's reset write (0xfe to port 0x64). No checks beyond what it needs to
 * run; every failure exits 1 with the step that failed.
 *
 *   floor GUEST.ELF MEMORY_MIB CMDLINE
 */
#include <elf.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define START_INFO 0x6000u /* struct hvm_start_info, then the command line */

static void die(const char *what)
{
        perror(what);
        exit(1);
}

/* The PVH entry from the ELF's XEN_ELFNOTE_PHYS32_ENTRY note (type 18, name "Xen"). */
static uint32_t pvh_entry(const uint8_t *f, size_t size, const Elf64_Ehdr *eh)
{
        for (unsigned i = 0; i < eh->e_phnum; i++) {
                const Elf64_Phdr *ph = (const void *)(f + eh->e_phoff + i * sizeof(*ph));
                if (ph->p_type != PT_NOTE || ph->p_offset + ph->p_filesz > size)
                        continue;
                for (uint64_t o = 0; o + 12 <= ph->p_filesz;) {
                        const uint32_t *n = (const void *)(f + ph->p_offset + o);
                        uint64_t desc = o + 12 + ((n[0] + 3) & ~3u);
                        if (n[2] == 18 && n[0] == 4 && !memcmp(n + 3, "Xen", 4))
                                return *(const uint32_t *)(f + ph->p_offset + desc);
                        o = desc + ((n[1] + 3) & ~3u);
                }
        }
        fprintf(stderr, "floor: no PVH entry note\n");
        exit(1);
}

int main(int argc, char **argv)
{
        if (argc != 4) {
                fprintf(stderr, "usage: floor GUEST.ELF MEMORY_MIB CMDLINE\n");
                return 2;
        }
        size_t mem_size = (size_t)strtoul(argv[2], NULL, 10) << 20;
        int ef = open(argv[1], O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (ef < 0 || fstat(ef, &st))
                die("guest");
        const uint8_t *f = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, ef, 0);
        if (f == MAP_FAILED)
                die("mmap guest");
        const Elf64_Ehdr *eh = (const void *)f;

        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0)
                die("/dev/kvm");
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0)
                die("KVM_CREATE_VM");
        uint8_t *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED)
                die("mmap RAM");
        struct kvm_userspace_memory_region region = {.slot = 0,
                                                     .guest_phys_addr = 0,
                                                     .memory_size = mem_size,
                                                     .userspace_addr = (uintptr_t)mem};
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region))
                die("KVM_SET_USER_MEMORY_REGION");
        for (unsigned i = 0; i < eh->e_phnum; i++) {
                const Elf64_Phdr *ph = (const void *)(f + eh->e_phoff + i * sizeof(*ph));
                if (ph->p_type == PT_LOAD && ph->p_paddr + ph->p_memsz <= mem_size)
                        memcpy(mem + ph->p_paddr, f + ph->p_offset, ph->p_filesz);
        }
        uint32_t *si = (uint32_t *)(mem + START_INFO); /* magic, version, flags, nr_modules */
        si[0] = 0x336ec578u;
        si[1] = 1;
        uint64_t cmdline = START_INFO + 64;
        memcpy(si + 6, &cmdline, 8); /* cmdline_paddr, after modlist_paddr */
        strcpy((char *)mem + cmdline, argv[3]);

        int cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
        int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (cpu < 0 || run_size < 0)
                die("KVM_CREATE_VCPU");
        struct kvm_run *run =
            mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
        if (run == MAP_FAILED)
                die("mmap kvm_run");
        struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + 256 * sizeof(cpuid->entries[0]));
        if (!cpuid)
                die("calloc");
        cpuid->nent = 256;
        if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) || ioctl(cpu, KVM_SET_CPUID2, cpuid))
                die("CPUID");

        struct kvm_sregs sregs;
        if (ioctl(cpu, KVM_GET_SREGS, &sregs))
                die("KVM_GET_SREGS");
        struct kvm_segment flat = {.base = 0, .limit = 0xffffffff, .present = 1, .s = 1, .g = 1};
        flat.db = 1;
        flat.type = 0xb; /* code: execute/read, accessed */
        flat.selector = 0x8;
        sregs.cs = flat;
        flat.type = 0x3; /* data: read/write, accessed */
        flat.selector = 0x10;
        sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat;
        sregs.cr0 |= 1; /* PE, paging off */
        struct kvm_regs regs = {
            .rip = pvh_entry(f, (size_t)st.st_size, eh), .rbx = START_INFO, .rflags = 2};
        if (ioctl(cpu, KVM_SET_SREGS, &sregs) || ioctl(cpu, KVM_SET_REGS, &regs))
                die("registers");

        for (;;) {
                if (ioctl(cpu, KVM_RUN, 0))
                        die("KVM_RUN");
                if (run->exit_reason != KVM_EXIT_IO) {
                        fprintf(stderr, "floor: exit reason %u\n", run->exit_reason);
                        return 1;
                }
                uint8_t *data = (uint8_t *)run + run->io.data_offset;
                if (run->io.direction == KVM_EXIT_IO_IN) {
                        memset(data, 0xff, (size_t)run->io.size * run->io.count);
                } else if (run->io.port == 0x3f8) {
                        if (write(1, data, run->io.count) < 0)
                                die("stdout");
                } else if (run->io.port == 0x64 && data[0] == 0xfe) {
                        return 0; /* the guest's reset: the end of the run */
                }
        }
}
