/* SPDX-License-Identifier: MIT */
/*
 * Firecracker CPU templates and `cpu-template-helper fingerprint dump` files.
 *
 * Schema (Firecracker docs/cpu_templates/cpu-templates.md): "cpuid_modifiers" is an array of
 * {"leaf": "0x..", "subleaf": "0x..", "flags": N, "modifiers": [{"register": "eax",
 * "bitmap": "0b0101..."}]}, at the top level (a template) or under "guest_cpu_config" (a
 * fingerprint). A bitmap is read right to left (last character is bit 0), '_' separates, a
 * short bitmap leaves the high bits unspecified, and 'x' means "keep the base value".
 *
 * A table can only be built from bitmaps that fix every bit (a fingerprint or dump does); a
 * template with 'x' bits modifies a base table we do not have, so it is refused by name.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cpu/cpuid_internal.h"

static struct json_object *modifiers_of(struct json_object *root)
{
        struct json_object *v, *cfg;
        if (!json_object_is_type(root, json_type_object))
                return NULL;
        if (json_object_object_get_ex(root, "cpuid_modifiers", &v))
                return v;
        if (json_object_object_get_ex(root, "guest_cpu_config", &cfg) &&
            json_object_is_type(cfg, json_type_object) &&
            json_object_object_get_ex(cfg, "cpuid_modifiers", &v))
                return v;
        return NULL;
}

bool cvmm_firecracker_detect(struct json_object *root)
{
        return modifiers_of(root) != NULL;
}

/* Firecracker's number strings: "0x.." hex or "0b.." binary, nothing else. */
static int fc_number(struct json_object *v, uint32_t *out)
{
        if (!v || !json_object_is_type(v, json_type_string))
                return -1;
        const char *s = json_object_get_string(v);
        int base;
        if (strncmp(s, "0x", 2) == 0)
                base = 16;
        else if (strncmp(s, "0b", 2) == 0)
                base = 2;
        else
                return -1;
        s += 2;
        if (!*s)
                return -1;
        uint64_t x = 0;
        for (; *s; s++) {
                int d;
                if (*s >= '0' && *s <= '9')
                        d = *s - '0';
                else if (*s >= 'a' && *s <= 'f')
                        d = *s - 'a' + 10;
                else if (*s >= 'A' && *s <= 'F')
                        d = *s - 'A' + 10;
                else
                        return -1;
                if (d >= base)
                        return -1;
                x = x * (uint64_t)base + (uint64_t)d;
                if (x > UINT32_MAX)
                        return -1;
        }
        *out = (uint32_t)x;
        return 0;
}

/* Parses a 32-bit bitmap. Returns 0 with value and the mask of fixed bits, or -1 if malformed. */
static int fc_bitmap(const char *s, uint32_t *value, uint32_t *fixed)
{
        if (strncmp(s, "0b", 2) == 0)
                s += 2;
        size_t n = strlen(s);
        unsigned bit = 0;
        *value = *fixed = 0;
        for (size_t i = n; i-- > 0;) {
                char c = s[i];
                if (c == '_')
                        continue;
                if (c != '0' && c != '1' && c != 'x')
                        return -1;
                if (bit >= 32)
                        return -1;
                if (c != 'x') {
                        *fixed |= 1u << bit;
                        if (c == '1')
                                *value |= 1u << bit;
                }
                bit++;
        }
        return bit ? 0 : -1;
}

int cvmm_firecracker_parse(struct cvmm_cpuid_table *t, struct json_object *root, const char *name,
                           struct cvmm_err *err)
{
        struct json_object *mods = modifiers_of(root);
        if (!json_object_is_type(mods, json_type_array))
                return cvmm_errf(err, "%s: \"cpuid_modifiers\" is not an array", name);
        size_t n = json_object_array_length(mods);
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(mods, i), *v, *regs;
                struct cvmm_cpuid_entry e = {0};
                char where[PATH_MAX + 48];
                snprintf(where, sizeof(where), "%s: cpuid_modifiers[%zu]", name, i);
                if (!json_object_is_type(o, json_type_object))
                        return cvmm_errf(err, "%s: not an object", where);
                if (!json_object_object_get_ex(o, "leaf", &v) || fc_number(v, &e.leaf))
                        return cvmm_errf(err, "%s: \"leaf\" missing or not a \"0x\"/\"0b\" string",
                                         where);
                if (!json_object_object_get_ex(o, "subleaf", &v) || fc_number(v, &e.subleaf))
                        return cvmm_errf(
                            err, "%s: \"subleaf\" missing or not a \"0x\"/\"0b\" string", where);
                snprintf(where, sizeof(where), "%s: cpuid_modifiers[%zu] (leaf 0x%x subleaf 0x%x)",
                         name, i, e.leaf, e.subleaf);
                if (!json_object_object_get_ex(o, "flags", &v) ||
                    !json_object_is_type(v, json_type_int))
                        return cvmm_errf(err, "%s: \"flags\" missing or not an integer", where);
                /* KVM's flags, as the host that made the file reported them */
                e.flags = json_object_get_int64(v) & CVMM_CPUID_FLAG_INDEXED;
                if (!json_object_object_get_ex(o, "modifiers", &regs) ||
                    !json_object_is_type(regs, json_type_array))
                        return cvmm_errf(err, "%s: \"modifiers\" missing or not an array", where);
                bool seen[CVMM_NREGS] = {false};
                size_t nr = json_object_array_length(regs);
                for (size_t k = 0; k < nr; k++) {
                        struct json_object *m = json_object_array_get_idx(regs, k), *rv, *bv;
                        if (!json_object_is_type(m, json_type_object) ||
                            !json_object_object_get_ex(m, "register", &rv) ||
                            !json_object_is_type(rv, json_type_string) ||
                            !json_object_object_get_ex(m, "bitmap", &bv) ||
                            !json_object_is_type(bv, json_type_string))
                                return cvmm_errf(err,
                                                 "%s: modifiers[%zu] needs \"register\" and "
                                                 "\"bitmap\" strings",
                                                 where, k);
                        const char *rn = json_object_get_string(rv);
                        int r = -1;
                        for (int q = 0; q < CVMM_NREGS; q++)
                                if (strcmp(rn, cvmm_reg_name((enum cvmm_reg)q)) == 0)
                                        r = q;
                        if (r < 0)
                                return cvmm_errf(err, "%s: unknown register \"%s\"", where, rn);
                        if (seen[r])
                                return cvmm_errf(err, "%s: register %s given twice", where, rn);
                        uint32_t value, fixed;
                        if (fc_bitmap(json_object_get_string(bv), &value, &fixed))
                                return cvmm_errf(err,
                                                 "%s: %s bitmap is not 1 to 32 of '0', '1', 'x'",
                                                 where, rn);
                        if (fixed != UINT32_MAX)
                                return cvmm_errf(err,
                                                 "%s: %s bitmap leaves bits 0x%08x unspecified "
                                                 "('x' or short): this is a template that "
                                                 "modifies a base table, not a CPUID table; use "
                                                 "a fingerprint or dump",
                                                 where, rn, ~fixed);
                        seen[r] = true;
                        e.regs[r] = value;
                }
                for (int q = 0; q < CVMM_NREGS; q++)
                        if (!seen[q])
                                return cvmm_errf(err,
                                                 "%s: register %s not given: a template, not a "
                                                 "full CPUID table",
                                                 where, cvmm_reg_name((enum cvmm_reg)q));
                if (cvmm_cpuid_add_unique(t, &e, where, err))
                        return -1;
        }
        if (t->count == 0)
                return cvmm_errf(err, "%s: no CPUID entries found", name);
        return 0;
}
