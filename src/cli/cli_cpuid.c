/* SPDX-License-Identifier: MIT */
/* `cvmm cpuid show|check|diff`. Output is built whole, then written once: never half a result. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cvmm/check.h"
#include "cvmm/diff.h"
#include "cvmm/linux.h"
#include "cvmm/profile.h"
#include "cvmm/xsave.h"
#include "util/strbuf.h"
#include "util/json.h"
#include "vmm/cpumodel.h"
#include "vmm/host.h"

struct cpuid_args {
        const char *from;
        long cpu; /* --cpu N, or -1 */
        const char *format;
        bool have_profile;
        bool have_linux;
        enum cvmm_linux_version linux_version;
        struct cvmm_model_opts model;
};

/* Parses a 64-bit hex value with or without 0x. */
static int parse_hex64(const char *flag, const char *s, uint64_t *out, struct cvmm_err *err)
{
        const char *p = s;
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
                p += 2;
        if (!*p || strlen(p) > 16 || strspn(p, "0123456789abcdefABCDEF") != strlen(p))
                return cvmm_errf(err, "%s '%s': expected a hex number (up to 64 bits)", flag, s);
        *out = strtoull(p, NULL, 16);
        return 0;
}

enum {
        OPT_FROM = 1,
        OPT_PROFILE,
        OPT_CPUS,
        OPT_FEATURES,
        OPT_XCR0,
        OPT_XSS,
        OPT_FORMAT,
        OPT_LINUX,
        OPT_CPU
};

static int parse_args(int argc, char **argv, struct cpuid_args *a, struct cvmm_err *err)
{
        static const struct option opts[] = {
            {"from", required_argument, NULL, OPT_FROM},
            {"profile", required_argument, NULL, OPT_PROFILE},
            {"cpus", required_argument, NULL, OPT_CPUS},
            {"features", required_argument, NULL, OPT_FEATURES},
            {"xcr0", required_argument, NULL, OPT_XCR0},
            {"xss", required_argument, NULL, OPT_XSS},
            {"format", required_argument, NULL, OPT_FORMAT},
            {"linux", required_argument, NULL, OPT_LINUX},
            {"cpu", required_argument, NULL, OPT_CPU},
            {NULL, 0, NULL, 0},
        };
        memset(a, 0, sizeof(*a));
        a->model.cpus = 1;
        a->cpu = -1;
        a->model.names = &cli_model_names;
        optind = 1;
        opterr = 0;
        int c;
        a->linux_version = CVMM_LINUX_DEFAULT;
        bool seen[OPT_CPU + 1] = {false};
        while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
                if (c > 0 && c <= OPT_CPU) {
                        if (seen[c])
                                return cvmm_errf(err, "--%s given twice", cli_opt_name(opts, c));
                        seen[c] = true;
                }
                switch (c) {
                case OPT_FROM:
                        a->from = optarg;
                        break;
                case OPT_PROFILE:
                        if (cvmm_profile_parse(optarg, &a->model.profile, err))
                                return cli_flag_error(err, "--profile");
                        a->have_profile = true;
                        break;
                case OPT_CPUS:
                        if (cli_parse_count("--cpus", optarg, CVMM_MAX_CPUS, &a->model.cpus, err))
                                return -1;
                        break;
                case OPT_FEATURES:
                        if (cvmm_feature_list_parse(&a->model.remove, optarg, "--features", err))
                                return -1;
                        break;
                case OPT_XCR0:
                        if (parse_hex64("--xcr0", optarg, &a->model.xcr0, err))
                                return -1;
                        a->model.have_xcr0 = true;
                        break;
                case OPT_XSS:
                        if (parse_hex64("--xss", optarg, &a->model.xss, err))
                                return -1;
                        a->model.have_xss = true;
                        break;
                case OPT_FORMAT:
                        a->format = optarg;
                        break;
                case OPT_LINUX:
                        if (cvmm_linux_version_parse(optarg, &a->linux_version, err))
                                return cvmm_errf(err, "--linux '%s': expected 6.1 or 6.6", optarg);
                        a->have_linux = true;
                        break;
                case OPT_CPU: {
                        unsigned n;
                        if (cli_parse_cpu_index(optarg, &n, err))
                                return -1;
                        a->cpu = n;
                        break;
                }
                default:
                        return cli_getopt_fail(c, argv, err);
                }
        }
        if (optind < argc)
                return cvmm_errf(err, "unexpected argument '%s'", argv[optind]);
        return 0;
}

