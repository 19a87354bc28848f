/* SPDX-License-Identifier: MIT */
/* The host's KVM_GET_SUPPORTED_CPUID, the default source table. */
#ifndef CVMM_KVM_CPUID_H
#define CVMM_KVM_CPUID_H

#include "cvmm/cpuid.h"

struct kvm_host;
/*
 * Fills t with a copy of the host's KVM_GET_SUPPORTED_CPUID (read on the first call, growing
 * the buffer on E2BIG, and kept in h). Returns 0, or -1 with a message naming the failing
 * operation.
 */
int kvm_supported_cpuid(struct kvm_host *h, struct cvmm_cpuid_table *t, struct cvmm_err *err);
/* Asks for AMX guest permission for this process when the host has AMX; 0 or -1. */
int kvm_request_amx(struct cvmm_err *err);

#endif
