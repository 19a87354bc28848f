/* SPDX-License-Identifier: MIT */
#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/probe.h"

#define PROBE_MEM     0x10000u
#define PROBE_CODE    0x1000u
#define PROBE_LIST    0x2000u /* u32 count, then {leaf, subleaf} pairs */
#define PROBE_RESULTS 0x8000u /* 16 bytes per pair */
#define PROBE_MAX     2000u   /* results end below 0x10000 */
#define MARKER_LEAF   0x40000000u

/* Real-mode guest: CPUID for each listed (leaf, subleaf), results stored in order, then HLT. */
extern const unsigned char cvmm_probe_code[], cvmm_probe_code_end[];
__asm__(".pushsection .rodata\n"
        ".globl cvmm_probe_code\n"
        ".globl cvmm_probe_code_end\n"
        "cvmm_probe_code:\n"
        ".code16\n"
        "xorw %ax, %ax\n"
        "movw %ax, %ds\n"
        "movl $0x2000, %esi\n"
        "movl (%esi), %ebp\n"
        "addl $4, %esi\n"
        "movl $0x8000, %edi\n"
        "1: testl %ebp, %ebp\n"
        "jz 2f\n"
        "movl (%esi), %eax\n"
        "movl 4(%esi), %ecx\n"
        "cpuid\n"
        "movl %eax, (%edi)\n"
        "movl %ebx, 4(%edi)\n"
        "movl %ecx, 8(%edi)\n"
        "movl %edx, 12(%edi)\n"
        "addl $8, %esi\n"
        "addl $16, %edi\n"
        "decl %ebp\n"
        "jmp 1b\n"
        "2: hlt\n"
        "jmp 2b\n"
        ".code64\n"
        "cvmm_probe_code_end:\n"
        ".popsection\n");

uint32_t probe_dynamic_mask(uint32_t leaf, uint32_t subleaf, enum cvmm_reg reg)
{
        switch (leaf) {
        case 0x1:
                if (reg == CVMM_EBX)
                        return 0xff000000u; /* initial APIC ID */
                if (reg == CVMM_ECX)
                        return 1u << 27; /* OSXSAVE mirrors CR4 */
                return 0;
        case 0x7:
                return subleaf == 0 && reg == CVMM_ECX ? 1u << 4 : 0; /* OSPKE mirrors CR4 */
        case 0xb:
        case 0x1f:
                return reg == CVMM_EDX ? 0xffffffffu : 0; /* x2APIC ID */
        case 0xd:
                /* sizes for the current XCR0 / XCR0|XSS */
                return (subleaf == 0 || subleaf == 1) && reg == CVMM_EBX ? 0xffffffffu : 0;
        case 0x8000001e:
                return reg == CVMM_EAX ? 0xffffffffu : 0; /* extended APIC ID */
        default:
                return 0;
        }
}

struct probe_vm {
        int vm, vcpu;
        struct kvm_run *run;
        uint8_t *mem;
};

static void probe_vm_free(const struct kvm_host *h, struct probe_vm *p)
{
        if (p->run)
                munmap(p->run, (size_t)h->run_size);
        if (p->vcpu >= 0)
                close(p->vcpu);
        if (p->vm >= 0)
                close(p->vm);
        if (p->mem)
                munmap(p->mem, PROBE_MEM);
}

/* Runs the probe guest until HLT; returns 0 or -1. */
static int probe_vm_run(struct probe_vm *p, struct cvmm_err *err)
{
        struct kvm_sregs s;
        if (KVM_CHECKED(p->vcpu, KVM_GET_SREGS, &s, err) < 0)
                return -1;
        s.cs.base = 0;
        s.cs.selector = 0;
        if (KVM_CHECKED(p->vcpu, KVM_SET_SREGS, &s, err) < 0)
                return -1;
        struct kvm_regs r = {.rip = PROBE_CODE, .rflags = 2};
        if (KVM_CHECKED(p->vcpu, KVM_SET_REGS, &r, err) < 0)
                return -1;
        for (int i = 0; i < 16; i++) {
                int rc = kvm_ioctl_raw(p->vcpu, KVM_RUN, NULL);
                if (rc == -EINTR)
                        continue;
                if (rc < 0)
                        return cvmm_errf(err, "probe vCPU: KVM_RUN: %s", strerror(-rc));
                if (p->run->exit_reason == KVM_EXIT_HLT)
                        return 0;
                const char *n = kvm_exit_name(p->run->exit_reason);
                return cvmm_errf(err, "probe vCPU stopped with KVM_EXIT_%s (%u), not HLT",
                                 n ? n : "?", p->run->exit_reason);
        }
        return cvmm_errf(err, "probe vCPU: KVM_RUN interrupted repeatedly");
}

