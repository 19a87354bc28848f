/* SPDX-License-Identifier: MIT */
/* Differences between two tables, by leaf/subleaf/register, with the names of changed bits. */
#include <stdbool.h>
#include <stdio.h>

#include "cvmm/diff.h"
#include "cvmm/features.h"
#include "util/strbuf.h"

static void names(struct strbuf *sb, uint32_t leaf, uint32_t sub, enum cvmm_reg r, uint32_t bits,
                  char sign)
{
        for (unsigned b = 0; b < 32; b++) {
                if (!(bits >> b & 1))
                        continue;
                const struct cvmm_feature *f = cvmm_feature_at(leaf, sub, r, b);
                if (f)
                        strbuf_printf(sb, " %c%s", sign, f->name);
                else
                        strbuf_printf(sb, " %cbit%u", sign, b);
        }
}

/* Leaf 0xD registers that hold sizes or offsets rather than bits. */
static bool is_size(uint32_t leaf, uint32_t sub, enum cvmm_reg r)
{
        if (leaf != 0xd)
                return false;
        if (sub == 0)
                return r == CVMM_EBX || r == CVMM_ECX;
        if (sub == 1)
                return r == CVMM_EBX;
        return r == CVMM_EAX || r == CVMM_EBX;
}

/* True when the register holds named feature bits (else only values are printed). */
static bool has_names(uint32_t leaf, uint32_t sub, enum cvmm_reg r)
{
        for (unsigned b = 0; b < 32; b++)
                if (cvmm_feature_at(leaf, sub, r, b))
                        return true;
        return false;
}

char *cvmm_cpuid_diff(const struct cvmm_cpuid_table *a, const struct cvmm_cpuid_table *b,
                      size_t *ndiff)
{
        struct strbuf sb;
        strbuf_init(&sb);
        size_t i = 0, j = 0, n = 0;
        while (i < a->count || j < b->count) {
                const struct cvmm_cpuid_entry *ea = i < a->count ? &a->entries[i] : NULL;
                const struct cvmm_cpuid_entry *eb = j < b->count ? &b->entries[j] : NULL;
                int cmp;
                if (!ea)
                        cmp = 1;
                else if (!eb)
                        cmp = -1;
                else if (ea->leaf != eb->leaf)
                        cmp = ea->leaf < eb->leaf ? -1 : 1;
                else if (ea->subleaf != eb->subleaf)
                        cmp = ea->subleaf < eb->subleaf ? -1 : 1;
                else
                        cmp = 0;
                if (cmp < 0) {
                        strbuf_printf(&sb, "0x%08x 0x%02x: only in A\n", ea->leaf, ea->subleaf);
                        n++, i++;
                        continue;
                }
                if (cmp > 0) {
                        strbuf_printf(&sb, "0x%08x 0x%02x: only in B\n", eb->leaf, eb->subleaf);
                        n++, j++;
                        continue;
                }
                for (int r = 0; r < CVMM_NREGS; r++) {
                        uint32_t va = ea->regs[r], vb = eb->regs[r];
                        if (va == vb)
                                continue;
                        strbuf_printf(&sb, "0x%08x 0x%02x %s: 0x%08x -> 0x%08x", ea->leaf,
                                      ea->subleaf, cvmm_reg_name((enum cvmm_reg)r), va, vb);
                        if (is_size(ea->leaf, ea->subleaf, (enum cvmm_reg)r)) {
                                strbuf_printf(&sb, " (%u -> %u)", va, vb);
                        } else if (has_names(ea->leaf, ea->subleaf, (enum cvmm_reg)r)) {
                                names(&sb, ea->leaf, ea->subleaf, (enum cvmm_reg)r, va & ~vb, '-');
                                names(&sb, ea->leaf, ea->subleaf, (enum cvmm_reg)r, vb & ~va, '+');
                        }
                        strbuf_printf(&sb, "\n");
                        n++;
                }
                i++, j++;
        }
        *ndiff = n;
        return strbuf_finish(&sb);
}
