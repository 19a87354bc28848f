/* SPDX-License-Identifier: MIT */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/metrics.h"

static json_object *u64(uint64_t v)
{
        return json_object_new_uint64(v);
}

char *metrics_json(const struct vm *vm, const struct run_summary *s)
{
        json_object *root = json_object_new_object();
        if (!root)
                return NULL;
        json_object_object_add(root, "outcome", json_object_new_string(s->outcome));
        json_object_object_add(root, "exit_status", json_object_new_int(s->exit_status));
        json_object_object_add(root, "profile", json_object_new_string(s->profile));
        json_object_object_add(root, "kernel", json_object_new_string(s->kernel_kind));
        json_object_object_add(root, "vcpus", json_object_new_int((int)vm->cfg->cpus));
        json_object_object_add(root, "memory_bytes", u64(vm->cfg->memory));
        json_object_object_add(root, "reboots", u64(vm->stats.reboots));
        uint64_t t0 = vm->cfg->t_start_ns;
        if (vm->stats.t_first_run_ns)
                json_object_object_add(root, "time_to_first_instruction_us",
                                       u64((vm->stats.t_first_run_ns - t0) / 1000));
        if (vm->stats.t_end_ns)
                json_object_object_add(root, "time_to_end_us",
                                       u64((vm->stats.t_end_ns - t0) / 1000));
        if (s->probe) {
                json_object *p = json_object_new_object();
                json_object_object_add(p, "enforced", json_object_new_boolean(s->probe->enforced));
                json_object_object_add(p, "fields_compared", u64(s->probe->compared));
                json_object_object_add(p, "fields_differing", u64(s->probe->differ));
                json_object_object_add(p, "differing_fields_showing_host_value",
                                       u64(s->probe->differ_native));
                json_object_object_add(p, "marker_seen",
                                       json_object_new_boolean(s->probe->marker_seen));
                if (s->probe->example[0])
                        json_object_object_add(p, "first_difference",
                                               json_object_new_string(s->probe->example));
                json_object_object_add(root, "cpuid_probe", p);
        }
        json_object *h = json_object_new_object();
        json_object_object_add(h, "differences", json_object_new_int(vm->stats.handoff_diffs));
        if (vm->stats.handoff_first[0])
                json_object_object_add(h, "first_difference",
                                       json_object_new_string(vm->stats.handoff_first));
        json_object_object_add(root, "cpuid_handoff", h);
        json_object *ex = json_object_new_object();
        for (unsigned r = 0; r <= VM_EXIT_REASONS; r++) {
                if (!vm->stats.exits[r])
                        continue;
                const char *n = r < VM_EXIT_REASONS ? kvm_exit_name(r) : "OTHER";
                char buf[32];
                if (!n) {
                        snprintf(buf, sizeof(buf), "%u", r);
                        n = buf;
                }
                json_object_object_add(ex, n, u64(vm->stats.exits[r]));
        }
        json_object_object_add(root, "exits", ex);
        json_object *io = json_object_new_object();
        for (unsigned port = 0; vm->stats.io_in && port < 65536; port++) {
                uint64_t in = vm->stats.io_in[port], out = vm->stats.io_out[port];
                if (!in && !out)
                        continue;
                char key[8];
                snprintf(key, sizeof(key), "0x%x", port);
                json_object *o = json_object_new_object();
                json_object_object_add(o, "in", u64(in));
                json_object_object_add(o, "out", u64(out));
                json_object_object_add(io, key, o);
        }
        json_object_object_add(root, "io", io);
        json_object_object_add(root, "mmio_unclaimed", u64(vm->stats.mmio_unknown));
        const char *txt = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
        char *outs = txt ? strdup(txt) : NULL;
        json_object_put(root);
        return outs;
}
