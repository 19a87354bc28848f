/* SPDX-License-Identifier: MIT */
/* `cvmm run`: checks every input, builds the CPU model, probes enforcement, runs the guest. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cvmm/profile.h"
#include "vmm/host.h"
#include "cvmm/xsave.h"
#include "util/json.h"
#include "util/strbuf.h"
#include "vmm/cpumodel.h"
#include "vmm/metrics.h"
#include "vmm/outfile.h"
#include "vmm/probe.h"
#include "vmm/probecache.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"

#define DEFAULT_MEMORY        (256ull << 20)
#define DEFAULT_CMDLINE       "console=ttyS0"
#define MAX_RUN_CPUS          254u
#define MIN_MEMORY            (2ull << 20)
#define DEFAULT_MSR_LOG_RATE  5  /* unknown-MSR warnings per second, on average */
#define DEFAULT_MSR_LOG_BURST 10 /* ... and at once */

struct run_args {
        const char *kernel, *initrd, *cmdline, *metrics;
        unsigned cpus;
        uint64_t memory;
        struct cvmm_model_opts model;
        bool no_reboot, allow_unenforced;
        bool kernel_irqchip;               /* --irqchip kernel */
        bool no_sandbox, sandbox_selftest; /* --no-sandbox; hidden, for the tests */
        const char *probe_cache;           /* --probe-cache DIR (NULL: the default) */
        bool no_probe_cache;               /* --no-probe-cache */
        uint64_t metrics_interval_ns;      /* 0: the metrics file is written at exit only */
        struct dev_config dev;
        struct msr_config msr;
};

enum {
        OPT_KERNEL = 1,
        OPT_INITRD,
        OPT_CMDLINE,
        OPT_CPUS,
        OPT_MEMORY,
        OPT_PROFILE,
        OPT_FEATURES,
        OPT_NO_REBOOT,
        OPT_METRICS,
        OPT_ALLOW,
        OPT_UNKNOWN_MSR,
        OPT_MSR_RATE,
        OPT_MSR_BURST,
        OPT_DEBUG,
        OPT_LOG_FORMAT,
        OPT_METRICS_INTERVAL,
        OPT_DEBUG_EXIT,
        OPT_CPU, /* not an option of run: named so that getopt does not take it for --cpus */
        OPT_NO_SANDBOX,
        OPT_SANDBOX_SELFTEST,
        OPT_IRQCHIP,
        OPT_PROBE_CACHE,
        OPT_NO_PROBE_CACHE,
        OPT_LAST = OPT_NO_PROBE_CACHE
};

/*
 * --metrics-interval SECONDS: a decimal number of seconds from 0.1 to 86400 (a day), at most
 * three decimals. Below 0.1 s the rewrite (JSON of every counter, a file and a rename) would
 * cost a noticeable share of a host CPU; above a day a scraper learns nothing new.
 */
static int parse_interval(const char *s, uint64_t *ns, struct cvmm_err *err)
{
        uint64_t whole = 0, frac = 0, scale = 1000000000;
        const char *p = s;
        int digits = 0, decimals = 0;
        for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
                whole = whole * 10 + (uint64_t)(*p - '0');
        if (*p == '.' && digits)
                for (p++; *p >= '0' && *p <= '9' && decimals < 3; p++, decimals++) {
                        scale /= 10;
                        frac += (uint64_t)(*p - '0') * scale;
                }
        uint64_t v = whole * 1000000000 + frac;
        if (!digits || *p || v < 100000000 || v > 86400ull * 1000000000)
                return cvmm_errf(err,
                                 "--metrics-interval '%s': expected seconds from 0.1 to 86400, "
                                 "such as 5 or 0.5",
                                 s);
        *ns = v;
        return 0;
}

/* The guest machine: kernel, command line, vCPUs, memory, CPU model. Returns 0, -1 (err set) or 1
 * (not an option of this group). */
