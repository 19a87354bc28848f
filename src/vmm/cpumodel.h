/* SPDX-License-Identifier: MIT */
/*
 * The effective CPU model of a VM, computed before the guest's first instruction: cvmm's table
 * is handed to a probe vCPU exactly as the guest's vCPU 0 will get it, the probe executes CPUID
 * over everything a guest can query, and every field the guest sees differently is attributed
 * (KVM's rewrite, or neither). Under reconciliation (the host profile) forced features are
 * restored with their XSAVE state from the source table and the probe runs again, until the
 * view stops changing. The Linux model then runs on the view, with the XSAVE sizes the probe
 * read back after programming XCR0/XSS as the kernel will.
 */
#ifndef CVMM_CPUMODEL_H
#define CVMM_CPUMODEL_H

#include <stdbool.h>

#include <json-c/json.h>

#include "cvmm/check.h"
#include "cvmm/cpuid.h"
#include "cvmm/effective.h"
#include "cvmm/linux.h"
#include "kvm/kvm.h"
#include "vmm/probe.h"

/* Swept rounds at most; an unswept round 1 (from KVM_GET_CPUID2) comes on top. */
#define CPUMODEL_MAX_ROUNDS 4

struct cpumodel {
        struct cvmm_cpuid_table table; /* what cvmm hands over (after reconciliation) */
        struct cvmm_cpuid_table kvm;   /* KVM_GET_CPUID2 of the last round */
        struct cvmm_cpuid_table seen;  /* what the guest sees (the effective table) */
        unsigned rounds;
        unsigned unswept_rounds; /* 1: round 1 was reconciled from KVM_GET_CPUID2, not swept */
        bool enforced;           /* the last round: the guest sees the table exactly */
        struct cvmm_attribution first;    /* round 1: the profile's table against the view */
        struct cvmm_attribution last;     /* the last round */
        struct cvmm_reconcile_report rec; /* all rounds' changes, merged */
        struct probe_xstate xstate;       /* phase 2 of the probe */
        bool xstate_probed;
        enum cvmm_linux_version linux_version;
        struct cvmm_linux_boot linux_boot; /* predicted on the view */
        struct cvmm_check_report check;    /* the checker on the view */
        struct probe *probe;               /* the probe, still open (cpumodel_take_probe) */
        bool probe_in_guest_vm;            /* the probe ran in the VM the guest will run in */
        struct probe_cost probe_cost;      /* what the probe cost, all rounds and phase 2 */
        char probe_cache[320]; /* its directory, or "off: " and why (vmm_host_model); or "" */
};

/* Where cpumodel_build runs its probe (see probe_open_in). */
struct probe_site_src {
        /* Waits until the guest's VM exists; 0 and *s, or -1 when it lends none. */
        int (*get)(void *ctx, struct probe_site *s);
        void *ctx;
};

/*
 * Computes the effective model of `intended` (vCPU 0's table, built from `source` by the
 * profile) on this host. With reconcile, forced features are restored as described above.
 * The probe runs in the VM site lends when site is not NULL and lends one, else in a VM of
 * its own. With cache (vmm/probecache.h; NULL: none) a probe phase whose exact result is
 * stored there is not run again. Returns 0 (m filled; free with cpumodel_free) or -1 when the
 * host failed (err says what).
 */
int cpumodel_build(const struct kvm_host *h, const struct cvmm_cpuid_table *source,
                   const struct cvmm_cpuid_table *intended, bool reconcile,
                   enum cvmm_linux_version lv, const struct probe_site_src *site,
                   struct probecache *cache, struct cpumodel *m, struct cvmm_err *err);
/* Frees the model, closing the probe VM if cpumodel_take_probe did not take it (the probe
 * needs nothing of the kvm_host to close: the host may be closed first). */
void cpumodel_free(struct cpumodel *m);
/*
 * The probe VM the model was measured on, for the caller to close (probe_close) where its
 * close costs nothing: KVM's teardown of a VM takes a few hundred microseconds. NULL once taken.
 */
struct probe *cpumodel_take_probe(struct cpumodel *m);

/*
 * Up to `max` attributed fields as "; "-separated descriptions, then "and N more". Returns a
 * malloc'ed string, NULL on ENOMEM.
 */
char *cpumodel_describe(const struct cvmm_attribution *a, size_t max);

/* The Linux boot prediction as a JSON object (the caller owns it); NULL on ENOMEM. */
struct json_object *cpumodel_linux_json(const struct cvmm_linux_boot *lb,
                                        enum cvmm_linux_version v);

/* The model as a JSON object for --metrics: attribution, reconciliation, the effective table,
 * the XSAVE probe and the Linux prediction. NULL on ENOMEM. */
struct json_object *cpumodel_json(const struct cpumodel *m);

#endif
