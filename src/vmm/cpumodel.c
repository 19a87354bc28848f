/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"
#include "util/json.h"
#include "vmm/cpumodel.h"

struct probe *cpumodel_take_probe(struct cpumodel *m)
{
        struct probe *p = m->probe;
        m->probe = NULL;
        return p;
}

void cpumodel_free(struct cpumodel *m)
{
        probe_close(cpumodel_take_probe(m));
        cvmm_cpuid_free(&m->table);
        cvmm_cpuid_free(&m->kvm);
        cvmm_cpuid_free(&m->seen);
        cvmm_attribution_free(&m->first);
        cvmm_attribution_free(&m->last);
        cvmm_check_report_free(&m->check);
}

/* Adds one round's reconcile changes to the merged report. */
static void merge(struct cvmm_reconcile_report *all, const struct cvmm_reconcile_report *r)
{
        all->changed |= r->changed;
        for (size_t i = 0; i < r->nrestored; i++)
                cvmm_reconcile_note(all->restored, &all->nrestored, r->restored[i]);
        for (size_t i = 0; i < r->nremoved; i++)
                cvmm_reconcile_note(all->removed, &all->nremoved, r->removed[i]);
        all->other_bits += r->other_bits;
        all->comps_restored |= r->comps_restored;
        all->comps_missing |= r->comps_missing;
        all->comps_removed |= r->comps_removed;
}

int cpumodel_build(const struct kvm_host *h, const struct cvmm_cpuid_table *source,
                   const struct cvmm_cpuid_table *intended, bool reconcile,
                   enum cvmm_linux_version lv, const struct probe_site_src *site,
                   struct probecache *cache, struct cpumodel *m, struct cvmm_err *err)
{
        memset(m, 0, sizeof(*m));
        cvmm_cpuid_init(&m->table);
        cvmm_cpuid_init(&m->kvm);
        cvmm_cpuid_init(&m->seen);
        m->linux_version = lv;
        if (cvmm_cpuid_copy(&m->table, intended))
                return cvmm_errf(err, "CPU model: out of memory");
        m->table.trace = false;
        struct probe *p = NULL;
        struct probe_site lent;
        m->probe_in_guest_vm = site && site->get(site->ctx, &lent) == 0;
        if (m->probe_in_guest_vm ? probe_open_in(h, &lent, &p, err) : probe_open(h, &p, err))
                goto fail;
        probe_use_cache(p, cache);
        unsigned limit = CPUMODEL_MAX_ROUNDS;
        for (unsigned round = 1; round <= limit; round++) {
                cvmm_cpuid_free(&m->kvm);
                cvmm_cpuid_free(&m->seen);
                if (probe_set_table(p, &m->table, &m->kvm, err))
                        goto fail;
                m->rounds = round;
                /*
                 * Round 1: when KVM_GET_CPUID2 already shows that KVM rewrote the table (a
                 * PVM-style KVM does), reconcile from what it returned on the same vCPU, which
                 * has not run, and sweep only the reconciled table. The guest's view is still
                 * swept for every table that is kept: a KVM whose guests see something other
                 * than KVM_GET_CPUID2 says takes the swept rounds after this one.
                 */
                if (round == 1 && reconcile && cvmm_cpuid_static_diff(&m->table, &m->kvm, NULL)) {
                        struct cvmm_reconcile_report rep;
                        struct cvmm_attribution att = {0};
                        struct cvmm_cpuid_table next;
                        int bad = cvmm_cpuid_copy(&next, &m->table);
                        next.trace = false; /* as m->table's */
                        if (bad || cvmm_attribute(&m->table, &m->kvm, &m->kvm, &att) ||
                            cvmm_reconcile(&next, source, &m->kvm, &rep)) {
                                cvmm_cpuid_free(&next);
                                cvmm_attribution_free(&att);
                                cvmm_errf(err, "CPU model: out of memory");
                                goto fail;
                        }
                        if (rep.changed) { /* the reconciled table is the next round's */
                                cvmm_cpuid_free(&m->table);
                                m->table = next;
                                m->first = att;
                                merge(&m->rec, &rep);
                                m->unswept_rounds = 1;
                                limit++; /* as many swept rounds as before */
                                continue;
                        }
                        /* nothing to reconcile from it: round 1 is swept as it always was */
                        cvmm_cpuid_free(&next);
                        cvmm_attribution_free(&att);
                }
                if (probe_sweep(p, &m->seen, err))
                        goto fail;
                cvmm_attribution_free(&m->last);
                if (cvmm_attribute(&m->table, &m->kvm, &m->seen, &m->last) ||
                    (round == 1 && !m->unswept_rounds &&
                     cvmm_attribute(&m->table, &m->kvm, &m->seen, &m->first))) {
                        cvmm_errf(err, "CPU model: out of memory");
                        goto fail;
                }
                if (!m->last.count) {
                        m->enforced = true;
                        break;
                }
                if (!reconcile || round == limit)
                        break;
                struct cvmm_reconcile_report rep;
                if (cvmm_reconcile(&m->table, source, &m->seen, &rep)) {
                        cvmm_errf(err, "CPU model: out of memory");
                        goto fail;
                }
                merge(&m->rec, &rep);
                if (!rep.changed)
                        break; /* a fixed point: nothing more cvmm can make agree */
        }
        /* Phase 2: XCR0/XSS as the kernel will program them, and the sizes it then reads. */
        struct cvmm_linux_plan plan;
        cvmm_linux_plan(&m->seen, lv, &plan);
        struct cvmm_linux_runtime rt = {0};
        if (plan.xsave && (plan.features & 3) == 3) {
                if (probe_xstate(p, plan.xcr0, plan.xss, &m->xstate, err))
                        goto fail;
                m->xstate_probed = true;
                rt.measured = m->xstate.done;
                rt.d0_ebx = m->xstate.d0[1];
                rt.d1_ebx = m->xstate.d1[1];
        }
        m->probe_cost = probe_cost(p);
        m->probe = p; /* closed by cpumodel_take_probe's caller or cpumodel_free */
        cvmm_linux_predict(&m->seen, lv, &rt, &m->linux_boot);
        struct cvmm_check_opts co = {0};
        if (cvmm_check(&m->seen, &co, &m->check))
                return cvmm_errf(err, "CPU model: out of memory"), cpumodel_free(m), -1;
        return 0;
fail:
        probe_close(p);
        cpumodel_free(m);
        return -1;
}

