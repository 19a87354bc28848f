/* SPDX-License-Identifier: MIT */
/*
 * CPU feature bits by name, their dependencies, and the XSAVE state they need.
 *
 * Errors (cvmm/err.h): cvmm_feature_list_parse returns 0 or -1 with one line in err; removal and
 * normalisation fail only out of memory, -1 with no message.
 */
#ifndef CVMM_FEATURES_H
#define CVMM_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmm/cpuid.h"

/* Pseudo-mask: the feature owns every supervisor (IA32_XSS) component (XSAVES does). */
#define CVMM_XSTATE_ALL_SUPERVISOR (1ull << 63)
/* Pseudo-mask: the feature owns every extended component, bits 2 and up (XSAVE does). */
#define CVMM_XSTATE_ALL_EXTENDED (1ull << 62)
/* Flag: the feature owns its components but works without them (PT, HWP, HDC use MSRs). */
#define CVMM_XSTATE_OPTIONAL (1ull << 61)
/* The pseudo bits above; the rest of a feature's xstate mask is real component bits. */
#define CVMM_XSTATE_PSEUDO                                                                         \
        (CVMM_XSTATE_ALL_SUPERVISOR | CVMM_XSTATE_ALL_EXTENDED | CVMM_XSTATE_OPTIONAL)

struct cvmm_feature {
        const char *name;      /* Linux /proc/cpuinfo spelling */
        const char *qemu_name; /* QEMU's spelling where it differs, else NULL */
        uint32_t leaf;
        uint32_t subleaf;
        enum cvmm_reg reg;
        uint8_t bit;
        bool dynamic;        /* reflects guest state (OSXSAVE, OSPKE): never removed */
        uint64_t xstate;     /* XSAVE components this feature needs (and owns) */
        const char *deps[3]; /* features this one needs (Linux cpuid-deps) */
};

/* Upper bound on the feature table's size (checked at compile time in features.c). */
#define CVMM_MAX_FEATURES 256

/* The table of known features, in (leaf, subleaf, register, bit) order. */
const struct cvmm_feature *cvmm_features(size_t *count);
/* Finds a feature by Linux or QEMU name (case-insensitive, '-' and '_' equal); NULL if unknown. */
const struct cvmm_feature *cvmm_feature_find(const char *name);
/* Finds the feature at a CPUID bit, or NULL. */
const struct cvmm_feature *cvmm_feature_at(uint32_t leaf, uint32_t subleaf, enum cvmm_reg reg,
                                           unsigned bit);

enum cvmm_presence { CVMM_ABSENT, CVMM_PRESENT, CVMM_UNKNOWN /* its leaf is not in the table */ };
/* Whether the table advertises the feature. */
enum cvmm_presence cvmm_feature_state(const struct cvmm_cpuid_table *t,
                                      const struct cvmm_feature *f);

/* A parsed feature list: the features to remove. */
struct cvmm_feature_list {
        const struct cvmm_feature *items[64];
        size_t count;
};
/*
 * Parses "-avx512f,-pku,..." (QEMU spellings accepted). Unknown names, a name without '-', and
 * empty items are errors naming the item; messages call the list `what`, the caller's name for
 * it (the CLI passes its flag, "--features").
 */
int cvmm_feature_list_parse(struct cvmm_feature_list *out, const char *spec, const char *what,
                            struct cvmm_err *err);

/*
 * Removes a feature and everything that depends on it: dependent features, the XSAVE
 * components it owns (whole groups), and features needing those components. Leaf 0xD sizes
 * are not re-derived here (see cvmm_xsave_derive). Returns 0, or -1 on ENOMEM.
 */
int cvmm_feature_remove(struct cvmm_cpuid_table *t, const struct cvmm_feature *f, const char *rule);
/* Removes XSAVE components (closed over their groups) and the features that need them. */
int cvmm_xstate_remove(struct cvmm_cpuid_table *t, uint64_t comps, const char *rule);

/*
 * Makes features and XSAVE components agree, dropping (never adding) whatever the other side
 * does not support, to a fixpoint: features whose dependencies are absent, features whose state
 * components are missing, components no present feature owns, incomplete groups, supervisor
 * components without XSAVES, XFD flags without XFD. Returns 0, or -1 on ENOMEM.
 */
int cvmm_normalise_xstate(struct cvmm_cpuid_table *t, const char *rule);

#endif
