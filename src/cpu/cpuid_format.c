/* SPDX-License-Identifier: MIT */
/* Writing CPUID tables: `cpuid -r` lines and cvmm JSON. Sorted, so byte-identical per input. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmm/cpuid.h"
#include "cvmm/effective.h"
#include "util/json.h"
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

/* Adds {"reg": mask} for the registers of (leaf, subleaf) with run-time bits, if any; false
 * on ENOMEM. */
static bool add_dynamic(struct json_object *o, uint32_t leaf, uint32_t subleaf)
{
        struct json_object *dyn = NULL;
        for (int r = 0; r < CVMM_NREGS; r++) {
                uint32_t mask = cvmm_cpuid_dynamic_mask(leaf, subleaf, (enum cvmm_reg)r);
                if (!mask)
                        continue;
                if (!dyn && !json_put(NULL, o, "dynamic", dyn = json_object_new_object()))
                        return false;
                if (!json_put(NULL, dyn, cvmm_reg_name((enum cvmm_reg)r), hex(mask, 8)))
                        return false;
        }
        return true;
}

/* Adds the change trace for (leaf, subleaf) to o, if any; false on ENOMEM. */
static bool add_changes(struct json_object *o, const struct cvmm_cpuid_table *t, uint32_t leaf,
                        uint32_t subleaf)
{
        struct json_object *arr = NULL;
        for (size_t i = 0; i < t->nchanges; i++) {
                const struct cvmm_cpuid_change *c = &t->changes[i];
                if (c->leaf != leaf || c->subleaf != subleaf || c->reg == CVMM_NREGS)
                        continue;
                if (!arr && !json_put(NULL, o, "changes", arr = json_object_new_array()))
                        return false;
                struct json_object *co = json_object_new_object();
                if (!json_append(NULL, arr, co) ||
                    !json_put(NULL, co, "register",
                              json_object_new_string(cvmm_reg_name(c->reg))) ||
                    !json_put(NULL, co, "rule", json_object_new_string(c->rule)) ||
                    !json_put(NULL, co, "before", hex(c->before, 8)) ||
                    !json_put(NULL, co, "after", hex(c->after, 8)) ||
                    !json_put(NULL, co, "cleared", hex(c->before & ~c->after, 8)) ||
                    !json_put(NULL, co, "set", hex(c->after & ~c->before, 8)))
                        return false;
        }
        return true;
}

static bool add_meta(struct json_object *root, const struct cvmm_cpuid_meta *meta)
{
        return json_put(NULL, root, "profile",
                        json_object_new_string(meta->profile ? meta->profile : "none")) &&
               (!meta->source ||
                json_put(NULL, root, "source", json_object_new_string(meta->source))) &&
               json_put(NULL, root, "cpus", json_object_new_int((int)meta->cpus)) &&
               json_put(NULL, root, "xcr0", hex(meta->xcr0, 1)) &&
               json_put(NULL, root, "xss", hex(meta->xss, 1));
}

static bool add_entries(struct json_object *root, const struct cvmm_cpuid_table *t)
{
        struct json_object *entries = json_object_new_array();
        if (!json_put(NULL, root, "entries", entries))
                return false;
        for (size_t i = 0; i < t->count; i++) {
                const struct cvmm_cpuid_entry *e = &t->entries[i];
                struct json_object *o = json_object_new_object();
                if (!json_append(NULL, entries, o) || !json_put(NULL, o, "leaf", hex(e->leaf, 8)) ||
                    !json_put(NULL, o, "subleaf", hex(e->subleaf, 2)))
                        return false;
                for (int r = 0; r < CVMM_NREGS; r++)
                        if (!json_put(NULL, o, cvmm_reg_name((enum cvmm_reg)r), hex(e->regs[r], 8)))
                                return false;
                if (!add_dynamic(o, e->leaf, e->subleaf) || !add_changes(o, t, e->leaf, e->subleaf))
                        return false;
        }
        return true;
}

/* The entries the trace says were removed and that are still absent, if any. */
static bool add_removed(struct json_object *root, const struct cvmm_cpuid_table *t)
{
        struct json_object *removed = NULL;
        for (size_t i = 0; i < t->nchanges; i++) {
                const struct cvmm_cpuid_change *c = &t->changes[i];
                if (c->reg != CVMM_NREGS || cvmm_cpuid_get(t, c->leaf, c->subleaf))
                        continue;
                if (!removed && !json_put(NULL, root, "removed", removed = json_object_new_array()))
                        return false;
                struct json_object *o = json_object_new_object();
                if (!json_append(NULL, removed, o) || !json_put(NULL, o, "leaf", hex(c->leaf, 8)) ||
                    !json_put(NULL, o, "subleaf", hex(c->subleaf, 2)) ||
                    !json_put(NULL, o, "rule", json_object_new_string(c->rule)))
                        return false;
        }
        return true;
}

char *cvmm_cpuid_format_json(const struct cvmm_cpuid_table *t, const struct cvmm_cpuid_meta *meta)
{
        struct json_object *root = json_object_new_object();
        if (!root)
                return NULL;
        char *out = NULL;
        if (json_put(NULL, root, "format", json_object_new_string("cvmm-cpuid-v1")) &&
            (!meta || add_meta(root, meta)) && add_entries(root, t) && add_removed(root, t)) {
                const char *s = json_object_to_json_string_ext(
                    root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                              JSON_C_TO_STRING_NOSLASHESCAPE);
                size_t n = s ? strlen(s) : 0;
                out = s ? malloc(n + 2) : NULL;
                if (out) {
                        memcpy(out, s, n);
                        out[n] = '\n';
                        out[n + 1] = '\0';
                }
        }
        json_object_put(root);
        return out;
}
