/* SPDX-License-Identifier: MIT */
/*
 * Building the guest's CPUID table from a source table: profiles, feature removal, leaf 0xD.
 *
 * Errors (cvmm/err.h): cvmm_profile_parse and cvmm_model_build return 0 or -1 with one line in
 * err; the rest cannot fail.
 */
#ifndef CVMM_PROFILE_H
#define CVMM_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "cvmm/cpuid.h"
#include "cvmm/features.h"

enum cvmm_profile {
        CVMM_PROFILE_NONE, /* the source as it is, leaf 0xD re-derived */
        CVMM_PROFILE_HOST, /* the source normalised for a VM with N vCPUs */
        CVMM_PROFILE_TDX,  /* the surface an Intel TD sees, by the TDX module's rules */
};
#define CVMM_NPROFILES 3u /* the enum's values are 0 .. CVMM_NPROFILES - 1 */

/*
 * What a profile means to the code that does not build its table (the MSR policy, the VMM,
 * the CLI): one row per profile, so a comparison with an id is a question about a property.
 */
struct cvmm_cpuid_table;
struct cvmm_model_opts;
struct cvmm_model_result;
struct cvmm_model_names;

struct cvmm_profile_desc {
        enum cvmm_profile id;
        const char *name; /* "none", "host", "tdx" */
        /*
         * How the profile turns the source table into the guest's, before --features removals
         * and the XSAVE re-derivation; NULL: the source as it is (no normalisation either).
         */
        int (*apply)(struct cvmm_cpuid_table *t, const struct cvmm_model_opts *opts,
                     const struct cvmm_model_names *names, struct cvmm_model_result *res,
                     struct cvmm_err *err);
        bool needs_full_table;     /* a partial source table (a paste of a few leaves) is refused */
        bool parseable;            /* cvmm_profile_parse takes the name ('none' is no profile) */
        bool runnable;             /* a VM can use it ('none' is a view of a source table) */
        bool confidential;         /* unknown MSRs are always logged, at warning level */
        bool msr_default_deny;     /* the KVM MSR filter denies by default, the policy decides */
        bool needs_enforced_cpuid; /* a VM is refused where its guest would not see the table */
        bool reconcile;            /* the table is reconciled with the features KVM forces on */
        bool tdx_constraints;      /* checking also applies the TDX module's (XFAM, vendor) */
};

/* The row describing p; never NULL for a valid id (NULL for a value outside the enum). */
const struct cvmm_profile_desc *cvmm_profile_get(enum cvmm_profile p);

#define CVMM_MAX_CPUS 4096u
/* The TDX module's XFAM constraints (tdx.md): bits a TD may have, bits it always has. */
#define CVMM_TDX_XFAM_FIXED0 0x6dbe7ull
#define CVMM_TDX_XFAM_FIXED1 0x3ull

/*
 * What a caller calls the options in messages, such as its flags ("--cpus"). A NULL field (or
 * no names at all) gets the library's word: "cpus", "profile", "XCR0", "XSS".
 */
struct cvmm_model_names {
        const char *cpus, *profile, *xcr0, *xss;
};

/* given's names, with the library's word for every one it leaves NULL (given may be NULL). */
struct cvmm_model_names cvmm_model_names_or_default(const struct cvmm_model_names *given);

struct cvmm_model_opts {
        enum cvmm_profile profile;
        unsigned cpus;                   /* 1 .. CVMM_MAX_CPUS */
        struct cvmm_feature_list remove; /* features to remove, with what depends on them */
        bool have_xcr0, have_xss;
        uint64_t xcr0, xss; /* default: every supported user / supervisor component */
        const struct cvmm_model_names *names; /* how messages name these options; may be NULL */
};

struct cvmm_model_result {
        uint64_t xcr0, xss; /* the values leaf 0xD was derived for */
        uint64_t xfam;      /* tdx: the XFAM chosen */
        bool not_intel;     /* tdx on another vendor's host: rules applied, vendor kept */
};

/*
 * "host" / "tdx" to the enum; an unknown name is an error naming it ("unknown profile 'x'
 * (expected host or tdx)"), to which a caller may prefix where the name came from.
 */
int cvmm_profile_parse(const char *name, enum cvmm_profile *out, struct cvmm_err *err);
/* The profile's name, "none" for CVMM_PROFILE_NONE. */
const char *cvmm_profile_name(enum cvmm_profile p);

/*
 * Turns the source table t into the guest's table in place: the profile's rules, then feature
 * removal (with everything that depends on it), then leaf 0xD re-derived for xcr0/xss. Bad
 * options (unsupported XCR0 bits, too many CPUs for the table) fail with one line in err, naming
 * the option as opts->names says. Returns 0, or -1 (t must then be freed, not used).
 */
int cvmm_model_build(struct cvmm_cpuid_table *t, const struct cvmm_model_opts *opts,
                     struct cvmm_model_result *res, struct cvmm_err *err);

/* True when leaf 0 says GenuineIntel. */
bool cvmm_cpuid_is_intel(const struct cvmm_cpuid_table *t);
/* True when leaf 0 says AuthenticAMD or HygonGenuine. */
bool cvmm_cpuid_is_amd(const struct cvmm_cpuid_table *t);

#endif
