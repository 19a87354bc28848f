/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/strbuf.h"
#include "vmm/probe.h"
#include "vmm/probecache.h"

/*
 * The probe's memory, PROBE_WINDOW bytes at guest-physical base: in a VM of its own base is 0,
 * in the guest's VM a window of its RAM (probe.h). Offsets from base (real mode, each part
 * reached through a segment whose base the probe sets with KVM_SET_SREGS).
 */
#define PROBE_MEM     PROBE_WINDOW
#define PROBE_IVT     0x0000u  /* real-mode interrupt vectors (IDTR): #UD and #GP to handlers */
#define PROBE_CODE    0x1000u  /* phase 2 and the fault handlers; DS = base in both phases */
#define PROBE_XPARAM  0x1e00u  /* phase 2 in: XCR0 lo/hi, XSS lo/hi */
#define PROBE_XSTEP   0x1e40u  /* phase 2 out: last step reached, then the vector */
#define PROBE_XRES    0x1e50u  /* phase 2 out: 0xD.0 and 0xD.1 regs */
#define PROBE_STACK   0x0ff0u  /* phase 2's SP, in the base segment */
#define PROBE_SWEEP   0x10000u /* phase 1's code, generated per sweep: its CS */
#define PROBE_RESULTS 0x20000u /* phase 1's SS: 32 bytes of results per pair, downwards */
#define PROBE_SP      0xfff0u
#define PROBE_MAX     1500u  /* 16 bytes of code and 32 of results per pair fit their segments */
#define PROBE_PORT    0x5afu /* OUT to it ends a phase: an exit to user space with any irqchip */

/*
 * Phase 1 is generated for each sweep as straight-line code, four instructions per (leaf,
 * subleaf): MOV EAX, MOV ECX, CPUID, PUSHAD. Where a host runs the probe's real-mode code
 * through KVM's instruction emulator, every instruction costs an emulation, so the loop this
 * replaces (twelve per pair) took three times as long.
 * Phase 2 sets CR4.OSXSAVE, XSETBV, writes IA32_XSS when asked, then CPUID 0xD.0/0xD.1; it
 * records each step so that a fault (through the #GP/#UD vectors) says where it happened.
 * Each phase ends with an OUT to PROBE_PORT rather than HLT, which an in-kernel local APIC
 * would keep in the kernel.
 */
extern const unsigned char cvmm_probe_code[], cvmm_probe_p2[], cvmm_probe_gp[], cvmm_probe_ud[],
    cvmm_probe_code_end[];
__asm__(".pushsection .rodata\n"
        ".globl cvmm_probe_code\n.globl cvmm_probe_p2\n.globl cvmm_probe_gp\n"
        ".globl cvmm_probe_ud\n.globl cvmm_probe_code_end\n"
        "cvmm_probe_code:\n"
        ".code16\n"
        "cvmm_probe_p2:\n"
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
        "4: movw $0x5af, %dx\n"
        "outb %al, %dx\n"
        "jmp 4b\n"
        "cvmm_probe_gp:\n"
        "movl $13, 0x1e44\n"
        "jmp 4b\n"
        "cvmm_probe_ud:\n"
        "movl $6, 0x1e44\n"
        "jmp 4b\n"
        ".code64\n"
        "cvmm_probe_code_end:\n"
        ".popsection\n");

struct probe {
        const struct kvm_host *h; /* for creating vCPUs; closing needs only what is below */
        size_t run_size;          /* of each vCPU's kvm_run mapping */
        int vm, vcpu;
        bool own_vm; /* the VM and mem are the probe's (probe_open), not the guest's */
        struct kvm_run *run;
        uint8_t *mem;                        /* PROBE_MEM bytes */
        uint64_t base;                       /* their guest-physical address */
        uint32_t max_basic, max_hv, max_ext; /* the maxima the last sweep list covered */
        const struct cvmm_cpuid_table *t;
        unsigned next_id, end_id; /* vCPU ids the probe may still create: [next_id, end_id) */
        unsigned vcpu_id;         /* the current vCPU's */
        bool ran;               /* the current vCPU has run (KVM then refuses a different table) */
        struct probe_cost cost; /* wall_ns unused: probe_cost computes it from t_open */
        uint64_t t_open;
        const char *kind;         /* of VM (probe_site.kind) */
        struct probecache *cache; /* NULL: every phase runs */
        char *key;                /* the current table's part of a phase's cache key */
};

