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

#include "cvmm/keyset.h"
#include "cvmm/msr.h"
#include "cvmm/ratelimit.h"
#include "util/counter.h"

/*
 * Distinct (MSR, access) pairs tracked per VM. 4096 covers every MSR range a guest can reach
 * through the filter (0-0x1fff and 0xc0000000-0xc0001fff, 16384 indices x 2 accesses) many
 * times over what a real guest touches (tens at boot), and bounds the first-sighting lines a
 * guest can cause: 8192 slots of 24 bytes (192 KiB) per VM, and 8192 counters of 32 bytes
 * (256 KiB) per vCPU, of which only the pages a vCPU counts in become resident.
 */
#define MSR_KEYS_MAX 4096

struct msr_config {
        enum cvmm_profile profile;
        bool unknown_ignore; /* --unknown-msr ignore: reads 0, writes dropped; else #GP */
        uint32_t log_rate, log_burst;
        bool debug;    /* host profile: log unknown accesses (debug level) */
        bool log_json; /* --log-format json: one JSON object per line */
};

/*
 * One vCPU's counters: written only by its own thread (counter_add), read at exit, when a line
 * is logged and by --metrics-interval while the guest runs.
 * Each vCPU's counters own whole cache lines (allocate them with msr_stats_alloc), so two vCPUs
 * counting never share a line.
 */
#define MSR_CACHE_LINE 64
struct msr_vcpu_stats {
        _Alignas(MSR_CACHE_LINE) cvmm_counter exits[3]; /* by KVM reason: INVAL, UNKNOWN, FILTER */
        cvmm_counter emulated, gp_policy, gp_unknown, ignored_unknown;
        cvmm_counter unknown_reads, unknown_writes;
        cvmm_counter suppressed, emitted;
};

struct msr_vm {
        struct msr_config cfg;
        struct cvmm_msr_env env;
        struct cvmm_ratelimit limiter;
        struct cvmm_keyset keys; /* every distinct unknown (MSR, access), counted exactly */
        _Atomic uint64_t untracked_suppressed; /* suppressed events of keys past the bound */
        FILE *log;
};

/* What the exit handler decided for one access. */
struct msr_outcome {
        bool inject_gp;
        uint64_t read_value;
        bool log;   /* the caller logs (it has the RIP); suppressed events are already counted */
        bool first; /* the line is this (MSR, access)'s first sighting */
        bool tracking_full;         /* the line says the key table is full (once per VM) */
        uint64_t suppressed_before; /* this key's events suppressed since its last line */
        const char *name;           /* the MSR's name when the policy knows it */
};

/* n vCPUs' counters, zeroed and cache-line aligned (free with free()); NULL on ENOMEM. */
struct msr_vcpu_stats *msr_stats_alloc(unsigned n);

/* Sets up the policy, the limiter and the key table for nvcpus vCPUs; 0, or -1 with err. */
int msr_vm_init(struct msr_vm *m, const struct msr_config *cfg, const struct cvmm_cpuid_table *t,
                unsigned nvcpus, FILE *log, struct cvmm_err *err);
void msr_vm_free(struct msr_vm *m);

/*
 * Handles one RDMSR/WRMSR exit of vCPU vcpu at rip (0: not known). reason is
 * KVM_MSR_EXIT_REASON_*; stats is the vCPU's own; now_ns is the limiter's clock
 * (CLOCK_MONOTONIC_COARSE, vm_coarse_ns). The first access of each distinct (MSR, access) is
 * logged whatever the rate limit; repeats go through it, and a logged repeat says how many of
 * its key's events were suppressed since the key's last line. No system call, lock or
 * allocation unless o->log is set.
 */
void msr_handle(struct msr_vm *m, struct msr_vcpu_stats *stats, unsigned vcpu, uint32_t index,
                bool write, uint32_t reason, uint64_t now_ns, uint64_t rip, struct msr_outcome *o);

/* Writes the warning line for an access msr_handle said to log. The value is never logged. */
void msr_log(struct msr_vm *m, unsigned vcpu, uint32_t index, bool write, uint64_t rip,
             const struct msr_outcome *o);

/*
 * At exit, when the guest touched unknown MSRs and they are logged (confidential profile, or
 * --debug): one line (or JSON object) on the MSR log with the totals over n_vcpus vCPUs'
 * stats and the distinct (MSR, access) pairs, the most frequent first.
 */
void msr_summary(const struct msr_vm *m, const struct msr_vcpu_stats *stats, unsigned n_vcpus);

/*
 * Fills a KVM MSR filter for the tdx profile (default deny, native MSRs allowed). Returns the
 * number of ranges used.
 */
struct kvm_msr_filter;
int msr_build_filter(const struct msr_vm *m, struct kvm_msr_filter *f, uint8_t *bitmaps,
                     size_t bitmap_bytes);

#endif
