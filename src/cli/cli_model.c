/* SPDX-License-Identifier: MIT */
/* The effective CPU model of this host, as `cvmm run` and `cvmm cpuid probe` both build it. */
#include "cli/cli.h"
#include "kvm/kvm_cpuid.h"
#include "vmm/vcpu.h"

int cli_host_model(const char *cmd, const char *open_hint, const struct cvmm_model_opts *opts,
                   enum cvmm_linux_version lv, struct cpumodel *m)
{
        struct cvmm_err err;
        struct kvm_host h;
        if (kvm_host_open(&h, &err)) {
                cli_error("%s: %s%s", cmd, err.msg, open_hint);
                return EXIT_HOST;
        }
        struct cvmm_cpuid_table source, t, v0;
        int rc = EXIT_HOST;
        cvmm_cpuid_init(&t);
        cvmm_cpuid_init(&v0);
        if (kvm_supported_cpuid(&source, &err)) {
                cli_error("%s: %s", cmd, err.msg);
                goto out_host;
        }
        if (cvmm_cpuid_copy(&t, &source)) {
                cli_error("%s: out of memory", cmd);
                goto out;
        }
        struct cvmm_model_result res;
        if (cvmm_model_build(&t, opts, &res, &err)) {
                cli_error("%s: %s", cmd, err.msg);
                rc = EXIT_USAGE;
                goto out;
        }
        /* vCPU 0's table, exactly as the guest's vCPU 0 gets it. */
        if (vcpu_cpuid_for(&t, 0, &v0, &err) ||
            cpumodel_build(&h, &source, &v0, cvmm_profile_get(opts->profile)->reconcile, lv, m,
                           &err)) {
                cli_error("%s: %s", cmd, err.msg);
                goto out;
        }
        rc = EXIT_OK;
out:
        cvmm_cpuid_free(&v0);
        cvmm_cpuid_free(&t);
        cvmm_cpuid_free(&source);
out_host:
        kvm_host_close(&h);
        return rc;
}
