/* SPDX-License-Identifier: MIT */
#include <json-c/json.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/msr.h"
#include "util/strbuf.h"
#include "util/json.h"

#define FILTER_SPAN 0x2000u /* MSRs per filter range */

static const uint32_t filter_bases[] = {0x0, 0xc0000000u, 0x4b564d00u};
static const uint32_t filter_spans[] = {FILTER_SPAN, FILTER_SPAN, 0x100};

int msr_vm_init(struct msr_vm *m, const struct msr_config *cfg, const struct cvmm_cpuid_table *t,
                unsigned nvcpus, FILE *log, struct cvmm_err *err)
{
        memset(m, 0, sizeof(*m));
        m->cfg = *cfg;
        m->log = log;
        cvmm_msr_env_from_cpuid(&m->env, t);
        atomic_init(&m->untracked_suppressed, 0);
        if (cvmm_ratelimit_init(&m->limiter, cfg->log_rate, cfg->log_burst, err))
                return -1;
        return cvmm_keyset_init(&m->keys, MSR_KEYS_MAX, nvcpus, err);
}

struct msr_vcpu_stats *msr_stats_alloc(unsigned n)
{
        size_t size = (size_t)n * sizeof(struct msr_vcpu_stats); /* a multiple of the line */
        struct msr_vcpu_stats *s = n ? aligned_alloc(MSR_CACHE_LINE, size) : NULL;
        if (s)
                memset(s, 0, size);
        return s;
}

void msr_vm_free(struct msr_vm *m)
{
        cvmm_keyset_free(&m->keys);
}

/* Unknown accesses are logged in a confidential profile, and in any profile with --debug. */
static bool logs_unknown(const struct msr_vm *m)
{
        return cvmm_profile_get(m->cfg.profile)->confidential || m->cfg.debug;
}

void msr_handle(struct msr_vm *m, struct msr_vcpu_stats *stats, unsigned vcpu, uint32_t index,
                bool write, uint32_t reason, uint64_t now_ns, uint64_t rip, struct msr_outcome *o)
{
        *o = (struct msr_outcome){0};
        if (reason == KVM_MSR_EXIT_REASON_INVAL)
                counter_add(&stats->exits[0], 1);
        else if (reason == KVM_MSR_EXIT_REASON_UNKNOWN)
                counter_add(&stats->exits[1], 1);
        else
                counter_add(&stats->exits[2], 1);
        struct cvmm_msr_decision d;
        cvmm_msr_classify(m->cfg.profile, &m->env, index, write, &d);
        o->name = d.name;
        /*
         * The policy decides, not the exit reason: kernels differ in which reason a denied
         * MSR that KVM does not know arrives with (6.1 says INVAL).
         */
        switch (d.cls) {
        case CVMM_MSR_EMULATED:
                counter_add(&stats->emulated, 1);
                if (!write && d.read_gp) {
                        o->inject_gp = true;
                        return;
                }
                o->read_value = write ? 0 : d.read_value;
                return;
        case CVMM_MSR_GP:
                counter_add(&stats->gp_policy, 1);
                o->inject_gp = true;
                return;
        case CVMM_MSR_NATIVE:
                if (reason == KVM_MSR_EXIT_REASON_INVAL) {
                        /* KVM knows this MSR and refuses the access: #GP, as KVM would. */
                        counter_add(&stats->gp_policy, 1);
                        o->inject_gp = true;
                        return;
                }
                break; /* KVM does not implement it: unknown */
        case CVMM_MSR_UNKNOWN:
                break;
        }
        /* Unknown: the policy decides what the guest gets; nothing of the host's reaches it. */
        if (write)
                counter_add(&stats->unknown_writes, 1);
        else
                counter_add(&stats->unknown_reads, 1);
        bool first;
        long slot =
            cvmm_keyset_hit(&m->keys, (uint64_t)index << 1 | write, vcpu, rip, now_ns, &first);
        if (m->cfg.unknown_ignore) {
                counter_add(&stats->ignored_unknown, 1);
                o->read_value = 0;
        } else {
                counter_add(&stats->gp_unknown, 1);
                o->inject_gp = true;
        }
        if (!logs_unknown(m))
                return;
        if (first) {
                /* A new key, or the first key past the bound: always said, never throttled. */
                o->first = slot >= 0;
                o->tracking_full = slot < 0;
        } else if (!cvmm_ratelimit_allow(&m->limiter, now_ns)) {
                if (slot >= 0)
                        cvmm_keyset_suppress(&m->keys, slot, vcpu);
                else
                        atomic_fetch_add_explicit(&m->untracked_suppressed, 1,
                                                  memory_order_relaxed);
                counter_add(&stats->suppressed, 1);
                return;
        } else {
                o->suppressed_before = slot >= 0 ? cvmm_keyset_take_suppressed(&m->keys, slot)
                                                 : atomic_exchange(&m->untracked_suppressed, 0);
        }
        counter_add(&stats->emitted, 1);
        o->log = true;
}

