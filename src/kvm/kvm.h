/* SPDX-License-Identifier: MIT */
/*
 * Thin KVM ioctl wrappers: the only place that issues KVM ioctls besides kvm_cpuid.c.
 * The raw variants return -errno; the checked variants fill err naming the ioctl.
 */
#ifndef CVMM_KVM_H
#define CVMM_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmm/cpuid.h"
#include "cvmm/err.h"

/*
 * One per process: /dev/kvm opened once, AMX guest permission asked for once, and
 * KVM_GET_SUPPORTED_CPUID read once and kept (as Firecracker's Kvm does).
 */
struct kvm_host {
        int fd;        /* /dev/kvm */
        int run_size;  /* KVM_GET_VCPU_MMAP_SIZE */
        int sync_regs; /* KVM_CAP_SYNC_REGS: the KVM_SYNC_X86_* sets kvm_run can carry */
        struct cvmm_cpuid_table supported; /* KVM_GET_SUPPORTED_CPUID, once read */
        bool have_supported;
};

/*
 * Opens /dev/kvm, checks the API version and asks for AMX guest permission when the host has
 * AMX (else KVM reports TILECFG without TILEDATA). On failure err says why.
 */
int kvm_host_open(struct kvm_host *h, struct cvmm_err *err);
void kvm_host_close(struct kvm_host *h);

/* ioctl() returning -errno on failure, retrying EINTR except for KVM_RUN. */
int kvm_ioctl_raw(int fd, unsigned long req, void *arg);
/* ioctl() that fills err with "NAME: strerror" on failure and returns -1; else the result. */
int kvm_ioctl_checked(int fd, unsigned long req, void *arg, const char *name, struct cvmm_err *err);
#define KVM_CHECKED(fd, req, arg, err) kvm_ioctl_checked((fd), (req), (arg), #req, (err))

/* Creates a VM; returns its fd or -1. */
int kvm_vm_create(const struct kvm_host *h, struct cvmm_err *err);
/* Maps [gpa, gpa+size) of the guest to host memory hva as slot. */
int kvm_vm_map(int vm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva, struct cvmm_err *err);
/* Creates vCPU id and maps its kvm_run; returns 0 and fills *fd, *run. */
int kvm_vcpu_create(const struct kvm_host *h, int vm, unsigned id, int *fd, struct kvm_run **run,
                    struct cvmm_err *err);

/* Hands a CPUID table to a vCPU (KVM_SET_CPUID2). */
int kvm_vcpu_set_cpuid(int vcpu, const struct cvmm_cpuid_table *t, struct cvmm_err *err);
/* Reads back a vCPU's CPUID table (KVM_GET_CPUID2). */
int kvm_vcpu_get_cpuid(int vcpu, struct cvmm_cpuid_table *t, struct cvmm_err *err);

struct kvm_msr_value {
        uint32_t index;
        uint64_t value;
};
/*
 * Writes MSRs with KVM_SET_MSRS. KVM stops at the first MSR it refuses: returns how many were
 * written (0..n), or -1 with err on an ioctl failure.
 */
int kvm_vcpu_set_msrs(int vcpu, const struct kvm_msr_value *m, size_t n, struct cvmm_err *err);

/* The name of a KVM exit reason, or NULL when unknown. */
const char *kvm_exit_name(uint32_t reason);

#endif
