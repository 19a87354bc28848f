/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/kvm_cpuid.h"
#include "vmm/host.h"
#include "vmm/probecache.h"
#include "vmm/vcpu.h"
#include "vmm/vm_impl.h"

static void kick_handler(int sig)
{
        (void)sig; /* only interrupts KVM_RUN */
}

int vmm_host_open(struct vmm_host **out, struct cvmm_err *err)
{
        *out = NULL;
        struct vmm_host *h = calloc(1, sizeof(*h));
        if (!h)
                return cvmm_errf(err, "out of memory");
        if (kvm_host_open(&h->kvm, err)) {
                free(h);
                return -1;
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN returns EINTR */
        sigaction(KICK_SIGNAL, &sa, NULL);
        *out = h;
        return 0;
}

void vmm_host_close(struct vmm_host *h)
{
        if (!h)
                return;
        kvm_host_close(&h->kvm);
        free(h->probe_cache);
        free(h);
}

int vmm_host_use_probe_cache(struct vmm_host *h, const char *dir, struct cvmm_err *err)
{
        char *d = dir ? strdup(dir) : NULL;
        if (dir && !d)
                return cvmm_errf(err, "out of memory");
        free(h->probe_cache);
        h->probe_cache = d;
        return 0;
}

int vmm_host_supported_cpuid(struct vmm_host *h, struct cvmm_cpuid_table *t, struct cvmm_err *err)
{
        return kvm_supported_cpuid(&h->kvm, t, err);
}

int vmm_host_model(struct vmm_host *h, const struct cvmm_model_opts *opts,
                   enum cvmm_linux_version lv, const struct probe_site_src *site,
                   struct cpumodel *m, bool *bad_opts, struct cvmm_err *err)
{
        *bad_opts = false;
        struct cvmm_cpuid_table source, t, v0;
        cvmm_cpuid_init(&t);
        cvmm_cpuid_init(&v0);
        if (kvm_supported_cpuid(&h->kvm, &source, err))
                return -1;
        int rc = -1;
        if (cvmm_cpuid_copy(&t, &source)) {
                cvmm_errf(err, "out of memory");
                goto out;
        }
        struct cvmm_model_result res;
        if (cvmm_model_build(&t, opts, &res, err)) {
                *bad_opts = true;
                goto out;
        }
        /* The probe cache, when asked for and this host lets its results be proven to apply. */
        char why[sizeof(m->probe_cache) - 8] = "not asked for";
        struct probecache *pc =
            h->probe_cache ? probecache_open(h->probe_cache, "", &source, why, sizeof(why)) : NULL;
        /* vCPU 0's table, exactly as the guest's vCPU 0 gets it. */
        if (vcpu_cpuid_for(&t, 0, &v0, err) ||
            cpumodel_build(&h->kvm, &source, &v0, cvmm_profile_get(opts->profile)->reconcile, lv,
                           site, pc, m, err)) {
                probecache_close(pc);
                goto out;
        }
        if (pc)
                snprintf(m->probe_cache, sizeof(m->probe_cache), "%s", probecache_dir(pc));
        else
                snprintf(m->probe_cache, sizeof(m->probe_cache), "off: %s", why);
        probecache_close(pc);
        rc = 0;
out:
        cvmm_cpuid_free(&v0);
        cvmm_cpuid_free(&t);
        cvmm_cpuid_free(&source);
        return rc;
}