/* Unknown-MSR lines are warnings in a confidential profile, debug output otherwise. */
static const char *level(const struct msr_vm *m)
{
        return cvmm_profile_get(m->cfg.profile)->confidential ? "warning" : "debug";
}

/* A log object carrying the wall-clock time (UTC, microseconds), the level and the event. */
static json_object *msr_log_object(const struct msr_vm *m, const char *event, bool *ok)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char t[40];
        size_t n = strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(t + n, sizeof(t) - n, ".%06ldZ", ts.tv_nsec / 1000);
        json_object *o = json_object_new_object();
        json_put(ok, o, "time", json_object_new_string(t));
        json_put(ok, o, "level", json_object_new_string(level(m)));
        json_put(ok, o, "event", json_object_new_string(event));
        return o;
}

/*
 * Writes o as one line on the MSR log and frees it. When building it failed (out of memory),
 * a fixed line still says that an event of that kind happened.
 */
static void msr_log_emit(const struct msr_vm *m, json_object *o, bool ok, const char *event)
{
        const char *s = ok && o ? json_object_to_json_string_ext(
                                      o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                                : NULL;
        if (s)
                fprintf(m->log, "%s\n", s);
        else
                fprintf(m->log,
                        "{\"level\":\"error\",\"event\":\"%s\",\"error\":\"out of memory\"}\n",
                        event);
        json_object_put(o);
}

/* The --log-format json form of msr_log's lines: the same facts, never the written value. */
static void msr_log_json(struct msr_vm *m, unsigned vcpu, uint32_t index, bool write, uint64_t rip,
                         const struct msr_outcome *o)
{
        bool ok = true;
        if (o->tracking_full) {
                json_object *f = msr_log_object(m, "unknown-msr-tracking-full", &ok);
                json_put(&ok, f, "max_pairs", json_object_new_int(MSR_KEYS_MAX));
                msr_log_emit(m, f, ok, "unknown-msr-tracking-full");
                ok = true;
        }
        json_object *j = msr_log_object(m, "unknown-msr", &ok);
        json_put(&ok, j, "vcpu", json_object_new_int((int)vcpu));
        json_put(&ok, j, "msr", json_hex(index));
        if (o->name)
                json_put(&ok, j, "name", json_object_new_string(o->name));
        json_put(&ok, j, "access", json_object_new_string(write ? "write" : "read"));
        json_put(&ok, j, "rip", json_hex(rip));
        json_put(&ok, j, "action",
                 json_object_new_string(m->cfg.unknown_ignore
                                            ? (write ? "write dropped" : "read as 0")
                                            : "#GP injected"));
        json_put(&ok, j, "first", json_object_new_boolean(o->first));
        json_put(&ok, j, "suppressed", json_object_new_uint64(o->suppressed_before));
        msr_log_emit(m, j, ok, "unknown-msr");
}

void msr_log(struct msr_vm *m, unsigned vcpu, uint32_t index, bool write, uint64_t rip,
             const struct msr_outcome *o)
{
        if (m->cfg.log_json) {
                msr_log_json(m, vcpu, index, write, rip, o);
                return;
        }
        char sup[96] = "";
        if (o->first)
                snprintf(sup, sizeof(sup), " (first %s of this MSR)", write ? "write" : "read");
        else if (o->suppressed_before)
                snprintf(sup, sizeof(sup), " (%llu similar events suppressed)",
                         (unsigned long long)o->suppressed_before);
        if (o->tracking_full)
                fprintf(m->log,
                        "cvmm: %s: unknown-MSR tracking is full (%u distinct MSR and access "
                        "pairs): later new pairs are counted as untracked and logged only "
                        "through the rate limit\n",
                        level(m), MSR_KEYS_MAX);
        /* The value of a write is guest data: it is never part of the line. */
        fprintf(m->log, "cvmm: %s: vCPU %u %s of unknown MSR 0x%x%s%s%s at RIP 0x%llx: %s%s\n",
                level(m), vcpu, write ? "write" : "read", index, o->name ? " (" : "",
                o->name ? o->name : "", o->name ? ")" : "", (unsigned long long)rip,
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

/*
 * One line at exit when the guest touched unknown MSRs (confidential profile, or --debug):
 * the totals and the distinct MSRs, the most frequent first.
 */
void msr_summary(const struct msr_vm *m, const struct msr_vcpu_stats *stats, unsigned n_vcpus)
{
        uint64_t r = 0, w = 0, em = 0, sup = 0;
        for (unsigned i = 0; i < n_vcpus; i++) {
                r += counter_get(&stats[i].unknown_reads);
                w += counter_get(&stats[i].unknown_writes);
                em += counter_get(&stats[i].emitted);
                sup += counter_get(&stats[i].suppressed);
        }
        if (!(r + w) || !logs_unknown(m))
                return;
        struct cvmm_keyset_item *items;
        long n = cvmm_keyset_snapshot(&m->keys, &items);
        uint64_t untracked = atomic_load(&m->keys.overflow);
        if (m->cfg.log_json) {
                bool ok = true;
                json_object *o = msr_log_object(m, "unknown-msr-summary", &ok);
                json_put(&ok, o, "reads", json_object_new_uint64(r));
                json_put(&ok, o, "writes", json_object_new_uint64(w));
                json_put(&ok, o, "distinct", json_object_new_int64(n < 0 ? 0 : n));
                json_object *top = json_object_new_array();
                for (long i = 0; i < n && i < 8; i++) {
                        json_object *p = json_object_new_object();
                        json_put(&ok, p, "msr", json_hex(items[i].key >> 1));
                        json_put(&ok, p, "access",
                                 json_object_new_string(items[i].key & 1 ? "write" : "read"));
                        json_put(&ok, p, "count", json_object_new_uint64(items[i].count));
                        json_append(&ok, top, p);
                }
                json_put(&ok, o, "most_frequent", top);
                json_put(&ok, o, "untracked", json_object_new_uint64(untracked));
                json_put(&ok, o, "lines_emitted", json_object_new_uint64(em));
                json_put(&ok, o, "suppressed", json_object_new_uint64(sup));
                msr_log_emit(m, o, ok, "unknown-msr-summary");
                free(items);
                return;
        }
        struct strbuf sb;
        strbuf_init(&sb);
        for (long i = 0; i < n && i < 8; i++)
                strbuf_printf(&sb, "%s0x%llx %s (%llu)", i ? ", " : "",
                              (unsigned long long)(items[i].key >> 1),
                              items[i].key & 1 ? "write" : "read",
                              (unsigned long long)items[i].count);
        if (n > 8)
                strbuf_printf(&sb, " and %ld more", n - 8);
        if (untracked)
                strbuf_printf(&sb, "; %llu accesses of pairs past the %u tracked",
                              (unsigned long long)untracked, MSR_KEYS_MAX);
        free(items);
        char *list = strbuf_finish(&sb);
        fprintf(m->log,
                "cvmm: unknown MSR accesses: %llu reads, %llu writes, %ld distinct (MSR, access): "
                "%s; %llu warning lines emitted, %llu suppressed by the rate limit\n",
                (unsigned long long)r, (unsigned long long)w, n < 0 ? 0 : n, list ? list : "?",
                (unsigned long long)em, (unsigned long long)sup);
        free(list);
}