int cli_cpuid_parse_only(int argc, char **argv, struct cvmm_err *err)
{
        struct cpuid_args a;
        return parse_args(argc, argv, &a, err);
}

/* Loads the source table: --from FILE, else this host's KVM. Returns an exit status. */
static int load_source(const struct cpuid_args *a, struct cvmm_cpuid_table *t)
{
        return cli_source_table(NULL, a->from, a->cpu, t);
}

/* Builds the guest table from the source; returns an exit status. */
static int build(const struct cpuid_args *a, struct cvmm_cpuid_table *t,
                 struct cvmm_model_result *res)
{
        struct cvmm_err err;
        if (cvmm_model_build(t, &a->model, res, &err)) {
                cli_error("%s", err.msg);
                return EXIT_USAGE;
        }
        return EXIT_OK;
}

/* Parses a subcommand's flags and --format (`plain` or json); returns an exit status. */
static int start(int argc, char **argv, const char *cmd, const char *plain, struct cpuid_args *a,
                 bool *json)
{
        struct cvmm_err err;
        if (parse_args(argc, argv, a, &err)) {
                cli_error("cpuid %s: %s", cmd, err.msg);
                return EXIT_USAGE;
        }
        *json = a->format && strcmp(a->format, "json") == 0;
        if (a->format && !*json && strcmp(a->format, plain) != 0) {
                cli_error("cpuid %s: --format '%s': expected %s or json", cmd, a->format, plain);
                return EXIT_USAGE;
        }
        return EXIT_OK;
}

/* Writes t in `cpuid -r` form, or as cvmm JSON with meta; returns an exit status. */
static int emit_table(const struct cvmm_cpuid_table *t, bool json,
                      const struct cvmm_cpuid_meta *meta, const char *cmd)
{
        char *out = json ? cvmm_cpuid_format_json(t, meta) : cvmm_cpuid_format_raw(t);
        if (!out) {
                cli_error("cpuid %s: out of memory", cmd);
                return EXIT_HOST;
        }
        int rc = cli_write(out) ? EXIT_HOST : EXIT_OK;
        free(out);
        return rc;
}

static int cmd_show(int argc, char **argv)
{
        struct cpuid_args a;
        bool json;
        int rc = start(argc, argv, "show", "raw", &a, &json);
        if (rc)
                return rc;
        if (a.have_linux) {
                cli_error("cpuid show: --linux: only check and probe model a Linux guest");
                return EXIT_USAGE;
        }
        struct cvmm_cpuid_table t;
        rc = load_source(&a, &t);
        if (rc)
                return rc;
        t.trace = json;
        struct cvmm_model_result res;
        rc = build(&a, &t, &res);
        if (rc) {
                cvmm_cpuid_free(&t);
                return rc;
        }
        /* An empty table has no form that reads back (every reader refuses "no entries"). */
        if (t.count == 0) {
                cli_error("cpuid show: %s: no entries left after --features removed them: an "
                          "empty table is not a CPUID table",
                          a.from ? a.from : "kvm");
                cvmm_cpuid_free(&t);
                return EXIT_USAGE;
        }
        struct cvmm_cpuid_meta meta = {
            .profile = a.have_profile ? cvmm_profile_name(a.model.profile) : NULL,
            .source = a.from ? a.from : "kvm",
            .xcr0 = res.xcr0,
            .xss = res.xss,
            .cpus = a.model.cpus,
        };
        rc = emit_table(&t, json, &meta, "show");
        cvmm_cpuid_free(&t);
        return rc;
}

static void loc(struct strbuf *sb, const struct cvmm_finding *f)
{
        strbuf_printf(sb, "leaf 0x%08x subleaf 0x%02x", f->leaf, f->subleaf);
        if (f->reg >= 0)
                strbuf_printf(sb, " %s", cvmm_reg_name((enum cvmm_reg)f->reg));
        if (f->bit >= 0)
                strbuf_printf(sb, " bit %d", f->bit);
}

