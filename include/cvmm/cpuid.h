/* SPDX-License-Identifier: MIT */
/*
 * CPUID tables: an ordered set of (leaf, subleaf) -> eax..edx, and their file formats.
 *
 * Errors (cvmm/err.h): parse and load return 0 or -1 with one line in err; the table edits
 * (copy, put, set_reg, drop, clear_bits) fail only out of memory, -1 with no message, and the
 * formatters then return NULL.
 */
#ifndef CVMM_CPUID_H
#define CVMM_CPUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmm/err.h"

/* Readers refuse tables larger than this (a real CPU's table has a few hundred entries). */
#define CVMM_MAX_ENTRIES 4096u
/*
 * Readers refuse input larger than this, before parsing it: CVMM_MAX_ENTRIES entries of 1 KiB
 * each (4 MiB). The longest textual entry is a Firecracker modifier: about 680 bytes
 * pretty-printed with 2-space indentation, 900 with 4; a cvmm JSON entry is about 100 and a
 * `cpuid -r` line 80, so a full `cpuid -r` of several hundred CPUs fits too. The cap bounds
 * json-c's tree: 150 MB peak for a 4 MiB array of small numbers, the worst case measured.
 */
#define CVMM_MAX_INPUT (CVMM_MAX_ENTRIES * 1024u)

enum cvmm_reg { CVMM_EAX, CVMM_EBX, CVMM_ECX, CVMM_EDX, CVMM_NREGS };

/* cvmm_cpuid_entry.flags: CPUID matches this entry on the subleaf (KVM's SIGNIFCANT_INDEX). */
#define CVMM_CPUID_FLAG_INDEXED 0x1u

struct cvmm_cpuid_entry {
        uint32_t leaf;
        uint32_t subleaf;
        uint32_t regs[CVMM_NREGS];
        /*
         * KVM's flags for the entry (KVM_CPUID_FLAG_*, bit 0 CVMM_CPUID_FLAG_INDEXED), as KVM
         * reported them and as KVM_SET_CPUID2 gets them back. Entries from a source that has no
         * flags (a `cpuid -r` dump, cvmm JSON, an entry cvmm adds) get cvmm_cpuid_flags_for().
         * Not part of the table's content: output, diffs and comparisons see keys and registers.
         */
        uint32_t flags;
};

/*
 * A change a profile or derivation made to one register, kept so that output can say which
 * rule changed what. `rule` points at a static string.
 */
struct cvmm_cpuid_change {
        uint32_t leaf;
        uint32_t subleaf;
        enum cvmm_reg reg; /* CVMM_NREGS: the whole entry was removed */
        uint32_t before;
        uint32_t after;
        const char *rule;
};

/*
 * Entries are kept sorted by (leaf, subleaf) at all times, so iteration order, and therefore
 * every derived value and every output byte, never depends on input order.
 */
struct cvmm_cpuid_table {
        struct cvmm_cpuid_entry *entries;
        size_t count;
        size_t capacity;
        struct cvmm_cpuid_change *changes; /* trace of rule applications, in order applied */
        size_t nchanges;
        size_t changes_capacity;
        bool partial; /* the source did not list every leaf (e.g. a pasted excerpt) */
        bool trace;   /* record changes */
};

/* Initialises an empty table. */
void cvmm_cpuid_init(struct cvmm_cpuid_table *t);
/* Releases the table's memory; the table is empty afterwards. */
void cvmm_cpuid_free(struct cvmm_cpuid_table *t);
/* Deep copy; returns 0, or -1 on allocation failure with dst left empty. */
int cvmm_cpuid_copy(struct cvmm_cpuid_table *dst, const struct cvmm_cpuid_table *src);
/* Returns the entry for (leaf, subleaf), or NULL. */
const struct cvmm_cpuid_entry *cvmm_cpuid_get(const struct cvmm_cpuid_table *t, uint32_t leaf,
                                              uint32_t subleaf);
/* Register value of (leaf, subleaf), or 0 when the entry is absent. */
uint32_t cvmm_cpuid_reg(const struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf,
                        enum cvmm_reg reg);
/*
 * Inserts or replaces an entry (no trace), with the flags given, plus CVMM_CPUID_FLAG_INDEXED
 * when the subleaf is not 0. Returns 0, or -1 on allocation failure.
 */
int cvmm_cpuid_put(struct cvmm_cpuid_table *t, const struct cvmm_cpuid_entry *e);
/* Removes (leaf, subleaf) if present; returns true when something was removed. */
bool cvmm_cpuid_remove(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf);

/*
 * Sets one register of an existing or new entry (a new one gets cvmm_cpuid_flags_for()),
 * recording the change under `rule` when the table traces and the value differs. Returns 0,
 * or -1 on allocation failure.
 */
int cvmm_cpuid_set_reg(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf,
                       enum cvmm_reg reg, uint32_t value, const char *rule);
