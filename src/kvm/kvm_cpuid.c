/* SPDX-License-Identifier: MIT */
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kvm/kvm_cpuid.h"

#define XFEATURE_XTILEDATA 18
#define MAX_NENT           (1u << 16)

/* Requests AMX state for guests of this process when the host supports it. */
static int request_amx(struct cvmm_err *err)
{
        uint64_t supported = 0;
        if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_SUPP, &supported) != 0)
                return 0; /* kernel without dynamic xstate: nothing to request */
        if (!(supported >> XFEATURE_XTILEDATA & 1))
                return 0;
        if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_GUEST_PERM, XFEATURE_XTILEDATA) != 0)
                return cvmm_errf(err, "arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM, XTILEDATA): %s",
                                 strerror(errno));
        return 0;
}

int kvm_supported_cpuid(struct cvmm_cpuid_table *t, struct cvmm_err *err)
{
        cvmm_cpuid_init(t);
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0)
                return cvmm_errf(err,
                                 "cannot open /dev/kvm: %s (read a dump instead with --from FILE, "
                                 "e.g. from `cpuid -r -1`)",
                                 strerror(errno));
        int version = ioctl(kvm, KVM_GET_API_VERSION, 0);
        if (version != KVM_API_VERSION) {
                close(kvm);
                return cvmm_errf(err, "KVM_GET_API_VERSION: got %d, need %d", version,
                                 KVM_API_VERSION);
        }
        if (request_amx(err)) {
                close(kvm);
                return -1;
        }
        struct kvm_cpuid2 *c = NULL;
        for (uint32_t nent = 64;; nent *= 2) {
                if (nent > MAX_NENT) {
                        free(c);
                        close(kvm);
                        return cvmm_errf(err, "KVM_GET_SUPPORTED_CPUID: more than %u entries",
                                         MAX_NENT);
                }
                struct kvm_cpuid2 *p = realloc(c, sizeof(*c) + nent * sizeof(c->entries[0]));
                if (!p) {
                        free(c);
                        close(kvm);
                        return cvmm_errf(err, "KVM_GET_SUPPORTED_CPUID: out of memory");
                }
                c = p;
                memset(c, 0, sizeof(*c) + nent * sizeof(c->entries[0]));
                c->nent = nent;
                if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
                        break;
                if (errno != E2BIG) {
                        int e = errno;
                        free(c);
                        close(kvm);
                        return cvmm_errf(err, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
                }
        }
        close(kvm);
        for (uint32_t i = 0; i < c->nent; i++) {
                const struct kvm_cpuid_entry2 *k = &c->entries[i];
                struct cvmm_cpuid_entry e = {
                    .leaf = k->function,
                    .subleaf = (k->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ? k->index : 0,
                    .regs = {k->eax, k->ebx, k->ecx, k->edx},
                };
                if (cvmm_cpuid_put(t, &e)) {
                        free(c);
                        cvmm_cpuid_free(t);
                        return cvmm_errf(err, "KVM_GET_SUPPORTED_CPUID: out of memory");
                }
        }
        free(c);
        return 0;
}