static char *report_text(const struct cvmm_check_report *r, const struct cvmm_linux_boot *lb,
                         const char *source, const struct cpuid_args *a,
                         const struct cvmm_model_result *res)
{
        struct strbuf sb;
        strbuf_init(&sb);
        strbuf_printf(&sb, "checking %s (profile %s, xcr0 0x%llx, xss 0x%llx)\n", source,
                      a->have_profile ? cvmm_profile_name(a->model.profile) : "none",
                      (unsigned long long)res->xcr0, (unsigned long long)res->xss);
        for (size_t i = 0; i < r->count; i++) {
                const struct cvmm_finding *f = &r->findings[i];
                strbuf_printf(&sb, "%s: ", cvmm_severity_name(f->severity));
                loc(&sb, f);
                strbuf_printf(&sb, ": [%s] %s", f->rule, f->message);
                if (f->expected[0] || f->actual[0])
                        strbuf_printf(&sb, " (%s: expected %s, actual %s)", f->field, f->expected,
                                      f->actual);
                strbuf_printf(&sb, "\n");
        }
        for (size_t i = 0; i < r->nskipped; i++)
                strbuf_printf(&sb, "skipped: %s\n", r->skipped[i]);
        const struct cvmm_linux_view *v = &r->linux_view;
        if (v->xsave_used)
                strbuf_printf(&sb,
                              "linux guest: enables xstate features 0x%llx, context size %u "
                              "bytes, '%s' format; no XSAVE consistency warning\n",
                              (unsigned long long)v->features, v->kernel_size,
                              v->compacted ? "compacted" : "standard");
        else if (v->disable_reason[0])
                strbuf_printf(&sb, "linux guest: does not use XSAVE: %s\n", v->disable_reason);
        const char *lvn = cvmm_linux_version_name(a->linux_version);
        for (size_t i = 0; i < lb->nlines; i++)
                strbuf_printf(&sb, "linux %s prints: %s\n", lvn, lb->lines[i]);
        strbuf_printf(&sb, "linux %s verdict: %s\n", lvn, lb->verdict);
        strbuf_printf(&sb, "result: %u error%s, %u warning%s\n", r->errors,
                      r->errors == 1 ? "" : "s", r->warnings, r->warnings == 1 ? "" : "s");
        return strbuf_finish(&sb);
}

static char *report_json(const struct cvmm_check_report *r, const struct cvmm_linux_boot *lb,
                         const char *source, const struct cpuid_args *a,
                         const struct cvmm_model_result *res)
{
        bool ok = true;
        struct json_object *root = json_object_new_object();
        if (!root)
                return NULL;
        json_put(&ok, root, "source", json_object_new_string(source));
        json_put(
            &ok, root, "profile",
            json_object_new_string(a->have_profile ? cvmm_profile_name(a->model.profile) : "none"));
        json_put(&ok, root, "xcr0", json_hex(res->xcr0));
        json_put(&ok, root, "xss", json_hex(res->xss));
        struct json_object *arr = json_object_new_array();
        for (size_t i = 0; i < r->count; i++) {
                const struct cvmm_finding *f = &r->findings[i];
                struct json_object *o = json_object_new_object();
                json_put(&ok, o, "severity",
                         json_object_new_string(cvmm_severity_name(f->severity)));
                json_put(&ok, o, "rule", json_object_new_string(f->rule));
                json_put(&ok, o, "leaf", json_hex(f->leaf));
                json_put(&ok, o, "subleaf", json_hex(f->subleaf));
                if (f->reg >= 0)
                        json_put(&ok, o, "register",
                                 json_object_new_string(cvmm_reg_name((enum cvmm_reg)f->reg)));
                if (f->bit >= 0)
                        json_put(&ok, o, "bit", json_object_new_int(f->bit));
                json_put(&ok, o, "field", json_object_new_string(f->field));
                json_put(&ok, o, "expected", json_object_new_string(f->expected));
                json_put(&ok, o, "actual", json_object_new_string(f->actual));
                json_put(&ok, o, "message", json_object_new_string(f->message));
                json_append(&ok, arr, o);
        }
        json_put(&ok, root, "findings", arr);
        struct json_object *sk = json_object_new_array();
        for (size_t i = 0; i < r->nskipped; i++)
                json_append(&ok, sk, json_object_new_string(r->skipped[i]));
        json_put(&ok, root, "skipped", sk);
        const struct cvmm_linux_view *v = &r->linux_view;
        struct json_object *lv = json_object_new_object();
        json_put(&ok, lv, "uses_xsave", json_object_new_boolean(v->xsave_used));
        json_put(&ok, lv, "xfeatures", json_hex(v->features));
        json_put(&ok, lv, "format",
                 json_object_new_string(v->compacted ? "compacted" : "standard"));
        json_put(&ok, lv, "context_size", json_object_new_int64(v->kernel_size));
        json_put(&ok, lv, "computed_size", json_object_new_int64(v->computed_size));
        json_put(&ok, lv, "consistency_warning", json_object_new_boolean(v->consistency_warning));
        if (v->disable_reason[0])
                json_put(&ok, lv, "reason", json_object_new_string(v->disable_reason));
        json_put(&ok, root, "linux_guest", lv);
        json_put(&ok, root, "linux_boot", cpumodel_linux_json(lb, a->linux_version));
        json_put(&ok, root, "errors", json_object_new_int((int)r->errors));
        json_put(&ok, root, "warnings", json_object_new_int((int)r->warnings));
        if (!ok) { /* an allocation failed: no half report */
                json_object_put(root);
                return NULL;
        }
        const char *s =
            json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        struct strbuf sb;
        strbuf_init(&sb);
        strbuf_printf(&sb, "%s\n", s ? s : "");
        json_object_put(root);
        return s ? strbuf_finish(&sb) : (free(strbuf_finish(&sb)), NULL);
}

