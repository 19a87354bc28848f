/* SPDX-License-Identifier: MIT */
/* `cvmm run`'s seccomp allow-list as libseccomp rules (src/vmm/sandbox_rules.c). */
#ifndef CVMM_VMM_SANDBOX_RULES_H
#define CVMM_VMM_SANDBOX_RULES_H

#include <seccomp.h>

/*
 * Adds the rules to ctx (made with a default action of SCMP_ACT_TRAP). Whether the build is
 * a sanitizer's (which makes calls of its own) is read from the compiler, so the generator
 * must be compiled as cvmm is. Returns 0 or a negative errno.
 */
int sandbox_rules(scmp_filter_ctx ctx);

#endif