void probe_use_cache(struct probe *p, struct probecache *c)
{
        p->cache = c;
}

struct probe_cost probe_cost(const struct probe *p)
{
        struct probe_cost c = p->cost;
        c.wall_ns = clock_mono_ns() - p->t_open;
        return c;
}

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
        free(p->key);
        if (p->own_vm && p->vm >= 0)
                close(p->vm);
        if (p->own_vm && p->mem)
                munmap(p->mem, PROBE_MEM);
        free(p);
}

/* A real-mode segment at offset off of the probe's memory. */
static void real_seg(struct kvm_segment *sg, const struct probe *p, uint32_t off)
{
        sg->base = p->base + off;
        sg->selector = (uint16_t)(sg->base >> 4);
}

/*
 * Runs the probe vCPU from CS = code:ip, SS:SP = stack:sp (segments at those offsets of its
 * memory, DS = ES = its base) until its OUT to PROBE_PORT; returns 0 or -1. An MSR access
 * KVM hands to user space (the guest's VM enables that) gets the #GP cvmm gives the guest
 * for an MSR it does not implement.
 */
static int probe_run(struct probe *p, uint32_t code, uint16_t ip, uint32_t stack, uint16_t sp,
                     struct cvmm_err *err)
{
        struct kvm_sregs s;
        if (KVM_CHECKED(p->vcpu, KVM_GET_SREGS, &s, err) < 0)
                return -1;
        real_seg(&s.cs, p, code);
        real_seg(&s.ss, p, stack);
        real_seg(&s.ds, p, 0);
        real_seg(&s.es, p, 0);
        s.idt.base = p->base + PROBE_IVT;
        s.idt.limit = 0x3ff;
        if (KVM_CHECKED(p->vcpu, KVM_SET_SREGS, &s, err) < 0)
                return -1;
        struct kvm_regs r = {.rip = ip, .rsp = sp, .rflags = 2};
        if (KVM_CHECKED(p->vcpu, KVM_SET_REGS, &r, err) < 0)
                return -1;
        p->ran = true;
        for (int i = 0; i < 16; i++) {
                uint64_t t0 = clock_mono_ns();
                int rc = kvm_ioctl_raw(p->vcpu, KVM_RUN, NULL);
                p->cost.run_ns += clock_mono_ns() - t0;
                p->cost.runs++;
                if (rc == -EINTR)
                        continue;
                if (rc < 0)
                        return cvmm_errf(err, "probe vCPU: KVM_RUN: %s", strerror(-rc));
                struct kvm_run *run = p->run;
                if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
                    run->io.port == PROBE_PORT)
                        return 0;
                if (run->exit_reason == KVM_EXIT_X86_RDMSR ||
                    run->exit_reason == KVM_EXIT_X86_WRMSR) {
                        run->msr.error = 1;
                        continue;
                }
                const char *n = kvm_exit_name(run->exit_reason);
                return cvmm_errf(err, "probe vCPU stopped with KVM_EXIT_%s (%u), not its OUT",
                                 n ? n : "?", run->exit_reason);
        }
        return cvmm_errf(err, "probe vCPU: KVM_RUN interrupted repeatedly");
}

static void set_vector(struct probe *p, unsigned vec, const unsigned char *handler)
{
        uint16_t off = (uint16_t)(PROBE_CODE + (size_t)(handler - cvmm_probe_code));
        uint16_t seg = (uint16_t)(p->base >> 4);
        memcpy(p->mem + PROBE_IVT + 4 * vec, &off, 2);
        memcpy(p->mem + PROBE_IVT + 4 * vec + 2, &seg, 2);
}