static int run_option_machine(int c, const char *arg, struct run_args *a, struct cvmm_err *err)
{
        switch (c) {
        case OPT_KERNEL:
                a->kernel = arg;
                break;
        case OPT_INITRD:
                a->initrd = arg;
                break;
        case OPT_CMDLINE:
                a->cmdline = arg;
                break;
        case OPT_CPUS:
                if (cli_parse_count("--cpus", arg, MAX_RUN_CPUS, &a->cpus, err))
                        return -1;
                break;
        case OPT_MEMORY:
                if (cli_parse_size("--memory", arg, &a->memory, err))
                        return -1;
                if (a->memory < MIN_MEMORY)
                        return cvmm_errf(err, "--memory '%s': at least 2M", arg);
                if (a->memory & 0xfff)
                        return cvmm_errf(err, "--memory '%s': not a multiple of 4K", arg);
                break;
        case OPT_PROFILE:
                if (cvmm_profile_parse(arg, &a->model.profile, err))
                        return cli_flag_error(err, "--profile");
                if (!cvmm_profile_get(a->model.profile)->runnable)
                        return cvmm_errf(err,
                                         "--profile '%s': cvmm run takes host or "
                                         "tdx",
                                         arg);
                break;
        case OPT_FEATURES:
                if (cvmm_feature_list_parse(&a->model.remove, arg, "--features", err))
                        return -1;
                break;
        case OPT_NO_REBOOT:
                a->no_reboot = true;
                break;
        case OPT_ALLOW:
                a->allow_unenforced = true;
                break;
        case OPT_IRQCHIP:
                if (strcmp(arg, "kernel") == 0)
                        a->kernel_irqchip = true;
                else if (strcmp(arg, "split") != 0)
                        return cvmm_errf(err, "--irqchip '%s': expected split or kernel", arg);
                break;
        default:
                return 1;
        }
        return 0;
}

/* The unknown-MSR policy and its log. Returns 0, -1 (err set) or 1 (not an option of this group).
 */
static int run_option_msr(int c, const char *arg, struct run_args *a, struct cvmm_err *err)
{
        switch (c) {
        case OPT_UNKNOWN_MSR:
                if (strcmp(arg, "gp") == 0)
                        a->msr.unknown_ignore = false;
                else if (strcmp(arg, "ignore") == 0)
                        a->msr.unknown_ignore = true;
                else
                        return cvmm_errf(err, "--unknown-msr '%s': expected gp or ignore", arg);
                break;
        case OPT_MSR_RATE:
                if (cli_parse_count("--msr-log-rate", arg, 1000000, &a->msr.log_rate, err))
                        return -1;
                break;
        case OPT_MSR_BURST:
                if (cli_parse_count("--msr-log-burst", arg, 1000000, &a->msr.log_burst, err))
                        return -1;
                break;
        case OPT_DEBUG:
                a->msr.debug = true;
                break;
        case OPT_LOG_FORMAT:
                if (strcmp(arg, "json") == 0)
                        a->msr.log_json = true;
                else if (strcmp(arg, "text") != 0)
                        return cvmm_errf(err, "--log-format '%s': expected text or json", arg);
                break;
        default:
                return 1;
        }
        return 0;
}

/* What the run writes besides the console, and the test-exit device. Returns 0, -1 (err set) or 1
 * (not an option of this group). */
static int run_option_output(int c, const char *arg, struct run_args *a, struct cvmm_err *err)
{
        switch (c) {
        case OPT_METRICS:
                a->metrics = arg;
                break;
        case OPT_METRICS_INTERVAL:
                if (parse_interval(arg, &a->metrics_interval_ns, err))
                        return -1;
                break;
        case OPT_DEBUG_EXIT: {
                char *end;
                errno = 0;
                unsigned long port = strtoul(arg, &end, 0);
                if (errno || *end || arg[0] < '0' || arg[0] > '9' || port < 1 || port > 0xfffc)
                        return cvmm_errf(err,
                                         "--debug-exit '%s': expected an I/O port from "
                                         "1 to 0xfffc, such as 0xf4",
                                         arg);
                a->dev.debug_exit_port = (uint16_t)port;
                break;
        }
        case OPT_CPU:
                return cvmm_errf(err, "--cpu is not an option of run (--cpus N sets the vCPU "
                                      "count; --cpu N picks a CPU of a dump in cvmm cpuid)");
        case OPT_NO_SANDBOX:
                a->no_sandbox = true;
                break;
        case OPT_SANDBOX_SELFTEST:
                a->sandbox_selftest = true;
                break;
        case OPT_PROBE_CACHE:
                if (!arg[0])
                        return cvmm_errf(err, "--probe-cache '': expected a directory");
                a->probe_cache = arg;
                break;
        case OPT_NO_PROBE_CACHE:
                a->no_probe_cache = true;
                break;
        default:
                return 1;
        }
        return 0;
}

