/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm/kvm.h"
#include "kvm/kvm_cpuid.h"

int kvm_ioctl_raw(int fd, unsigned long req, void *arg)
{
        for (;;) {
                int r = ioctl(fd, req, arg);
                if (r >= 0)
                        return r;
                if (errno == EINTR && req != KVM_RUN)
                        continue;
                return -errno;
        }
}

int kvm_ioctl_checked(int fd, unsigned long req, void *arg, const char *name, struct cvmm_err *err)
{
        int r = kvm_ioctl_raw(fd, req, arg);
        if (r < 0)
                return cvmm_errf(err, "%s: %s", name, strerror(-r));
        return r;
}

int kvm_host_open(struct kvm_host *h, struct cvmm_err *err)
{
        h->fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (h->fd < 0)
                return cvmm_errf(err, "cannot open /dev/kvm: %s", strerror(errno));
        int v = kvm_ioctl_raw(h->fd, KVM_GET_API_VERSION, NULL);
        if (v != KVM_API_VERSION) {
                close(h->fd);
                return cvmm_errf(err, "KVM_GET_API_VERSION: got %d, need %d", v, KVM_API_VERSION);
        }
        h->run_size = KVM_CHECKED(h->fd, KVM_GET_VCPU_MMAP_SIZE, NULL, err);
        if (h->run_size < 0) {
                close(h->fd);
                return -1;
        }
        int sr = kvm_ioctl_raw(h->fd, KVM_CHECK_EXTENSION, (void *)(uintptr_t)KVM_CAP_SYNC_REGS);
        h->sync_regs = sr > 0 ? sr : 0;
        cvmm_cpuid_init(&h->supported);
        h->have_supported = false;
        if (kvm_request_amx(err)) {
                close(h->fd);
                return -1;
        }
        return 0;
}

void kvm_host_close(struct kvm_host *h)
{
        if (h->fd >= 0)
                close(h->fd);
        h->fd = -1;
        if (h->have_supported)
                cvmm_cpuid_free(&h->supported);
        h->have_supported = false;
}

int kvm_vm_create(const struct kvm_host *h, struct cvmm_err *err)
{
        int vm;
        do {
                vm = kvm_ioctl_raw(h->fd, KVM_CREATE_VM, NULL);
        } while (vm == -EINTR);
        if (vm < 0)
                return cvmm_errf(err, "KVM_CREATE_VM: %s", strerror(-vm));
        return vm;
}

int kvm_vm_map(int vm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva, struct cvmm_err *err)
{
        struct kvm_userspace_memory_region r = {
            .slot = slot,
            .guest_phys_addr = gpa,
            .memory_size = size,
            .userspace_addr = (uint64_t)(uintptr_t)hva,
        };
        return KVM_CHECKED(vm, KVM_SET_USER_MEMORY_REGION, &r, err) < 0 ? -1 : 0;
}

int kvm_vcpu_create(const struct kvm_host *h, int vm, unsigned id, int *fd, struct kvm_run **run,
                    struct cvmm_err *err)
{
        int v = kvm_ioctl_raw(vm, KVM_CREATE_VCPU, (void *)(uintptr_t)id);
        if (v < 0)
                return cvmm_errf(err, "KVM_CREATE_VCPU %u: %s", id, strerror(-v));
        void *p = mmap(NULL, (size_t)h->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v, 0);
        if (p == MAP_FAILED) {
                int e = errno;
                close(v);
                return cvmm_errf(err, "mmap of vCPU %u's kvm_run: %s", id, strerror(e));
        }
        *fd = v;
        *run = p;
        return 0;
}

/* cvmm's entry flags are KVM's: KVM_GET_* fill them, KVM_SET_CPUID2 gets them back as they are. */
static_assert(CVMM_CPUID_FLAG_INDEXED == KVM_CPUID_FLAG_SIGNIFCANT_INDEX, "entry flags");

int kvm_vcpu_set_cpuid(int vcpu, const struct cvmm_cpuid_table *t, struct cvmm_err *err)
{
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + t->count * sizeof(c->entries[0]));
        if (!c)
                return cvmm_errf(err, "KVM_SET_CPUID2: out of memory");
        c->nent = (uint32_t)t->count;
        for (size_t i = 0; i < t->count; i++) {
                const struct cvmm_cpuid_entry *e = &t->entries[i];
                struct kvm_cpuid_entry2 *k = &c->entries[i];
                k->function = e->leaf;
                k->index = e->subleaf;
                /* KVM's own flags where it made the entry; cvmm_cpuid_flags_for() elsewhere. */
                k->flags = e->flags;
                k->eax = e->regs[CVMM_EAX];
                k->ebx = e->regs[CVMM_EBX];
                k->ecx = e->regs[CVMM_ECX];
                k->edx = e->regs[CVMM_EDX];
        }
        int r = KVM_CHECKED(vcpu, KVM_SET_CPUID2, c, err);
        free(c);
        return r < 0 ? -1 : 0;
}

