/* SPDX-License-Identifier: MIT */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/metrics.h"
#include "vmm/vm_impl.h"
#include "util/json.h"

static json_object *u64(uint64_t v)
{
        return json_object_new_uint64(v);
}

/*
 * Every distinct unknown (MSR, access) the guest touched, most frequent first, with its name
 * and class where the policy knows them, and where it was first and last seen. The counts add
 * up, with unknown_untracked, to unknown_reads + unknown_writes.
 */
static json_object *msr_keys_json(const struct vm *vm)
{
        bool ok = true;
        json_object *arr = json_object_new_array();
        struct cvmm_keyset_item *items;
        long n = cvmm_keyset_snapshot(&vm->msr.keys, &items);
        ok = n >= 0;
        for (long i = 0; i < n; i++) {
                const struct cvmm_keyset_item *it = &items[i];
                uint32_t index = (uint32_t)(it->key >> 1);
                bool write = it->key & 1;
                struct cvmm_msr_decision d;
                cvmm_msr_classify(vm->cfg->msr.profile, &vm->msr.env, index, write, &d);
                json_object *o = json_object_new_object();
                json_put(&ok, o, "msr", json_hex(index));
                if (d.name)
                        json_put(&ok, o, "name", json_object_new_string(d.name));
                json_put(&ok, o, "class", json_object_new_string(cvmm_msr_class_name(d.cls)));
                json_put(&ok, o, "access", json_object_new_string(write ? "write" : "read"));
                json_put(&ok, o, "count", u64(it->count));
                json_put(&ok, o, "first_vcpu", u64(it->first_vcpu));
                if (it->first_rip)
                        json_put(&ok, o, "first_rip", json_hex(it->first_rip));
                else
                        json_put_null(&ok, o, "first_rip");
                json_put(&ok, o, "last_vcpu", u64(it->last_vcpu));
                if (it->last_rip)
                        json_put(&ok, o, "last_rip", json_hex(it->last_rip));
                else
                        json_put_null(&ok, o, "last_rip");
                json_append(&ok, arr, o);
        }
        free(items);
        return json_finish(ok, arr);
}

/* The MSR counters of every vCPU, summed, and every distinct unknown (MSR, access). */
static json_object *msr_json(const struct vm *vm)
{
        uint64_t ex[3] = {0}, emulated = 0, gp_policy = 0, gp_unknown = 0, ignored = 0;
        uint64_t reads = 0, writes = 0, emitted = 0, suppressed = 0;
        for (unsigned i = 0; i < vm->cfg->cpus; i++) {
                const struct msr_vcpu_stats *st = &vm->msr_stats[i];
                for (int k = 0; k < 3; k++)
                        ex[k] += counter_get(&st->exits[k]);
                emulated += counter_get(&st->emulated);
                gp_policy += counter_get(&st->gp_policy);
                gp_unknown += counter_get(&st->gp_unknown);
                ignored += counter_get(&st->ignored_unknown);
                reads += counter_get(&st->unknown_reads);
                writes += counter_get(&st->unknown_writes);
                emitted += counter_get(&st->emitted);
                suppressed += counter_get(&st->suppressed);
        }
        bool ok = true;
        json_object *o = json_object_new_object();
        json_object *e = json_object_new_object();
        json_put(&ok, e, "INVAL", u64(ex[0]));
        json_put(&ok, e, "UNKNOWN", u64(ex[1]));
        json_put(&ok, e, "FILTER", u64(ex[2]));
        json_put(&ok, o, "exits_by_reason", e);
        json_put(&ok, o, "emulated", u64(emulated));
        json_put(&ok, o, "gp_injected_by_policy", u64(gp_policy));
        json_put(&ok, o, "gp_injected_unknown", u64(gp_unknown));
        json_put(&ok, o, "ignored_unknown", u64(ignored));
        json_put(&ok, o, "unknown_reads", u64(reads));
        json_put(&ok, o, "unknown_writes", u64(writes));
        json_put(&ok, o, "warnings_emitted", u64(emitted));
        json_put(&ok, o, "warnings_suppressed", u64(suppressed));
        json_put(&ok, o, "unknown", msr_keys_json(vm));
        json_put(&ok, o, "unknown_untracked", u64(atomic_load(&vm->msr.keys.overflow)));
        return json_finish(ok, o);
}

/* Exits by reason, summed over the vCPUs, and port I/O by port. */
static bool exits_json(const struct vm *vm, json_object *root)
{
        bool ok = true;
        json_object *ex = json_object_new_object();
        for (unsigned r = 0; r <= VM_EXIT_REASONS; r++) {
                uint64_t count = 0;
                for (unsigned i = 0; i < vm->cfg->cpus; i++)
                        count += counter_get(&vm->vcpus[i].exits[r]);
                if (!count)
                        continue;
                const char *n = r < VM_EXIT_REASONS ? kvm_exit_name(r) : "OTHER";
                char buf[32];
                if (!n) {
                        snprintf(buf, sizeof(buf), "%u", r);
                        n = buf;
                }
                json_put(&ok, ex, n, u64(count));
        }
        json_put(&ok, root, "exits", ex);
        json_object *io = json_object_new_object();
        for (unsigned port = 0; vm->stats.io_in && port < 65536; port++) {
                uint64_t in = atomic_load_explicit(&vm->stats.io_in[port], memory_order_relaxed);
                uint64_t out = atomic_load_explicit(&vm->stats.io_out[port], memory_order_relaxed);
                if (!in && !out)
                        continue;
                char key[8];
                snprintf(key, sizeof(key), "0x%x", port);
                json_object *o = json_object_new_object();
                json_put(&ok, o, "in", u64(in));
                json_put(&ok, o, "out", u64(out));
                json_put(&ok, io, key, o);
        }
        json_put(&ok, root, "io", io);
        return ok;
}

