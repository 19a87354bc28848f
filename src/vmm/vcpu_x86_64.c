/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cvmm/effective.h"
#include "hw/layout.h"
#include "kvm/kvm.h"
#include "vmm/vcpu.h"

#define CR0_PE   (1ull << 0)
#define CR0_ET   (1ull << 4)
#define CR0_PG   (1ull << 31)
#define CR4_PAE  (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

int vcpu_cpuid_for(const struct cvmm_cpuid_table *t, unsigned id, struct cvmm_cpuid_table *out,
                   struct cvmm_err *err)
{
        if (cvmm_cpuid_for_vcpu(t, id, out))
                return cvmm_errf(err, "CPUID table for vCPU %u: out of memory", id);
        return 0;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64, bool db)
{
        memset(s, 0, sizeof(*s));
        s->base = 0;
        s->limit = 0xffffffff;
        s->selector = sel;
        s->type = type;
        s->present = 1;
        s->s = 1;
        s->l = code64;
        s->db = db;
        s->g = 1;
}

static const struct {
        uint32_t index;
        uint64_t value;
        const char *name;
} boot_msrs[] = {
    {0x174, 0, "IA32_SYSENTER_CS"},
    {0x175, 0, "IA32_SYSENTER_ESP"},
    {0x176, 0, "IA32_SYSENTER_EIP"},
    {0xc0000081, 0, "IA32_STAR"},
    {0xc0000082, 0, "IA32_LSTAR"},
    {0xc0000083, 0, "IA32_CSTAR"},
    {0xc0000084, 0, "IA32_FMASK"},
    {0xc0000102, 0, "IA32_KERNEL_GS_BASE"},
    {0x10, 0, "IA32_TIME_STAMP_COUNTER"},
    {0x1a0, 1, "IA32_MISC_ENABLE (fast strings)"},
    {0x2ff, 0x806, "IA32_MTRR_DEF_TYPE (enabled, default write-back)"},
};

static int set_boot_msrs(int fd, FILE *warn, struct cvmm_err *err)
{
        const size_t n = sizeof(boot_msrs) / sizeof(boot_msrs[0]);
        size_t done = 0;
        while (done < n) {
                struct kvm_msr_value v[sizeof(boot_msrs) / sizeof(boot_msrs[0])];
                size_t k = 0;
                for (size_t i = done; i < n; i++, k++)
                        v[k] = (struct kvm_msr_value){boot_msrs[i].index, boot_msrs[i].value};
                int set = kvm_vcpu_set_msrs(fd, v, k, err);
                if (set < 0)
                        return -1;
                done += (size_t)set;
                if (done < n) {
                        /* KVM stops at the first MSR it refuses: name it and go on. */
                        if (warn)
                                fprintf(warn, "cvmm: warning: KVM refused boot MSR 0x%x %s\n",
                                        boot_msrs[done].index, boot_msrs[done].name);
                        done++;
                }
        }
        return 0;
}

/* LINT0 as ExtINT (the 8259's output) and LINT1 as NMI, as on a PC. */
static int set_lint(int fd, struct cvmm_err *err)
{
        struct kvm_lapic_state l;
        if (KVM_CHECKED(fd, KVM_GET_LAPIC, &l, err) < 0)
                return -1;
        uint32_t lvt0, lvt1;
        memcpy(&lvt0, l.regs + 0x350, 4);
        memcpy(&lvt1, l.regs + 0x360, 4);
        lvt0 = (lvt0 & ~0x700u) | (7u << 8);
        lvt1 = (lvt1 & ~0x700u) | (4u << 8);
        memcpy(l.regs + 0x350, &lvt0, 4);
        memcpy(l.regs + 0x360, &lvt1, 4);
        return KVM_CHECKED(fd, KVM_SET_LAPIC, &l, err) < 0 ? -1 : 0;
}

int vcpu_setup(int fd, bool boot, const struct boot_entry *entry, FILE *warn, struct cvmm_err *err)
{
        if (set_boot_msrs(fd, warn, err) || set_lint(fd, err))
                return -1;
        struct kvm_fpu fpu;
        memset(&fpu, 0, sizeof(fpu));
        fpu.fcw = 0x37f;
        fpu.mxcsr = 0x1f80;
        if (KVM_CHECKED(fd, KVM_SET_FPU, &fpu, err) < 0)
                return -1;
        if (!boot)
                return 0; /* application processors wait for INIT/SIPI */
        struct kvm_sregs s;
        if (KVM_CHECKED(fd, KVM_GET_SREGS, &s, err) < 0)
                return -1;
        /* PVH and Multiboot: 32-bit protected mode, paging off */
        bool pvh = entry->kind == BOOT_ELF_PVH || entry->kind == BOOT_MULTIBOOT;
        seg(&s.cs, pvh ? SEL_CODE32 : SEL_CODE64, 0xb, !pvh, pvh);
        seg(&s.ds, SEL_DATA, 0x3, false, true);
        s.es = s.fs = s.gs = s.ss = s.ds;
        memset(&s.tr, 0, sizeof(s.tr));
        s.tr.selector = SEL_TSS;
        s.tr.limit = 0x67;
        s.tr.type = 0xb; /* busy 32-bit TSS */
        s.tr.present = 1;
        s.gdt.base = LAYOUT_GDT;
        s.gdt.limit = 5 * 8 - 1;
        s.idt.base = 0;
        s.idt.limit = 0;
        if (pvh) {
                s.cr0 = CR0_PE | CR0_ET;
                s.cr3 = 0;
                s.cr4 = 0;
                s.efer = 0;
        } else {
                s.cr0 = CR0_PE | CR0_ET | CR0_PG;
                s.cr3 = LAYOUT_PML4;
                s.cr4 = CR4_PAE;
                s.efer = EFER_LME | EFER_LMA;
        }
        if (KVM_CHECKED(fd, KVM_SET_SREGS, &s, err) < 0)
                return -1;
        struct kvm_regs r;
        memset(&r, 0, sizeof(r));
        r.rflags = 2;
        r.rip = entry->rip;
        r.rsi = entry->rsi;
        r.rbx = entry->rbx;
        r.rax = entry->rax;
        return KVM_CHECKED(fd, KVM_SET_REGS, &r, err) < 0 ? -1 : 0;
}

void vcpu_dump(int fd, FILE *f)
{
        struct kvm_regs r;
        struct kvm_sregs s;
        if (kvm_ioctl_raw(fd, KVM_GET_REGS, &r) < 0 || kvm_ioctl_raw(fd, KVM_GET_SREGS, &s) < 0) {
                fputs("  (registers unavailable)\n", f);
                return;
        }
        fprintf(f,
                "  rip %016llx rflags %08llx cs %04x (%s)\n"
                "  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
                "  rsi %016llx rdi %016llx rbp %016llx rsp %016llx\n"
                "  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
                "  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
                "  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx\n",
                r.rip, r.rflags, s.cs.selector,
                s.cs.l    ? "64-bit"
                : s.cs.db ? "32-bit"
                          : "16-bit",
                r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11,
                r.r12, r.r13, r.r14, r.r15, s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
}