/* The code and vectors into the probe's memory. */
static void probe_init_mem(struct probe *p)
{
        memcpy(p->mem + PROBE_CODE, cvmm_probe_code,
               (size_t)(cvmm_probe_code_end - cvmm_probe_code));
        set_vector(p, 6, cvmm_probe_ud);
        set_vector(p, 13, cvmm_probe_gp);
}

/* A probe with no vCPU yet, in the VM and memory s names; NULL on ENOMEM. */
static struct probe *probe_new(const struct kvm_host *h, const struct probe_site *s)
{
        struct probe *p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->h = h;
        p->run_size = (size_t)h->run_size;
        p->vm = s->vm;
        p->vcpu = -1;
        p->mem = s->mem;
        p->base = s->base;
        p->next_id = s->first_id;
        p->end_id = s->end_id;
        p->t_open = clock_mono_ns();
        p->kind = s->kind ? s->kind : "unnamed";
        return p;
}

int probe_open(const struct kvm_host *h, struct probe **out, struct cvmm_err *err)
{
        struct probe *p =
            probe_new(h, &(struct probe_site){.vm = -1, .end_id = 64, .kind = "own VM"});
        if (!p)
                return cvmm_errf(err, "probe: out of memory");
        p->own_vm = true;
        p->mem = mmap(NULL, PROBE_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p->mem == MAP_FAILED) {
                p->mem = NULL;
                probe_close(p);
                return cvmm_errf(err, "probe: mmap: out of memory");
        }
        probe_init_mem(p);
        p->vm = kvm_vm_create(h, err);
        if (p->vm < 0 || kvm_vm_map(p->vm, 0, 0, PROBE_MEM, p->mem, err)) {
                probe_close(p);
                return -1;
        }
        *out = p;
        return 0;
}

int probe_open_in(const struct kvm_host *h, const struct probe_site *site, struct probe **out,
                  struct cvmm_err *err)
{
        if (site->base % 16 || site->base + PROBE_MEM > 0x100000 || site->first_id >= site->end_id)
                return cvmm_errf(err, "probe: unusable window 0x%llx or vCPU ids %u-%u",
                                 (unsigned long long)site->base, site->first_id, site->end_id);
        struct probe *p = probe_new(h, site);
        if (!p)
                return cvmm_errf(err, "probe: out of memory");
        probe_init_mem(p);
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
                if (p->next_id >= p->end_id)
                        return cvmm_errf(err, "probe: out of vCPUs");
                unsigned id = p->next_id++;
                if (kvm_vcpu_create(p->h, p->vm, id, &p->vcpu, &p->run, err))
                        return -1;
                p->vcpu_id = id;
                /* In the guest's VM (KVM's local APICs) a vCPU other than the BSP would wait
                 * for INIT and SIPI; the probe's runs at once. */
                struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
                if (!p->own_vm && KVM_CHECKED(p->vcpu, KVM_SET_MP_STATE, &mp, err) < 0)
                        return -1;
        }
        if (kvm_vcpu_set_cpuid(p->vcpu, t, err) || kvm_vcpu_get_cpuid(p->vcpu, kvm_out, err))
                return -1;
        free(p->key);
        p->key = NULL;
        if (p->cache) { /* the phases' key: what this vCPU was given and what KVM kept */
                struct strbuf sb;
                strbuf_init(&sb);
                strbuf_printf(&sb, "vcpu %u\nvm %s\ntable", p->vcpu_id, p->kind);
                probecache_put_table(&sb, t);
                strbuf_printf(&sb, "\nkvm");
                probecache_put_table(&sb, kvm_out);
                strbuf_printf(&sb, "\n");
                p->key = strbuf_finish(&sb); /* NULL (out of memory): the phases just run */
        }
        return 0;
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

static uint8_t *emit(uint8_t *c, const void *bytes, size_t n)
{
        memcpy(c, bytes, n);
        return c + n;
}

