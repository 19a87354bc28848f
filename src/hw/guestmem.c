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

uint64_t guestmem_resident(const struct guest_mem *m)
{
        size_t pages = (size_t)((m->size + 4095) / 4096);
        unsigned char *vec = malloc(pages ? pages : 1);
        if (!vec)
                return 0;
        uint64_t n = 0;
        if (mincore(m->host, m->size, vec) == 0)
                for (size_t i = 0; i < pages; i++)
                        n += vec[i] & 1;
        free(vec);
        return n * 4096;
}
