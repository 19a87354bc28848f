/* SPDX-License-Identifier: MIT */
/*
 * Error reporting for the cvmm library: one line saying what and where.
 *
 * The library's one convention: a function that can fail returns 0, or -1 having filled its
 * struct cvmm_err (when not NULL) with one line. The exceptions take no cvmm_err and return -1
 * (or NULL) with no message: functions whose only failure is running out of memory. Each
 * header says which of its functions these are. Where a message names a
 * value the caller was given, the caller says what to call it (a `what` argument,
 * cvmm_model_opts.names): the library never spells a CLI flag.
 */
#ifndef CVMM_ERR_H
#define CVMM_ERR_H

#include <stddef.h>

/* One error message, filled by the first failing callee; callers never print half a result. */
struct cvmm_err {
        char msg[512];
};

/*
 * Formats the message into err (if not NULL) and returns -1, so callers can `return
 * cvmm_errf(...)`. Text quoted from input (file names, keys, pasted lines) can hold newlines
 * or terminal escapes: a newline in the result is written as \n and every other control byte
 * (below 0x20, and 0x7f) as \xNN, as the CLI's error line does, so the message stays one
 * printable line whatever it quotes.
 */
int cvmm_errf(struct cvmm_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Copies src into dst (cap bytes, NUL-terminated), a newline as \n, other control bytes as
 * \xNN; stops early rather than split an escape. Returns the length written.
 */
size_t cvmm_err_escape(char *dst, size_t cap, const char *src);

#endif
