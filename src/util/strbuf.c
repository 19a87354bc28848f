/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/strbuf.h"

void strbuf_init(struct strbuf *sb)
{
        sb->data = NULL;
        sb->len = 0;
        sb->cap = 0;
        sb->failed = false;
}

void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
        if (sb->failed)
                return;
        for (;;) {
                size_t room = sb->cap - sb->len;
                va_list ap;
                va_start(ap, fmt);
                int n = vsnprintf(room ? sb->data + sb->len : NULL, room, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        sb->failed = true;
                        return;
                }
                if ((size_t)n < room) {
                        sb->len += (size_t)n;
                        return;
                }
                size_t want = sb->cap ? sb->cap * 2 : 256;
                while (want < sb->len + (size_t)n + 1)
                        want *= 2;
                char *p = realloc(sb->data, want);
                if (!p) {
                        sb->failed = true;
                        return;
                }
                sb->data = p;
                sb->cap = want;
        }
}

char *strbuf_finish(struct strbuf *sb)
{
        if (sb->failed) {
                free(sb->data);
                strbuf_init(sb);
                return NULL;
        }
        if (!sb->data) {
                sb->data = malloc(1);
                if (!sb->data)
                        return NULL;
                sb->data[0] = '\0';
        }
        char *s = sb->data;
        strbuf_init(sb);
        return s;
}