int probe_cpuid(const struct kvm_host *h, const struct cvmm_cpuid_table *t,
                struct probe_result *out, struct cvmm_err *err)
{
        memset(out, 0, sizeof(*out));
        struct cvmm_cpuid_table pt;
        if (cvmm_cpuid_copy(&pt, t))
                return cvmm_errf(err, "probe: out of memory");
        pt.trace = false;
        /* A marker no CPU reports: whatever else matches by chance, this cannot. */
        static const char sig[12] = "cvmmPROBE!!!";
        struct cvmm_cpuid_entry m = {.leaf = MARKER_LEAF};
        const struct cvmm_cpuid_entry *old = cvmm_cpuid_get(&pt, MARKER_LEAF, 0);
        m.regs[CVMM_EAX] = old ? old->regs[CVMM_EAX] : MARKER_LEAF;
        memcpy(&m.regs[CVMM_EBX], sig, 4);
        memcpy(&m.regs[CVMM_ECX], sig + 4, 4);
        memcpy(&m.regs[CVMM_EDX], sig + 8, 4);
        if (cvmm_cpuid_put(&pt, &m)) {
                cvmm_cpuid_free(&pt);
                return cvmm_errf(err, "probe: out of memory");
        }
        size_t n = pt.count < PROBE_MAX ? pt.count : PROBE_MAX;

        struct probe_vm p = {.vm = -1, .vcpu = -1};
        int rc = -1;
        p.mem = mmap(NULL, PROBE_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p.mem == MAP_FAILED) {
                p.mem = NULL;
                cvmm_errf(err, "probe: mmap: out of memory");
                goto out;
        }
        size_t code = (size_t)(cvmm_probe_code_end - cvmm_probe_code);
        memcpy(p.mem + PROBE_CODE, cvmm_probe_code, code);
        uint32_t cnt = (uint32_t)n;
        memcpy(p.mem + PROBE_LIST, &cnt, 4);
        for (size_t i = 0; i < n; i++) {
                memcpy(p.mem + PROBE_LIST + 4 + 8 * i, &pt.entries[i].leaf, 4);
                memcpy(p.mem + PROBE_LIST + 8 + 8 * i, &pt.entries[i].subleaf, 4);
        }
        p.vm = kvm_vm_create(h, err);
        if (p.vm < 0)
                goto out;
        if (kvm_vm_map(p.vm, 0, 0, PROBE_MEM, p.mem, err) ||
            kvm_vcpu_create(h, p.vm, 0, &p.vcpu, &p.run, err) ||
            kvm_vcpu_set_cpuid(p.vcpu, &pt, err) || probe_vm_run(&p, err))
                goto out;

        for (size_t i = 0; i < n; i++) {
                const struct cvmm_cpuid_entry *e = &pt.entries[i];
                uint32_t seen[4], native[4];
                memcpy(seen, p.mem + PROBE_RESULTS + 16 * i, 16);
                __cpuid_count(e->leaf, e->subleaf, native[0], native[1], native[2], native[3]);
                if (e->leaf == MARKER_LEAF)
                        out->marker_seen = memcmp(&seen[1], &e->regs[1], 12) == 0;
                for (int r = 0; r < CVMM_NREGS; r++) {
                        uint32_t keep = ~probe_dynamic_mask(e->leaf, e->subleaf, r);
                        out->compared++;
                        if ((seen[r] & keep) == (e->regs[r] & keep))
                                continue;
                        out->differ++;
                        if ((seen[r] & keep) == (native[r] & keep))
                                out->differ_native++;
                        if (!out->example[0])
                                snprintf(out->example, sizeof(out->example),
                                         "leaf 0x%x.%u %s: table 0x%08x, guest saw 0x%08x, "
                                         "this CPU 0x%08x",
                                         e->leaf, e->subleaf, cvmm_reg_name(r), e->regs[r], seen[r],
                                         native[r]);
                }
        }
        out->enforced = out->differ == 0 && out->marker_seen;
        rc = 0;
out:
        probe_vm_free(h, &p);
        cvmm_cpuid_free(&pt);
        return rc;
}
