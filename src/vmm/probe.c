/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/probe.h"

/* Guest-physical layout (real mode, DS = 0: everything below 64 KiB). */
#define PROBE_MEM     0x10000u
#define PROBE_IVT     0x0000u /* real-mode interrupt vectors: #UD and #GP go to handlers */
#define PROBE_STACK   0x0ff0u
#define PROBE_CODE    0x1000u
#define PROBE_XPARAM  0x1e00u /* phase 2 in: XCR0 lo/hi, XSS lo/hi */
#define PROBE_XSTEP   0x1e40u /* phase 2 out: last step reached, then the vector */
#define PROBE_XRES    0x1e50u /* phase 2 out: 0xD.0 and 0xD.1 regs */
#define PROBE_LIST    0x2000u /* u32 count, then {leaf, subleaf} pairs */
#define PROBE_RESULTS 0x5000u /* 16 bytes per pair */
#define PROBE_MAX     1500u   /* the list ends below 0x5000, the results below 0x10000 */

/*
 * Phase 1 executes CPUID for each listed (leaf, subleaf) and stores the answers in order.
 * Phase 2 sets CR4.OSXSAVE, XSETBV, writes IA32_XSS when asked, then CPUID 0xD.0/0xD.1; it
 * records each step so that a fault (through the #GP/#UD vectors) says where it happened.
 */
extern const unsigned char cvmm_probe_code[], cvmm_probe_p2[], cvmm_probe_gp[], cvmm_probe_ud[],
    cvmm_probe_code_end[];
__asm__(".pushsection .rodata\n"
        ".globl cvmm_probe_code\n.globl cvmm_probe_p2\n.globl cvmm_probe_gp\n"
        ".globl cvmm_probe_ud\n.globl cvmm_probe_code_end\n"
        "cvmm_probe_code:\n"
        ".code16\n"
        "xorw %ax, %ax\n"
        "movw %ax, %ds\n"
        "movw %ax, %ss\n"
        "movw $0x0ff0, %sp\n"
        "movl $0x2000, %esi\n"
        "movl (%esi), %ebp\n"
        "addl $4, %esi\n"
        "movl $0x5000, %edi\n"
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
        "cvmm_probe_p2:\n"
        "xorw %ax, %ax\n"
        "movw %ax, %ds\n"
        "movw %ax, %ss\n"
        "movw $0x0ff0, %sp\n"
        "movl $1, 0x1e40\n"
        "movl %cr4, %eax\n"
        "orl $0x40000, %eax\n"
        "movl %eax, %cr4\n"
        "movl $2, 0x1e40\n"
        "movl 0x1e00, %eax\n"
        "movl 0x1e04, %edx\n"
        "xorl %ecx, %ecx\n"
        "xsetbv\n"
        "movl $3, 0x1e40\n"
        "movl 0x1e08, %eax\n"
        "movl 0x1e0c, %edx\n"
        "movl %eax, %ecx\n"
        "orl %edx, %ecx\n"
        "jz 3f\n"
        "movl $0xda0, %ecx\n"
        "wrmsr\n"
        "3: movl $4, 0x1e40\n"
        "movl $0xd, %eax\n"
        "xorl %ecx, %ecx\n"
        "cpuid\n"
        "movl %eax, 0x1e50\n"
        "movl %ebx, 0x1e54\n"
        "movl %ecx, 0x1e58\n"
        "movl %edx, 0x1e5c\n"
        "movl $0xd, %eax\n"
        "movl $1, %ecx\n"
        "cpuid\n"
        "movl %eax, 0x1e60\n"
        "movl %ebx, 0x1e64\n"
        "movl %ecx, 0x1e68\n"
        "movl %edx, 0x1e6c\n"
        "movl $5, 0x1e40\n"
        "4: hlt\n"
        "jmp 4b\n"
        "cvmm_probe_gp:\n"
        "movl $13, 0x1e44\n"
        "5: hlt\n"
        "jmp 5b\n"
        "cvmm_probe_ud:\n"
        "movl $6, 0x1e44\n"
        "jmp 5b\n"
        ".code64\n"
        "cvmm_probe_code_end:\n"
        ".popsection\n");

struct probe {
        const struct kvm_host *h; /* for creating vCPUs; closing needs only what is below */
        size_t run_size;          /* of each vCPU's kvm_run mapping */
        int vm, vcpu;
        struct kvm_run *run;
        uint8_t *mem;
        uint32_t max_basic, max_hv, max_ext; /* the maxima the last sweep list covered */
        const struct cvmm_cpuid_table *t;
        unsigned vcpus; /* vCPUs created so far: the next one's id */
        bool ran;       /* the current vCPU has run (KVM then refuses a different table) */
};

/* Unmaps and closes the current vCPU (KVM keeps it until the VM goes). */
static void vcpu_close(struct probe *p)
{
        if (p->run)
                munmap(p->run, p->run_size);
        if (p->vcpu >= 0)
                close(p->vcpu);
        p->run = NULL;
        p->vcpu = -1;
        p->ran = false;
}

