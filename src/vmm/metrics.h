/* SPDX-License-Identifier: MIT */
/*
 * `--metrics FILE`: the run's counters as JSON, written whole at exit, and with
 * --metrics-interval also while the guest runs. Every counter is read with an atomic load, so a
 * live snapshot reads each counter's current or an earlier value: each only grows from one
 * snapshot to the next, but counters of one snapshot are not read at one instant (the per-key
 * counts add up to the totals exactly in the file written at exit).
 */
#ifndef CVMM_METRICS_H
#define CVMM_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/cpumodel.h"
#include "vmm/vm.h"

struct run_summary {
        const char *outcome; /* poweroff, reboot, fault, host-error */
        int exit_status;
        const char *profile;
        const struct cpumodel *model; /* NULL when not computed */
        /*
         * cpumodel_json(model), built once by the caller (it does not change during a run, and
         * live files are written every interval); metrics_json takes its own reference.
         */
        struct json_object *model_json;
        const char *kernel_kind;
        bool live;         /* written while the guest runs: no exit status yet */
        bool sandboxed;    /* the seccomp filter was on (vmm/sandbox.h) */
        uint64_t snapshot; /* live files: 1, 2, ... */
};

/* Returns a malloc'd JSON document (NULL when out of memory). */
char *metrics_json(const struct vm *vm, const struct run_summary *s);

#endif
