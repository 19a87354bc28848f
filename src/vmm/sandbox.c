/* SPDX-License-Identifier: MIT */
/*
 * `cvmm run`'s seccomp sandbox (vmm/sandbox.h). The allow-list is src/vmm/sandbox_rules.c
 * (README, "Sandbox", says why each call); the build compiled it to the BPF program below.
 */
#include "vmm/sandbox.h"

#include <errno.h>
#include <linux/audit.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Digits of v in base 10 or 16 at p; returns the end. */
static char *put_num(char *p, unsigned long v, unsigned base)
{
        char tmp[24];
        int n = 0;
        do {
                tmp[n++] = "0123456789abcdef"[v % base];
                v /= base;
        } while (v);
        while (n)
                *p++ = tmp[--n];
        return p;
}

static char *put_str(char *p, const char *s)
{
        size_t n = strlen(s);
        memcpy(p, s, n);
        return p + n;
}

/* SIGSYS from SCMP_ACT_TRAP: one line, then the documented status. Async-signal-safe only. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
        (void)sig;
        (void)uc;
        char line[200];
        char *p = put_str(line, "cvmm: sandbox: forbidden system call ");
        p = put_num(p, (unsigned long)(unsigned)si->si_syscall, 10);
        p = put_str(p, " (arch ");
        if ((unsigned)si->si_arch == AUDIT_ARCH_X86_64)
                p = put_str(p, "x86_64");
        else {
                p = put_str(p, "0x");
                p = put_num(p, (unsigned)si->si_arch, 16);
        }
        p = put_str(p, "): stopped the run (--no-sandbox runs without the filter)\n");
        ssize_t w = write(STDERR_FILENO, line, (size_t)(p - line));
        (void)w;
        _exit(SANDBOX_EXIT_STATUS);
}

/* The allow-list as libseccomp compiled it at build time (sandbox_gen). */
extern const struct sock_filter cvmm_sandbox_bpf[];
extern const unsigned short cvmm_sandbox_bpf_len;

struct sandbox {
        struct sock_fprog prog;
};

void sandbox_free(struct sandbox *s)
{
        if (!s)
                return;
        free(s);
}

int sandbox_prepare(struct sandbox **out, struct cvmm_err *err)
{
        *out = NULL;
        struct sandbox *s = calloc(1, sizeof(*s));
        if (!s)
                return cvmm_errf(err, "sandbox: out of memory");
        /* the kernel only reads the program */
        s->prog.filter = (struct sock_filter *)cvmm_sandbox_bpf;
        s->prog.len = cvmm_sandbox_bpf_len;
        *out = s;
        return 0;
}

int sandbox_load(struct sandbox *s, struct cvmm_err *err)
{
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_sigsys;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGSYS, &sa, NULL) != 0)
                return cvmm_errf(err, "sandbox: installing the SIGSYS handler: %s",
                                 strerror(errno));
        /* gmtime_r (the JSON log's timestamps) reads the time zone on its first call: now. */
        tzset();
        /* glibc gives each new thread its own malloc arena, and shrinking one reads
         * /proc/sys/vm/overcommit_memory (the --metrics-interval thread did, and was stopped):
         * one arena for the process keeps malloc's own calls to brk, mmap and munmap. */
        mallopt(M_ARENA_MAX, 1);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
                return cvmm_errf(err, "sandbox: prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        /* every thread of the process, or none: a positive result names one that could not */
        long rc =
            syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &s->prog);
        if (rc < 0)
                return cvmm_errf(err, "sandbox: loading the seccomp filter: %s", strerror(errno));
        if (rc > 0)
                return cvmm_errf(err, "sandbox: loading the seccomp filter: thread %ld refused it",
                                 rc);
        return 0;
}

int sandbox_selftest(struct cvmm_err *err)
{
        char *const argv[] = {"/bin/true", NULL};
        char *const envp[] = {NULL};
        execve("/bin/true", argv, envp);
        return cvmm_errf(err, "sandbox selftest: execve(\"/bin/true\") returned: %s",
                         strerror(errno));
}