char *cpumodel_describe(const struct cvmm_attribution *a, size_t max)
{
        struct strbuf sb;
        strbuf_init(&sb);
        for (size_t i = 0; i < a->count && i < max; i++) {
                char line[400];
                cvmm_attr_describe(&a->fields[i], line, sizeof(line));
                strbuf_printf(&sb, "%s%s", i ? "; " : "", line);
        }
        if (a->count > max)
                strbuf_printf(&sb, "; and %zu more field%s", a->count - max,
                              a->count - max == 1 ? "" : "s");
        return strbuf_finish(&sb);
}

struct json_object *cpumodel_linux_json(const struct cvmm_linux_boot *lb, enum cvmm_linux_version v)
{
        bool ok = true;
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_put(&ok, o, "version", json_object_new_string(cvmm_linux_version_name(v)));
        json_put(&ok, o, "uses_xsave", json_object_new_boolean(lb->xsave_used));
        json_put(&ok, o, "xcr0", json_hex(lb->plan.xcr0));
        json_put(&ok, o, "xss", json_hex(lb->plan.xss));
        json_put(&ok, o, "xfeatures", json_hex(lb->features));
        json_put(&ok, o, "context_size", json_object_new_int64(lb->context_size));
        json_put(&ok, o, "user_size", json_object_new_int64(lb->user_size));
        json_put(&ok, o, "kernel_size", json_object_new_int64(lb->kernel_size));
        json_put(&ok, o, "computed_size", json_object_new_int64(lb->computed_size));
        json_put(&ok, o, "misordered", json_object_new_boolean(lb->misordered));
        json_put(&ok, o, "consistency_problem", json_object_new_boolean(lb->consistency_problem));
        struct json_object *lines = json_object_new_array();
        for (size_t i = 0; i < lb->nlines; i++)
                json_append(&ok, lines, json_object_new_string(lb->lines[i]));
        json_put(&ok, o, "lines", lines);
        json_put(&ok, o, "verdict", json_object_new_string(lb->verdict));
        return json_finish(ok, o);
}

