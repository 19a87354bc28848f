/* SPDX-License-Identifier: MIT */
/* A growable string; an allocation failure is sticky and reported once by strbuf_finish(). */
#ifndef CVMM_STRBUF_H
#define CVMM_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
        char *data;
        size_t len;
        size_t cap;
        bool failed;
};

/* Starts an empty buffer. */
void strbuf_init(struct strbuf *sb);
/* Appends formatted text; on allocation failure marks the buffer failed. */
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the NUL-terminated string (caller frees), or NULL if any append failed. */
char *strbuf_finish(struct strbuf *sb);

#endif
