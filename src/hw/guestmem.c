/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hw/layout.h"
#include "hw/guestmem.h"

int guestmem_init(struct guest_mem *m, uint64_t size, struct cvmm_err *err)
{
        m->host = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m->host == MAP_FAILED) {
                m->host = NULL;
                return cvmm_errf(err, "reserving %llu MiB of guest RAM: %s",
                                 (unsigned long long)(size >> 20), strerror(errno));
        }
        m->size = size;
        m->low = size < LAYOUT_GAP_START ? size : LAYOUT_GAP_START;
        return 0;
}

void guestmem_free(struct guest_mem *m)
{
        if (m->host)
                munmap(m->host, m->size);
        m->host = NULL;
}

void *guestmem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
        uint64_t end = gpa + len;
        if (end < gpa)
                return NULL;
        if (end <= m->low)
                return m->host + gpa;
        uint64_t high = m->size - m->low;
        if (gpa >= LAYOUT_GAP_END && end - LAYOUT_GAP_END <= high)
                return m->host + m->low + (gpa - LAYOUT_GAP_END);
        return NULL;
}

int guestmem_reset(struct guest_mem *m, struct cvmm_err *err)
{
        /* Drops every page: the next touch reads a zero page again, as after power-on. */
        if (madvise(m->host, m->size, MADV_DONTNEED) != 0)
                return cvmm_errf(err, "clearing guest RAM: %s", strerror(errno));
        return 0;
}

int guestmem_clear(struct guest_mem *m, uint64_t gpa, uint64_t len, struct cvmm_err *err)
{
        uint64_t first = gpa & ~4095ull, last = (gpa + len + 4095) & ~4095ull;
        uint8_t *p = guestmem_ptr(m, first, last - first);
        if (!p)
                return cvmm_errf(err, "clearing guest RAM 0x%llx+0x%llx: not guest RAM",
                                 (unsigned long long)gpa, (unsigned long long)len);
        if (madvise(p, last - first, MADV_DONTNEED) != 0)
                return cvmm_errf(err, "clearing guest RAM: %s", strerror(errno));
        return 0;
}

uint64_t guestmem_resident(const struct guest_mem *m)
{
        /*
         * In windows of 256 MiB with one 64 KiB vector: a vector for the whole of a 16 GiB
         * guest would itself be 4 MiB of the VMM's memory, and summed byte by byte would cost
         * milliseconds at every exit.
         */
        enum { WINDOW_PAGES = 65536 };
        uint64_t *vec = malloc(WINDOW_PAGES);
        if (!vec)
                return 0;
        uint64_t n = 0;
        for (uint64_t off = 0; off < m->size; off += (uint64_t)WINDOW_PAGES * 4096) {
                uint64_t len = m->size - off < (uint64_t)WINDOW_PAGES * 4096
                                   ? m->size - off
                                   : (uint64_t)WINDOW_PAGES * 4096;
                size_t pages = (size_t)((len + 4095) / 4096);
                memset(vec, 0, WINDOW_PAGES);
                if (mincore(m->host + off, (size_t)len, (unsigned char *)vec) != 0)
                        break;
                /* bit 0 of each byte: resident; eight pages per word */
                for (size_t w = 0; w < (pages + 7) / 8; w++)
                        n += (uint64_t)__builtin_popcountll(vec[w] & 0x0101010101010101ull);
        }
        free(vec);
        return n * 4096;
}
