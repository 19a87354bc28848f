/* SPDX-License-Identifier: MIT */
/* x86-64 vCPU reset state for the Linux and PVH boot protocols. */
#ifndef CVMM_VCPU_H
#define CVMM_VCPU_H

#include <stdio.h>

#include "boot/boot.h"
#include "cvmm/cpuid.h"
#include "cvmm/err.h"

/* The table for vCPU id (APIC ID id), by cvmm_cpuid_for_vcpu; fails with a message on ENOMEM. */
int vcpu_cpuid_for(const struct cvmm_cpuid_table *t, unsigned id, struct cvmm_cpuid_table *out,
                   struct cvmm_err *err);

/*
 * Gives vCPU fd its boot MSRs and local APIC wiring; the boot vCPU also gets the entry state
 * (segments, control registers, RIP). MSRs KVM refuses are listed on warn (by name).
 */
int vcpu_setup(int fd, bool boot, const struct boot_entry *entry, FILE *warn, struct cvmm_err *err);

/* Prints RIP, general and control registers of vCPU fd on f (best effort). */
void vcpu_dump(int fd, FILE *f);

#endif
