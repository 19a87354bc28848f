/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

#include "hw/layout.h"
#include "util/clock.h"
#include "vmm/cpumodel.h"
#include "vmm/vcpu.h"
#include "cvmm/effective.h"
#include "vmm/vm_impl.h"

uint64_t vm_coarse_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t vm_now_ns(void)
{
        return clock_mono_ns();
}

/* What an exit handler tells the vCPU loop. */
enum exit_action { ACT_CONTINUE, ACT_POWEROFF, ACT_REBOOT, ACT_FAULT };

/* Ends the run with outcome o, once: the first vCPU to get here writes the report. */
static bool vm_end(struct vm *vm, enum vm_outcome o)
{
        int expected = VM_RUNNING;
        if (!atomic_compare_exchange_strong(&vm->outcome, &expected, (int)o))
                return false;
        for (unsigned i = 0; i < vm->cfg->cpus; i++) {
                struct vcpu *v = &vm->vcpus[i];
                if (!v->run)
                        continue;
                __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
                /*
                 * A vCPU that is not kickable yet has not entered KVM_RUN: it checks the
                 * outcome first, and immediate_exit stops it if it enters all the same.
                 */
                if (atomic_load(&v->kickable) && !pthread_equal(v->self, pthread_self()))
                        pthread_kill(v->self, KICK_SIGNAL);
        }
        pthread_mutex_lock(&vm->end_lock);
        vm->kicks_done = true;
        pthread_cond_broadcast(&vm->end_cond);
        pthread_mutex_unlock(&vm->end_lock);
        return true;
}

/* The devices' side of the VM (dev/dev.h): interrupts through KVM's irqchip, requests. */
static void dev_irq_level(void *ctx, unsigned line, bool high)
{
        struct vm *vm = ctx;
        if (vm->ioapic) {
                ioapic_set_level(vm->ioapic, line, high);
                return;
        }
        struct kvm_irq_level l = {.irq = line, .level = high};
        int fd = atomic_load(&vm->fd);
        if (fd >= 0)
                kvm_ioctl_raw(fd, KVM_IRQ_LINE, &l);
}

/*
 * An edge: one eventfd write where KVM has the line as an irqfd (KVM pulses the line itself,
 * high then low), else two KVM_IRQ_LINE calls. Lines are ISA lines (the device declared them).
 */
static void dev_irq_edge(void *ctx, unsigned line)
{
        struct vm *vm = ctx;
        if (vm->ioapic) {
                atomic_fetch_add(&vm->stats.edges_ioapic, 1);
                ioapic_edge(vm->ioapic, line);
                return;
        }
        if (line < HW_ISA_IRQS && atomic_load(&vm->irqfd_live[line])) {
                uint64_t one = 1;
                if (write(vm->irq_event[line], &one, sizeof(one)) == (ssize_t)sizeof(one)) {
                        atomic_fetch_add(&vm->stats.edges_irqfd, 1);
                        return;
                }
        }
        dev_irq_level(ctx, line, true);
        dev_irq_level(ctx, line, false);
        atomic_fetch_add(&vm->stats.edges_ioctl, 1);
}

/* An eventfd for every edge line the devices declared, kept until vm_destroy. */
static int irq_events_open(struct vm *vm, struct cvmm_err *err)
{
        if (vm->ioapic)
                return 0; /* the I/O APIC sends messages: no line for KVM to pulse */
        for (unsigned line = 0; line < HW_ISA_IRQS; line++) {
                if (!(vm->platform.edge_irqs & (1u << line)))
                        continue;
                vm->irq_event[line] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (vm->irq_event[line] < 0)
                        return cvmm_errf(err, "eventfd for IRQ %u: %s", line, strerror(errno));
        }
        return 0;
}

/*
 * Binds each line's eventfd to the new KVM VM (its irqchip exists). A host whose KVM refuses
 * an irqfd keeps that line on KVM_IRQ_LINE: the guest sees the same edges either way.
 */
static void irqfds_assign(struct vm *vm)
{
        for (unsigned line = 0; line < HW_ISA_IRQS; line++) {
                if (vm->irq_event[line] < 0)
                        continue;
                struct kvm_irqfd f = {.fd = (uint32_t)vm->irq_event[line], .gsi = line};
                atomic_store(&vm->irqfd_live[line], kvm_ioctl_raw(vm->fd, KVM_IRQFD, &f) == 0);
        }
}

static void dev_request(void *ctx, enum dev_request req, int status)
{
        struct vm *vm = ctx;
        if (req == DEV_EXIT) {
                if (vm_end(vm, VM_EXIT)) /* the one winner writes it; read after the join */
                        vm->exit_status = status;
                return;
        }
        vm_end(vm, req == DEV_POWEROFF ? VM_POWEROFF : VM_REBOOT);
}

static void dev_console_write(void *ctx, const uint8_t *data, size_t len)
{
        struct vm *vm = ctx;
        /* A short write is dropped rather than retried: the console never stalls a vCPU. */
        ssize_t w = write(vm->cfg->console_fd, data, len);
        (void)w;
}

static void dev_console_attach(void *ctx, void *dev,
                               void (*receive)(void *dev, const uint8_t *data, unsigned len))
{
        struct vm *vm = ctx;
        vm->console_dev = dev;
        vm->console_rx = receive;
}

/* Frees every device state[] holds (the ones with state), leaving state[] all NULL. */
static void devices_free(void *state[DEV_MAX])
{
        for (unsigned i = 0; dev_registry[i]; i++) {
                if (state[i] && dev_registry[i]->destroy)
                        dev_registry[i]->destroy(state[i]);
                state[i] = NULL;
        }
}

