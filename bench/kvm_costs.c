/* SPDX-License-Identifier: MIT */
/*
 * What KVM itself costs in the steps of a VM's life that `cvmm run` takes, measured on the host
 * it runs on (issue 12): each scenario is a sequence of steps on a fresh VM, run N times, and
 * the median wall time of each step and of the whole is printed. Steps:
 *   m  KVM_SET_USER_MEMORY_REGION, 64 MiB     i  KVM_CREATE_IRQCHIP
 *   s  KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)  p  KVM_CREATE_PIT2
 *   v  KVM_CREATE_VCPU                        w  sleep 20 ms (a guest running)
 * and at the end close() of the vCPU and VM fds ("close").
 *
 *   kvm_costs [RUNS] [SCENARIO...]    default: 15 runs of m, mi, im, mip, miwc, ms, msv
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

#define MAX_STEPS 8
#define MAX_RUNS  101

/* One run of scenario s: per-step times into t[0..len), close into t[len], whole into t[len+1]. */
static void run(int kvm, void *mem, const char *s, double *t)
{
        double start = bench_now_ms();
        int vm = ioctl(kvm, KVM_CREATE_VM, 0), vcpu = -1;
        if (vm < 0) {
                perror("KVM_CREATE_VM");
                exit(1);
        }
        size_t len = strlen(s);
        for (size_t k = 0; k < len; k++) {
                double t0 = bench_now_ms();
                int rc = 0;
                switch (s[k]) {
                case 'm': {
                        struct kvm_userspace_memory_region r = {
                            .memory_size = 64 << 20, .userspace_addr = (unsigned long)mem};
                        rc = ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r);
                        break;
                }
                case 'i':
                        rc = ioctl(vm, KVM_CREATE_IRQCHIP, 0);
                        break;
                case 's': {
                        struct kvm_enable_cap c = {.cap = KVM_CAP_SPLIT_IRQCHIP, .args = {24}};
                        rc = ioctl(vm, KVM_ENABLE_CAP, &c);
                        break;
                }
                case 'p': {
                        struct kvm_pit_config c = {.flags = KVM_PIT_SPEAKER_DUMMY};
                        rc = ioctl(vm, KVM_CREATE_PIT2, &c);
                        break;
                }
                case 'v':
                        vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
                        rc = vcpu < 0 ? -1 : 0;
                        break;
                case 'w':
                        usleep(20000);
                        break;
                default:
                        fprintf(stderr, "kvm_costs: unknown step '%c'\n", s[k]);
                        exit(2);
                }
                if (rc < 0) {
                        fprintf(stderr, "kvm_costs: step '%c' of %s: ", s[k], s);
                        perror("");
                        exit(1);
                }
                t[k] = bench_now_ms() - t0;
        }
        double c0 = bench_now_ms();
        if (vcpu >= 0)
                close(vcpu);
        close(vm);
        t[len] = bench_now_ms() - c0;
        t[len + 1] = bench_now_ms() - start;
}

int main(int argc, char **argv)
{
        static const char *defaults[] = {"m", "mi", "im", "mip", "miw", "ms", "msv"};
        int runs = argc > 1 ? atoi(argv[1]) : 15;
        if (runs < 1 || runs > MAX_RUNS) {
                fprintf(stderr, "kvm_costs: RUNS must be 1..%d\n", MAX_RUNS);
                return 2;
        }
        const char **sc = argc > 2 ? (const char **)argv + 2 : defaults;
        int nsc = argc > 2 ? argc - 2 : (int)(sizeof(defaults) / sizeof(*defaults));
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0) {
                perror("/dev/kvm");
                return 1;
        }
        void *mem = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED) {
                perror("mmap");
                return 1;
        }
        static double t[MAX_RUNS][MAX_STEPS + 2];
        printf("median of %d runs, ms (step: time ... close, whole)\n", runs);
        for (int i = 0; i < nsc; i++) {
                size_t len = strlen(sc[i]);
                if (len > MAX_STEPS) {
                        fprintf(stderr, "kvm_costs: at most %d steps\n", MAX_STEPS);
                        return 2;
                }
                for (int r = 0; r < runs; r++)
                        run(kvm, mem, sc[i], t[r]);
                printf("%-8s", sc[i]);
                for (size_t k = 0; k < len + 2; k++) {
                        double v[MAX_RUNS];
                        for (int r = 0; r < runs; r++)
                                v[r] = t[r][k];
                        printf(" %s %6.2f",
                               k < len    ? (char[]){sc[i][k], 0}
                               : k == len ? "close"
                                          : "whole",
                               bench_median(v, runs));
                }
                printf("\n");
        }
        return 0;
}
