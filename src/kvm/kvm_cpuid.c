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

#include "kvm/kvm.h"
#include "kvm/kvm_cpuid.h"

#define XFEATURE_XTILEDATA 18
#define MAX_NENT           (1u << 16)

int kvm_request_amx(struct cvmm_err *err)
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

static int read_supported(int kvm, struct cvmm_cpuid_table *t, struct cvmm_err *err)
{
        cvmm_cpuid_init(t);
        struct kvm_cpuid2 *c = NULL;
        for (uint32_t nent = 256;; nent *= 2) {
                if (nent > MAX_NENT) {
                        free(c);
                        return cvmm_errf(err, "KVM_GET_SUPPORTED_CPUID: more than %u entries",
                                         MAX_NENT);
                }
                struct kvm_cpuid2 *p = realloc(c, sizeof(*c) + nent * sizeof(c->entries[0]));
                if (!p) {
                        free(c);
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
                        return cvmm_errf(err, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
                }
        }
        for (uint32_t i = 0; i < c->nent; i++) {
                const struct kvm_cpuid_entry2 *k = &c->entries[i];
                struct cvmm_cpuid_entry e = {
                    .leaf = k->function,
                    .subleaf = (k->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ? k->index : 0,
                    .regs = {k->eax, k->ebx, k->ecx, k->edx},
                    .flags = k->flags,
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

int kvm_supported_cpuid(struct kvm_host *h, struct cvmm_cpuid_table *t, struct cvmm_err *err)
{
        if (!h->have_supported) {
                if (read_supported(h->fd, &h->supported, err))
                        return -1;
                h->have_supported = true;
        }
        cvmm_cpuid_init(t);
        if (cvmm_cpuid_copy(t, &h->supported))
                return cvmm_errf(err, "KVM_GET_SUPPORTED_CPUID: out of memory");
        return 0;
}