/* Creates every listed device on bus in order; on a failure frees those created. */
static int devices_make(const struct dev_host *host, const struct dev_config *dc,
                        struct io_bus *bus, struct hw_platform *plat, void *state[DEV_MAX],
                        struct cvmm_err *err)
{
        for (unsigned i = 0; dev_registry[i]; i++) {
                if (dev_registry[i]->create(host, dc, bus, plat, &state[i], err)) {
                        devices_free(state);
                        return -1;
                }
        }
        return 0;
}

/* The I/O APIC's message to the local APICs KVM has (split irqchip). */
static void ioapic_msi(void *ctx, uint64_t address, uint32_t data)
{
        struct vm *vm = ctx;
        struct kvm_msi m = {
            .address_lo = (uint32_t)address, .address_hi = (uint32_t)(address >> 32), .data = data};
        /* No VM between a reset's teardown and the next start: the message has no receiver. */
        int fd = atomic_load(&vm->fd);
        if (fd >= 0 && kvm_ioctl_raw(fd, KVM_SIGNAL_MSI, &m) >= 0)
                atomic_fetch_add(&vm->stats.msi_sent, 1);
}

/*
 * Tells KVM the message each level-triggered I/O APIC pin sends, as GSI routes 0..23 of type
 * MSI: from them KVM learns which vectors' EOIs it must report (KVM_EXIT_IOAPIC_EOI), the ones
 * that end a pin's Remote IRR. Edge-triggered and masked pins have no route.
 */
static int set_routes(struct vm *vm)
{
        /* struct kvm_irq_routing ends in a flexible array: a buffer with room for 24 */
        _Alignas(struct kvm_irq_routing_entry)
            uint8_t buf[sizeof(struct kvm_irq_routing) +
                        IOAPIC_PINS * sizeof(struct kvm_irq_routing_entry)];
        memset(buf, 0, sizeof(buf));
        struct kvm_irq_routing *t = (struct kvm_irq_routing *)(void *)buf;
        pthread_mutex_lock(&vm->route_lock);
        for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
                uint64_t address;
                uint32_t data;
                if (!ioapic_route(vm->ioapic, pin, &address, &data))
                        continue;
                struct kvm_irq_routing_entry *e = &t->entries[t->nr++];
                e->gsi = pin;
                e->type = KVM_IRQ_ROUTING_MSI;
                e->u.msi.address_lo = (uint32_t)address;
                e->u.msi.address_hi = (uint32_t)(address >> 32);
                e->u.msi.data = data;
        }
        int fd = atomic_load(&vm->fd);
        int rc = fd >= 0 ? kvm_ioctl_raw(fd, KVM_SET_GSI_ROUTING, t) : 0;
        pthread_mutex_unlock(&vm->route_lock);
        return rc;
}

/* The I/O APIC's routes changed (a guest's write): a refusal is counted (irqchip.route_errors
 * in --metrics), since the guest's pin then waits for EOIs KVM does not report. */
static void ioapic_routes(void *ctx)
{
        struct vm *vm = ctx;
        if (set_routes(vm) < 0)
                atomic_fetch_add(&vm->stats.route_errors, 1);
}

static int devices_create(struct vm *vm, struct cvmm_err *err)
{
        if (!vm->cfg->kernel_irqchip) {
                struct ioapic_host ih = {
                    .ctx = vm, .msi = ioapic_msi, .routes_changed = ioapic_routes};
                if (ioapic_create(&ih, LAYOUT_IOAPIC, &vm->bus, &vm->ioapic, err))
                        return -1;
        }
        vm->devhost = (struct dev_host){.ctx = vm,
                                        .irq_edge = dev_irq_edge,
                                        .irq_level = dev_irq_level,
                                        .request = dev_request,
                                        .console_write = dev_console_write,
                                        .console_attach = dev_console_attach};
        return devices_make(&vm->devhost, &vm->cfg->dev, &vm->bus, &vm->platform, vm->dev_state,
                            err);
}

static void noop_irq_level(void *ctx, unsigned line, bool high)
{
        (void)ctx, (void)line, (void)high;
}

static void noop_irq_edge(void *ctx, unsigned line)
{
        (void)ctx, (void)line;
}

static void noop_request(void *ctx, enum dev_request req, int status)
{
        (void)ctx, (void)req, (void)status;
}

static void noop_console_write(void *ctx, const uint8_t *data, size_t len)
{
        (void)ctx, (void)data, (void)len;
}

static void noop_console_attach(void *ctx, void *dev,
                                void (*receive)(void *dev, const uint8_t *data, unsigned len))
{
        (void)ctx, (void)dev, (void)receive;
}

int vm_devices_check(const struct dev_config *dc, struct cvmm_err *err)
{
        /* Every device created on a scratch bus, with a host that does nothing, then freed. */
        static const struct dev_host none = {.irq_edge = noop_irq_edge,
                                             .irq_level = noop_irq_level,
                                             .request = noop_request,
                                             .console_write = noop_console_write,
                                             .console_attach = noop_console_attach};
        struct io_bus bus = {.n = 0};
        struct hw_platform plat = {0};
        void *state[DEV_MAX] = {NULL};
        if (devices_make(&none, dc, &bus, &plat, state, err))
                return -1;
        devices_free(state);
        return 0;
}

