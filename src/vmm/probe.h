/* SPDX-License-Identifier: MIT */
/*
 * The probe vCPU: a real-mode vCPU, in a VM of its own or in the guest's VM before the guest
 * runs, that is handed a CPUID table exactly as a guest's vCPU would be, then executes CPUID
 * over every leaf and subleaf a guest can query, so cvmm knows the CPUID a guest really sees
 * (not what it meant to set). A second phase programs XCR0 (and IA32_XSS) as a kernel would
 * and reads the XSAVE sizes back.
 */
#ifndef CVMM_PROBE_H
#define CVMM_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "cvmm/cpuid.h"
#include "cvmm/err.h"
#include "kvm/kvm.h"

struct probe;

/* Creates the probe VM (no vCPU yet). Returns 0, or -1 when the host failed (err says what). */
int probe_open(const struct kvm_host *h, struct probe **out, struct cvmm_err *err);

/* The guest-RAM window the probe needs in a guest's VM: 16-byte aligned, below 1 MiB. */
#define PROBE_WINDOW 0x30000u

/*
 * A guest's VM lent to the probe before any of the guest's vCPUs ran: PROBE_WINDOW bytes of
 * its RAM at guest-physical base (host address mem) that nothing else writes until the probe
 * is closed, and vCPU ids [first_id, end_id) the guest never uses. The probe's vCPUs stay in
 * the VM, never run again, once it is closed; the lender clears the window before the guest
 * runs (the probe leaves its code and results there).
 */
struct probe_site {
        int vm;
        uint8_t *mem;
        uint64_t base;
        unsigned first_id, end_id;
        const char *kind; /* the VM's settings that bear on CPUID, for the probe cache's key */
};

/*
 * As probe_open, in the guest's own VM: the table is measured where the guest will run, under
 * its VM's settings, at the cost of a vCPU rather than a VM (a KVM VM's creation and teardown
 * cost about a millisecond on a PVM-style host). Returns 0 or -1 with err.
 */
int probe_open_in(const struct kvm_host *h, const struct probe_site *site, struct probe **out,
                  struct cvmm_err *err);

/*
 * Hands the probe vCPU t (KVM_SET_CPUID2) and reads back what KVM kept (KVM_GET_CPUID2) into
 * kvm_out. A vCPU that has run is replaced by a fresh one in the same VM, since KVM refuses a
 * different table once a vCPU has run; one that has not takes the new table itself. The VM is
 * created once per model, not per round.
 * t must stay valid until the next call or probe_close. Returns 0 or -1 with err.
 */
int probe_set_table(struct probe *p, const struct cvmm_cpuid_table *t,
                    struct cvmm_cpuid_table *kvm_out, struct cvmm_err *err);

/*
 * Executes CPUID for every leaf and subleaf a guest can query: basic leaves up to the maximum
 * the guest sees, the 0x40000000 range, the extended leaves, subleaves 0-63 of 0xD, at least
 * 0-7 of every indexed leaf, and every entry of the table. seen gets what the guest saw (CR4 as
 * at reset, XCR0 = x87). Returns 0 or -1 with err.
 */
int probe_sweep(struct probe *p, struct cvmm_cpuid_table *seen, struct cvmm_err *err);

/* What the guest reads after programming XCR0/XSS. */
struct probe_xstate {
        bool done;       /* XSETBV (and the XSS write) succeeded */
        unsigned vector; /* else: the exception taken (13 #GP, 6 #UD), 0 if none */
        const char *step;
        uint32_t d0[4], d1[4]; /* CPUID 0xD.0 and 0xD.1 afterwards */
};

/*
 * Sets CR4.OSXSAVE, writes XCR0 and then IA32_XSS (when xss is nonzero), as Linux does, then
 * executes CPUID 0xD.0 and 0xD.1. Returns 0 (r says what happened, including a fault) or -1 when
 * the host failed.
 */
int probe_xstate(struct probe *p, uint64_t xcr0, uint64_t xss, struct probe_xstate *r,
                 struct cvmm_err *err);

/*
 * What the probe has cost so far: the CPUID instructions its vCPUs executed (each one an exit
 * to KVM on a host with hardware virtualization), its KVM_RUN calls and the time spent in them,
 * and the time since it was opened (its vCPUs' creation and tables included).
 */
struct probe_cost {
        unsigned cpuids;
        unsigned runs;
        uint64_t run_ns;
        uint64_t wall_ns;
        unsigned reused; /* phases answered from the probe cache (vmm/probecache.h) */
        unsigned stored; /* phases stored into it */
};
struct probe_cost probe_cost(const struct probe *p);

struct probecache;
/*
 * Lets probe_sweep and probe_xstate answer from c, when it holds the result of the same phase
 * for the same table, KVM_GET_CPUID2 reply, vCPU id and kind of VM on this host, and store
 * what they measure into it otherwise. c (NULL: none) must outlive the probe's phases.
 */
void probe_use_cache(struct probe *p, struct probecache *c);

void probe_close(struct probe *p);

#endif
