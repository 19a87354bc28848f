/* SPDX-License-Identifier: MIT */
/* `cvmm msr show`: the MSR policy of a profile, range by range, with the reason. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cvmm/msr.h"
#include "util/strbuf.h"

struct span {
        uint32_t first, last;
        const char *name;
};

static int span_cmp(const void *a, const void *b)
{
        const struct span *x = a, *y = b;
        return x->first < y->first ? -1 : x->first > y->first;
}

static void describe(struct strbuf *sb, enum cvmm_profile p, const struct cvmm_msr_env *env,
                     uint32_t index, bool write)
{
        struct cvmm_msr_decision d;
        cvmm_msr_classify(p, env, index, write, &d);
        if (d.cls == CVMM_MSR_EMULATED && !write)
                strbuf_printf(sb, d.read_gp ? "emulated: #GP" : "emulated: reads 0x%llx",
                              (unsigned long long)d.read_value);
        else if (d.cls == CVMM_MSR_EMULATED)
                strbuf_printf(sb, "emulated: write ignored");
        else
                strbuf_printf(sb, "%s", cvmm_msr_class_name(d.cls));
        strbuf_printf(sb, " (%s)", d.reason);
}

static int show(enum cvmm_profile p, const struct cvmm_cpuid_table *t, const char *src)
{
        struct cvmm_msr_env env;
        cvmm_msr_env_from_cpuid(&env, t);
        struct strbuf sb;
        strbuf_init(&sb);
        strbuf_printf(&sb, "MSR policy, profile %s (CPUID source: %s)\n", cvmm_profile_name(p),
                      src);
        if (!cvmm_profile_get(p)->msr_default_deny) {
                strbuf_printf(&sb, "native: every MSR KVM implements (no filter)\n"
                                   "gp:     accesses KVM refuses for an MSR it knows (INVAL)\n"
                                   "unknown: every MSR KVM does not implement; --unknown-msr gp "
                                   "(default) injects #GP, ignore reads 0 and drops writes; logged "
                                   "only with --debug\n");
        } else {
                size_t n =
                    cvmm_tdx_msr_rows_count + cvmm_msr_emulated_count + cvmm_msr_kvm_owned_count;
                struct span *s = calloc(n, sizeof(*s));
                if (!s) {
                        free(strbuf_finish(&sb));
                        cli_error("msr show: out of memory");
                        return EXIT_HOST;
                }
                size_t k = 0;
                for (size_t i = 0; i < cvmm_tdx_msr_rows_count; i++)
                        s[k++] =
                            (struct span){cvmm_tdx_msr_rows[i].first, cvmm_tdx_msr_rows[i].last,
                                          cvmm_tdx_msr_rows[i].name};
                for (size_t i = 0; i < cvmm_msr_emulated_count; i++) {
                        bool dup = false;
                        for (size_t j = 0; j < cvmm_tdx_msr_rows_count; j++)
                                dup |= cvmm_tdx_msr_rows[j].first == cvmm_msr_emulated[i].first;
                        if (!dup)
                                s[k++] = (struct span){cvmm_msr_emulated[i].first,
                                                       cvmm_msr_emulated[i].last,
                                                       cvmm_msr_emulated[i].name};
                }
                for (size_t i = 0; i < cvmm_msr_kvm_owned_count; i++)
                        if (cvmm_msr_kvm_owned[i].listed)
                                s[k++] = (struct span){cvmm_msr_kvm_owned[i].first,
                                                       cvmm_msr_kvm_owned[i].last,
                                                       cvmm_msr_kvm_owned[i].name};
                qsort(s, k, sizeof(*s), span_cmp);
                for (size_t i = 0; i < k; i++) {
                        if (i && s[i].first == s[i - 1].first)
                                continue;
                        char range[32];
                        if (s[i].first == s[i].last)
                                snprintf(range, sizeof(range), "0x%08x", s[i].first);
                        else
                                snprintf(range, sizeof(range), "0x%08x-0x%08x", s[i].first,
                                         s[i].last);
                        strbuf_printf(&sb, "%-21s %-32s read: ", range, s[i].name);
                        describe(&sb, p, &env, s[i].first, false);
                        strbuf_printf(&sb, "; write: ");
                        describe(&sb, p, &env, s[i].first, true);
                        strbuf_printf(&sb, "\n");
                }
                free(s);
                strbuf_printf(&sb,
                              "0x00000800-0x000008ff x2APIC registers                 KVM "
                              "cannot filter this range: KVM's local APIC answers\n"
                              "everything else                                        unknown: "
                              "--unknown-msr gp (default) injects #GP, ignore reads 0 and drops "
                              "writes; each access logs a rate-limited warning without the "
                              "written value\n");
        }
        char *out = strbuf_finish(&sb);
        if (!out) {
                cli_error("msr show: out of memory");
                return EXIT_HOST;
        }
        int rc = cli_write(out) ? EXIT_HOST : EXIT_OK;
        free(out);
        return rc;
}

int cli_msr(int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "show") != 0) {
                cli_error("msr: expected 'show' (cvmm msr show [--profile host|tdx] [--from FILE] "
                          "[--cpu N])");
                return EXIT_USAGE;
        }
        static const struct option opts[] = {
            {"profile", required_argument, NULL, 'p'},
            {"from", required_argument, NULL, 'f'},
            {"cpu", required_argument, NULL, 'c'},
            {NULL, 0, NULL, 0},
        };
        enum cvmm_profile p = CVMM_PROFILE_HOST;
        const char *from = NULL;
        bool seen_p = false, seen_f = false;
        long cpu = -1; /* --cpu N */
        struct cvmm_err err;
        optind = 1;
        opterr = 0;
        int c;
        argc--;
        argv++;
        while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
                switch (c) {
                case 'p':
                        if (seen_p) {
                                cli_error("msr show: --profile given twice");
                                return EXIT_USAGE;
                        }
                        seen_p = true;
                        if (cvmm_profile_parse(optarg, &p, &err) ||
                            !cvmm_profile_get(p)->runnable) {
                                cli_error("msr show: --profile '%s': expected host or tdx", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'f':
                        if (seen_f) {
                                cli_error("msr show: --from given twice");
                                return EXIT_USAGE;
                        }
                        seen_f = true;
                        from = optarg;
                        break;
                case 'c': {
                        unsigned n;
                        if (cpu >= 0) {
                                cli_error("msr show: --cpu given twice");
                                return EXIT_USAGE;
                        }
                        if (cli_parse_cpu_index(optarg, &n, &err)) {
                                cli_error("msr show: %s", err.msg);
                                return EXIT_USAGE;
                        }
                        cpu = n;
                        break;
                }
                default:
                        cli_getopt_fail(c, argv, &err);
                        cli_error("msr show: %s", err.msg);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                cli_error("msr show: unexpected argument '%s'", argv[optind]);
                return EXIT_USAGE;
        }
        struct cvmm_cpuid_table t;
        int rc = cli_source_table("msr show", from, cpu, &t);
        if (rc)
                return rc;
        struct cvmm_model_opts o = {.profile = p, .cpus = 1, .names = &cli_model_names};
        struct cvmm_model_result res;
        if (cvmm_model_build(&t, &o, &res, &err)) {
                cvmm_cpuid_free(&t);
                cli_error("msr show: %s", err.msg);
                return EXIT_USAGE;
        }
        rc = show(p, &t, from ? from : "kvm");
        cvmm_cpuid_free(&t);
        return rc;
}
