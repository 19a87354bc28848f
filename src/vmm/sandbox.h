/* SPDX-License-Identifier: MIT */
/*
 * `cvmm run`'s seccomp sandbox: once the run is set up (input files read, /dev/kvm and the VM
 * open, guest memory mapped, the --metrics directory open), the process confines itself to an
 * allow-list of system calls and KVM ioctls (README, "Sandbox"). Any other call raises SIGSYS;
 * the handler writes one line on stderr naming the call's number and architecture and ends the
 * process with SANDBOX_EXIT_STATUS.
 *
 * Error convention: 0, or -1 with struct cvmm_err filled with one line.
 */
#ifndef CVMM_VMM_SANDBOX_H
#define CVMM_VMM_SANDBOX_H

#include "cvmm/err.h"

/* The exit status after a forbidden call: even, so no --debug-exit status ((V << 1) | 1). */
#define SANDBOX_EXIT_STATUS 4

/*
 * The filter in two steps. sandbox_prepare compiles it (libseccomp: the costly part, which may
 * overlap other set-up) and changes nothing in the process. sandbox_load sets no_new_privs,
 * installs the SIGSYS handler and loads the filter on every thread of the process
 * (SECCOMP_FILTER_FLAG_TSYNC); it cannot be removed. sandbox_free releases a prepared filter,
 * loaded or not.
 */
struct sandbox;
int sandbox_prepare(struct sandbox **out, struct cvmm_err *err);
int sandbox_load(struct sandbox *s, struct cvmm_err *err);
void sandbox_free(struct sandbox *s);

/*
 * Test only (--sandbox-selftest): makes a call the filter forbids (execve of /bin/true). Under
 * the filter it does not return; it returns -1 (err says what happened) when the call was
 * not stopped.
 */
int sandbox_selftest(struct cvmm_err *err);

#endif
