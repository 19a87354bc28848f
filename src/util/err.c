/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

#include "cvmm/err.h"

size_t cvmm_err_escape(char *dst, size_t cap, const char *src)
{
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;
        if (cap == 0)
                return 0;
        for (const unsigned char *s = (const unsigned char *)src; *s; s++) {
                if (*s == '\n') {
                        if (o + 2 >= cap)
                                break;
                        dst[o++] = '\\';
                        dst[o++] = 'n';
                } else if (*s < 0x20 || *s == 0x7f) {
                        if (o + 4 >= cap)
                                break;
                        dst[o++] = '\\';
                        dst[o++] = 'x';
                        dst[o++] = hex[*s >> 4];
                        dst[o++] = hex[*s & 0xf];
                } else {
                        if (o + 1 >= cap)
                                break;
                        dst[o++] = (char)*s;
                }
        }
        dst[o] = '\0';
        return o;
}

int cvmm_errf(struct cvmm_err *err, const char *fmt, ...)
{
        if (err) {
                /* Room for a message as long as err->msg before escaping shortens it again. */
                char raw[sizeof(err->msg)];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(raw, sizeof(raw), fmt, ap);
                va_end(ap);
                cvmm_err_escape(err->msg, sizeof(err->msg), raw);
        }
        return -1;
}