int kvm_vcpu_get_cpuid(int vcpu, struct cvmm_cpuid_table *t, struct cvmm_err *err)
{
        cvmm_cpuid_init(t);
        for (uint32_t nent = 64; nent <= (1u << 16); nent *= 2) {
                struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
                if (!c)
                        return cvmm_errf(err, "KVM_GET_CPUID2: out of memory");
                /*
                 * Some kernels return success without updating nent; entries KVM did not write
                 * keep this fill pattern and end the list.
                 */
                memset(c->entries, 0xff, nent * sizeof(c->entries[0]));
                c->nent = nent;
                int r = kvm_ioctl_raw(vcpu, KVM_GET_CPUID2, c);
                if (r == -E2BIG) {
                        free(c);
                        continue;
                }
                if (r < 0) {
                        free(c);
                        return cvmm_errf(err, "KVM_GET_CPUID2: %s", strerror(-r));
                }
                for (uint32_t i = 0; i < c->nent; i++) {
                        const struct kvm_cpuid_entry2 *k = &c->entries[i];
                        if (k->function == UINT32_MAX && k->index == UINT32_MAX &&
                            k->flags == UINT32_MAX)
                                break; /* never written: past the entries KVM returned */
                        struct cvmm_cpuid_entry e = {
                            .leaf = k->function,
                            .subleaf = k->index,
                            .regs = {k->eax, k->ebx, k->ecx, k->edx},
                            .flags = k->flags,
                        };
                        if (cvmm_cpuid_put(t, &e)) {
                                free(c);
                                cvmm_cpuid_free(t);
                                return cvmm_errf(err, "KVM_GET_CPUID2: out of memory");
                        }
                }
                free(c);
                return 0;
        }
        return cvmm_errf(err, "KVM_GET_CPUID2: more than 65536 entries");
}

int kvm_vcpu_set_msrs(int vcpu, const struct kvm_msr_value *m, size_t n, struct cvmm_err *err)
{
        struct kvm_msrs *k = calloc(1, sizeof(*k) + n * sizeof(k->entries[0]));
        if (!k)
                return cvmm_errf(err, "KVM_SET_MSRS: out of memory");
        k->nmsrs = (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
                k->entries[i].index = m[i].index;
                k->entries[i].data = m[i].value;
        }
        int r = KVM_CHECKED(vcpu, KVM_SET_MSRS, k, err);
        free(k);
        return r;
}

const char *kvm_exit_name(uint32_t reason)
{
        static const char *const names[] = {
            [KVM_EXIT_UNKNOWN] = "UNKNOWN",
            [KVM_EXIT_EXCEPTION] = "EXCEPTION",
            [KVM_EXIT_IO] = "IO",
            [KVM_EXIT_HYPERCALL] = "HYPERCALL",
            [KVM_EXIT_DEBUG] = "DEBUG",
            [KVM_EXIT_HLT] = "HLT",
            [KVM_EXIT_MMIO] = "MMIO",
            [KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
            [KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
            [KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
            [KVM_EXIT_INTR] = "INTR",
            [KVM_EXIT_SET_TPR] = "SET_TPR",
            [KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
            [KVM_EXIT_NMI] = "NMI",
            [KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
            [KVM_EXIT_OSI] = "OSI",
            [KVM_EXIT_PAPR_HCALL] = "PAPR_HCALL",
            [KVM_EXIT_WATCHDOG] = "WATCHDOG",
            [KVM_EXIT_EPR] = "EPR",
            [KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
            [KVM_EXIT_IOAPIC_EOI] = "IOAPIC_EOI",
            [KVM_EXIT_HYPERV] = "HYPERV",
            [KVM_EXIT_DIRTY_RING_FULL] = "DIRTY_RING_FULL",
            [KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
            [KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
            [KVM_EXIT_AP_RESET_HOLD] = "AP_RESET_HOLD",
            [KVM_EXIT_X86_BUS_LOCK] = "X86_BUS_LOCK",
            [KVM_EXIT_XEN] = "XEN",
        };
        if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
                return names[reason];
        return NULL;
}
