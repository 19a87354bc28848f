/* SPDX-License-Identifier: MIT */
/*
 * `cvmm run`'s seccomp allow-list (README, "Sandbox", says why each call), as libseccomp
 * rules. Not part of cvmm: the build compiles them to BPF once (src/vmm/sandbox_gen.c), and
 * cvmm loads that program (src/vmm/sandbox.c), so no run pays for libseccomp's compiler.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>

#include "vmm/sandbox_rules.h"

/* Sanitizer runtimes make calls of their own at exit and when they report (README, "Sandbox"). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif
#ifndef SANDBOX_SANITIZER
#define SANDBOX_SANITIZER 0
#endif

/* Calls allowed with any arguments. */
static const int allowed[] = {
    /* console, stdin, the irq eventfds, stderr, the metrics file */
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(writev),
    SCMP_SYS(close),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(pipe2),
    /* the metrics file: temporary file, mode, checks, rename (vmm/outfile.c) */
    SCMP_SYS(fchmod),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(renameat),
    SCMP_SYS(renameat2),
    SCMP_SYS(unlinkat),
    /* memory: malloc, thread stacks, kvm_run, guest RAM reset on reboot */
    SCMP_SYS(brk),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mremap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(mincore), /* guest_ram_resident_bytes in --metrics */
    /* threads: vCPUs, console input, --metrics-interval, the kick signal */
    SCMP_SYS(futex),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(rseq),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(tgkill),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(sched_yield),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    /* time: the vDSO's fallbacks, the ticker's waits */
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    /* glibc's qsort (the exit summaries) asks sysinfo for the RAM size before a large sort */
    SCMP_SYS(sysinfo),
    /* json-c seeds its hash tables from getrandom (the JSON log, the metrics document) */
    SCMP_SYS(getrandom),
};

/* The sanitizers' own calls: reading /proc/self, LeakSanitizer's tracer, their reports. */
static const int sanitizer_allowed[] = {
    SCMP_SYS(openat),
    SCMP_SYS(open),
    SCMP_SYS(getdents64),
    SCMP_SYS(readlink),
    SCMP_SYS(readlinkat),
    SCMP_SYS(lseek),
    SCMP_SYS(pread64),
    SCMP_SYS(prctl),
    SCMP_SYS(ptrace),
    SCMP_SYS(wait4),
    SCMP_SYS(clone),
    SCMP_SYS(kill),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(tkill),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(time),
    SCMP_SYS(getrusage),
    SCMP_SYS(getdents),
    SCMP_SYS(waitid),
    SCMP_SYS(exit),
    SCMP_SYS(getppid),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(getrlimit),
    SCMP_SYS(prlimit64),
    SCMP_SYS(uname),
    SCMP_SYS(access),
    SCMP_SYS(pipe),
    SCMP_SYS(dup2),
    SCMP_SYS(setrlimit),
};

/* The KVM ioctls of a run (first boot and every reboot), by number, on any descriptor. */
static const unsigned long kvm_ioctls[] = {
    KVM_RUN,
    KVM_IRQ_LINE,
    KVM_GET_REGS,
    KVM_SET_REGS,
    KVM_GET_SREGS,
    KVM_SET_SREGS,
    KVM_TRANSLATE,
    KVM_SET_MSRS,
    KVM_SET_FPU,
    KVM_GET_LAPIC,
    KVM_SET_LAPIC,
    KVM_SET_CPUID2,
    KVM_GET_CPUID2,
    KVM_CREATE_VCPU,
    KVM_CREATE_VM,
    KVM_SET_USER_MEMORY_REGION,
    KVM_ENABLE_CAP,
    KVM_SET_TSS_ADDR,
    KVM_SET_IDENTITY_MAP_ADDR,
    KVM_CREATE_IRQCHIP,
    KVM_CREATE_PIT2,
    KVM_IRQFD,
    KVM_X86_SET_MSR_FILTER,
    KVM_SIGNAL_MSI,      /* the user-space I/O APIC's messages (split irqchip) */
    KVM_SET_GSI_ROUTING, /* its level-triggered pins, when the guest reprograms them */
};

/* Argument checks, every field named (libseccomp's SCMP_A* macros leave datum_b implicit). */
static struct scmp_arg_cmp arg_eq(unsigned arg, scmp_datum_t v)
{
        return (struct scmp_arg_cmp){.arg = arg, .op = SCMP_CMP_EQ, .datum_a = v, .datum_b = 0};
}

/* (argument & mask) == v */
static struct scmp_arg_cmp arg_masked(unsigned arg, scmp_datum_t mask, scmp_datum_t v)
{
        return (struct scmp_arg_cmp){
            .arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = v};
}

int sandbox_rules(scmp_filter_ctx ctx)
{
        int rc = 0;
        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !rc; i++)
                rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
        for (size_t i = 0; i < sizeof(kvm_ioctls) / sizeof(kvm_ioctls[0]) && !rc; i++)
                rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                      arg_eq(1, kvm_ioctls[i]));
        /* glibc's pthread_create tries clone3 first, whose flags a filter cannot read: ENOSYS
         * makes it use clone, allowed for threads only (no fork, no new process). */
        if (!rc)
                rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        if (!rc && !SANDBOX_SANITIZER)
                rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                                      arg_masked(0, CLONE_THREAD, CLONE_THREAD));
        /* glibc's first pthread_create installs the handler of its internal signal (32 or 33,
         * by version); no other handler may change (SIGSYS's included). */
        for (int sig = 32; sig <= 33 && !rc; sig++)
                rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction), 1,
                                      arg_eq(0, (scmp_datum_t)sig));
        /* The metrics temporary file: only a new file (O_CREAT | O_EXCL), never an existing one. */
        if (!rc && !SANDBOX_SANITIZER)
                rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                                      arg_masked(2, O_CREAT | O_EXCL, O_CREAT | O_EXCL));
        for (size_t i = 0; SANDBOX_SANITIZER && i < sizeof(sanitizer_allowed) / sizeof(int) && !rc;
             i++)
                rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sanitizer_allowed[i], 0);
        if (!rc)
                rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
        if (!rc)
                rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
        return rc;
}