static struct json_object *attribution_json(const struct cvmm_attribution *a)
{
        bool ok = true;
        struct json_object *arr = json_object_new_array();
        for (size_t i = 0; i < a->count; i++) {
                const struct cvmm_attr_field *f = &a->fields[i];
                struct json_object *o = json_object_new_object();
                char d[400];
                cvmm_attr_describe(f, d, sizeof(d));
                json_put(&ok, o, "leaf", json_hex(f->leaf));
                json_put(&ok, o, "subleaf", json_hex(f->subleaf));
                json_put(&ok, o, "register", json_object_new_string(cvmm_reg_name(f->reg)));
                json_put(&ok, o, "set_by_cvmm", json_hex(f->table));
                json_put(&ok, o, "kvm_get_cpuid2", json_hex(f->kvm));
                if (f->guest_ran) /* else no guest ran that table: null */
                        json_put(&ok, o, "guest", json_hex(f->guest));
                else
                        json_put_null(&ok, o, "guest");
                json_put(&ok, o, "attributed_to",
                         json_object_new_string(f->source == CVMM_ATTR_KVM ? "kvm-rewrite"
                                                                           : "guest-neither"));
                json_put(&ok, o, "description", json_object_new_string(d));
                json_append(&ok, arr, o);
        }
        return json_finish(ok, arr);
}

static struct json_object *names_json(const char *const *names, size_t n)
{
        bool ok = true;
        struct json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_append(&ok, arr, json_object_new_string(names[i]));
        return json_finish(ok, arr);
}

struct json_object *cpumodel_json(const struct cpumodel *m)
{
        bool ok = true;
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_put(&ok, o, "rounds", json_object_new_int((int)m->rounds));
        json_put(&ok, o, "unswept_rounds", json_object_new_int((int)m->unswept_rounds));
        json_put(&ok, o, "host_kept_table", json_object_new_boolean(!m->first.count));
        json_put(&ok, o, "guest_sees_table", json_object_new_boolean(m->enforced));
        json_put(&ok, o, "fields_compared", json_object_new_int64(m->last.compared));
        json_put(&ok, o, "attribution", attribution_json(&m->first));
        json_put(&ok, o, "remaining_differences", attribution_json(&m->last));
        struct json_object *r = json_object_new_object();
        json_put(&ok, r, "restored_features", names_json(m->rec.restored, m->rec.nrestored));
        json_put(&ok, r, "removed_features", names_json(m->rec.removed, m->rec.nremoved));
        json_put(&ok, r, "other_bits_adopted", json_object_new_int((int)m->rec.other_bits));
        json_put(&ok, r, "xsave_components_restored", json_hex(m->rec.comps_restored));
        json_put(&ok, r, "xsave_components_missing", json_hex(m->rec.comps_missing));
        json_put(&ok, r, "xsave_components_removed", json_hex(m->rec.comps_removed));
        json_put(&ok, o, "reconcile", r);
        if (m->xstate_probed) {
                struct json_object *x = json_object_new_object();
                json_put(&ok, x, "xcr0", json_hex(m->linux_boot.plan.xcr0));
                json_put(&ok, x, "xss", json_hex(m->linux_boot.plan.xss));
                json_put(&ok, x, "done", json_object_new_boolean(m->xstate.done));
                if (!m->xstate.done) {
                        json_put(&ok, x, "stopped_at", json_object_new_string(m->xstate.step));
                        json_put(&ok, x, "vector", json_object_new_int((int)m->xstate.vector));
                }
                json_put(&ok, x, "d0_ebx", json_object_new_int64(m->xstate.d0[1]));
                json_put(&ok, x, "d1_ebx", json_object_new_int64(m->xstate.d1[1]));
                json_put(&ok, o, "xsave_probe", x);
        }
        json_put(&ok, o, "linux", cpumodel_linux_json(&m->linux_boot, m->linux_version));
        json_put(&ok, o, "check_errors", json_object_new_int((int)m->check.errors));
        json_put(&ok, o, "check_warnings", json_object_new_int((int)m->check.warnings));
        struct cvmm_cpuid_meta meta = {.source = "probe", .cpus = 1};
        char *t = cvmm_cpuid_format_json(&m->seen, &meta);
        struct json_object *tj = t ? json_tokener_parse(t) : NULL;
        free(t);
        json_put(&ok, o, "effective_table", tj);
        return json_finish(ok, o);
}
