/* SPDX-License-Identifier: MIT */
/* `--metrics FILE`: the run's counters as JSON, written whole at exit. */
#ifndef CVMM_METRICS_H
#define CVMM_METRICS_H

#include "vmm/cpumodel.h"
#include "vmm/vm.h"

struct run_summary {
        const char *outcome; /* poweroff, reboot, fault, host-error */
        int exit_status;
        const char *profile;
        const struct cpumodel *model; /* NULL when not computed */
        const char *kernel_kind;
};

/* Returns a malloc'd JSON document (NULL when out of memory). */
char *metrics_json(const struct vm *vm, const struct run_summary *s);

#endif