void probe_close(struct probe *p)
{
        if (!p)
                return;
        vcpu_close(p);
        if (p->vm >= 0)
                close(p->vm);
        if (p->mem)
                munmap(p->mem, PROBE_MEM);
        free(p);
}

/* Runs the probe vCPU from entry until HLT; returns 0 or -1. */
static int probe_run(struct probe *p, size_t entry, struct cvmm_err *err)
{
        struct kvm_sregs s;
        if (KVM_CHECKED(p->vcpu, KVM_GET_SREGS, &s, err) < 0)
                return -1;
        s.cs.base = 0;
        s.cs.selector = 0;
        if (KVM_CHECKED(p->vcpu, KVM_SET_SREGS, &s, err) < 0)
                return -1;
        struct kvm_regs r = {.rip = PROBE_CODE + entry, .rflags = 2};
        if (KVM_CHECKED(p->vcpu, KVM_SET_REGS, &r, err) < 0)
                return -1;
        p->ran = true;
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

static void set_vector(uint8_t *mem, unsigned vec, const unsigned char *handler)
{
        uint16_t off = (uint16_t)(PROBE_CODE + (size_t)(handler - cvmm_probe_code)), seg = 0;
        memcpy(mem + PROBE_IVT + 4 * vec, &off, 2);
        memcpy(mem + PROBE_IVT + 4 * vec + 2, &seg, 2);
}

int probe_open(const struct kvm_host *h, struct probe **out, struct cvmm_err *err)
{
        struct probe *p = calloc(1, sizeof(*p));
        if (!p)
                return cvmm_errf(err, "probe: out of memory");
        p->h = h;
        p->run_size = (size_t)h->run_size;
        p->vm = p->vcpu = -1;
        p->mem = mmap(NULL, PROBE_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p->mem == MAP_FAILED) {
                p->mem = NULL;
                probe_close(p);
                return cvmm_errf(err, "probe: mmap: out of memory");
        }
        memcpy(p->mem + PROBE_CODE, cvmm_probe_code,
               (size_t)(cvmm_probe_code_end - cvmm_probe_code));
        set_vector(p->mem, 6, cvmm_probe_ud);
        set_vector(p->mem, 13, cvmm_probe_gp);
        p->vm = kvm_vm_create(h, err);
        if (p->vm < 0 || kvm_vm_map(p->vm, 0, 0, PROBE_MEM, p->mem, err)) {
                probe_close(p);
                return -1;
        }
        *out = p;
        return 0;
}

int probe_set_table(struct probe *p, const struct cvmm_cpuid_table *t,
                    struct cvmm_cpuid_table *kvm_out, struct cvmm_err *err)
{
        cvmm_cpuid_init(kvm_out);
        p->t = t;
        if (p->vcpu < 0 || p->ran) { /* a vCPU that never ran takes a new table as it is */
                vcpu_close(p);
                if (p->vcpus >= 64)
                        return cvmm_errf(err, "probe: out of vCPUs");
                if (kvm_vcpu_create(p->h, p->vm, p->vcpus++, &p->vcpu, &p->run, err))
                        return -1;
        }
        return kvm_vcpu_set_cpuid(p->vcpu, t, err) || kvm_vcpu_get_cpuid(p->vcpu, kvm_out, err) ? -1
                                                                                                : 0;
}

struct sweep_list {
        uint32_t pairs[PROBE_MAX][2];
        uint32_t n;
        bool full;
};

static void list_add(struct sweep_list *l, uint32_t leaf, uint32_t sub)
{
        if (l->n < PROBE_MAX) {
                l->pairs[l->n][0] = leaf;
                l->pairs[l->n][1] = sub;
                l->n++;
        } else {
                l->full = true;
        }
}

/* The highest subleaf of leaf listed in t (0 when none). */
static uint32_t top_subleaf(const struct cvmm_cpuid_table *t, uint32_t leaf)
{
        uint32_t top = 0;
        for (size_t i = 0; i < t->count; i++)
                if (t->entries[i].leaf == leaf && t->entries[i].subleaf > top)
                        top = t->entries[i].subleaf;
        return top;
}

/* One range of leaves [first, last], each with the subleaves a guest can ask for. */
static void list_range(struct sweep_list *l, const struct cvmm_cpuid_table *t, uint32_t first,
                       uint32_t last)
{
        for (uint32_t leaf = first; leaf <= last && !l->full; leaf++) {
                uint32_t subs = 1;
                if (leaf == 0xd)
                        subs = 64;
                else if (cvmm_cpuid_leaf_indexed(leaf))
                        subs = top_subleaf(t, leaf) + 1 > 8 ? top_subleaf(t, leaf) + 1 : 8;
                for (uint32_t s = 0; s < subs && s < 256; s++)
                        list_add(l, leaf, s);
                if (leaf == last)
                        break;
        }
}

static uint32_t clamp_max(uint32_t seen, uint32_t base)
{
        return seen < base ? base : seen - base > 0xff ? base + 0xff : seen;
}

static bool listed(const struct sweep_list *l, uint32_t leaf, uint32_t sub)
{
        for (uint32_t i = 0; i < l->n; i++)
                if (l->pairs[i][0] == leaf && l->pairs[i][1] == sub)
                        return true;
        return false;
}

/* Sweeps with the current maxima; results into seen. */
static int sweep_once(struct probe *p, struct sweep_list *l, struct cvmm_cpuid_table *seen,
                      struct cvmm_err *err)
{
        l->n = 0;
        l->full = false;
        list_range(l, p->t, 0, p->max_basic);
        list_range(l, p->t, 0x40000000u, p->max_hv);
        list_range(l, p->t, 0x80000000u, p->max_ext);
        for (size_t i = 0; i < p->t->count; i++)
                if (!listed(l, p->t->entries[i].leaf, p->t->entries[i].subleaf))
                        list_add(l, p->t->entries[i].leaf, p->t->entries[i].subleaf);
        if (l->full)
                return cvmm_errf(err, "probe: more than %u CPUID leaves and subleaves to sweep",
                                 PROBE_MAX);
        memcpy(p->mem + PROBE_LIST, &l->n, 4);
        memcpy(p->mem + PROBE_LIST + 4, l->pairs, 8 * (size_t)l->n);
        if (probe_run(p, 0, err))
                return -1;
        cvmm_cpuid_free(seen);
        cvmm_cpuid_init(seen);
        for (uint32_t i = 0; i < l->n; i++) {
                struct cvmm_cpuid_entry e = {
                    .leaf = l->pairs[i][0],
                    .subleaf = l->pairs[i][1],
                    .flags = cvmm_cpuid_flags_for(l->pairs[i][0], l->pairs[i][1]),
                };
                memcpy(e.regs, p->mem + PROBE_RESULTS + 16 * (size_t)i, 16);
                if (cvmm_cpuid_put(seen, &e))
                        return cvmm_errf(err, "probe: out of memory");
        }
        return 0;
}

int probe_sweep(struct probe *p, struct cvmm_cpuid_table *seen, struct cvmm_err *err)
{
        cvmm_cpuid_init(seen);
        struct sweep_list *l = malloc(sizeof(*l));
        if (!l)
                return cvmm_errf(err, "probe: out of memory");
        p->max_basic = clamp_max(cvmm_cpuid_reg(p->t, 0, 0, CVMM_EAX), 0);
        p->max_hv = clamp_max(cvmm_cpuid_reg(p->t, 0x40000000u, 0, CVMM_EAX), 0x40000000u);
        p->max_ext = clamp_max(cvmm_cpuid_reg(p->t, 0x80000000u, 0, CVMM_EAX), 0x80000000u);
        if (p->max_basic > 0xff)
                p->max_basic = 0xff;
        int rc = 0;
        /* The guest may see larger maxima than the table's: sweep again to cover them. */
        for (int pass = 0; pass < 2 && !rc; pass++) {
                rc = sweep_once(p, l, seen, err);
                if (rc)
                        break;
                uint32_t b = cvmm_cpuid_reg(seen, 0, 0, CVMM_EAX);
                uint32_t hv =
                    clamp_max(cvmm_cpuid_reg(seen, 0x40000000u, 0, CVMM_EAX), 0x40000000u);
                uint32_t x = clamp_max(cvmm_cpuid_reg(seen, 0x80000000u, 0, CVMM_EAX), 0x80000000u);
                b = b > 0xff ? 0xff : b;
                if (b <= p->max_basic && hv <= p->max_hv && x <= p->max_ext)
                        break;
                p->max_basic = b > p->max_basic ? b : p->max_basic;
                p->max_hv = hv > p->max_hv ? hv : p->max_hv;
                p->max_ext = x > p->max_ext ? x : p->max_ext;
        }
        free(l);
        if (rc)
                cvmm_cpuid_free(seen);
        return rc;
}

int probe_xstate(struct probe *p, uint64_t xcr0, uint64_t xss, struct probe_xstate *r,
                 struct cvmm_err *err)
{
        /* In fpu__init_cpu_xstate()'s order: CR4.OSXSAVE, XSETBV, then IA32_XSS. */
        static const char *const steps[] = {
            "start", "setting CR4.OSXSAVE", "XSETBV", "writing IA32_XSS", "CPUID 0xD", "done"};
        memset(r, 0, sizeof(*r));
        uint32_t in[4] = {(uint32_t)xcr0, (uint32_t)(xcr0 >> 32), (uint32_t)xss,
                          (uint32_t)(xss >> 32)};
        memcpy(p->mem + PROBE_XPARAM, in, sizeof(in));
        memset(p->mem + PROBE_XSTEP, 0, 0x30);
        if (probe_run(p, (size_t)(cvmm_probe_p2 - cvmm_probe_code), err))
                return -1;
        uint32_t step, vec;
        memcpy(&step, p->mem + PROBE_XSTEP, 4);
        memcpy(&vec, p->mem + PROBE_XSTEP + 4, 4);
        r->step = steps[step < 6 ? step : 0];
        r->vector = vec;
        r->done = step == 5 && !vec;
        memcpy(r->d0, p->mem + PROBE_XRES, 16);
        memcpy(r->d1, p->mem + PROBE_XRES + 16, 16);
        return 0;
}
