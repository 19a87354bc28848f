/* SPDX-License-Identifier: MIT */
/*
 * The VM's insides, private to the VMM layer (vm.c, host.c, metrics.c): everything above the
 * VMM sees only the opaque struct vm and the functions of vmm/vm.h.
 */
#ifndef CVMM_VM_IMPL_H
#define CVMM_VM_IMPL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "cvmm/keyset.h"
#include "cvmm/ratelimit.h"
#include "boot/boot.h"
#include "dev/dev.h"
#include "dev/ioapic.h"
#include "hw/bus.h"
#include "hw/guestmem.h"
#include "hw/platform.h"
#include "kvm/kvm.h"
#include "util/counter.h"
#include "vmm/host.h"
#include "vmm/msr.h"
#include "vmm/vm.h"

/* Interrupts a vCPU's KVM_RUN; its handler (installed once per process, by vmm_host_open) does
 * nothing. */
#define KICK_SIGNAL SIGUSR1

/* The process's KVM, shared by the probe and every VM. */
struct vmm_host {
        struct kvm_host kvm;
        char *probe_cache; /* the probe cache's directory (vmm/probecache.h); NULL: none */
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
        /* ISA edges by the path that raised them: irqfd, KVM_IRQ_LINE (KVM's irqchip), or the
         * user-space I/O APIC (split irqchip: its messages, sent with KVM_SIGNAL_MSI) */
        _Atomic uint64_t edges_irqfd, edges_ioctl, edges_ioapic;
        _Atomic uint64_t msi_sent, ioapic_eois, route_errors;
        atomic_int handoff_diffs; /* KVM_GET_CPUID2 fields differing from the table; -1: not read */
        char handoff_first[160];
};

struct vm {
        const struct vm_config *cfg;
        struct kvm_host *kvm; /* the process's, borrowed from the vmm_host */
        /* the KVM VM: opened by vm_create, again by vm_start after a reset. Atomic: the console
         * input thread's interrupts (I/O APIC messages, KVM_IRQ_LINE) read it while a reset
         * closes and reopens it, and a message between the two goes nowhere (-1). */
        atomic_int fd;
        bool model_set;   /* vm_set_cpu_model ran */
        bool loaded;      /* vm_load ran for the current KVM VM: guest in RAM, vCPUs created */
        bool probe_lent;  /* vm_probe_site lent the VM: vm_start clears the window first */
        bool high_mapped; /* the KVM VM has its slot of RAM above 4 GiB */
        struct boot_entry entry; /* where vm_load's guest starts */
        struct guest_mem mem;
        struct io_bus bus;
        struct dev_host devhost;
        struct hw_platform platform; /* what the devices told the firmware tables */
        void *dev_state[DEV_MAX];    /* dev_registry[i]'s state (NULL: none) */
        void *console_dev;           /* the device taking console input */
        void (*console_rx)(void *dev, const uint8_t *data, unsigned len);
        int exit_status; /* VM_EXIT: the status the device chose */
        /*
         * An eventfd per declared edge line (-1: none), open for the VM's whole life so a
         * device never writes to a closed descriptor; irqfd_live[N] while the current KVM VM
         * has it as an irqfd (KVM_IRQFD), else edges go through KVM_IRQ_LINE.
         */
        int irq_event[HW_ISA_IRQS];
        atomic_bool irqfd_live[HW_ISA_IRQS];
        struct ioapic *ioapic;      /* split irqchip only: the I/O APIC (KVM has the local APICs) */
        pthread_mutex_t route_lock; /* one KVM_SET_GSI_ROUTING at a time, in order */
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
        pthread_t input_thread; /* joined by vm_destroy, woken through input_wake */
        bool input_started;
        int input_wake[2];
};

#endif