/* Removes an entry, recording the removal (reg == CVMM_NREGS) under `rule` when tracing. */
int cvmm_cpuid_drop(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf, const char *rule);
/* Clears `mask` in a register of an existing entry (absent entries stay absent). */
int cvmm_cpuid_clear_bits(struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf,
                          enum cvmm_reg reg, uint32_t mask, const char *rule);
/* True when the bit is set in the entry's register (false when absent). */
bool cvmm_cpuid_bit(const struct cvmm_cpuid_table *t, uint32_t leaf, uint32_t subleaf,
                    enum cvmm_reg reg, unsigned bit);

/*
 * True for the leaves whose subleaves differ (the SDM's indexed leaves: 4, 7, 0xB, 0xD, 0xF,
 * 0x10, 0x12, 0x14, 0x17, 0x18, 0x1D-0x20, 0x23, 0x24, 0x8000001D, 0x80000020, 0x80000026).
 */
bool cvmm_cpuid_leaf_indexed(uint32_t leaf);
/*
 * The flags of an entry whose source gives none: CVMM_CPUID_FLAG_INDEXED for the subleaves of
 * an indexed leaf (cvmm_cpuid_leaf_indexed) and for every subleaf other than 0, else 0.
 */
uint32_t cvmm_cpuid_flags_for(uint32_t leaf, uint32_t subleaf);

/* Register name: "eax".."edx". */
const char *cvmm_reg_name(enum cvmm_reg reg);

/* Input formats, detected from content. */
enum cvmm_cpuid_format {
        CVMM_FMT_CPUID_RAW,   /* `cpuid -r` output: one of its CPUs, the first by default */
        CVMM_FMT_FIRECRACKER, /* Firecracker CPU template / fingerprint JSON */
        CVMM_FMT_CVMM_JSON,   /* cvmm's own JSON */
};

/*
 * Parses a table from a buffer (`name` is used in messages, e.g. the file path). The format is
 * detected from the content. On error returns -1 with one line in err naming name:line, and
 * leaves t empty. More than CVMM_MAX_INPUT bytes is refused before any parsing.
 */
int cvmm_cpuid_parse(struct cvmm_cpuid_table *t, const char *buf, size_t len, const char *name,
                     enum cvmm_cpuid_format *fmt_out, struct cvmm_err *err);
/*
 * As cvmm_cpuid_parse, reading CPU `cpu` of a `cpuid -r` dump of several: the cpu-th block
 * counting from 0, where the first "CPU:" / "CPU N:" header, or the first entry when there is
 * none, opens CPU 0 and each further header the next (in a whole `cpuid -r` dump block N is
 * "CPU N:"). A cpu the input does not hold is refused naming it and how many CPUs the input
 * has; so is a cpu other than 0 whose block is headed with another number (an excerpt).
 * The JSON formats hold one CPU: any cpu but 0 is refused. cvmm_cpuid_parse reads CPU 0.
 */
int cvmm_cpuid_parse_cpu(struct cvmm_cpuid_table *t, const char *buf, size_t len, const char *name,
                         unsigned cpu, enum cvmm_cpuid_format *fmt_out, struct cvmm_err *err);
/*
 * Reads and parses a file ("-": all of standard input); as cvmm_cpuid_parse. A file larger
 * than CVMM_MAX_INPUT is refused from its size, before it is read; standard input is read up
 * to one byte past the cap.
 */
int cvmm_cpuid_load(struct cvmm_cpuid_table *t, const char *path, enum cvmm_cpuid_format *fmt_out,
                    struct cvmm_err *err);
/* As cvmm_cpuid_load, reading CPU `cpu` as cvmm_cpuid_parse_cpu does. */
int cvmm_cpuid_load_cpu(struct cvmm_cpuid_table *t, const char *path, unsigned cpu,
                        enum cvmm_cpuid_format *fmt_out, struct cvmm_err *err);

/* Writes the table in `cpuid -r` format (one CPU) into a malloc'ed string; NULL on ENOMEM. */
char *cvmm_cpuid_format_raw(const struct cvmm_cpuid_table *t);

/* Metadata written with the JSON form. */
struct cvmm_cpuid_meta {
        const char *profile; /* NULL for none */
        const char *source;  /* e.g. "kvm", "file" */
        uint64_t xcr0;
        uint64_t xss;
        unsigned cpus;
};
/*
 * Writes the table as cvmm JSON; NULL on ENOMEM. Each entry has leaf, subleaf, eax..edx, then
 * "dynamic" when some of its bits are computed at run time ({"ebx": "0xff000000"}: the
 * registers with a nonzero cvmm_cpuid_dynamic_mask, and those masks), then its change trace.
 */
char *cvmm_cpuid_format_json(const struct cvmm_cpuid_table *t, const struct cvmm_cpuid_meta *meta);

#endif
