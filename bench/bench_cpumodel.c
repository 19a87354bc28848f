/* SPDX-License-Identifier: MIT */
/*
 * What the effective CPU model costs before a guest's first instruction: cpumodel_build(), the
 * code `cvmm run` and `cvmm cpuid probe` call (probe VM, sweep, attribution, reconcile rounds,
 * XSAVE phase, Linux model, checker), against a bare-KVM floor in the same run: the least any
 * program can do to see one CPUID answer as a guest does (create a VM and a vCPU, hand over
 * the same table, run one CPUID in real mode to HLT, close). Medians over N runs.
 *
 * usage: bench_cpumodel [host|tdx] [RUNS]
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#include "cvmm/profile.h"
#include "kvm/kvm_cpuid.h"
#include "vmm/cpumodel.h"
#include "vmm/vcpu.h"

/* The floor: one VM, one vCPU, the table, one CPUID (leaf 0) in real mode, HLT. */
static int floor_once(int kvm, const struct cvmm_cpuid_table *t, int run_size)
{
        static const unsigned char code[] = {0x66, 0x31, 0xc0, /* xor %eax, %eax */
                                             0x0f, 0xa2,       /* cpuid */
                                             0xf4};            /* hlt */
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0)
                return -1;
        void *mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        memcpy((char *)mem + 0x1000, code, sizeof(code));
        struct kvm_userspace_memory_region r = {.slot = 0,
                                                .guest_phys_addr = 0,
                                                .memory_size = 0x10000,
                                                .userspace_addr = (uintptr_t)mem};
        int vcpu = -1, rc = -1;
        struct kvm_run *run = MAP_FAILED;
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + t->count * sizeof(c->entries[0]));
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0 ||
            (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0)
                goto out;
        run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
        c->nent = (uint32_t)t->count;
        for (size_t i = 0; i < t->count; i++) {
                c->entries[i].function = t->entries[i].leaf;
                c->entries[i].index = t->entries[i].subleaf;
                c->entries[i].flags = t->entries[i].flags; /* KVM's, kept in the table */
                memcpy(&c->entries[i].eax, t->entries[i].regs, 16);
        }
        struct kvm_sregs s;
        struct kvm_regs regs = {.rip = 0x1000, .rflags = 2};
        if (run == MAP_FAILED || ioctl(vcpu, KVM_SET_CPUID2, c) < 0 ||
            ioctl(vcpu, KVM_GET_SREGS, &s) < 0)
                goto out;
        s.cs.base = 0;
        s.cs.selector = 0;
        if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0 ||
            ioctl(vcpu, KVM_RUN, 0) < 0)
                goto out;
        rc = run->exit_reason == KVM_EXIT_HLT ? 0 : -1;
out:
        free(c);
        if (run != MAP_FAILED)
                munmap(run, (size_t)run_size);
        if (vcpu >= 0)
                close(vcpu);
        close(vm);
        munmap(mem, 0x10000);
        return rc;
}

int main(int argc, char **argv)
{
        enum cvmm_profile prof =
            argc > 1 && strcmp(argv[1], "tdx") == 0 ? CVMM_PROFILE_TDX : CVMM_PROFILE_HOST;
        int runs = argc > 2 ? atoi(argv[2]) : 30;
        if (runs < 1 || runs > 10000)
                runs = 30;
        struct cvmm_err err;
        struct cvmm_cpuid_table source, t, v0;
        struct cvmm_model_opts o = {.profile = prof, .cpus = 1};
        struct cvmm_model_result res;
        struct kvm_host h;
        if (kvm_host_open(&h, &err) || kvm_supported_cpuid(&h, &source, &err) ||
            cvmm_cpuid_copy(&t, &source) || cvmm_model_build(&t, &o, &res, &err) ||
            vcpu_cpuid_for(&t, 0, &v0, &err)) {
                fprintf(stderr, "bench_cpumodel: %s\n", err.msg);
                return 3;
        }
        double *fl = calloc((size_t)runs, sizeof(double));
        double *cm = calloc((size_t)runs, sizeof(double));
        unsigned rounds = 0;
        for (int i = 0; i < runs; i++) { /* interleaved */
                double t0 = bench_now_ms();
                if (floor_once(h.fd, &v0, h.run_size)) {
                        fprintf(stderr, "bench_cpumodel: the floor program failed\n");
                        return 3;
                }
                double t1 = bench_now_ms();
                struct cpumodel m;
                if (cpumodel_build(&h, &source, &v0, cvmm_profile_get(prof)->reconcile,
                                   CVMM_LINUX_DEFAULT, NULL, NULL, &m, &err)) {
                        fprintf(stderr, "bench_cpumodel: %s\n", err.msg);
                        return 3;
                }
                double t2 = bench_now_ms();
                rounds = m.rounds;
                cpumodel_free(&m);
                fl[i] = t1 - t0;
                cm[i] = t2 - t1;
        }
        double f = bench_median(fl, runs), c = bench_median(cm, runs);
        printf("%s profile, %d interleaved runs (medians): effective model %.2f ms in %u round%s "
               "(%.2f ms per round); bare-KVM floor (one VM, one CPUID) %.2f ms; per round / "
               "floor %.2fx\n",
               cvmm_profile_name(prof), runs, c, rounds, rounds == 1 ? "" : "s", c / rounds, f,
               c / rounds / f);
        kvm_host_close(&h);
        cvmm_cpuid_free(&source);
        cvmm_cpuid_free(&t);
        cvmm_cpuid_free(&v0);
        free(fl);
        free(cm);
        return 0;
}
