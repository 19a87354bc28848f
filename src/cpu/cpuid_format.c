/* SPDX-License-Identifier: MIT */
/* Writing CPUID tables: `cpuid -r` lines and cvmm JSON. Sorted, so byte-identical per input. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmm/cpuid.h"
#include "util/strbuf.h"

char *cvmm_cpuid_format_raw(const struct cvmm_cpuid_table *t)
{
        struct strbuf sb;
        strbuf_init(&sb);
        strbuf_printf(&sb, "CPU:\n");
        for (size_t i = 0; i < t->count; i++) {
                const struct cvmm_cpuid_entry *e = &t->entries[i];
                strbuf_printf(&sb,
                              "   0x%08x 0x%02x: eax=0x%08x ebx=0x%08x ecx=0x%08x edx=0x%08x\n",
                              e->leaf, e->subleaf, e->regs[0], e->regs[1], e->regs[2], e->regs[3]);
        }
        return strbuf_finish(&sb);
}

static struct json_object *hex(uint64_t v, int width)
{
        char buf[24];
        snprintf(buf, sizeof(buf), "0x%0*llx", width, (unsigned long long)v);
        return json_object_new_string(buf);
}

/* Adds the change trace for (leaf, subleaf) to o, if any. */
static void add_changes(struct json_object *o, const struct cvmm_cpuid_table *t, uint32_t leaf,
                        uint32_t subleaf)
{
        struct json_object *arr = NULL;
        for (size_t i = 0; i < t->nchanges; i++) {
                const struct cvmm_cpuid_change *c = &t->changes[i];
                if (c->leaf != leaf || c->subleaf != subleaf || c->reg == CVMM_NREGS)
                        continue;
                if (!arr)
                        arr = json_object_new_array();
                struct json_object *co = json_object_new_object();
                json_object_object_add(co, "register",
                                       json_object_new_string(cvmm_reg_name(c->reg)));
                json_object_object_add(co, "rule", json_object_new_string(c->rule));
                json_object_object_add(co, "before", hex(c->before, 8));
                json_object_object_add(co, "after", hex(c->after, 8));
                json_object_object_add(co, "cleared", hex(c->before & ~c->after, 8));
                json_object_object_add(co, "set", hex(c->after & ~c->before, 8));
                json_object_array_add(arr, co);
        }
        if (arr)
                json_object_object_add(o, "changes", arr);
}

char *cvmm_cpuid_format_json(const struct cvmm_cpuid_table *t, const struct cvmm_cpuid_meta *meta)
{
        struct json_object *root = json_object_new_object();
        json_object_object_add(root, "format", json_object_new_string("cvmm-cpuid-v1"));
        if (meta) {
                json_object_object_add(
                    root, "profile",
                    json_object_new_string(meta->profile ? meta->profile : "none"));
                if (meta->source)
                        json_object_object_add(root, "source",
                                               json_object_new_string(meta->source));
                json_object_object_add(root, "cpus", json_object_new_int((int)meta->cpus));
                json_object_object_add(root, "xcr0", hex(meta->xcr0, 1));
                json_object_object_add(root, "xss", hex(meta->xss, 1));
        }
        struct json_object *entries = json_object_new_array();
        for (size_t i = 0; i < t->count; i++) {
                const struct cvmm_cpuid_entry *e = &t->entries[i];
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "leaf", hex(e->leaf, 8));
                json_object_object_add(o, "subleaf", hex(e->subleaf, 2));
                for (int r = 0; r < CVMM_NREGS; r++)
                        json_object_object_add(o, cvmm_reg_name((enum cvmm_reg)r),
                                               hex(e->regs[r], 8));
                add_changes(o, t, e->leaf, e->subleaf);
                json_object_array_add(entries, o);
        }
        json_object_object_add(root, "entries", entries);
        struct json_object *removed = NULL;
        for (size_t i = 0; i < t->nchanges; i++) {
                const struct cvmm_cpuid_change *c = &t->changes[i];
                if (c->reg != CVMM_NREGS || cvmm_cpuid_get(t, c->leaf, c->subleaf))
                        continue;
                if (!removed)
                        removed = json_object_new_array();
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "leaf", hex(c->leaf, 8));
                json_object_object_add(o, "subleaf", hex(c->subleaf, 2));
                json_object_object_add(o, "rule", json_object_new_string(c->rule));
                json_object_array_add(removed, o);
        }
        if (removed)
                json_object_object_add(root, "removed", removed);
        const char *s =
            json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        char *out = NULL;
        if (s) {
                size_t n = strlen(s);
                out = malloc(n + 2);
                if (out) {
                        memcpy(out, s, n);
                        out[n] = '\n';
                        out[n + 1] = '\0';
                }
        }
        json_object_put(root);
        return out;
}
