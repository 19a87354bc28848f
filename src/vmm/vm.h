/* SPDX-License-Identifier: MIT */
/*
 * VM lifetime: memory, vCPU threads, exit dispatch, reboot and power-off, metrics. All state
 * lives in struct vm, so one process can hold several VMs (on one vmm_host).
 *
 * Error convention (the VMM layer's): functions return 0 (or a documented value) on success
 * and -1 on failure with struct cvmm_err filled with one line naming what failed; they never
 * print, except to the VM's log (stderr) for the guest's own events.
 */
#ifndef CVMM_VM_H
#define CVMM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "boot/boot.h"
#include "cvmm/cpuid.h"
#include "dev/dev.h"
#include "vmm/msr.h"
#include "vmm/probe.h"

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
        /* --irqchip kernel: KVM's 8259A pair, I/O APIC and PIT; otherwise (split, the default)
         * KVM has only the local APICs and cvmm the I/O APIC, with no 8259A and no PIT */
        bool kernel_irqchip;
};

/* How a run ended. */
enum vm_outcome {
        VM_RUNNING = 0,
        VM_POWEROFF,
        VM_REBOOT,
        VM_FAULT,
        VM_EXIT, /* a device (debug-exit) chose the exit status: vm.exit_status */
};

/* A VM: opaque outside the VMM layer. */
struct vm;
struct vmm_host;

/*
 * Creates a VM on the process's KVM (h, which must outlive it), reserves guest RAM and opens
 * the KVM VM with its irqchip: no guest runs yet, and cfg->cpuid need not be filled in yet.
 * cfg must outlive the VM. Returns 0 and *out, or -1 with err naming the failing host
 * operation.
 */
int vm_create(struct vmm_host *h, const struct vm_config *cfg, struct vm **out,
              struct cvmm_err *err);
/*
 * Lends the VM to the CPU model's probe (vmm/probe.h), before vm_load and vm_run: a window of
 * guest RAM the guest's image does not use and vCPU ids after the guest's. vm_run clears the
 * window before the guest's first instruction; the caller must have closed the probe's vCPUs
 * or stopped running them by then. Returns 0 and *s, or -1 when the VM cannot lend them (a
 * Multiboot kernel loaded there, too many vCPUs, the VM not open).
 */
int vm_probe_site(struct vm *vm, struct probe_site *s);
/*
 * Loads the guest into RAM and creates its vCPUs, none of which needs the CPU model: a caller
 * may do it while the model is computed. vm_run does it when the caller did not (and after
 * each reboot, in the new KVM VM). The vCPUs get their CPUID tables only in vm_run. Returns 0
 * or -1 with err.
 */
int vm_load(struct vm *vm, struct cvmm_err *err);
/* Once cfg->cpuid holds the final CPU model, before vm_run: the MSR policy's view of it. */
int vm_set_cpu_model(struct vm *vm, struct cvmm_err *err);
/*
 * Boots and runs the guest until power-off, a fault, or a reset under no_reboot; a reset
 * otherwise restarts the VM in place with the same CPUID table. Returns the outcome, or -1 when
 * the host failed (err says what).
 */
int vm_run(struct vm *vm, struct cvmm_err *err);
/* Frees everything the VM holds, the VM included; NULL does nothing. */
void vm_destroy(struct vm *vm);

/* VM_FAULT: the one report (what stopped, where, the registers), ending in a newline. */
const char *vm_fault_report(const struct vm *vm);
/* VM_EXIT: the exit status the guest chose through the debug-exit device. */
int vm_exit_status(const struct vm *vm);
/*
 * After the run: the unknown-MSR summary (when there is one to give) and any difference
 * between KVM_GET_CPUID2 and the table cvmm set, as lines on the VM's log (stderr).
 */
void vm_log_exit(const struct vm *vm);

/*
 * Whether the devices dc configures can all be created (their ports free, in range): the
 * same checks vm_init makes, without KVM, so bad device options are refused before it.
 */
int vm_devices_check(const struct dev_config *dc, struct cvmm_err *err);

uint64_t vm_now_ns(void);
/* CLOCK_MONOTONIC_COARSE: a few ns to read, millisecond resolution (the MSR log limiter). */
uint64_t vm_coarse_ns(void);

#endif
