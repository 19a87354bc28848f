/* SPDX-License-Identifier: MIT */
/*
 * The VMM's side of the MSR policy: the KVM MSR filter built from the profile's policy, the
 * RDMSR/WRMSR exit handler, per-vCPU counters and the rate-limited unknown-MSR warning.
 */
#ifndef CVMM_VMM_MSR_H
#define CVMM_VMM_MSR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cvmm/msr.h"
#include "cvmm/ratelimit.h"

#define MSR_TOP_SLOTS 64

struct msr_config {
        enum cvmm_profile profile;
        bool unknown_ignore; /* --unknown-msr ignore: reads 0, writes dropped; else #GP */
        uint32_t log_rate, log_burst;
        bool debug; /* host profile: log unknown accesses (debug level) */
};

/* One vCPU's counters: written only by its own thread, read at exit and when a line is logged. */
struct msr_vcpu_stats {
        uint64_t exits[3]; /* by KVM reason: INVAL, UNKNOWN, FILTER */
        uint64_t emulated, gp_policy, gp_unknown, ignored_unknown;
        uint64_t unknown_reads, unknown_writes;
        _Atomic uint64_t suppressed, emitted;
        struct {
                uint32_t index;
                uint8_t write;
                uint64_t count;
        } top[MSR_TOP_SLOTS];
        uint64_t top_overflow;
};

struct msr_vm {
        struct msr_config cfg;
        struct cvmm_msr_env env;
        struct cvmm_ratelimit limiter;
        _Atomic uint64_t reported_suppressed; /* suppressed events already named in a line */
        FILE *log;
};

/* What the exit handler decided for one access. */
struct msr_outcome {
        bool inject_gp;
        uint64_t read_value;
        bool log; /* the caller logs (it has the RIP); suppressed events are already counted */
        uint64_t suppressed_before; /* for the logged line */
        const char *name;           /* the MSR's name when the policy knows it */
};

int msr_vm_init(struct msr_vm *m, const struct msr_config *cfg, const struct cvmm_cpuid_table *t,
                FILE *log);

/*
 * Handles one RDMSR/WRMSR exit. reason is KVM_MSR_EXIT_REASON_*; stats is the vCPU's own.
 * No system call, lock or allocation unless o->log is set.
 */
void msr_handle(struct msr_vm *m, struct msr_vcpu_stats *stats, struct msr_vcpu_stats *all,
                unsigned nvcpus, uint32_t index, bool write, uint32_t reason, uint64_t now_ns,
                struct msr_outcome *o);

/* Writes the warning line for an access msr_handle said to log. The value is never logged. */
void msr_log(struct msr_vm *m, unsigned vcpu, uint32_t index, bool write, uint64_t rip,
             const struct msr_outcome *o);

/*
 * Fills a KVM MSR filter for the tdx profile (default deny, native MSRs allowed). Returns the
 * number of ranges used.
 */
struct kvm_msr_filter;
int msr_build_filter(const struct msr_vm *m, struct kvm_msr_filter *f, uint8_t *bitmaps,
                     size_t bitmap_bytes);

#endif
