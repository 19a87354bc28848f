/* SPDX-License-Identifier: MIT */
/* Error reporting for the cvmm library: one line saying what and where. */
#ifndef CVMM_ERR_H
#define CVMM_ERR_H

#include <stddef.h>

/* One error message, filled by the first failing callee; callers never print half a result. */
struct cvmm_err {
        char msg[512];
};

/* Formats the message into err (if not NULL) and returns -1, so callers can `return
 * cvmm_errf(...)`. */
int cvmm_errf(struct cvmm_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