char *metrics_json(const struct vm *vm, const struct run_summary *s)
{
        bool ok = true;
        json_object *root = json_object_new_object();
        if (!root)
                return NULL;
        /* A live file (--metrics-interval) says so; the file written at exit is complete. */
        json_put(&ok, root, "complete", json_object_new_boolean(!s->live));
        json_put(&ok, root, "outcome", json_object_new_string(s->outcome));
        if (!s->live)
                json_put(&ok, root, "exit_status", json_object_new_int(s->exit_status));
        else
                json_put(&ok, root, "snapshot", u64(s->snapshot));
        json_put(&ok, root, "profile", json_object_new_string(s->profile));
        json_put(&ok, root, "kernel", json_object_new_string(s->kernel_kind));
        json_put(&ok, root, "sandbox", json_object_new_boolean(s->sandboxed));
        json_put(&ok, root, "vcpus", json_object_new_int((int)vm->cfg->cpus));
        json_put(&ok, root, "memory_bytes", u64(vm->cfg->memory));
        json_put(&ok, root, "guest_ram_resident_bytes", u64(guestmem_resident(&vm->mem)));
        json_put(&ok, root, "reboots", u64(atomic_load(&vm->stats.reboots)));
        uint64_t t0 = vm->cfg->t_start_ns;
        uint64_t t_first = atomic_load(&vm->stats.t_first_run_ns);
        uint64_t t_end = atomic_load(&vm->stats.t_end_ns);
        if (t_first)
                json_put(&ok, root, "time_to_first_instruction_us", u64((t_first - t0) / 1000));
        if (s->live)
                json_put(&ok, root, "time_since_start_us", u64((vm_now_ns() - t0) / 1000));
        else /* a run that ended on a host error has no end time of its own: now */
                json_put(&ok, root, "time_to_end_us",
                         u64(((t_end ? t_end : vm_now_ns()) - t0) / 1000));
        if (s->model) {
                const struct cpumodel *m = s->model;
                json_object *p = json_object_new_object();
                /* Whether this host's KVM kept the profile's table as cvmm built it. */
                json_put(&ok, p, "enforced", json_object_new_boolean(!m->first.count));
                json_put(&ok, p, "fields_compared", u64(m->first.compared));
                json_put(&ok, p, "fields_differing", u64(m->first.count));
                /* where it ran: in the guest's VM, or in one of its own (vmm/probe.h) */
                json_put(&ok, p, "vm",
                         json_object_new_string(m->probe_in_guest_vm ? "guest's" : "its own"));
                /* what the check cost: CPUID exits, KVM_RUN calls and time, and all of it */
                json_put(&ok, p, "cpuid_instructions", u64(m->probe_cost.cpuids));
                json_put(&ok, p, "kvm_runs", u64(m->probe_cost.runs));
                json_put(&ok, p, "kvm_run_us", u64(m->probe_cost.run_ns / 1000));
                json_put(&ok, p, "wall_us", u64(m->probe_cost.wall_ns / 1000));
                /* phases whose stored result applied exactly (vmm/probecache.h), and where */
                json_put(&ok, p, "reused_phases", u64(m->probe_cost.reused));
                json_put(&ok, p, "stored_phases", u64(m->probe_cost.stored));
                json_put(&ok, p, "cache", json_object_new_string(m->probe_cache));
                json_put(&ok, root, "cpuid_probe", p);
                json_put(&ok, root, "cpu_model", json_object_get(s->model_json));
        }
        json_object *h = json_object_new_object();
        int diffs = atomic_load(&vm->stats.handoff_diffs); /* handoff_first is written first */
        json_put(&ok, h, "differences", json_object_new_int(diffs));
        if (diffs > 0 && vm->stats.handoff_first[0])
                json_put(&ok, h, "first_difference",
                         json_object_new_string(vm->stats.handoff_first));
        json_put(&ok, root, "cpuid_handoff", h);
        ok = exits_json(vm, root) && ok;
        json_put(&ok, root, "mmio_unclaimed", u64(atomic_load(&vm->stats.mmio_unknown)));
        struct json_object *irq = json_object_new_object();
        json_put(&ok, irq, "irqfd", u64(atomic_load(&vm->stats.edges_irqfd)));
        json_put(&ok, irq, "irq_line", u64(atomic_load(&vm->stats.edges_ioctl)));
        json_put(&ok, irq, "ioapic", u64(atomic_load(&vm->stats.edges_ioapic)));
        json_put(&ok, root, "isa_edges", irq);
        struct json_object *chip = json_object_new_object();
        json_put(&ok, chip, "mode",
                 json_object_new_string(vm->cfg->kernel_irqchip ? "kernel" : "split"));
        json_put(&ok, chip, "msi_sent", u64(atomic_load(&vm->stats.msi_sent)));
        json_put(&ok, chip, "ioapic_eois", u64(atomic_load(&vm->stats.ioapic_eois)));
        json_put(&ok, chip, "route_errors", u64(atomic_load(&vm->stats.route_errors)));
        json_put(&ok, root, "irqchip", chip);
        json_put(&ok, root, "msr", msr_json(vm));
        if (!ok) { /* an allocation failed: no half document */
                json_object_put(root);
                return NULL;
        }
        const char *txt = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
        char *outs = txt ? strdup(txt) : NULL;
        json_object_put(root);
        return outs;
}
