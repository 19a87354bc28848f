/* SPDX-License-Identifier: MIT */
/*
 * The process's KVM, opened once and shared by the CPUID probe and every VM: /dev/kvm, AMX
 * guest permission and KVM_GET_SUPPORTED_CPUID are obtained once. Opening it also installs
 * the one process-wide piece of state the VMM needs, the handler of the signal that kicks a
 * vCPU out of KVM_RUN, so that creating a VM has no process-wide side effects.
 *
 * Error convention: 0, or -1 with struct cvmm_err filled with one line.
 */
#ifndef CVMM_VMM_HOST_H
#define CVMM_VMM_HOST_H

#include <stdbool.h>

#include "cvmm/cpuid.h"
#include "cvmm/linux.h"
#include "cvmm/profile.h"
#include "vmm/cpumodel.h"

struct vmm_host;

/* Opens /dev/kvm; err says why it could not (e.g. "cannot open /dev/kvm: ..."). */
int vmm_host_open(struct vmm_host **out, struct cvmm_err *err);
/* NULL does nothing. */
void vmm_host_close(struct vmm_host *h);

/* Lets vmm_host_model reuse probe results stored in dir (vmm/probecache.h); NULL: never.
 * Returns 0, or -1 when out of memory. */
int vmm_host_use_probe_cache(struct vmm_host *h, const char *dir, struct cvmm_err *err);

/* A copy of the host's KVM_GET_SUPPORTED_CPUID (free it with cvmm_cpuid_free). */
int vmm_host_supported_cpuid(struct vmm_host *h, struct cvmm_cpuid_table *t, struct cvmm_err *err);

/*
 * The effective CPU model (vmm/cpumodel.h) of opts on this host, for Linux version lv: the
 * profile's table built from KVM_GET_SUPPORTED_CPUID, vCPU 0's view of it, probed and, where
 * the profile says so, reconciled. Returns 0 (free m with cpumodel_free), or -1 with
 * *bad_opts true when opts do not fit this host's table, false when the host failed. The probe
 * runs where site says (cpumodel_build; NULL: a VM of its own).
 */
int vmm_host_model(struct vmm_host *h, const struct cvmm_model_opts *opts,
                   enum cvmm_linux_version lv, const struct probe_site_src *site,
                   struct cpumodel *m, bool *bad_opts, struct cvmm_err *err);

#endif