static int cmd_check(int argc, char **argv)
{
        struct cpuid_args a;
        struct cvmm_err err;
        bool json;
        int rc = start(argc, argv, "check", "text", &a, &json);
        if (rc)
                return rc;
        struct cvmm_cpuid_table t;
        rc = load_source(&a, &t);
        if (rc)
                return rc;
        struct cvmm_model_result res = {0};
        /* Without a profile or changes the table is checked exactly as given. */
        if (a.have_profile || a.model.remove.count || a.model.cpus != 1) {
                rc = build(&a, &t, &res);
                if (rc) {
                        cvmm_cpuid_free(&t);
                        return rc;
                }
        } else {
                struct cvmm_xsave_layout l;
                cvmm_xsave_layout_read(&t, &l);
                res.xcr0 = a.model.have_xcr0 ? a.model.xcr0 : l.xcr0_supported;
                res.xss = a.model.have_xss ? a.model.xss : l.xss_supported;
                if ((a.model.have_xcr0 && cvmm_xsave_validate_xcr0(&l, res.xcr0, "--xcr0", &err)) ||
                    (a.model.have_xss && cvmm_xsave_validate_xss(&l, res.xss, "--xss", &err))) {
                        cli_error("%s", err.msg);
                        cvmm_cpuid_free(&t);
                        return EXIT_USAGE;
                }
        }
        struct cvmm_check_opts co = {
            .have_xcr0 = a.model.have_xcr0,
            .have_xss = a.model.have_xss,
            .xcr0 = res.xcr0,
            .xss = res.xss,
            .tdx = a.have_profile && cvmm_profile_get(a.model.profile)->tdx_constraints,
            .names = &cli_model_names,
        };
        struct cvmm_check_report r;
        bool oom = cvmm_check(&t, &co, &r) != 0;
        struct cvmm_linux_boot lb;
        cvmm_linux_predict(&t, a.linux_version, NULL, &lb);
        cvmm_cpuid_free(&t);
        const char *source = a.from ? a.from : "KVM_GET_SUPPORTED_CPUID";
        char *out = oom    ? NULL
                    : json ? report_json(&r, &lb, source, &a, &res)
                           : report_text(&r, &lb, source, &a, &res);
        unsigned errors = r.errors;
        cvmm_check_report_free(&r);
        if (!out) {
                cli_error("cpuid check: out of memory");
                return EXIT_HOST;
        }
        rc = cli_write(out) ? EXIT_HOST : errors ? EXIT_FINDINGS : EXIT_OK;
        free(out);
        return rc;
}

