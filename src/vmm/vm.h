/* SPDX-License-Identifier: MIT */
/*
 * VM lifetime: memory, vCPU threads, exit dispatch, reboot and power-off, metrics. All state
 * lives in struct vm, so one process can hold several VMs.
 */
#ifndef CVMM_VM_H
#define CVMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "boot/boot.h"
#include "cvmm/cpuid.h"
#include "dev/dev.h"
#include "kvm/kvm.h"
#include "hw/guestmem.h"
#include "hw/bus.h"
#include "util/counter.h"
#include "vmm/msr.h"

struct vm_config {
        const struct boot_image *image;
        const char *cmdline;
        unsigned cpus;
        uint64_t memory;
        const struct cvmm_cpuid_table *cpuid; /* vCPU 0's table; APIC IDs are set per vCPU */
        bool no_reboot;
        int console_fd;      /* where the UART writes */
        bool console_in;     /* feed stdin to the UART */
        uint64_t t_start_ns; /* process start, CLOCK_MONOTONIC */
        struct msr_config msr;
        struct dev_config dev; /* optional devices (--debug-exit) */
};

/* How a run ended. */
enum vm_outcome {
        VM_RUNNING = 0,
        VM_POWEROFF,
        VM_REBOOT,
        VM_FAULT,
        VM_EXIT, /* a device (debug-exit) chose the exit status: vm.exit_status */
};

#define VM_EXIT_REASONS 64
#define VM_REPORT_MAX   4096

struct vcpu {
        struct vm *vm;
        unsigned id;
        int fd;
        struct kvm_run *run;
        pthread_t thread; /* the main thread's handle, for joining */
        bool started;     /* main thread only */
        pthread_t self;   /* the vCPU thread's own handle, for kicks: valid once kickable */
        atomic_bool kickable;
        /* by reason, over every boot; the last slot: out of range. Written by the vCPU only. */
        cvmm_counter exits[VM_EXIT_REASONS + 1];
};

/*
 * The VM's own counters. Every field may be read while the guest runs (--metrics-interval),
 * hence atomics; handoff_first is written before handoff_diffs is released.
 */
struct vm_stats {
        _Atomic uint64_t *io_in, *io_out; /* by port, 65536 each */
        _Atomic uint64_t mmio_unknown;
        _Atomic uint64_t reboots;
        _Atomic uint64_t t_first_run_ns; /* first KVM_RUN of the boot vCPU */
        _Atomic uint64_t t_end_ns;
        atomic_int handoff_diffs; /* KVM_GET_CPUID2 fields differing from the table; -1: not read */
        char handoff_first[160];
};

struct vm {
        const struct vm_config *cfg;
        struct kvm_host kvm;
        int fd;
        struct guest_mem mem;
        struct io_bus bus;
        struct dev_host devhost;
        struct hw_platform platform; /* what the devices told the firmware tables */
        void *dev_state[DEV_MAX];    /* dev_registry[i]'s state (NULL: none) */
        void *console_dev;           /* the device taking console input */
        void (*console_rx)(void *dev, const uint8_t *data, unsigned len);
        int exit_status; /* VM_EXIT: the status the device chose */
        struct vcpu *vcpus;
        struct msr_vm msr;
        /* --debug: unclaimed ports and MMIO, first sighting per key, then a bucket */
        struct cvmm_keyset unclaimed;
        struct cvmm_ratelimit unclaimed_limiter;
        _Atomic uint64_t unclaimed_untracked_suppressed;
        struct msr_vcpu_stats *msr_stats;    /* one per vCPU, kept across reboots */
        uint8_t msr_bitmaps[6 * 0x2000 / 8]; /* the tdx filter's bitmaps */
        atomic_int outcome;
        /* vm_end's kicks are over: only then are vCPU threads joined (no kick after a join) */
        pthread_mutex_t end_lock;
        pthread_cond_t end_cond;
        bool kicks_done;
        char report[VM_REPORT_MAX]; /* written once, by the vCPU that ended the run */
        struct vm_stats stats;
        bool first_run_seen;
        pthread_t input_thread;
        bool input_started;
        atomic_bool input_stop;
};

/*
 * Opens KVM and reserves guest RAM: no guest runs yet. err names the failing host operation.
 */
int vm_init(struct vm *vm, const struct vm_config *cfg, struct cvmm_err *err);
/*
 * Boots and runs the guest until power-off, a fault, or a reset under no_reboot; a reset
 * otherwise restarts the VM in place with the same CPUID table. Returns the outcome, or -1 when
 * the host failed (err says what).
 */
int vm_run(struct vm *vm, struct cvmm_err *err);
void vm_destroy(struct vm *vm);

/*
 * Whether the devices dc configures can all be created (their ports free, in range): the
 * same checks vm_init makes, without KVM, so bad device options are refused before it.
 */
int vm_devices_check(const struct dev_config *dc, struct cvmm_err *err);

uint64_t vm_now_ns(void);
/* CLOCK_MONOTONIC_COARSE: a few ns to read, millisecond resolution (the MSR log limiter). */
uint64_t vm_coarse_ns(void);

#endif
