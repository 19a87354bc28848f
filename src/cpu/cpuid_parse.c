/* SPDX-License-Identifier: MIT */
/* Reading CPUID tables: `cpuid -r` text, Firecracker CPU templates, cvmm JSON. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cpu/cpuid_internal.h"
#include "cvmm/cpuid.h"

/* Parses "0x..." or "..." hex (at most 8 digits) at *p, advancing it. */
static bool parse_hex32(const char **p, uint32_t *out)
{
        const char *s = *p;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                s += 2;
        uint64_t v = 0;
        int digits = 0;
        while (isxdigit((unsigned char)*s)) {
                int c = tolower((unsigned char)*s);
                v = v * 16 + (uint64_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
                if (++digits > 8)
                        return false;
                s++;
        }
        if (!digits)
                return false;
        *out = (uint32_t)v;
        *p = s;
        return true;
}

static void skip_spaces(const char **p)
{
        while (**p == ' ' || **p == '\t')
                (*p)++;
}

static bool expect(const char **p, const char *lit)
{
        size_t n = strlen(lit);
        if (strncmp(*p, lit, n) != 0)
                return false;
        *p += n;
        return true;
}

/* Marks tables that lack the basic identification leaves, such as a pasted leaf 0xD excerpt. */
static void mark_partial(struct cvmm_cpuid_table *t)
{
        t->partial = !cvmm_cpuid_get(t, 0, 0) || !cvmm_cpuid_get(t, 1, 0) ||
                     !cvmm_cpuid_get(t, 7, 0) || !cvmm_cpuid_get(t, 0xd, 0);
}

/* Adds an entry a dump gave (no flags of its own: they follow the leaf), refusing repeats. */
static int add_parsed(struct cvmm_cpuid_table *t, struct cvmm_cpuid_entry *e, const char *where,
                      struct cvmm_err *err)
{
        e->flags = cvmm_cpuid_flags_for(e->leaf, e->subleaf);
        return cvmm_cpuid_add_unique(t, e, where, err);
}

static int found_any(const struct cvmm_cpuid_table *t, const char *name, struct cvmm_err *err)
{
        return t->count ? 0 : cvmm_errf(err, "%s: no CPUID entries found", name);
}

/*
 * `cpuid -r` output. Lines: "CPU:" / "CPU N:" headers, then
 * "   0x0000000d 0x01: eax=0x0000000f ebx=0x00000988 ecx=0x00000000 edx=0x00000000".
 * One CPU is read: the cpu-th block counting from 0 (a block starts at each header; entries
 * before the first header belong to CPU 0; the block that holds them ends at the next header,
 * and what follows is not read). Pastes are accepted: "#" comment lines, quote prefixes (">",
 * "> ", ">> "), CRLF, text after a complete line when a blank sets it apart, and a line given
 * twice with the same values. Any other non-blank line is an error.
 */
static int parse_raw(struct cvmm_cpuid_table *t, const char *buf, size_t len, const char *name,
                     unsigned cpu, struct cvmm_err *err)
{
        static const char *const regnames[CVMM_NREGS] = {"eax=", "ebx=", "ecx=", "edx="};
        size_t lineno = 0;
        unsigned long headers = 0; /* CPU headers seen */
        size_t header_line = 0;    /* the line of the latest */
        bool entries_seen = false; /* in any CPU's block */
        const char *end = buf + len;
        const char *line = buf;
        while (line < end) {
                const char *nl = memchr(line, '\n', (size_t)(end - line));
                size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
                char tmp[256];
                char where[PATH_MAX + 32];
                lineno++;
                snprintf(where, sizeof(where), "%s:%zu", name, lineno);
                if (n >= sizeof(tmp))
                        return cvmm_errf(err, "%s: line too long for a CPUID entry", where);
                memcpy(tmp, line, n);
                tmp[n] = '\0';
                line = nl ? nl + 1 : end;
                if (n && tmp[n - 1] == '\r')
                        tmp[--n] = '\0';
                const char *p = tmp;
                skip_spaces(&p);
                /* a quoted paste: "> ", ">> ", ">" */
                while (*p == '>') {
                        p++;
                        skip_spaces(&p);
                }
                if (*p == '\0' || *p == '#')
                        continue;
                if (strncmp(p, "CPU", 3) == 0) {
                        const char *q = p + 3;
                        skip_spaces(&q);
                        const char *digits = q;
                        while (isdigit((unsigned char)*q))
                                q++;
                        if (*q != ':' || q[1] != '\0')
                                return cvmm_errf(err, "%s: malformed CPU header", where);
                        /* the first header opens CPU 0, and so does text before it */
                        if (headers > cpu)
                                break; /* past the chosen CPU */
                        /*
                         * Blocks are counted; a chosen block (other than the first) headed
                         * with another number is an excerpt whose headers do not count from
                         * 0: which CPU is meant is unclear.
                         */
                        char want[16];
                        snprintf(want, sizeof(want), "%u", cpu);
                        size_t nd = (size_t)(q - digits);
                        if (headers == cpu && cpu != 0 && nd &&
                            (nd != strlen(want) || memcmp(digits, want, nd) != 0))
                                return cvmm_errf(err,
                                                 "%s: CPU %u, counting the headers from 0, is "
                                                 "headed 'CPU %.*s:': the headers do not count "
                                                 "from 0, so which CPU is meant is unclear",
                                                 where, cpu, (int)(nd > 20 ? 20 : nd), digits);
                        headers++;
                        header_line = lineno;
                        continue;
                }
                struct cvmm_cpuid_entry e = {0};
                if (!parse_hex32(&p, &e.leaf))
                        return cvmm_errf(err,
                                         "%s: not a `cpuid -r` line (expected a leaf "
                                         "number such as 0x0000000d)",
                                         where);
                skip_spaces(&p);
                if (!parse_hex32(&p, &e.subleaf) || !expect(&p, ":"))
                        return cvmm_errf(err,
                                         "%s: truncated or malformed entry (expected "
                                         "'0xLEAF 0xSUB: eax=... ebx=... ecx=... edx=...')",
                                         where);
                for (int r = 0; r < CVMM_NREGS; r++) {
                        skip_spaces(&p);
                        if (!expect(&p, regnames[r]) || !parse_hex32(&p, &e.regs[r]))
                                return cvmm_errf(err,
                                                 "%s: truncated or malformed entry (%s "
                                                 "missing or not hex)",
                                                 where, cvmm_reg_name((enum cvmm_reg)r));
                }
                /* commentary after a complete line is kept out of the table, if set apart */
                if (*p != '\0' && *p != ' ' && *p != '\t')
                        return cvmm_errf(err, "%s: unexpected text after edx: '%s'", where, p);
                entries_seen = true;
                if ((headers ? headers - 1 : 0) != cpu)
                        continue; /* another CPU's line */
                const struct cvmm_cpuid_entry *old = cvmm_cpuid_get(t, e.leaf, e.subleaf);
                if (old && !memcmp(old->regs, e.regs, sizeof(e.regs)))
                        continue; /* the same line pasted twice */
                if (old)
                        return cvmm_errf(err,
                                         "%s: leaf 0x%08x subleaf 0x%02x given twice with "
                                         "different values",
                                         where, e.leaf, e.subleaf);
                if (add_parsed(t, &e, where, err))
                        return -1;
        }
        unsigned long ncpus = headers ? headers : 1;
        if (cpu >= ncpus && entries_seen) {
                if (!headers)
                        return cvmm_errf(err,
                                         "%s:%zu: no CPU %u: the input ends here and holds one "
                                         "CPU (CPU 0: it has no 'CPU N:' headers)",
                                         name, lineno, cpu);
                if (ncpus == 1)
                        return cvmm_errf(err,
                                         "%s:%zu: no CPU %u: the input holds one CPU, CPU 0 "
                                         "(its header is here)",
                                         name, header_line, cpu);
                return cvmm_errf(err,
                                 "%s:%zu: no CPU %u: the input holds %lu CPUs, CPU 0 to %lu (the "
                                 "last one's header is here)",
                                 name, header_line, cpu, ncpus, ncpus - 1);
        }
        if (cpu != 0 && t->count == 0)
                return cvmm_errf(err, "%s:%zu: CPU %u has no CPUID entries", name, header_line,
                                 cpu);
        return found_any(t, name, err);
}

/* Reads a JSON value that is a number or a string holding a decimal or 0x-hex number. */
static int json_u32(struct json_object *v, uint32_t *out)
{
        if (!v)
                return -1;
        if (json_object_is_type(v, json_type_int)) {
                int64_t i = json_object_get_int64(v);
                if (i < 0 || i > UINT32_MAX)
                        return -1;
                *out = (uint32_t)i;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return -1;
        const char *s = json_object_get_string(v);
        if (!*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
                return -1;
        char *endp;
        errno = 0;
        bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
        unsigned long long x = strtoull(s, &endp, hex ? 16 : 10);
        if (errno || *endp || x > UINT32_MAX)
                return -1;
        *out = (uint32_t)x;
        return 0;
}

/* cvmm's own JSON, as written by cvmm_cpuid_format_json(). */
static int parse_cvmm_json(struct cvmm_cpuid_table *t, struct json_object *root, const char *name,
                           struct cvmm_err *err)
{
        struct json_object *entries;
        if (!json_object_object_get_ex(root, "entries", &entries) ||
            !json_object_is_type(entries, json_type_array))
                return cvmm_errf(err, "%s: cvmm JSON without an \"entries\" array", name);
        size_t n = json_object_array_length(entries);
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(entries, i);
                struct cvmm_cpuid_entry e = {0};
                char where[PATH_MAX + 32];
                snprintf(where, sizeof(where), "%s: entries[%zu]", name, i);
                if (!json_object_is_type(o, json_type_object))
                        return cvmm_errf(err, "%s: not an object", where);
                struct json_object *v;
                static const char *const keys[] = {"leaf", "subleaf", "eax", "ebx", "ecx", "edx"};
                uint32_t *dst[] = {&e.leaf,    &e.subleaf, &e.regs[0],
                                   &e.regs[1], &e.regs[2], &e.regs[3]};
                for (size_t k = 0; k < 6; k++) {
                        if (!json_object_object_get_ex(o, keys[k], &v) || json_u32(v, dst[k]))
                                return cvmm_errf(err, "%s: \"%s\" missing or not a 32-bit number",
                                                 where, keys[k]);
                }
                if (add_parsed(t, &e, where, err))
                        return -1;
        }
        return found_any(t, name, err);
}

/* One object key seen by json_keys_check: which object, its decoded bytes, where it starts. */
struct json_key {
        size_t object;
        size_t off, end; /* the token, quotes included */
        char *bytes;
        size_t len;
};

static bool json_key_same(const struct json_key *x, const struct json_key *y)
{
        return x->object == y->object && x->len == y->len && !memcmp(x->bytes, y->bytes, x->len);
}

/* By object, then bytes, then position: equal keys end up next to each other. */
static int json_key_cmp(const void *a, const void *b)
{
        const struct json_key *x = a, *y = b;
        if (x->object != y->object)
                return x->object < y->object ? -1 : 1;
        if (x->len != y->len)
                return x->len < y->len ? -1 : 1;
        int c = memcmp(x->bytes, y->bytes, x->len);
        if (c)
                return c;
        return x->off < y->off ? -1 : x->off > y->off;
}

static size_t line_of(const char *buf, size_t off)
{
        size_t l = 1;
        for (size_t k = 0; k < off; k++)
                l += buf[k] == '\n';
        return l;
}

/* A string token's text as written (without its quotes), shortened for a message. */
static void token_text(char *dst, size_t cap, const char *buf, size_t start, size_t end)
{
        size_t n = end - start - 2;
        const char *more = "";
        if (n > 64) {
                n = 64;
                more = "...";
        }
        snprintf(dst, cap, "%.*s%s", (int)n, buf + start + 1, more);
}

/*
 * json-c keeps the last of two equal keys and cuts a string at "\u0000" where it is a key, so
 * the tree cannot show either: this walks the text that json-c accepted (strict mode: no
 * comments; strings in " or ') and refuses a NUL in any string and a key given twice in one
 * object. Keys are compared as json-c decodes them, so "a" and "\u0061" are the same key.
 */
static int json_keys_check(const char *buf, size_t len, const char *name, struct cvmm_err *err)
{
        enum { MAX_DEPTH = 64 };
        struct {
                bool object;
                bool expect_key;
                size_t key_start, key_end; /* the latest key's token, for messages */
        } stack[MAX_DEPTH];
        int depth = 0;
        size_t objects = 0, nkeys = 0, capkeys = 0;
        size_t object_id[MAX_DEPTH];
        struct json_key *keys = NULL;
        char what[96];
        struct json_tokener *tok = json_tokener_new();
        if (!tok)
                return cvmm_errf(err, "%s: out of memory", name);
        int rc = 0;
        for (size_t i = 0; i < len && rc == 0; i++) {
                char c = buf[i];
                if (c == '{' || c == '[') {
                        if (depth == MAX_DEPTH) {
                                rc = cvmm_errf(err, "%s:%zu: JSON nested too deeply", name,
                                               line_of(buf, i));
                                break;
                        }
                        stack[depth].object = c == '{';
                        stack[depth].expect_key = c == '{';
                        stack[depth].key_start = stack[depth].key_end = 0;
                        object_id[depth] = objects++;
                        depth++;
                        continue;
                }
                if (c == '}' || c == ']') {
                        if (depth > 0)
                                depth--;
                        continue;
                }
                if (c == ',' && depth > 0 && stack[depth - 1].object) {
                        stack[depth - 1].expect_key = true;
                        continue;
                }
                if (c != '"' && c != '\'')
                        continue;
                size_t start = i;
                bool nul = false;
                for (i++; i < len && buf[i] != c; i++) {
                        if (buf[i] != '\\' || i + 1 >= len)
                                continue;
                        i++;
                        if ((buf[i] == 'u' || buf[i] == 'U') && i + 4 < len &&
                            strncmp(buf + i + 1, "0000", 4) == 0)
                                nul = true;
                }
                size_t end = i + 1; /* one past the closing quote */
                bool is_key = depth > 0 && stack[depth - 1].object && stack[depth - 1].expect_key;
                if (nul) {
                        if (is_key) {
                                token_text(what, sizeof(what), buf, start, end);
                                rc = cvmm_errf(err, "%s:%zu: key \"%s\" contains a NUL (\\u0000)",
                                               name, line_of(buf, start), what);
                        } else if (depth > 0 && stack[depth - 1].key_end) {
                                token_text(what, sizeof(what), buf, stack[depth - 1].key_start,
                                           stack[depth - 1].key_end);
                                rc = cvmm_errf(err,
                                               "%s:%zu: the string under key \"%s\" contains a "
                                               "NUL (\\u0000)",
                                               name, line_of(buf, start), what);
                        } else {
                                rc = cvmm_errf(err, "%s:%zu: a string contains a NUL (\\u0000)",
                                               name, line_of(buf, start));
                        }
                        break;
                }
                if (!is_key)
                        continue;
                stack[depth - 1].expect_key = false;
                stack[depth - 1].key_start = start;
                stack[depth - 1].key_end = end;
                if (nkeys == capkeys) {
                        size_t nc = capkeys ? capkeys * 2 : 64;
                        struct json_key *nk = realloc(keys, nc * sizeof(*nk));
                        if (!nk) {
                                rc = cvmm_errf(err, "%s: out of memory", name);
                                break;
                        }
                        keys = nk;
                        capkeys = nc;
                }
                /* Decode the key exactly as json-c does. */
                json_tokener_reset(tok);
                struct json_object *ko =
                    json_tokener_parse_ex(tok, buf + start, (int)(end - start));
                char *bytes = NULL;
                size_t blen = 0;
                if (ko && json_object_is_type(ko, json_type_string)) {
                        blen = (size_t)json_object_get_string_len(ko);
                        bytes = malloc(blen + 1);
                        if (bytes)
                                memcpy(bytes, json_object_get_string(ko), blen + 1);
                }
                json_object_put(ko);
                if (!bytes) {
                        rc = cvmm_errf(err, "%s:%zu: cannot read key", name, line_of(buf, start));
                        break;
                }
                keys[nkeys++] = (struct json_key){object_id[depth - 1], start, end, bytes, blen};
        }
        if (rc == 0 && nkeys > 1) {
                qsort(keys, nkeys, sizeof(*keys), json_key_cmp);
                /* the repeat that comes first in the text */
                size_t first = SIZE_MAX;
                for (size_t k = 1; k < nkeys; k++)
                        if (json_key_same(&keys[k], &keys[k - 1]) &&
                            (first == SIZE_MAX || keys[k].off < keys[first].off))
                                first = k;
                if (first != SIZE_MAX) {
                        token_text(what, sizeof(what), buf, keys[first].off, keys[first].end);
                        rc = cvmm_errf(err, "%s:%zu: key \"%s\" given twice in one object", name,
                                       line_of(buf, keys[first].off), what);
                }
        }
        for (size_t k = 0; k < nkeys; k++)
                free(keys[k].bytes);
        free(keys);
        json_tokener_free(tok);
        return rc;
}

static int too_large(const char *name, const char *more, uint64_t size, struct cvmm_err *err)
{
        return cvmm_errf(err,
                         "%s: too large for a CPUID table (%s%llu bytes; the limit is %u bytes, "
                         "%u entries of 1 KiB)",
                         name, more, (unsigned long long)size, CVMM_MAX_INPUT, CVMM_MAX_ENTRIES);
}

/* The JSON formats hold one CPU: CPU 0, or nothing. */
static int one_cpu(unsigned cpu, const char *name, const char *what, struct cvmm_err *err)
{
        if (cpu == 0)
                return 0;
        return cvmm_errf(err, "%s: no CPU %u: a %s holds one CPU (CPU 0)", name, cpu, what);
}

int cvmm_cpuid_parse(struct cvmm_cpuid_table *t, const char *buf, size_t len, const char *name,
                     enum cvmm_cpuid_format *fmt_out, struct cvmm_err *err)
{
        return cvmm_cpuid_parse_cpu(t, buf, len, name, 0, fmt_out, err);
}

int cvmm_cpuid_parse_cpu(struct cvmm_cpuid_table *t, const char *buf, size_t len, const char *name,
                         unsigned cpu, enum cvmm_cpuid_format *fmt_out, struct cvmm_err *err)
{
        cvmm_cpuid_init(t);
        enum cvmm_cpuid_format fmt = CVMM_FMT_CPUID_RAW;
        int rc;
        if (len > CVMM_MAX_INPUT)
                return too_large(name, "", len, err);
        if (memchr(buf, '\0', len))
                return cvmm_errf(err, "%s: binary data (NUL byte), not a CPUID dump", name);
        size_t i = 0;
        while (i < len && isspace((unsigned char)buf[i]))
                i++;
        if (i < len && (buf[i] == '{' || buf[i] == '[')) {
                /* Decode the key exactly as json-c does. */
                struct json_tokener *tok = json_tokener_new();
                if (!tok)
                        return cvmm_errf(err, "%s: out of memory", name);
                json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
                struct json_object *root = json_tokener_parse_ex(tok, buf, (int)len);
                enum json_tokener_error jerr = json_tokener_get_error(tok);
                size_t off = tok->char_offset;
                json_tokener_free(tok);
                if (root && jerr == json_tokener_success) {
                        size_t k = off;
                        while (k < len && isspace((unsigned char)buf[k]))
                                k++;
                        if (k < len) {
                                json_object_put(root);
                                root = NULL;
                                jerr = json_tokener_error_parse_unexpected;
                                off = k;
                        }
                }
                if (!root || jerr != json_tokener_success) {
                        size_t l = 1;
                        for (size_t k = 0; k < off && k < len; k++)
                                l += buf[k] == '\n';
                        json_object_put(root);
                        return cvmm_errf(err, "%s:%zu: invalid JSON: %s", name, l,
                                         jerr == json_tokener_continue
                                             ? "unexpected end of input"
                                             : json_tokener_error_desc(jerr));
                }
                if (json_keys_check(buf, len, name, err)) {
                        rc = -1;
                } else if (cvmm_firecracker_detect(root)) {
                        fmt = CVMM_FMT_FIRECRACKER;
                        rc = one_cpu(cpu, name, "Firecracker CPU template", err) ||
                                     cvmm_firecracker_parse(t, root, name, err)
                                 ? -1
                                 : 0;
                } else if (json_object_is_type(root, json_type_object) &&
                           json_object_object_get_ex(root, "entries", NULL)) {
                        fmt = CVMM_FMT_CVMM_JSON;
                        rc = one_cpu(cpu, name, "cvmm JSON table", err) ||
                                     parse_cvmm_json(t, root, name, err)
                                 ? -1
                                 : 0;
                } else {
                        rc = cvmm_errf(err,
                                       "%s: JSON is neither a cvmm table (\"entries\") nor a "
                                       "Firecracker CPU template (\"cpuid_modifiers\")",
                                       name);
                }
                json_object_put(root);
        } else {
                rc = parse_raw(t, buf, len, name, cpu, err);
        }
        if (rc) {
                cvmm_cpuid_free(t);
                return -1;
        }
        mark_partial(t);
        if (fmt_out)
                *fmt_out = fmt;
        return 0;
}

/* Parses buf[0..len) (room for a NUL at buf[len]) read from name, then frees it. */
static int parse_owned(struct cvmm_cpuid_table *t, char *buf, size_t len, const char *name,
                       const char *empty, unsigned cpu, enum cvmm_cpuid_format *fmt_out,
                       struct cvmm_err *err)
{
        buf[len] = '\0';
        int rc = len == 0 ? cvmm_errf(err, "%s: %s", name, empty)
                          : cvmm_cpuid_parse_cpu(t, buf, len, name, cpu, fmt_out, err);
        free(buf);
        return rc;
}

/* Reads all of standard input (a pipe or a file), up to CVMM_MAX_INPUT bytes and one more. */
static int load_stdin(struct cvmm_cpuid_table *t, unsigned cpu, enum cvmm_cpuid_format *fmt_out,
                      struct cvmm_err *err)
{
        static const char name[] = "<stdin>";
        size_t cap = 65536, len = 0;
        char *buf = malloc(cap + 1);
        if (!buf)
                return cvmm_errf(err, "%s: out of memory", name);
        for (;;) {
                if (len == cap) {
                        if (cap > CVMM_MAX_INPUT) {
                                free(buf);
                                return too_large(name, "more than ", CVMM_MAX_INPUT, err);
                        }
                        /* one byte past the cap tells "exactly the cap" from "more" */
                        cap = cap * 2 > CVMM_MAX_INPUT ? CVMM_MAX_INPUT + 1 : cap * 2;
                        char *nb = realloc(buf, cap + 1);
                        if (!nb) {
                                free(buf);
                                return cvmm_errf(err, "%s: out of memory", name);
                        }
                        buf = nb;
                }
                ssize_t r = read(STDIN_FILENO, buf + len, cap - len);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        int e = errno;
                        free(buf);
                        return cvmm_errf(err, "%s: read failed: %s", name, strerror(e));
                }
                if (r == 0)
                        break;
                len += (size_t)r;
        }
        return parse_owned(t, buf, len, name, "empty input", cpu, fmt_out, err);
}

int cvmm_cpuid_load(struct cvmm_cpuid_table *t, const char *path, enum cvmm_cpuid_format *fmt_out,
                    struct cvmm_err *err)
{
        return cvmm_cpuid_load_cpu(t, path, 0, fmt_out, err);
}

int cvmm_cpuid_load_cpu(struct cvmm_cpuid_table *t, const char *path, unsigned cpu,
                        enum cvmm_cpuid_format *fmt_out, struct cvmm_err *err)
{
        cvmm_cpuid_init(t);
        if (strcmp(path, "-") == 0)
                return load_stdin(t, cpu, fmt_out, err);
        /* Non-blocking: opening a FIFO must not wait for a writer; it is refused below. */
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return cvmm_errf(err, "%s: cannot open: %s", path, strerror(errno));
        struct stat st;
        int sr = fstat(fd, &st);
        if (sr || !S_ISREG(st.st_mode)) {
                const char *what = sr                     ? "cannot be examined"
                                   : S_ISDIR(st.st_mode)  ? "a directory"
                                   : S_ISFIFO(st.st_mode) ? "a FIFO"
                                   : S_ISCHR(st.st_mode)  ? "a character device"
                                                          : "a special file";
                close(fd);
                return cvmm_errf(err, "%s: %s, not a regular file", path, what);
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
                int e = errno;
                close(fd);
                return cvmm_errf(err, "%s: cannot open: %s", path, strerror(e));
        }
        if ((uint64_t)st.st_size > CVMM_MAX_INPUT) {
                close(fd);
                return too_large(path, "", (uint64_t)st.st_size, err);
        }
        size_t len = (size_t)st.st_size;
        char *buf = malloc(len + 1);
        if (!buf) {
                close(fd);
                return cvmm_errf(err, "%s: out of memory", path);
        }
        size_t got = 0;
        while (got < len) {
                ssize_t r = read(fd, buf + got, len - got);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0) {
                        int e = r < 0 ? errno : EIO;
                        free(buf);
                        close(fd);
                        return cvmm_errf(err, "%s: read failed: %s", path, strerror(e));
                }
                got += (size_t)r;
        }
        close(fd);
        return parse_owned(t, buf, len, path, "empty file", cpu, fmt_out, err);
}