/* `cvmm cpuid diff [--cpu N] FILE_A FILE_B`: one --cpu picks the CPU of both dumps. */
static int cmd_diff(int argc, char **argv)
{
        static const struct option opts[] = {
            {"cpu", required_argument, NULL, OPT_CPU},
            {NULL, 0, NULL, 0},
        };
        struct cvmm_err err;
        unsigned cpu = 0;
        bool seen_cpu = false;
        optind = 1;
        opterr = 0;
        int c;
        while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
                if (c == OPT_CPU && seen_cpu) {
                        cli_error("cpuid diff: --cpu given twice (one --cpu picks the CPU of "
                                  "both files)");
                        return EXIT_USAGE;
                }
                if (c == OPT_CPU ? cli_parse_cpu_index(optarg, &cpu, &err)
                                 : cli_getopt_fail(c, argv, &err)) {
                        cli_error("cpuid diff: %s", err.msg);
                        return EXIT_USAGE;
                }
                seen_cpu = true;
        }
        argc -= optind - 1;
        argv += optind - 1;
        if (argc != 3) {
                cli_error("cpuid diff: expected two files: cvmm cpuid diff [--cpu N] FILE_A "
                          "FILE_B");
                return EXIT_USAGE;
        }
        if (strcmp(argv[1], "-") == 0 && strcmp(argv[2], "-") == 0) {
                cli_error("cpuid diff: '-' (standard input) can stand for one operand, not both");
                return EXIT_USAGE;
        }
        struct cvmm_cpuid_table ta, tb;
        if (cvmm_cpuid_load_cpu(&ta, argv[1], cpu, NULL, &err)) {
                cli_error("%s", err.msg);
                return EXIT_USAGE;
        }
        if (cvmm_cpuid_load_cpu(&tb, argv[2], cpu, NULL, &err)) {
                cli_error("%s", err.msg);
                cvmm_cpuid_free(&ta);
                return EXIT_USAGE;
        }
        size_t n = 0;
        char *out = cvmm_cpuid_diff(&ta, &tb, &n);
        cvmm_cpuid_free(&ta);
        cvmm_cpuid_free(&tb);
        if (!out) {
                cli_error("cpuid diff: out of memory");
                return EXIT_HOST;
        }
        int rc = cli_write(out) ? EXIT_HOST : n ? EXIT_FINDINGS : EXIT_OK;
        free(out);
        return rc;
}

/*
 * `cvmm cpuid probe`: the table a guest of this host really sees under the profile, as `cvmm
 * run` computes it before boot (reconciled for the host profile), in show's formats.
 */
static int cmd_probe(int argc, char **argv)
{
        struct cpuid_args a;
        bool json;
        int rc = start(argc, argv, "probe", "raw", &a, &json);
        if (rc)
                return rc;
        if (a.from || a.cpu >= 0 || a.model.have_xcr0 || a.model.have_xss) {
                cli_error("cpuid probe: --%s: the probe hands the profile's table to this host's "
                          "KVM; it takes --profile, --features, --cpus, --format and --linux",
                          a.from              ? "from"
                          : a.cpu >= 0        ? "cpu"
                          : a.model.have_xcr0 ? "xcr0"
                                              : "xss");
                return EXIT_USAGE;
        }
        if (!a.have_profile)
                a.model.profile = CVMM_PROFILE_HOST;
        struct cpumodel m;
        struct vmm_host *h;
        rc = cli_host_open("cpuid probe", " (cvmm cpuid probe needs KVM)", &h);
        if (rc)
                return rc;
        rc = cli_host_model("cpuid probe", h, &a.model, a.linux_version, NULL, &m);
        vmm_host_close(h);
        if (rc)
                return rc;
        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(&m.seen, &l);
        struct cvmm_cpuid_meta meta = {
            .profile = cvmm_profile_name(a.model.profile),
            .source = "probe",
            .xcr0 = l.xcr0_supported,
            .xss = l.xss_supported,
            .cpus = a.model.cpus,
        };
        rc = emit_table(&m.seen, json, &meta, "probe");
        cpumodel_free(&m);
        return rc;
}

int cli_cpuid(int argc, char **argv)
{
        if (argc < 2) {
                cli_error("cpuid: expected show, check, diff or probe (try cvmm --help)");
                return EXIT_USAGE;
        }
        if (strcmp(argv[1], "show") == 0)
                return cmd_show(argc - 1, argv + 1);
        if (strcmp(argv[1], "check") == 0)
                return cmd_check(argc - 1, argv + 1);
        if (strcmp(argv[1], "diff") == 0)
                return cmd_diff(argc - 1, argv + 1);
        if (strcmp(argv[1], "probe") == 0)
                return cmd_probe(argc - 1, argv + 1);
        cli_error("cpuid: unknown subcommand '%s' (expected show, check, diff or probe)", argv[1]);
        return EXIT_USAGE;
}