static void devices_reset(struct vm *vm)
{
        for (unsigned i = 0; dev_registry[i]; i++)
                if (vm->dev_state[i] && dev_registry[i]->reset)
                        dev_registry[i]->reset(vm->dev_state[i]);
}

/* Writes the one fault report: what stopped, where, and the registers. */
static enum exit_action fault(struct vcpu *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static enum exit_action fault(struct vcpu *v, const char *fmt, ...)
{
        struct vm *vm = v->vm;
        if (!vm_end(vm, VM_FAULT))
                return ACT_FAULT;
        FILE *f = fmemopen(vm->report, sizeof(vm->report) - 1, "w");
        if (!f)
                return ACT_FAULT;
        fprintf(f, "cvmm: vCPU %u stopped: ", v->id);
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
        vcpu_dump(v->fd, f);
        fclose(f);
        return ACT_FAULT;
}

typedef enum exit_action (*exit_handler)(struct vcpu *v);

/*
 * --debug: an access nothing claims (a port, or MMIO outside KVM's devices), one line at the
 * first sighting of each (port or MMIO page, direction), then through a token bucket; a repeat's
 * line says how many of its key were suppressed. A guest cannot flood the log, nor hide a new
 * port behind a storm on an old one.
 */
static void log_unclaimed(struct vcpu *v, bool mmio, uint64_t where, bool write, unsigned size)
{
        struct vm *vm = v->vm;
        if (!vm->cfg->msr.debug)
                return;
        uint64_t key = (uint64_t)mmio << 62 | (mmio ? where >> 12 : where) << 1 | write;
        bool first;
        long slot = cvmm_keyset_hit(&vm->unclaimed, key, v->id, 0, vm_coarse_ns(), &first);
        uint64_t sup = 0;
        if (!first) {
                if (!cvmm_ratelimit_allow(&vm->unclaimed_limiter, vm_coarse_ns())) {
                        if (slot >= 0)
                                cvmm_keyset_suppress(&vm->unclaimed, slot, v->id);
                        else
                                atomic_fetch_add(&vm->unclaimed_untracked_suppressed, 1);
                        return;
                }
                sup = slot >= 0 ? cvmm_keyset_take_suppressed(&vm->unclaimed, slot)
                                : atomic_exchange(&vm->unclaimed_untracked_suppressed, 0);
        }
        char tail[80] = "";
        if (first && slot < 0)
                snprintf(tail, sizeof(tail),
                         " (tracking is full: later new ones are rate-limited)");
        else if (first)
                snprintf(tail, sizeof(tail), " (first %s of this %s)", write ? "write" : "read",
                         mmio ? "page" : "port");
        else if (sup)
                snprintf(tail, sizeof(tail), " (%llu similar events suppressed)",
                         (unsigned long long)sup);
        fprintf(stderr, "cvmm: debug: vCPU %u %s of %u byte%s %s unclaimed %s 0x%llx: %s%s\n",
                v->id, write ? "write" : "read", size, size == 1 ? "" : "s", write ? "to" : "from",
                mmio ? "MMIO" : "port", (unsigned long long)where,
                write ? "dropped" : "reads all-ones", tail);
}

static enum exit_action on_io(struct vcpu *v)
{
        struct kvm_run *run = v->run;
        struct vm *vm = v->vm;
        uint8_t *data = (uint8_t *)run + run->io.data_offset;
        unsigned size = run->io.size;
        const struct io_range *r = iobus_find(&vm->bus, run->io.port);
        _Atomic uint64_t *count =
            run->io.direction == KVM_EXIT_IO_OUT ? vm->stats.io_out : vm->stats.io_in;
        atomic_fetch_add_explicit(&count[run->io.port], run->io.count, memory_order_relaxed);
        if (!r)
                log_unclaimed(v, false, run->io.port, run->io.direction == KVM_EXIT_IO_OUT, size);
        for (uint32_t i = 0; i < run->io.count; i++, data += size) {
                if (run->io.direction == KVM_EXIT_IO_OUT) {
                        if (r)
                                r->out(r->dev, run->io.port, data, size);
                } else if (r) {
                        r->in(r->dev, run->io.port, data, size);
                } else {
                        memset(data, 0xff, size); /* nothing there: the bus floats high */
                }
        }
        return atomic_load(&vm->outcome) == VM_POWEROFF ? ACT_POWEROFF
               : atomic_load(&vm->outcome) == VM_REBOOT ? ACT_REBOOT
                                                        : ACT_CONTINUE;
}

static enum exit_action on_mmio(struct vcpu *v)
{
        struct kvm_run *run = v->run;
        unsigned size = run->mmio.len <= 8 ? run->mmio.len : 8;
        const struct mmio_range *r = iobus_find_mmio(&v->vm->bus, run->mmio.phys_addr);
        if (r) {
                if (run->mmio.is_write)
                        r->write(r->dev, run->mmio.phys_addr, run->mmio.data, size);
                else
                        r->read(r->dev, run->mmio.phys_addr, run->mmio.data, size);
                return ACT_CONTINUE;
        }
        /* Nothing claims it (KVM's IOAPIC and local APIC never exit here): reads float high. */
        if (!v->run->mmio.is_write)
                memset(v->run->mmio.data, 0xff, sizeof(v->run->mmio.data));
        atomic_fetch_add_explicit(&v->vm->stats.mmio_unknown, 1, memory_order_relaxed);
        log_unclaimed(v, true, v->run->mmio.phys_addr, v->run->mmio.is_write, v->run->mmio.len);
        return ACT_CONTINUE;
}

static enum exit_action on_continue(struct vcpu *v)
{
        (void)v;
        return ACT_CONTINUE;
}

static enum exit_action on_shutdown(struct vcpu *v)
{
        struct kvm_regs r;
        struct kvm_sregs sr;
        /* On AMD, KVM re-initialises the vCPU on a shutdown intercept: say so, so that reset
         * values are not read as the faulting state. */
        bool reset = kvm_ioctl_raw(v->fd, KVM_GET_REGS, &r) == 0 &&
                     kvm_ioctl_raw(v->fd, KVM_GET_SREGS, &sr) == 0 && r.rip == 0xfff0 &&
                     sr.cs.selector == 0xf000;
        return fault(v,
                     "KVM_EXIT_SHUTDOWN: triple fault (the guest's exception handling "
                     "failed, or it reset the CPU that way)%s",
                     reset ? "; KVM has already reset this vCPU (as it does on AMD), so the "
                             "registers below are reset values, not the faulting state"
                           : "");
}

static enum exit_action on_fail_entry(struct vcpu *v)
{
        return fault(v,
                     "KVM_EXIT_FAIL_ENTRY: the CPU refused to enter the guest (hardware "
                     "reason 0x%llx)",
                     (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
}

/* Names the instruction when it is one this host's emulator is known to refuse. */
static const char *insn_name(const uint8_t *b, unsigned n)
{
        unsigned i = 0;
        bool rexw = false;
        while (i < n && (b[i] == 0x66 || b[i] == 0xf2 || b[i] == 0xf3 || b[i] == 0x67))
                i++;
        if (i < n && (b[i] & 0xf0) == 0x40)
                rexw = b[i++] & 0x08;
        if (i < n && b[i] == 0xcc)
                return "INT3";
        if (i + 2 < n && b[i] == 0x0f && b[i + 1] == 0x01 && b[i + 2] == 0xd0)
                return "XGETBV";
        if (i + 2 < n && b[i] == 0x0f && b[i + 1] == 0x01 && b[i + 2] == 0xd1)
                return "XSETBV";
        if (i + 2 < n && b[i] == 0x0f && b[i + 1] == 0xae && (b[i + 2] >> 6) != 3) {
                static const char *const ae[] = {"FXSAVE", "FXRSTOR", "LDMXCSR",  "STMXCSR",
                                                 "XSAVE",  "XRSTOR",  "XSAVEOPT", "CLFLUSH"};
                return ae[(b[i + 2] >> 3) & 7];
        }
        if (i + 2 < n && b[i] == 0x0f && b[i + 1] == 0xc7 && ((b[i + 2] >> 3) & 7) == 1)
                return rexw ? "CMPXCHG16B" : "CMPXCHG8B";
        if (i + 2 < n && b[i] == 0x0f && b[i + 1] == 0xc7 && ((b[i + 2] >> 3) & 7) == 3)
                return "XRSTORS";
        if (i + 2 < n && b[i] == 0x0f && b[i + 1] == 0xc7 && ((b[i + 2] >> 3) & 7) == 5)
                return "XSAVES";
        return NULL;
}

/* Reads up to 15 instruction bytes at the guest's RIP through its page tables. */
static unsigned read_insn(struct vcpu *v, uint8_t *buf)
{
        struct kvm_regs r;
        if (kvm_ioctl_raw(v->fd, KVM_GET_REGS, &r) < 0)
                return 0;
        struct kvm_sregs s;
        if (kvm_ioctl_raw(v->fd, KVM_GET_SREGS, &s) < 0)
                return 0;
        uint64_t lin = r.rip + (s.cs.l ? 0 : s.cs.base);
        unsigned n = 0;
        while (n < 15) {
                struct kvm_translation t = {.linear_address = lin + n};
                if (kvm_ioctl_raw(v->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
                        break;
                const uint8_t *p = guestmem_ptr(&v->vm->mem, t.physical_address, 1);
                if (!p)
                        break;
                buf[n++] = *p;
        }
        return n;
}

static enum exit_action on_internal_error(struct vcpu *v)
{
        struct kvm_run *run = v->run;
        if (run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION)
                return fault(v, "KVM_EXIT_INTERNAL_ERROR, suberror %u", run->internal.suberror);
        uint8_t b[16];
        unsigned n = 0;
        if ((run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
            run->emulation_failure.insn_size) {
                n = run->emulation_failure.insn_size;
                if (n > sizeof(b))
                        n = sizeof(b);
                memcpy(b, run->emulation_failure.insn_bytes, n);
        } else {
                n = read_insn(v, b);
        }
        char hex[64] = "";
        for (unsigned i = 0, o = 0; i < n && o + 4 < sizeof(hex); i++)
                o += (unsigned)snprintf(hex + o, sizeof(hex) - o, "%s%02x", i ? " " : "", b[i]);
        const char *name = insn_name(b, n);
        return fault(v,
                     "KVM_EXIT_INTERNAL_ERROR (emulation failure): this host's KVM could not "
                     "emulate the instruction %s%s%s[%s]. KVM without hardware virtualization "
                     "runs guest ring-0 code through its instruction emulator, which lacks some "
                     "instructions; a host with VT-x or AMD-V runs them natively",
                     name ? name : "", name ? " " : "", n ? "" : "(bytes unavailable) ", hex);
}

static enum exit_action on_system_event(struct vcpu *v)
{
        switch (v->run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
                return ACT_POWEROFF;
        case KVM_SYSTEM_EVENT_RESET:
                return ACT_REBOOT;
        default:
                return fault(v, "KVM_EXIT_SYSTEM_EVENT type %u", v->run->system_event.type);
        }
}

static enum exit_action on_msr(struct vcpu *v)
{
        struct vm *vm = v->vm;
        struct kvm_run *run = v->run;
        bool write = run->exit_reason == KVM_EXIT_X86_WRMSR;
        struct msr_outcome o;
        /* RIP without a system call where KVM syncs the registers into kvm_run. */
        uint64_t rip = run->kvm_valid_regs & KVM_SYNC_X86_REGS ? run->s.regs.regs.rip : 0;
        /*
         * The limiter's clock is CLOCK_MONOTONIC_COARSE (a vDSO read, no system call): its
         * resolution (a jiffy, 1-4 ms) is far finer than the default bucket interval (200 ms)
         * and only groups refills at extreme --msr-log-rate values; bench_msr times this path.
         */
        msr_handle(&vm->msr, &vm->msr_stats[v->id], v->id, run->msr.index, write, run->msr.reason,
                   vm_coarse_ns(), rip, &o);
        run->msr.error = o.inject_gp ? 1 : 0;
        if (!write && !o.inject_gp)
                run->msr.data = o.read_value;
        if (o.log) {
                struct kvm_regs r;
                if (!rip && kvm_ioctl_raw(v->fd, KVM_GET_REGS, &r) == 0)
                        rip = r.rip;
                msr_log(&vm->msr, v->id, run->msr.index, write, rip, &o);
        }
        return ACT_CONTINUE;
}

/* Split irqchip: the guest's EOI of a vector a level-triggered I/O APIC pin sent. */
static enum exit_action on_ioapic_eoi(struct vcpu *v)
{
        atomic_fetch_add(&v->vm->stats.ioapic_eois, 1);
        if (v->vm->ioapic)
                ioapic_eoi(v->vm->ioapic, v->run->eoi.vector);
        return ACT_CONTINUE;
}

static const exit_handler handlers[VM_EXIT_REASONS] = {
    [KVM_EXIT_IOAPIC_EOI] = on_ioapic_eoi,
    [KVM_EXIT_IO] = on_io,
    [KVM_EXIT_MMIO] = on_mmio,
    [KVM_EXIT_HLT] = on_continue,
    [KVM_EXIT_INTR] = on_continue,
    [KVM_EXIT_IRQ_WINDOW_OPEN] = on_continue,
    [KVM_EXIT_SHUTDOWN] = on_shutdown,
    [KVM_EXIT_FAIL_ENTRY] = on_fail_entry,
    [KVM_EXIT_INTERNAL_ERROR] = on_internal_error,
    [KVM_EXIT_SYSTEM_EVENT] = on_system_event,
    [KVM_EXIT_X86_RDMSR] = on_msr,
    [KVM_EXIT_X86_WRMSR] = on_msr,
};

static void *vcpu_thread(void *arg)
{
        struct vcpu *v = arg;
        struct vm *vm = v->vm;
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, KICK_SIGNAL);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        v->self = pthread_self();
        atomic_store(&v->kickable, true);
        while (atomic_load(&vm->outcome) == VM_RUNNING) {
                if (v->id == 0 && !vm->first_run_seen) {
                        vm->first_run_seen = true;
                        vm->stats.t_first_run_ns = vm_now_ns();
                }
                int rc = kvm_ioctl_raw(v->fd, KVM_RUN, NULL);
                if (rc == -EINTR || rc == -EAGAIN)
                        continue;
                if (rc < 0) {
                        fault(v, "KVM_RUN failed: %s", strerror(-rc));
                        break;
                }
                uint32_t reason = v->run->exit_reason;
                counter_add(&v->exits[reason < VM_EXIT_REASONS ? reason : VM_EXIT_REASONS], 1);
                exit_handler h = reason < VM_EXIT_REASONS ? handlers[reason] : NULL;
                enum exit_action a;
                if (h) {
                        a = h(v);
                } else {
                        const char *n = kvm_exit_name(reason);
                        a = fault(v, "unhandled exit KVM_EXIT_%s (%u)", n ? n : "?", reason);
                }
                if (a == ACT_POWEROFF)
                        vm_end(vm, VM_POWEROFF);
                else if (a == ACT_REBOOT)
                        vm_end(vm, VM_REBOOT);
                if (a != ACT_CONTINUE)
                        break;
        }
        return NULL;
}

/* Console input: stdin to the console device until end of input or vm_destroy's wake-up. */
static void *input_thread(void *arg)
{
        struct vm *vm = arg;
        uint8_t buf[256];
        struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                              {.fd = vm->input_wake[0], .events = POLLIN}};
        for (;;) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents)
                        break;
                ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                if (n <= 0)
                        break;
                if (vm->console_rx)
                        vm->console_rx(vm->console_dev, buf, (unsigned)n);
        }
        return NULL;
}

/* The slot of the RAM above the 32-bit hole, once per KVM VM. */
static int map_high(struct vm *vm, struct cvmm_err *err)
{
        if (vm->high_mapped || vm->mem.size <= vm->mem.low)
                return 0;
        if (kvm_vm_map(vm->fd, 1, LAYOUT_GAP_END, vm->mem.size - vm->mem.low,
                       vm->mem.host + vm->mem.low, err))
                return -1;
        vm->high_mapped = true;
        return 0;
}

/*
 * Creates the KVM VM with guest RAM below 4 GiB mapped (and above it too under --irqchip
 * kernel), MSR exits enabled and its interrupt controllers: what does not depend on the CPU
 * model and must precede the vCPUs. vm_create calls it before the CPUID probe.
 * The default, a split irqchip (KVM's local APICs, cvmm's I/O APIC), leaves KVM no deferred
 * work; --irqchip kernel's KVM_CREATE_IRQCHIP leaves SRCU callbacks that closing the VM waits
 * for (14-20 ms measured on a PVM host when the VM is closed at once; bench/kvm_costs), which
 * opening the VM before the probe partly overlaps.
 */
static int vm_kvm_open(struct vm *vm, struct cvmm_err *err)
{
        vm->fd = kvm_vm_create(vm->kvm, err);
        if (vm->fd < 0)
                return -1;
        /* Memory slots and the MSR filter first: each of these waits for an SRCU grace period
         * of the VM, which is nearly free before the in-kernel irqchip exists and costs
         * milliseconds after it (bench/kvm_costs; README, "Start-up and tear-down"). Under the
         * split irqchip, which leaves no such work, the RAM above 4 GiB is mapped by vm_load:
         * the CPU model's probe, which needs only the low slot, runs meanwhile (a KVM without
         * TDP allocates a slot's reverse maps up front: 13 GiB took 7 ms on a PVM host). */
        if (kvm_vm_map(vm->fd, 0, 0, vm->mem.low, vm->mem.host, err))
                return -1;
        vm->high_mapped = false;
        if (vm->cfg->kernel_irqchip && map_high(vm, err))
                return -1;
        /* MSRs KVM refuses or does not know, and those the filter denies, come to cvmm. The
         * FILTER reason must be enabled before a filter exists, or denials become #GP. */
        struct kvm_enable_cap cap = {.cap = KVM_CAP_X86_USER_SPACE_MSR,
                                     .args = {KVM_MSR_EXIT_REASON_INVAL |
                                              KVM_MSR_EXIT_REASON_UNKNOWN |
                                              KVM_MSR_EXIT_REASON_FILTER}};
        if (KVM_CHECKED(vm->fd, KVM_ENABLE_CAP, &cap, err) < 0)
                return -1;
        if (KVM_CHECKED(vm->fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)0xfffbd000, err) < 0)
                return -1;
        uint64_t map_addr = 0xfffbc000;
        if (KVM_CHECKED(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &map_addr, err) < 0)
                return -1;
        if (!vm->cfg->kernel_irqchip) {
                /* KVM's local APICs only: the I/O APIC is cvmm's, with its 24 pins as the GSIs
                 * KVM reserves; no 8259A and no PIT (the ACPI tables describe neither). */
                struct kvm_enable_cap sc = {.cap = KVM_CAP_SPLIT_IRQCHIP, .args = {IOAPIC_PINS}};
                if (KVM_CHECKED(vm->fd, KVM_ENABLE_CAP, &sc, err) < 0)
                        return -1;
                int rc = set_routes(vm);
                if (rc < 0)
                        return cvmm_errf(err, "KVM_SET_GSI_ROUTING (the I/O APIC's routes): %s",
                                         strerror(-rc));
                return 0;
        }
        if (KVM_CHECKED(vm->fd, KVM_CREATE_IRQCHIP, NULL, err) < 0)
                return -1;
        irqfds_assign(vm);
        struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
        if (KVM_CHECKED(vm->fd, KVM_CREATE_PIT2, &pit, err) < 0)
                return -1;
        return 0;
}

int vm_create(struct vmm_host *h, const struct vm_config *cfg, struct vm **out,
              struct cvmm_err *err)
{
        *out = NULL;
        struct vm *vm = calloc(1, sizeof(*vm));
        if (!vm)
                return cvmm_errf(err, "out of memory");
        vm->cfg = cfg;
        vm->kvm = &h->kvm;
        vm->fd = -1;
        vm->input_wake[0] = vm->input_wake[1] = -1;
        for (unsigned i = 0; i < HW_ISA_IRQS; i++)
                vm->irq_event[i] = -1;
        vm->stats.handoff_diffs = -1;
        pthread_mutex_init(&vm->end_lock, NULL);
        pthread_cond_init(&vm->end_cond, NULL);
        pthread_mutex_init(&vm->route_lock, NULL);
        if (guestmem_init(&vm->mem, cfg->memory, err))
                goto fail;
        vm->stats.io_in = calloc(65536, sizeof(uint64_t));
        vm->stats.io_out = calloc(65536, sizeof(uint64_t));
        vm->vcpus = calloc(cfg->cpus, sizeof(*vm->vcpus));
        vm->msr_stats = msr_stats_alloc(cfg->cpus);
        if (!vm->stats.io_in || !vm->stats.io_out || !vm->vcpus || !vm->msr_stats) {
                cvmm_errf(err, "out of memory");
                goto fail;
        }
        if (cfg->msr.debug && (cvmm_keyset_init(&vm->unclaimed, MSR_KEYS_MAX, cfg->cpus, err) ||
                               cvmm_ratelimit_init(&vm->unclaimed_limiter, cfg->msr.log_rate,
                                                   cfg->msr.log_burst, err)))
                goto fail;
        if (devices_create(vm, err) || irq_events_open(vm, err) || vm_kvm_open(vm, err))
                goto fail;
        *out = vm;
        return 0;
fail:
        vm_destroy(vm);
        return -1;
}

int vm_set_cpu_model(struct vm *vm, struct cvmm_err *err)
{
        const struct vm_config *cfg = vm->cfg;
        if (msr_vm_init(&vm->msr, &cfg->msr, cfg->cpuid, cfg->cpus, stderr, err))
                return -1;
        vm->model_set = true;
        return 0;
}

/* Closes the KVM VM and its vCPUs (guest RAM stays). */
static void vm_teardown(struct vm *vm)
{
        for (unsigned i = 0; vm->vcpus && i < vm->cfg->cpus; i++) {
                struct vcpu *v = &vm->vcpus[i];
                if (v->run)
                        munmap(v->run, (size_t)vm->kvm->run_size);
                if (v->run)
                        close(v->fd);
                v->run = NULL;
                v->started = false;
                atomic_store(&v->kickable, false);
        }
        for (unsigned line = 0; line < HW_ISA_IRQS; line++)
                atomic_store(&vm->irqfd_live[line], false); /* closing the VM drops its irqfds */
        vm->loaded = false;                    /* a reboot loads the guest into a new VM */
        int fd = atomic_exchange(&vm->fd, -1); /* no thread reaches it once it is closed */
        if (fd >= 0)
                close(fd);
}

/* Compares what KVM_GET_CPUID2 returns with what was set (dynamic fields excluded). */
static void check_handoff(struct vm *vm, int fd, const struct cvmm_cpuid_table *set)
{
        struct cvmm_cpuid_table got;
        struct cvmm_err e;
        if (kvm_vcpu_get_cpuid(fd, &got, &e))
                return;
        struct cvmm_static_diff d;
        unsigned diffs = cvmm_cpuid_static_diff(set, &got, &d);
        if (diffs)
                snprintf(vm->stats.handoff_first, sizeof(vm->stats.handoff_first),
                         "leaf 0x%x.%u %s: set %s0x%08x, KVM returned %s0x%08x", d.leaf, d.subleaf,
                         cvmm_reg_name(d.reg), d.a_has ? "" : "no entry, ", d.a,
                         d.b_has ? "" : "no entry, ", d.b);
        vm->stats.handoff_diffs = (int)diffs;
        cvmm_cpuid_free(&got);
}

static_assert(LAYOUT_PROBE >= LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX &&
                  LAYOUT_PROBE + PROBE_WINDOW == LAYOUT_PROBE_END &&
                  LAYOUT_PROBE_END <= LAYOUT_EBDA,
              "the probe's window lies between the command line and the EBDA");

int vm_probe_site(struct vm *vm, struct probe_site *s)
{
        const struct vm_config *cfg = vm->cfg;
        /* The guest's vCPU ids end at cfg->cpus; the probe's follow, a vCPU per round at most,
         * below the xAPIC broadcast ID. */
        unsigned end = cfg->cpus + CPUMODEL_MAX_ROUNDS + 1;
        if (vm->fd < 0 || vm->loaded || end > 255 ||
            boot_image_loads_in(cfg->image, LAYOUT_PROBE, LAYOUT_PROBE + PROBE_WINDOW))
                return -1;
        int max = kvm_ioctl_raw(vm->fd, KVM_CHECK_EXTENSION, (void *)(uintptr_t)KVM_CAP_MAX_VCPUS);
        if (max > 0 && (unsigned)max < end)
                return -1;
        *s = (struct probe_site){.vm = vm->fd,
                                 .mem = guestmem_ptr(&vm->mem, LAYOUT_PROBE, PROBE_WINDOW),
                                 .base = LAYOUT_PROBE,
                                 .first_id = cfg->cpus,
                                 .end_id = end,
                                 /* all else vm_kvm_open set is fixed by cvmm's build */
                                 .kind = cfg->kernel_irqchip ? "guest's VM, kernel irqchip"
                                                             : "guest's VM, split irqchip"};
        if (!s->mem)
                return -1;
        vm->probe_lent = true;
        return 0;
}

int vm_load(struct vm *vm, struct cvmm_err *err)
{
        const struct vm_config *cfg = vm->cfg;
        if (vm->loaded)
                return 0;
        if ((vm->fd < 0 && vm_kvm_open(vm, err)) || map_high(vm, err))
                return -1;
        if (boot_image_load(cfg->image, &vm->mem, &vm->platform, cfg->cmdline, cfg->cpus,
                            &vm->entry, err))
                return -1;
        for (unsigned i = 0; i < cfg->cpus; i++) {
                struct vcpu *v = &vm->vcpus[i];
                v->vm = vm;
                v->id = i;
                if (kvm_vcpu_create(vm->kvm, vm->fd, i, &v->fd, &v->run, err))
                        return -1;
                if (vm->kvm->sync_regs & KVM_SYNC_X86_REGS)
                        v->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
        }
        vm->loaded = true;
        return 0;
}

/* Loads the guest unless vm_load did, hands every vCPU its table and starts its thread. */
static int vm_start(struct vm *vm, struct cvmm_err *err)
{
        const struct vm_config *cfg = vm->cfg;
        if (vm_load(vm, err))
                return -1;
        /* What the probe left in the window it was lent (its vCPUs never run again). */
        if (vm->probe_lent && guestmem_clear(&vm->mem, LAYOUT_PROBE, PROBE_WINDOW, err))
                return -1;
        vm->probe_lent = false;
        /* The MSR filter follows the CPU model, known only now; it waits for an SRCU grace
         * period (the tdx profile only). */
        if (cvmm_profile_get(cfg->msr.profile)->msr_default_deny) {
                static_assert(sizeof(vm->msr_bitmaps) >= 6 * 0x2000 / 8, "filter bitmaps");
                struct kvm_msr_filter f;
                if (msr_build_filter(&vm->msr, &f, vm->msr_bitmaps, sizeof(vm->msr_bitmaps)) < 0)
                        return cvmm_errf(err, "building the MSR filter");
                if (KVM_CHECKED(vm->fd, KVM_X86_SET_MSR_FILTER, &f, err) < 0)
                        return -1;
        }
        /* KVM_SET_CPUID2 first: KVM checks the registers and MSRs below against it. */
        for (unsigned i = 0; i < cfg->cpus; i++) {
                struct vcpu *v = &vm->vcpus[i];
                struct cvmm_cpuid_table t;
                if (vcpu_cpuid_for(cfg->cpuid, i, &t, err))
                        return -1;
                int rc = kvm_vcpu_set_cpuid(v->fd, &t, err);
                if (rc == 0 && i == 0 && vm->stats.reboots == 0)
                        check_handoff(vm, v->fd, &t);
                cvmm_cpuid_free(&t);
                if (rc || vcpu_setup(v->fd, i == 0, &vm->entry,
                                     vm->stats.reboots == 0 ? stderr : NULL, err))
                        return -1;
        }
        /* The kick signal stays blocked outside KVM_RUN's threads. */
        sigset_t set, old;
        sigemptyset(&set);
        sigaddset(&set, KICK_SIGNAL);
        pthread_sigmask(SIG_BLOCK, &set, &old);
        for (unsigned i = 0; i < cfg->cpus; i++) {
                int rc = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
                if (rc) {
                        vm_end(vm, VM_FAULT);
                        pthread_sigmask(SIG_SETMASK, &old, NULL);
                        return cvmm_errf(err, "creating vCPU thread %u: %s", i, strerror(rc));
                }
                vm->vcpus[i].started = true;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return 0;
}

static void vm_join(struct vm *vm)
{
        /* Every way out of a vCPU loop goes through vm_end, so this wait ends. */
        pthread_mutex_lock(&vm->end_lock);
        while (!vm->kicks_done)
                pthread_cond_wait(&vm->end_cond, &vm->end_lock);
        pthread_mutex_unlock(&vm->end_lock);
        for (unsigned i = 0; i < vm->cfg->cpus; i++) {
                struct vcpu *v = &vm->vcpus[i];
                if (!v->started)
                        continue;
                pthread_join(v->thread, NULL);
        }
}

int vm_run(struct vm *vm, struct cvmm_err *err)
{
        if (vm->cfg->console_in && !vm->input_started && pipe2(vm->input_wake, O_CLOEXEC) == 0 &&
            pthread_create(&vm->input_thread, NULL, input_thread, vm) == 0) {
                vm->input_started = true;
        }
        if (!vm->model_set)
                return cvmm_errf(err, "vm_run before vm_set_cpu_model");
        for (;;) {
                atomic_store(&vm->outcome, VM_RUNNING);
                vm->kicks_done = false; /* no vCPU thread runs yet */
                int rc = vm_start(vm, err);
                if (rc) {
                        vm_end(vm, VM_FAULT);
                        vm_join(vm);
                        vm_teardown(vm);
                        return -1;
                }
                vm_join(vm);
                vm_teardown(vm);
                int o = atomic_load(&vm->outcome);
                if (o != VM_REBOOT || vm->cfg->no_reboot) {
                        vm->stats.t_end_ns = vm_now_ns();
                        return o;
                }
                vm->stats.reboots++;
                devices_reset(vm);
                if (vm->ioapic)
                        ioapic_reset(vm->ioapic);
                if (guestmem_reset(&vm->mem, err))
                        return -1;
        }
}

void vm_destroy(struct vm *vm)
{
        if (!vm)
                return;
        if (vm->input_started) {
                ssize_t w = write(vm->input_wake[1], "x", 1);
                (void)w;
                pthread_join(vm->input_thread, NULL);
        }
        for (int i = 0; i < 2; i++)
                if (vm->input_wake[i] >= 0)
                        close(vm->input_wake[i]);
        vm_teardown(vm);
        devices_free(vm->dev_state);
        ioapic_destroy(vm->ioapic);
        pthread_mutex_destroy(&vm->route_lock);
        for (unsigned i = 0; i < HW_ISA_IRQS; i++)
                if (vm->irq_event[i] >= 0)
                        close(vm->irq_event[i]);
        guestmem_free(&vm->mem);
        free(vm->stats.io_in);
        free(vm->stats.io_out);
        free(vm->vcpus);
        free(vm->msr_stats);
        vm->msr_stats = NULL;
        msr_vm_free(&vm->msr);
        cvmm_keyset_free(&vm->unclaimed);
        pthread_cond_destroy(&vm->end_cond);
        pthread_mutex_destroy(&vm->end_lock);
        free(vm);
}

const char *vm_fault_report(const struct vm *vm)
{
        return vm->report;
}

int vm_exit_status(const struct vm *vm)
{
        return vm->exit_status;
}

void vm_log_exit(const struct vm *vm)
{
        msr_summary(&vm->msr, vm->msr_stats, vm->cfg->cpus);
        int diffs = atomic_load(&vm->stats.handoff_diffs);
        if (diffs > 0)
                fprintf(stderr,
                        "cvmm: note: KVM_GET_CPUID2 differs from the table cvmm set in %d "
                        "field(s), e.g. %s\n",
                        diffs, vm->stats.handoff_first);
}