/* Phase 1's code for l: per pair MOV EAX, imm32; MOV ECX, imm32; CPUID; PUSHAD, then the OUT. */
static void write_sweep(uint8_t *c, const struct sweep_list *l)
{
        static const uint8_t epilogue[] = {0xba,
                                           PROBE_PORT & 0xff,
                                           PROBE_PORT >> 8, /* mov dx */
                                           0xee,            /* out %al, %dx */
                                           0xeb,
                                           0xfa}; /* jmp back to the mov */
        for (uint32_t i = 0; i < l->n; i++) {
                uint8_t op[16] = {0x66, 0xb8, 0, 0, 0,    0,    0x66, 0xb9,
                                  0,    0,    0, 0, 0x0f, 0xa2, 0x66, 0x60};
                memcpy(op + 2, &l->pairs[i][0], 4);
                memcpy(op + 8, &l->pairs[i][1], 4);
                c = emit(c, op, sizeof(op));
        }
        emit(c, epilogue, sizeof(epilogue));
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
        write_sweep(p->mem + PROBE_SWEEP, l);
        p->cost.cpuids += l->n;
        if (probe_run(p, PROBE_SWEEP, 0, PROBE_RESULTS, PROBE_SP, err))
                return -1;
        cvmm_cpuid_free(seen);
        cvmm_cpuid_init(seen);
        for (uint32_t i = 0; i < l->n; i++) {
                struct cvmm_cpuid_entry e = {
                    .leaf = l->pairs[i][0],
                    .subleaf = l->pairs[i][1],
                    .flags = cvmm_cpuid_flags_for(l->pairs[i][0], l->pairs[i][1]),
                };
                /* PUSHAD's block, lowest address first: EDI ESI EBP ESP EBX EDX ECX EAX */
                const uint8_t *b = p->mem + PROBE_RESULTS + PROBE_SP - 32 * ((size_t)i + 1);
                memcpy(&e.regs[CVMM_EAX], b + 28, 4);
                memcpy(&e.regs[CVMM_EBX], b + 16, 4);
                memcpy(&e.regs[CVMM_ECX], b + 24, 4);
                memcpy(&e.regs[CVMM_EDX], b + 20, 4);
                if (cvmm_cpuid_put(seen, &e))
                        return cvmm_errf(err, "probe: out of memory");
        }
        return 0;
}

/* A phase's whole cache key, or NULL when no cache applies. */
static char *phase_key(const struct probe *p, const char *phase, uint64_t xcr0, uint64_t xss)
{
        if (!p->cache || !p->key)
                return NULL;
        struct strbuf sb;
        strbuf_init(&sb);
        strbuf_printf(&sb, "phase %s\n%s", phase, p->key);
        if (strcmp(phase, "xstate") == 0)
                strbuf_printf(&sb, "xcr0 %llx xss %llx\n", (unsigned long long)xcr0,
                              (unsigned long long)xss);
        return strbuf_finish(&sb);
}

/* seen as stored: a count, then leaf, subleaf, flags and the four registers per entry. */
enum { ENTRY_WORDS = 7 };

static bool sweep_from_cache(struct probe *p, const char *key, struct cvmm_cpuid_table *seen)
{
        void *v;
        size_t n;
        if (!probecache_get(p->cache, key, &v, &n))
                return false;
        uint32_t *w = v, count = 0;
        bool ok = n >= 4;
        if (ok)
                memcpy(&count, w, 4);
        ok = ok && count && count <= PROBE_MAX && n == 4 + (size_t)count * ENTRY_WORDS * 4;
        for (uint32_t i = 0; ok && i < count; i++) {
                const uint32_t *x = w + 1 + (size_t)i * ENTRY_WORDS;
                struct cvmm_cpuid_entry e = {.leaf = x[0], .subleaf = x[1], .flags = x[2]};
                memcpy(e.regs, x + 3, sizeof(e.regs));
                ok = cvmm_cpuid_put(seen, &e) == 0;
        }
        free(v);
        if (!ok) {
                cvmm_cpuid_free(seen);
                cvmm_cpuid_init(seen);
        }
        return ok;
}

