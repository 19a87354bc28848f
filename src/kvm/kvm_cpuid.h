/* SPDX-License-Identifier: MIT */
/* The host's KVM_GET_SUPPORTED_CPUID, the default source table. */
#ifndef CVMM_KVM_CPUID_H
#define CVMM_KVM_CPUID_H

#include "cvmm/cpuid.h"

/*
 * Fills t from /dev/kvm's KVM_GET_SUPPORTED_CPUID, growing the buffer on E2BIG, after asking
 * for AMX guest permission when the host has AMX (else KVM reports TILECFG without TILEDATA).
 * Returns 0, or -1 with a message naming the failing operation.
 */
int kvm_supported_cpuid(struct cvmm_cpuid_table *t, struct cvmm_err *err);

#endif
