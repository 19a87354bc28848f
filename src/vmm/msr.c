/* SPDX-License-Identifier: MIT */
#include <linux/kvm.h>
#include <string.h>

#include "vmm/msr.h"

#define FILTER_SPAN 0x2000u /* MSRs per filter range */

static const uint32_t filter_bases[] = {0x0, 0xc0000000u, 0x4b564d00u};
static const uint32_t filter_spans[] = {FILTER_SPAN, FILTER_SPAN, 0x100};

int msr_vm_init(struct msr_vm *m, const struct msr_config *cfg, const struct cvmm_cpuid_table *t,
                FILE *log)
{
        memset(m, 0, sizeof(*m));
        m->cfg = *cfg;
        m->log = log;
        cvmm_msr_env_from_cpuid(&m->env, t);
        atomic_init(&m->reported_suppressed, 0);
        return cvmm_ratelimit_init(&m->limiter, cfg->log_rate, cfg->log_burst);
}

/* Counts an unknown access by (MSR, direction) in the vCPU's fixed table. */
static void count_top(struct msr_vcpu_stats *s, uint32_t index, bool write)
{
        unsigned h = (index * 2654435761u + write) % MSR_TOP_SLOTS;
        for (unsigned i = 0; i < MSR_TOP_SLOTS; i++) {
                unsigned k = (h + i) % MSR_TOP_SLOTS;
                if (s->top[k].count && (s->top[k].index != index || s->top[k].write != write))
                        continue;
                s->top[k].index = index;
                s->top[k].write = write;
                s->top[k].count = cvmm_sat_add(s->top[k].count, 1);
                return;
        }
        s->top_overflow = cvmm_sat_add(s->top_overflow, 1);
}

void msr_handle(struct msr_vm *m, struct msr_vcpu_stats *stats, struct msr_vcpu_stats *all,
                unsigned nvcpus, uint32_t index, bool write, uint32_t reason, uint64_t now_ns,
                struct msr_outcome *o)
{
        *o = (struct msr_outcome){0};
        if (reason == KVM_MSR_EXIT_REASON_INVAL)
                stats->exits[0]++;
        else if (reason == KVM_MSR_EXIT_REASON_UNKNOWN)
                stats->exits[1]++;
        else
                stats->exits[2]++;
        struct cvmm_msr_decision d;
        cvmm_msr_classify(m->cfg.profile, &m->env, index, write, &d);
        o->name = d.name;
        /*
         * The policy decides, not the exit reason: kernels differ in which reason a denied
         * MSR that KVM does not know arrives with (6.1 says INVAL).
         */
        switch (d.cls) {
        case CVMM_MSR_EMULATED:
                stats->emulated++;
                if (!write && d.read_gp) {
                        o->inject_gp = true;
                        return;
                }
                o->read_value = write ? 0 : d.read_value;
                return;
        case CVMM_MSR_GP:
                stats->gp_policy++;
                o->inject_gp = true;
                return;
        case CVMM_MSR_NATIVE:
                if (reason == KVM_MSR_EXIT_REASON_INVAL) {
                        /* KVM knows this MSR and refuses the access: #GP, as KVM would. */
                        stats->gp_policy++;
                        o->inject_gp = true;
                        return;
                }
                break; /* KVM does not implement it: unknown */
        case CVMM_MSR_UNKNOWN:
                break;
        }
        /* Unknown: the policy decides what the guest gets; nothing of the host's reaches it. */
        if (write)
                stats->unknown_writes = cvmm_sat_add(stats->unknown_writes, 1);
        else
                stats->unknown_reads = cvmm_sat_add(stats->unknown_reads, 1);
        count_top(stats, index, write);
        if (m->cfg.unknown_ignore) {
                stats->ignored_unknown++;
                o->read_value = 0;
        } else {
                stats->gp_unknown++;
                o->inject_gp = true;
        }
        bool confidential = m->cfg.profile == CVMM_PROFILE_TDX;
        if (!confidential && !m->cfg.debug)
                return;
        if (!cvmm_ratelimit_allow(&m->limiter, now_ns)) {
                atomic_store_explicit(
                    &stats->suppressed,
                    atomic_load_explicit(&stats->suppressed, memory_order_relaxed) + 1,
                    memory_order_relaxed);
                return;
        }
        /* Emitting (rare): how many were suppressed since the last line, over all vCPUs. */
        uint64_t total = 0;
        for (unsigned i = 0; i < nvcpus; i++)
                total += atomic_load_explicit(&all[i].suppressed, memory_order_relaxed);
        uint64_t before = atomic_exchange(&m->reported_suppressed, total);
        o->suppressed_before = total > before ? total - before : 0;
        atomic_fetch_add_explicit(&stats->emitted, 1, memory_order_relaxed);
        o->log = true;
}

void msr_log(struct msr_vm *m, unsigned vcpu, uint32_t index, bool write, uint64_t rip,
             const struct msr_outcome *o)
{
        char sup[64] = "";
        if (o->suppressed_before)
                snprintf(sup, sizeof(sup), " (%llu similar events suppressed)",
                         (unsigned long long)o->suppressed_before);
        /* The value of a write is guest data: it is never part of the line. */
        fprintf(m->log, "cvmm: %s: vCPU %u %s of unknown MSR 0x%x%s%s%s at RIP 0x%llx: %s%s\n",
                m->cfg.profile == CVMM_PROFILE_TDX ? "warning" : "debug", vcpu,
                write ? "write" : "read", index, o->name ? " (" : "", o->name ? o->name : "",
                o->name ? ")" : "", (unsigned long long)rip,
                m->cfg.unknown_ignore ? (write ? "write dropped" : "read as 0") : "#GP injected",
                sup);
}

int msr_build_filter(const struct msr_vm *m, struct kvm_msr_filter *f, uint8_t *bitmaps,
                     size_t bitmap_bytes)
{
        memset(f, 0, sizeof(*f));
        f->flags = KVM_MSR_FILTER_DEFAULT_DENY;
        const size_t per = FILTER_SPAN / 8;
        size_t nb = sizeof(filter_bases) / sizeof(filter_bases[0]);
        if (bitmap_bytes < nb * 2 * per)
                return -1;
        memset(bitmaps, 0, nb * 2 * per);
        int n = 0;
        for (size_t b = 0; b < nb; b++) {
                for (int write = 0; write < 2; write++) {
                        uint8_t *bm = bitmaps + (b * 2 + (size_t)write) * per;
                        for (uint32_t i = 0; i < filter_spans[b]; i++) {
                                struct cvmm_msr_decision d;
                                cvmm_msr_classify(m->cfg.profile, &m->env, filter_bases[b] + i,
                                                  write, &d);
                                if (d.cls == CVMM_MSR_NATIVE)
                                        bm[i / 8] |= (uint8_t)(1u << (i % 8));
                        }
                        f->ranges[n].flags = write ? KVM_MSR_FILTER_WRITE : KVM_MSR_FILTER_READ;
                        f->ranges[n].nmsrs = filter_spans[b];
                        f->ranges[n].base = filter_bases[b];
                        f->ranges[n].bitmap = bm;
                        n++;
                }
        }
        return n;
}