static void sweep_to_cache(struct probe *p, const char *key, const struct cvmm_cpuid_table *seen)
{
        size_t n = 4 + seen->count * ENTRY_WORDS * 4;
        uint32_t *w = malloc(n);
        if (!w)
                return;
        w[0] = (uint32_t)seen->count;
        for (size_t i = 0; i < seen->count; i++) {
                const struct cvmm_cpuid_entry *e = &seen->entries[i];
                uint32_t *x = w + 1 + i * ENTRY_WORDS;
                x[0] = e->leaf;
                x[1] = e->subleaf;
                x[2] = e->flags;
                memcpy(x + 3, e->regs, sizeof(e->regs));
        }
        if (probecache_put(p->cache, key, w, n))
                p->cost.stored++;
        free(w);
}

static int sweep_fresh(struct probe *p, struct cvmm_cpuid_table *seen, struct cvmm_err *err);

int probe_sweep(struct probe *p, struct cvmm_cpuid_table *seen, struct cvmm_err *err)
{
        cvmm_cpuid_init(seen);
        char *key = phase_key(p, "sweep", 0, 0);
        if (key && sweep_from_cache(p, key, seen)) {
                p->ran = true; /* as after a sweep: the next table gets a fresh vCPU */
                p->cost.reused++;
                free(key);
                return 0;
        }
        int rc = sweep_fresh(p, seen, err);
        if (!rc && key)
                sweep_to_cache(p, key, seen);
        free(key);
        return rc;
}

static int sweep_fresh(struct probe *p, struct cvmm_cpuid_table *seen, struct cvmm_err *err)
{
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

/* Phase 2's outcome from its record: the step reached, the vector, then 0xD.0 and 0xD.1 (as
 * the phase leaves them in memory, and as the cache stores them). */
static void xstate_from(const uint32_t rec[10], struct probe_xstate *r)
{
        /* In fpu__init_cpu_xstate()'s order: CR4.OSXSAVE, XSETBV, then IA32_XSS. */
        static const char *const steps[] = {
            "start", "setting CR4.OSXSAVE", "XSETBV", "writing IA32_XSS", "CPUID 0xD", "done"};
        r->step = steps[rec[0] < 6 ? rec[0] : 0];
        r->vector = rec[1];
        r->done = rec[0] == 5 && !rec[1];
        memcpy(r->d0, rec + 2, 16);
        memcpy(r->d1, rec + 6, 16);
}

int probe_xstate(struct probe *p, uint64_t xcr0, uint64_t xss, struct probe_xstate *r,
                 struct cvmm_err *err)
{
        memset(r, 0, sizeof(*r));
        uint32_t rec[10];
        char *key = phase_key(p, "xstate", xcr0, xss);
        void *v = NULL;
        size_t n = 0;
        if (key && probecache_get(p->cache, key, &v, &n) && n == sizeof(rec)) {
                memcpy(rec, v, sizeof(rec));
                free(v);
                free(key);
                xstate_from(rec, r);
                p->ran = true;
                p->cost.reused++;
                return 0;
        }
        free(v);
        uint32_t in[4] = {(uint32_t)xcr0, (uint32_t)(xcr0 >> 32), (uint32_t)xss,
                          (uint32_t)(xss >> 32)};
        memcpy(p->mem + PROBE_XPARAM, in, sizeof(in));
        memset(p->mem + PROBE_XSTEP, 0, 0x30);
        if (probe_run(p, 0, (uint16_t)(PROBE_CODE + (size_t)(cvmm_probe_p2 - cvmm_probe_code)), 0,
                      PROBE_STACK, err)) {
                free(key);
                return -1;
        }
        memcpy(rec, p->mem + PROBE_XSTEP, 8);     /* the step reached, the vector */
        memcpy(rec + 2, p->mem + PROBE_XRES, 32); /* 0xD.0, 0xD.1 */
        if (rec[0] >= 4 && rec[0] < 6)
                p->cost.cpuids += 2; /* 0xD.0 and 0xD.1 (CPUID itself does not fault) */
        xstate_from(rec, r);
        if (key) {
                if (probecache_put(p->cache, key, rec, sizeof(rec)))
                        p->cost.stored++;
                free(key);
        }
        return 0;
}