static int parse_run(int argc, char **argv, struct run_args *a, struct cvmm_err *err)
{
        static const struct option opts[] = {
            {"kernel", required_argument, NULL, OPT_KERNEL},
            {"initrd", required_argument, NULL, OPT_INITRD},
            {"cmdline", required_argument, NULL, OPT_CMDLINE},
            {"cpus", required_argument, NULL, OPT_CPUS},
            {"cpu", required_argument, NULL, OPT_CPU},
            {"memory", required_argument, NULL, OPT_MEMORY},
            {"profile", required_argument, NULL, OPT_PROFILE},
            {"features", required_argument, NULL, OPT_FEATURES},
            {"no-reboot", no_argument, NULL, OPT_NO_REBOOT},
            {"metrics", required_argument, NULL, OPT_METRICS},
            {"allow-unenforced-cpuid", no_argument, NULL, OPT_ALLOW},
            {"unknown-msr", required_argument, NULL, OPT_UNKNOWN_MSR},
            {"msr-log-rate", required_argument, NULL, OPT_MSR_RATE},
            {"msr-log-burst", required_argument, NULL, OPT_MSR_BURST},
            {"debug", no_argument, NULL, OPT_DEBUG},
            {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
            {"metrics-interval", required_argument, NULL, OPT_METRICS_INTERVAL},
            {"debug-exit", required_argument, NULL, OPT_DEBUG_EXIT},
            {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
            {"sandbox-selftest", no_argument, NULL, OPT_SANDBOX_SELFTEST},
            {"irqchip", required_argument, NULL, OPT_IRQCHIP},
            {"probe-cache", required_argument, NULL, OPT_PROBE_CACHE},
            {"no-probe-cache", no_argument, NULL, OPT_NO_PROBE_CACHE},
            {NULL, 0, NULL, 0},
        };
        memset(a, 0, sizeof(*a));
        a->cpus = 1;
        a->memory = DEFAULT_MEMORY;
        a->cmdline = DEFAULT_CMDLINE;
        a->model.profile = CVMM_PROFILE_HOST;
        a->model.names = &cli_model_names;
        a->msr.log_rate = DEFAULT_MSR_LOG_RATE;
        a->msr.log_burst = DEFAULT_MSR_LOG_BURST;
        bool seen[OPT_LAST + 1] = {false};
        optind = 1;
        opterr = 0;
        int c;
        while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
                if (c > 0 && c <= OPT_LAST) {
                        if (seen[c])
                                return cvmm_errf(err, "--%s given twice", cli_opt_name(opts, c));
                        seen[c] = true;
                }
                int rc = run_option_machine(c, optarg, a, err);
                if (rc > 0)
                        rc = run_option_msr(c, optarg, a, err);
                if (rc > 0)
                        rc = run_option_output(c, optarg, a, err);
                if (rc > 0)
                        return cli_getopt_fail(c, argv, err);
                if (rc < 0)
                        return -1;
        }
        if (optind < argc)
                return cvmm_errf(err, "unexpected argument '%s'", argv[optind]);
        if (!a->kernel)
                return cvmm_errf(err, "--kernel FILE is required");
        a->dev.ram_size = a->memory;
        a->dev.cpus = a->cpus;
        if (a->dev.debug_exit_port) {
                struct cvmm_err e;
                if (vm_devices_check(&a->dev, &e))
                        return cvmm_errf(err, "--debug-exit 0x%x: %s", a->dev.debug_exit_port,
                                         e.msg);
        }
        if (a->metrics_interval_ns && !a->metrics)
                return cvmm_errf(err, "--metrics-interval needs --metrics FILE");
        if (a->probe_cache && a->no_probe_cache)
                return cvmm_errf(err, "--probe-cache and --no-probe-cache contradict each other");
        if (a->sandbox_selftest && a->no_sandbox)
                return cvmm_errf(err, "--sandbox-selftest needs the sandbox: drop --no-sandbox");
        a->model.cpus = a->cpus;
        a->msr.profile = a->model.profile;
        return 0;
}

int cli_run_parse_only(int argc, char **argv, struct cvmm_err *err)
{
        struct run_args a;
        return parse_run(argc, argv, &a, err);
}

/*
 * --metrics-interval: a thread that rewrites the metrics file (atomically, as at exit) every
 * interval while the guest runs, so that an agent can scrape a long-running guest. It reads the
 * VM's counters with atomic loads only and never blocks a vCPU.
 */
struct model_job;
static struct json_object *model_json_wait(struct model_job *j);

struct ticker {
        struct model_job *job; /* the model's JSON comes from it (model_json_wait) */
        struct vm *vm;
        struct outfile *out;
        const char *path;
        uint64_t interval_ns;
        struct run_summary s;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stop, warned;
};

/* The metrics document and its final newline, written whole (vmm/outfile.h). */
static int write_metrics(struct outfile *out, const char *json, struct cvmm_err *err)
{
        size_t len = strlen(json);
        char *doc = malloc(len + 2);
        if (!doc)
                return cvmm_errf(err, "out of memory");
        memcpy(doc, json, len);
        doc[len] = '\n';
        doc[len + 1] = '\0';
        int rc = outfile_write(out, doc, len + 1, err);
        free(doc);
        return rc;
}

static void ts_at(struct timespec *ts, uint64_t ns)
{
        ts->tv_sec = (time_t)(ns / 1000000000);
        ts->tv_nsec = (long)(ns % 1000000000);
}

static void *ticker_thread(void *arg)
{
        struct ticker *t = arg;
        t->s.model_json = model_json_wait(t->job); /* NULL on ENOMEM: each write then fails */
        uint64_t next = vm_now_ns() + t->interval_ns;
        pthread_mutex_lock(&t->lock);
        while (!t->stop) {
                struct timespec ts;
                ts_at(&ts, next);
                if (pthread_cond_timedwait(&t->cond, &t->lock, &ts) != ETIMEDOUT || t->stop)
                        continue;
                pthread_mutex_unlock(&t->lock);
                t->s.snapshot++;
                char *json = metrics_json(t->vm, &t->s);
                struct cvmm_err e;
                if (!json)
                        cvmm_errf(&e, "out of memory");
                if ((!json || write_metrics(t->out, json, &e)) && !t->warned) {
                        t->warned = true; /* once: the file written at exit decides the status */
                        fprintf(stderr,
                                "cvmm: warning: --metrics-interval: writing '%s' failed: %s; "
                                "retrying every interval\n",
                                t->path, e.msg);
                }
                free(json);
                uint64_t now = vm_now_ns();
                next += t->interval_ns;
                if (next <= now) /* a slow write: skip the missed ticks, keep the period */
                        next = now + t->interval_ns;
                pthread_mutex_lock(&t->lock);
        }
        pthread_mutex_unlock(&t->lock);
        return NULL;
}

static int ticker_start(struct ticker *t, struct cvmm_err *err)
{
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* vm_now_ns's clock */
        int rc = pthread_cond_init(&t->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (rc)
                return cvmm_errf(err, "--metrics-interval: %s", strerror(rc));
        pthread_mutex_init(&t->lock, NULL);
        rc = pthread_create(&t->thread, NULL, ticker_thread, t);
        if (rc) {
                pthread_cond_destroy(&t->cond);
                pthread_mutex_destroy(&t->lock);
                return cvmm_errf(err, "--metrics-interval: creating its thread: %s", strerror(rc));
        }
        return 0;
}

static void ticker_stop(struct ticker *t)
{
        pthread_mutex_lock(&t->lock);
        t->stop = true;
        pthread_cond_signal(&t->cond);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
}

/* Up to three attributed fields, then a count; NULL on ENOMEM. */
static char *fields(const struct cvmm_attribution *a)
{
        return cpumodel_describe(a, 3);
}

/* The --features removals the guest still has, because the host forces them on. */
static void unremovable(const struct run_args *a, const struct cpumodel *m, bool reconciled)
{
        struct strbuf sb;
        strbuf_init(&sb);
        size_t n = 0;
        for (size_t i = 0; i < a->model.remove.count; i++) {
                const struct cvmm_feature *f = a->model.remove.items[i];
                if (cvmm_feature_state(&m->seen, f) == CVMM_PRESENT)
                        strbuf_printf(&sb, "%s%s", n++ ? ", " : "", f->name);
        }
        char *s = strbuf_finish(&sb);
        if (n && s)
                fprintf(stderr,
                        "cvmm: warning: --features could not remove %s: this host's KVM forces "
                        "%s on, so the guest still has %s%s\n",
                        s, n == 1 ? "it" : "them", n == 1 ? "it" : "them",
                        reconciled ? " (cvmm keeps the guest's view consistent instead of "
                                     "half-removing it)"
                                   : "");
        free(s);
}

/* Why the kernel will see sizes that disagree, from what the probe read back. */
static void size_reason(const struct cpumodel *m, char *buf, size_t n)
{
        const struct cvmm_linux_boot *b = &m->linux_boot;
        buf[0] = '\0';
        if (b->misordered)
                snprintf(buf, n,
                         "leaf 0xD gives user-component offsets out of ascending order "
                         "(for example subleaves that read as zero)");
        if (!b->size_mismatch)
                return;
        struct cvmm_xsave_layout l;
        cvmm_xsave_layout_read(&m->seen, &l);
        uint64_t mask = b->plan.compacted ? b->plan.xcr0 | b->plan.xss : b->plan.xcr0;
        uint32_t arch = b->plan.compacted ? cvmm_xsave_compacted_size(&l, mask)
                                          : cvmm_xsave_standard_size(&l, mask);
        size_t len = strlen(buf);
        const char *why =
            b->kernel_size == CVMM_XSAVE_EXT_START && mask != 3
                ? "this host's KVM did not update it from the guest's XCR0 (it still gives the "
                  "size for x87 and SSE)"
            : b->kernel_size != arch
                ? "this host's KVM computes it from its own component sizes, not from the "
                  "subleaves the guest sees"
                : "the subleaves the guest sees add up to a different size";
        snprintf(buf + len, n - len,
                 "%sthe kernel's walk of the 0xD subleaves gives %u bytes, but CPUID 0xD.%d EBX "
                 "reads %u after XCR0=0x%llx%s: %s",
                 len ? "; " : "", b->computed_size, b->plan.compacted ? 1 : 0, b->kernel_size,
                 (unsigned long long)b->plan.xcr0, m->xstate.done ? " (measured)" : "", why);
}

/* One line before the guest runs: what Linux will make of the CPUID the guest sees. */
static void verdict(const struct cpumodel *m)
{
        const struct cvmm_linux_boot *b = &m->linux_boot;
        const char *v = cvmm_linux_version_name(m->linux_version);
        if (!b->misordered && !b->struct_mismatch && !b->consistency_problem) {
                fprintf(stderr, "cvmm: pre-boot verdict (Linux %s): %s\n", v, b->verdict);
                return;
        }
        struct strbuf sb;
        strbuf_init(&sb);
        size_t k = 0;
        for (size_t i = 0; i < b->nlines; i++) {
                const char *l = b->lines[i];
                if (strncmp(l, "CPUID[", 6) == 0)
                        continue;
                strbuf_printf(&sb, "%s\"%s\"", k++ ? ", " : "", l);
        }
        char reason[400];
        size_reason(m, reason, sizeof(reason));
        char *lines = strbuf_finish(&sb);
        fprintf(stderr,
                "cvmm: pre-boot verdict (Linux %s): XSAVE %s; the kernel will print %s%s%s\n", v,
                b->xsave_used ? "stays enabled" : "is disabled", lines ? lines : "?",
                reason[0] ? "; why: " : "", reason);
        free(lines);
}

/*
 * Acts on the effective model before the guest runs: the tdx refusal (returns EXIT_USAGE with
 * one line and nothing else printed), then the notes, then the verdict. Returns EXIT_OK to run.
 */
static int report_model(const struct run_args *a, const struct cpumodel *m)
{
        bool needs = cvmm_profile_get(a->model.profile)->needs_enforced_cpuid;
        if (!m->enforced && needs && !a->allow_unenforced) {
                char *d = fields(&m->last);
                cli_error("run: the guest would not see the %s profile's CPUID: %zu field(s) "
                          "differ: %s; refusing, since the CPU model would be a lie "
                          "(--allow-unenforced-cpuid runs it anyway)",
                          cvmm_profile_name(a->model.profile), m->last.count, d ? d : "?");
                free(d);
                return EXIT_USAGE;
        }
        if (!m->first.count) {
                if (a->msr.debug)
                        fprintf(stderr,
                                "cvmm: debug: the guest sees exactly the table cvmm set (%u fields "
                                "compared by the probe vCPU, 1 round): this host's KVM enforces "
                                "CPUID\n",
                                m->first.compared);
        } else {
                char *d = fields(&m->first);
                fprintf(stderr,
                        "cvmm: note: this host's KVM rewrites the %s profile's CPUID table "
                        "(%zu of %u fields differ in what %s): %s\n",
                        cvmm_profile_name(a->model.profile), m->first.count, m->first.compared,
                        m->unswept_rounds ? "KVM_GET_CPUID2 returned" : "the guest sees",
                        d ? d : "?");
                free(d);
        }
        if (m->rec.changed) {
                struct strbuf sb;
                strbuf_init(&sb);
                for (size_t i = 0; i < m->rec.nrestored && i < 12; i++)
                        strbuf_printf(&sb, "%s%s", i ? " " : "", m->rec.restored[i]);
                if (m->rec.nrestored > 12)
                        strbuf_printf(&sb, " and %zu more", m->rec.nrestored - 12);
                char *names = strbuf_finish(&sb);
                char *rest = m->enforced ? NULL : fields(&m->last);
                fprintf(stderr,
                        "cvmm: note: reconciled in %u round%s: restored the features KVM forces "
                        "on (%s) and XSAVE components 0x%llx from KVM_GET_SUPPORTED_CPUID; %s%s\n",
                        m->rounds, m->rounds == 1 ? "" : "s", names && names[0] ? names : "none",
                        (unsigned long long)m->rec.comps_restored,
                        m->enforced ? "the guest now sees the table cvmm checked"
                                    : "fields that still differ: ",
                        rest ? rest : "");
                free(names);
                free(rest);
        } else if (!m->enforced) {
                fprintf(stderr,
                        "cvmm: warning: the guest does not see the %s profile's CPUID in %zu "
                        "field(s), listed above\n",
                        cvmm_profile_name(a->model.profile), m->last.count);
        }
        if (m->rec.comps_missing)
                fprintf(stderr,
                        "cvmm: warning: this host's KVM forces XSAVE components 0x%llx that "
                        "KVM_GET_SUPPORTED_CPUID does not describe: cvmm cannot give them sizes, "
                        "so the guest's leaf 0xD stays inconsistent\n",
                        (unsigned long long)m->rec.comps_missing);
        for (size_t i = 0; i < m->check.count; i++) {
                const struct cvmm_finding *f = &m->check.findings[i];
                if (f->severity != CVMM_SEV_ERROR)
                        continue;
                fprintf(stderr,
                        "cvmm: warning: the CPUID the guest sees breaks %u check rule%s, e.g. "
                        "leaf 0x%x.%u: [%s] %s\n",
                        m->check.errors, m->check.errors == 1 ? "" : "s", f->leaf, f->subleaf,
                        f->rule, f->message);
                break;
        }
        unremovable(a, m, m->rec.changed);
        verdict(m);
        return EXIT_OK;
}

static void run_usage(FILE *f)
{
        fputs("usage: cvmm run --kernel FILE [--initrd FILE] [--cmdline STRING] [--cpus N]\n"
              "                [--memory SIZE] [--profile host|tdx] [--features LIST]\n"
              "                [--no-reboot] [--metrics FILE] [--allow-unenforced-cpuid]\n"
              "                [--unknown-msr gp|ignore] [--msr-log-rate N] [--msr-log-burst N]\n"
              "                [--debug] [--log-format text|json] [--metrics-interval SECONDS]\n"
              "                [--debug-exit PORT] [--irqchip split|kernel] [--no-sandbox]\n"
              "                [--probe-cache DIR | --no-probe-cache]\n",
              f);
}

struct run;
/* The CPU model's half of run_prepare (model_thread below). */
struct model_job {
        struct run *r;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool done;
        int rc;
        /* The guest's VM, lent to the probe once it exists (site_rc 0) or not (-1). */
        bool lend; /* on a thread of its own: the main thread lends the VM once it exists */
        bool site_ready;
        int site_rc;
        struct probe_site site;
        /* The model as --metrics reports it, built once the model is handed over. */
        bool json_done;
        struct json_object *json;
};

/* What one run holds; run_free releases it. */
struct run {
        struct run_args a;
        struct outfile out;    /* --metrics, checked before anything else runs */
        struct boot_image img; /* opened before anything else: run_free always frees it */
        struct vmm_host *host;
        struct cpumodel model;
        bool modelled;
        struct vm_config cfg;
        struct vm *vm;
        bool prepared;           /* run_prepare succeeded: the model and the VM exist */
        bool sandboxed;          /* the seccomp filter is on (vmm/sandbox.h) */
        struct sandbox *sandbox; /* the filter, compiled during set-up, loaded by run_confine */
        struct model_job model_job;
        bool model_threaded; /* model_job.thread runs (or ran): joined by run_free */
        const char *outcome;
        int status;
};

/* probe_site_src.get for the model thread: waits until the main thread has the VM open. */
static int lent_site(void *ctx, struct probe_site *s)
{
        struct model_job *j = ctx;
        pthread_mutex_lock(&j->lock);
        while (!j->site_ready)
                pthread_cond_wait(&j->cond, &j->lock);
        int rc = j->site_rc;
        if (rc == 0)
                *s = j->site;
        pthread_mutex_unlock(&j->lock);
        return rc;
}

static void lend_site(struct model_job *j, struct vm *vm)
{
        pthread_mutex_lock(&j->lock);
        j->site_rc = vm ? vm_probe_site(vm, &j->site) : -1;
        j->site_ready = true;
        pthread_cond_broadcast(&j->cond);
        pthread_mutex_unlock(&j->lock);
}

/*
 * The CPU model's half of run_prepare, on a thread of its own: once the model is done it says
 * so (done, under lock), builds the model's --metrics JSON (json, json_done), and only then
 * closes the probe (its vCPUs in the guest's VM, or its own VM), which the run no longer
 * needs, while the main thread goes on. After saying done it only reads the run (the model
 * and the options, which nothing changes any more) and writes json.
 */
static void *model_thread(void *arg)
{
        struct model_job *j = arg;
        struct run *r = j->r;
        /* The probe runs in the guest's own VM when it can (vm_probe_site), else in its own. */
        struct probe_site_src site = {.get = lent_site, .ctx = j};
        int rc = cli_host_model("run", r->host, &r->a.model, CVMM_LINUX_DEFAULT,
                                j->lend ? &site : NULL, &r->model);
        struct probe *p = rc == EXIT_OK ? cpumodel_take_probe(&r->model) : NULL;
        pthread_mutex_lock(&j->lock);
        j->rc = rc;
        j->done = true;
        pthread_cond_broadcast(&j->cond);
        pthread_mutex_unlock(&j->lock);
        /* The model's JSON for --metrics (about a millisecond of json-c on a slow host) while
         * the guest boots: only the metrics writers wait for it. */
        struct json_object *json = rc == EXIT_OK && r->a.metrics ? cpumodel_json(&r->model) : NULL;
        pthread_mutex_lock(&j->lock);
        j->json = json;
        j->json_done = true;
        pthread_cond_broadcast(&j->cond);
        pthread_mutex_unlock(&j->lock);
        probe_close(p);
        return NULL;
}

static struct json_object *model_json_wait(struct model_job *j)
{
        pthread_mutex_lock(&j->lock);
        while (!j->json_done)
                pthread_cond_wait(&j->cond, &j->lock);
        struct json_object *json = j->json;
        pthread_mutex_unlock(&j->lock);
        return json;
}

static void model_wait(struct model_job *j)
{
        pthread_mutex_lock(&j->lock);
        while (!j->done)
                pthread_cond_wait(&j->cond, &j->lock);
        pthread_mutex_unlock(&j->lock);
}

/* The effective model, reported before boot, and the VM; returns an exit status. */
static int run_prepare(struct run *r, uint64_t t_start_ns)
{
        struct cvmm_err err;
        int rc = cli_host_open("run", " (cvmm run needs KVM)", &r->host);
        if (rc)
                return rc;
        /* Probe results are reused only where they provably apply (vmm/probecache.h). */
        char dir[256];
        const char *cache = r->a.no_probe_cache ? NULL
                            : r->a.probe_cache  ? r->a.probe_cache
                                                : probecache_default_dir(dir, sizeof(dir));
        if (vmm_host_use_probe_cache(r->host, cache, &err)) {
                cli_error("run: %s", err.msg);
                return EXIT_HOST;
        }
        r->cfg = (struct vm_config){
            .image = &r->img,
            .cmdline = r->a.cmdline,
            .cpus = r->a.cpus,
            .memory = r->a.memory,
            .cpuid = &r->model.table, /* vCPU 0's reconciled table, filled in below */
            .no_reboot = r->a.no_reboot,
            .kernel_irqchip = r->a.kernel_irqchip,
            .console_fd = STDOUT_FILENO,
            .console_in = isatty(STDIN_FILENO),
            .t_start_ns = t_start_ns,
            .msr = r->a.msr,
            .dev = r->a.dev,
        };
        /*
         * The CPUID the guest will really see, computed before its first instruction, on a
         * second thread while this one opens the guest's VM (its memory slots alone take about
         * a millisecond on a PVM-style host): the two touch nothing of each other's. Malloc
         * keeps one arena from here on, as the sandbox needs (vmm/sandbox.c), so the model
         * thread leaves none behind for a later thread to trim.
         */
        mallopt(M_ARENA_MAX, 1);
        struct model_job *job = &r->model_job;
        *job = (struct model_job){.r = r, .rc = EXIT_HOST, .lend = true};
        pthread_mutex_init(&job->lock, NULL);
        pthread_cond_init(&job->cond, NULL);
        r->model_threaded = pthread_create(&job->thread, NULL, model_thread, job) == 0;
        if (!r->model_threaded) {
                job->lend = false; /* no thread: the model first, in a probe VM of its own */
                model_thread(job);
        }
        int vrc = vm_create(r->host, &r->cfg, &r->vm, &err);
        lend_site(job, vrc ? NULL : r->vm);
        /* the guest's image and vCPUs need no CPU model either */
        if (!vrc)
                vrc = vm_load(r->vm, &err);
        /* libseccomp compiles the filter meanwhile too; it is loaded once set-up is over */
        struct cvmm_err serr;
        int src = vrc || r->a.no_sandbox ? 0 : sandbox_prepare(&r->sandbox, &serr);
        model_wait(job);
        r->modelled = job->rc == EXIT_OK;
        if (src) {
                cli_error("run: %s (--no-sandbox runs without it)", serr.msg);
                return EXIT_HOST;
        }
        if (vrc) {
                cli_error("run: %s", err.msg);
                return EXIT_HOST;
        }
        if (job->rc)
                return job->rc;
        if (report_model(&r->a, &r->model) != EXIT_OK)
                return EXIT_USAGE;
        if (vm_set_cpu_model(r->vm, &err)) {
                cli_error("run: %s", err.msg);
                return EXIT_HOST;
        }
        r->prepared = true;
        return EXIT_OK;
}

/* Runs the guest (with the live metrics thread); sets the outcome and the exit status. */
static void run_guest(struct run *r)
{
        struct cvmm_err err;
        struct ticker tick = {.job = &r->model_job,
                              .vm = r->vm,
                              .out = &r->out,
                              .path = r->a.metrics,
                              .interval_ns = r->a.metrics_interval_ns,
                              .s = {.outcome = "running",
                                    .profile = cvmm_profile_name(r->a.model.profile),
                                    .model = &r->model,
                                    .kernel_kind = boot_kind_name(r->img.kind),
                                    .live = true,
                                    .sandboxed = r->sandboxed}};
        bool ticking = r->a.metrics_interval_ns && ticker_start(&tick, &err) == 0;
        if (r->a.metrics_interval_ns && !ticking) {
                cli_error("run: %s", err.msg);
                return;
        }
        int o = vm_run(r->vm, &err);
        if (ticking)
                ticker_stop(&tick);
        if (o < 0) {
                cli_error("run: %s", err.msg);
                return;
        }
        vm_log_exit(r->vm);
        switch (o) {
        case VM_POWEROFF:
                r->outcome = "poweroff";
                r->status = EXIT_OK;
                break;
        case VM_REBOOT:
                r->outcome = "reboot";
                r->status = EXIT_OK;
                break;
        case VM_EXIT:
                r->outcome = "debug-exit";
                r->status = vm_exit_status(r->vm);
                break;
        default:
                r->outcome = "fault";
                r->status = EXIT_FINDINGS;
                fputs(vm_fault_report(r->vm), stderr);
                break;
        }
}

/*
 * The metrics file, written whole once the VM exists; a failure makes a success a host error.
 * A run refused as bad input (exit 2) writes nothing.
 */
static void run_metrics(struct run *r)
{
        if (!r->a.metrics || !r->prepared || r->status == EXIT_USAGE)
                return;
        struct run_summary s = {.outcome = r->outcome,
                                .exit_status = r->status,
                                .profile = cvmm_profile_name(r->a.model.profile),
                                .model = &r->model, /* made before the VM */
                                .model_json = model_json_wait(&r->model_job),
                                .kernel_kind = boot_kind_name(r->img.kind),
                                .sandboxed = r->sandboxed};
        char *json = metrics_json(r->vm, &s);
        struct cvmm_err err;
        if (!json)
                cvmm_errf(&err, "out of memory");
        if (!json || write_metrics(&r->out, json, &err)) {
                cli_error("run: writing --metrics '%s' failed: %s", r->a.metrics, err.msg);
                if (r->status == EXIT_OK)
                        r->status = EXIT_HOST;
        }
        free(json);
}

/*
 * Everything is set up (files read, KVM and the VM open, guest RAM mapped, the metrics
 * directory open): from here on the process keeps to the allow-list (vmm/sandbox.h).
 */
static int run_confine(struct run *r)
{
        if (r->a.no_sandbox)
                return EXIT_OK;
        struct cvmm_err err;
        if (sandbox_load(r->sandbox, &err)) {
                cli_error("run: %s (--no-sandbox runs without it)", err.msg);
                return EXIT_HOST;
        }
        r->sandboxed = true;
        if (r->a.sandbox_selftest && sandbox_selftest(&err)) {
                cli_error("run: %s", err.msg);
                return EXIT_FINDINGS;
        }
        return EXIT_OK;
}

static void run_free(struct run *r)
{
        if (r->model_threaded) /* it may still be closing the probe VM */
                pthread_join(r->model_job.thread, NULL);
        if (r->model_job.r) {
                pthread_cond_destroy(&r->model_job.cond);
                pthread_mutex_destroy(&r->model_job.lock);
        }
        vm_destroy(r->vm);
        json_object_put(r->model_job.json);
        if (r->modelled)
                cpumodel_free(&r->model);
        vmm_host_close(r->host);
        sandbox_free(r->sandbox);
        boot_image_free(&r->img);
        outfile_close(&r->out);
}

int cli_run(int argc, char **argv, uint64_t t_start_ns)
{
        if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                run_usage(stdout);
                return EXIT_OK;
        }
        struct run r = {.outcome = "host-error", .status = EXIT_HOST};
        struct cvmm_err err;
        if (parse_run(argc, argv, &r.a, &err)) {
                cli_error("run: %s", err.msg);
                return EXIT_USAGE;
        }
        /* Where the metrics go is checked first; nothing is created until the guest ran. */
        if (r.a.metrics && outfile_open(&r.out, r.a.metrics, &err)) {
                cli_error("run: --metrics '%s': %s", r.a.metrics, err.msg);
                return EXIT_USAGE;
        }
        if (boot_image_open(&r.img, r.a.kernel, r.a.initrd, &err)) {
                cli_error("run: %s", err.msg);
                outfile_close(&r.out);
                return EXIT_USAGE;
        }
        /* Sizes are the user's input too: refused here, before KVM is opened. */
        if (boot_image_check_fit(&r.img, r.a.memory, r.a.cmdline, &err)) {
                cli_error("run: %s", err.msg);
                boot_image_free(&r.img);
                outfile_close(&r.out);
                return EXIT_USAGE;
        }
        int rc = run_prepare(&r, t_start_ns);
        if (!rc)
                rc = run_confine(&r);
        if (rc)
                r.status = rc;
        else
                run_guest(&r);
        run_metrics(&r);
        int status = r.status;
        run_free(&r);
        return status;
}
