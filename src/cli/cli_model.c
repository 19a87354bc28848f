/* SPDX-License-Identifier: MIT */
/* The host's tables, as `cvmm run`, `cvmm cpuid` and `cvmm msr` read them. */
#include "cli/cli.h"
#include "vmm/host.h"

/* "cvmm: CMD: MSG HINT", or "cvmm: MSG HINT" without a command. */
static void cmd_error(const char *cmd, const char *msg, const char *hint)
{
        cli_error("%s%s%s%s", cmd ? cmd : "", cmd ? ": " : "", msg, hint);
}

int cli_host_open(const char *cmd, const char *open_hint, struct vmm_host **h)
{
        struct cvmm_err err;
        if (vmm_host_open(h, &err)) {
                cmd_error(cmd, err.msg, open_hint);
                return EXIT_HOST;
        }
        return EXIT_OK;
}

int cli_host_model(const char *cmd, struct vmm_host *h, const struct cvmm_model_opts *opts,
                   enum cvmm_linux_version lv, const struct probe_site_src *site,
                   struct cpumodel *m)
{
        struct cvmm_err err;
        bool bad_opts;
        if (vmm_host_model(h, opts, lv, site, m, &bad_opts, &err)) {
                cmd_error(cmd, err.msg, "");
                return bad_opts ? EXIT_USAGE : EXIT_HOST;
        }
        return EXIT_OK;
}

int cli_source_table(const char *cmd, const char *from, long cpu, struct cvmm_cpuid_table *t)
{
        struct cvmm_err err;
        if (!from && cpu >= 0) {
                cmd_error(cmd, "--cpu picks a CPU of a dump: it needs --from FILE", "");
                return EXIT_USAGE;
        }
        if (from) {
                if (cvmm_cpuid_load_cpu(t, from, cpu < 0 ? 0 : (unsigned)cpu, NULL, &err)) {
                        cli_flag_error(&err, "--from");
                        cmd_error(cmd, err.msg, "");
                        return EXIT_USAGE;
                }
                return EXIT_OK;
        }
        struct vmm_host *h;
        int rc = cli_host_open(
            cmd, " (read a dump instead with --from FILE, e.g. from `cpuid -r -1`)", &h);
        if (rc)
                return rc;
        if (vmm_host_supported_cpuid(h, t, &err)) {
                cmd_error(cmd, err.msg, "");
                rc = EXIT_HOST;
        }
        vmm_host_close(h);
        return rc;
}
