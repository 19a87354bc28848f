/* SPDX-License-Identifier: MIT */
/*
 * cvmm's test guest: a freestanding 64-bit program that runs one test named on its command line
 * and reports through the serial port (0x3f8), one line per fact, for the host-side test to
 * parse. It boots through the PVH entry, so QEMU's -kernel runs it too.
 *
 *   hello           print a line, then reset (i8042), falling back to a triple fault
 *   cpuid           every CPUID leaf and subleaf the guest can see, then power off
 *   xcr0            XSETBV of allowed and disallowed XCR0 values, read back with XGETBV
 *   smp N           start N-1 application processors; each reports its x2APIC ID (RDMSR)
 *   poweroff        power off at once
 *   reboot          reset until the UART scratch register counts 3 boots, then power off
 *   triple          triple fault (exception with an empty IDT)
 *   msr             RDMSR/WRMSR of a native, an emulated, a #GP-class and an unknown MSR
 *   msrstorm N C    N unknown-MSR reads spread over C vCPUs
 *   unclaimed N     N reads spread over the 16 unclaimed ports 0x300-0x30f, then one write to each
 *   debugexit V     a 4-byte write of V to port 0xf4 (QEMU's isa-debug-exit, cvmm's --debug-exit);
 *                   when nothing ends the VM there, it goes on and powers off
 *   mmio N          N 4-byte reads spread over 16 unclaimed MMIO pages from 0x38000000 (896 MiB:
 *                   above guest RAM up to 896M, inside the guest's 1 GiB identity map), then one
 *                   write to each
 *   msrmany K N W   N reads spread round-robin over K distinct unknown MSRs, then W writes of
 *                   each (the guest data written must never be logged)
 *   irq N           N COM1 transmit interrupts through the 8259A (ISA IRQ 4, vector 0x24): each
 *                   enables THRE in IER, waits until the handler counts it, disables it again
 *   apicirq N [level]  the same through the I/O APIC (pin 4, edge or level-triggered) and the
 *                   local APIC's EOI, no 8259A; prints the I/O APIC version and pin 4's
 *                   entry, then APICIRQ4 N
 *   hostile S N [C] [noxsetbv]
 *                   N (at most 100000) random operations from seed S on each of C vCPUs (1 to
 *                   9, default 1): port I/O of every size and string I/O, RDMSR/WRMSR, CPUID,
 *                   MMIO above RAM, XSETBV (unless noxsetbv: a host whose KVM cannot emulate it
 *                   stops the VM there); faults are fixed up and counted, then the counts are
 *                   printed (see hostile_loop)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/layout.h"

#define COM1       0x3f8
#define POWER_PORT 0x600
#define TRAMPOLINE 0x8000

struct frame {
        uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax, vector, error, rip, cs, rflags, rsp, ss;
};

struct hvm_start_info {
        uint32_t magic, version, flags, nr_modules;
        uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
        uint32_t memmap_entries, reserved;
};

struct extable {
        uint64_t insn, fixup;
};
extern const struct extable __extable_start[], __extable_end[];
extern const char trampoline_start[], trampoline_end[];
int try_xsetbv(uint32_t lo, uint32_t hi);
int try_rdmsr(uint32_t index, uint64_t *value);
int try_wrmsr(uint32_t index, uint64_t value);
void guest_main(uint32_t start_info);
void ap_main(unsigned index);
void exc_c(struct frame *f);
void irq_c(void);
void irq4_stub(void);
extern uint8_t idt[];

static inline void outb(uint16_t port, uint8_t v)
{
        __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
        __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
        uint8_t v;
        __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
        __asm__ volatile("cpuid"
                         : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                         : "a"(leaf), "c"(sub));
}

static inline uint64_t rdmsr(uint32_t index)
{
        uint32_t lo, hi;
        __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(index));
        return (uint64_t)hi << 32 | lo;
}

static inline void wrmsr(uint32_t index, uint64_t v)
{
        __asm__ volatile("wrmsr" : : "c"(index), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint64_t xgetbv(uint32_t index)
{
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(index));
        return (uint64_t)hi << 32 | lo;
}

static inline uint64_t read_cr4(void)
{
        uint64_t v;
        __asm__ volatile("mov %%cr4, %0" : "=r"(v));
        return v;
}

static inline void write_cr4(uint64_t v)
{
        __asm__ volatile("mov %0, %%cr4" : : "r"(v));
}

static inline void outw(uint16_t port, uint16_t v)
{
        __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
        uint16_t v;
        __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}

static inline uint32_t inl(uint16_t port)
{
        uint32_t v;
        __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}

static void puts_(const char *s)
{
        while (*s)
                outb(COM1, (uint8_t)*s++);
}

static void put_hex(uint64_t v, int digits)
{
        char b[17];
        for (int i = digits - 1; i >= 0; i--, v >>= 4)
                b[i] = "0123456789abcdef"[v & 15];
        b[digits] = 0;
        puts_(b);
}

static void put_dec(uint64_t v)
{
        char b[21];
        int i = 20;
        b[i] = 0;
        do {
                b[--i] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        puts_(b + i);
}

static void reset(void);

static void poweroff(void)
{
        outb(POWER_PORT, 0x34); /* SLP_TYP 5, SLP_EN */
        /* A VMM without that register (QEMU's microvm): end with a reset instead. */
        reset();
}

/*
 * The CPUID probe's window of guest RAM (hw/layout.h) reads as zeros, as all RAM does at
 * power-on: the probe's code and results, left there when it ran in this VM before boot, were
 * cleared before this guest's first instruction.
 */
static void test_lowzero(void)
{
        const volatile uint32_t *p = (const volatile uint32_t *)(uintptr_t)LAYOUT_PROBE;
        uint32_t n = (uint32_t)(LAYOUT_PROBE_END - LAYOUT_PROBE) / 4, nonzero = 0, first = 0;
        for (uint32_t i = 0; i < n; i++)
                if (p[i] && !nonzero++)
                        first = (uint32_t)LAYOUT_PROBE + 4 * i;
        puts_("LOWZERO ");
        put_hex(LAYOUT_PROBE, 8);
        puts_(" ");
        put_hex(LAYOUT_PROBE_END, 8);
        puts_(" nonzero ");
        put_dec(nonzero);
        if (nonzero) {
                puts_(" first ");
                put_hex(first, 8);
        }
        puts_("\n");
}

static void triple_fault(void)
{
        static const struct {
                uint16_t limit;
                uint64_t base;
        } __attribute__((packed)) empty = {0, 0};
        __asm__ volatile("lidt %0; ud2" : : "m"(empty));
}

static void reset(void)
{
        outb(0x64, 0xfe);
        triple_fault();
}

static unsigned fixups[32]; /* faults fixed up, by vector */

void exc_c(struct frame *f)
{
        for (const struct extable *e = __extable_start; e < __extable_end; e++) {
                if (e->insn == f->rip) {
                        __atomic_fetch_add(&fixups[f->vector & 31], 1, __ATOMIC_RELAXED);
                        f->rip = e->fixup;
                        f->rax = 0x100 | f->vector; /* the try_ function's result */
                        return;
                }
        }
        puts_("EXCEPTION ");
        put_dec(f->vector);
        puts_(" error ");
        put_hex(f->error, 8);
        puts_(" rip ");
        put_hex(f->rip, 16);
        puts_("\n");
        poweroff();
}

static bool streq_prefix(const char *s, const char *p, const char **rest)
{
        while (*p)
                if (*s++ != *p++)
                        return false;
        if (*s && *s != ' ')
                return false;
        while (*s == ' ')
                s++;
        *rest = s;
        return true;
}

static unsigned parse_dec(const char *s)
{
        unsigned v = 0;
        while (*s >= '0' && *s <= '9')
                v = v * 10 + (unsigned)(*s++ - '0');
        return v;
}

/* Leaves whose subleaves differ (the SDM's indexed leaves). */
static bool indexed(uint32_t leaf)
{
        static const uint32_t l[] = {0x4,  0x7,  0xb,        0xd,        0xf,       0x10, 0x12,
                                     0x14, 0x17, 0x18,       0x1d,       0x1e,      0x1f, 0x20,
                                     0x23, 0x24, 0x8000001d, 0x80000020, 0x80000026};
        for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++)
                if (l[i] == leaf)
                        return true;
        return false;
}

static void print_cpuid(uint32_t leaf, uint32_t sub, const uint32_t r[4])
{
        puts_("CPUID ");
        put_hex(leaf, 8);
        puts_(" ");
        put_hex(sub, 8);
        for (int i = 0; i < 4; i++) {
                puts_(" ");
                put_hex(r[i], 8);
        }
        puts_("\n");
}

static void sweep_range(uint32_t first)
{
        uint32_t r[4];
        cpuid(first, 0, r);
        uint32_t last = r[0];
        if (last < first || last - first > 0xff)
                last = first;
        for (uint32_t leaf = first; leaf <= last; leaf++) {
                if (!indexed(leaf)) {
                        cpuid(leaf, 0, r);
                        print_cpuid(leaf, 0, r);
                        continue;
                }
                for (uint32_t sub = 0; sub < 64; sub++) {
                        cpuid(leaf, sub, r);
                        if (sub && !(r[0] | r[1] | r[2] | r[3]))
                                continue;
                        print_cpuid(leaf, sub, r);
                }
        }
}

static void test_cpuid(void)
{
        puts_("CR4 ");
        put_hex(read_cr4(), 16);
        puts_("\n");
        sweep_range(0);
        sweep_range(0x40000000);
        sweep_range(0x80000000);
        puts_("SWEEP-END\n");
}

static void test_xcr0(void)
{
        uint32_t r[4];
        cpuid(1, 0, r);
        if (!(r[2] & (1u << 26))) {
                puts_("XSAVE absent\n");
                return;
        }
        write_cr4(read_cr4() | (1u << 18)); /* OSXSAVE */
        cpuid(0xd, 0, r);
        puts_("XCR0-SUPPORTED ");
        put_hex((uint64_t)r[3] << 32 | r[0], 16);
        puts_("\nXCR0-INIT ");
        put_hex(xgetbv(0), 16);
        puts_("\n");
        /* Allowed and disallowed values: x87 alone, SSE without x87, AVX without SSE, the
         * AVX-512 group partial and whole, MPX halves, AMX halves, PKRU, a reserved bit. */
        static const uint64_t values[] = {
            0x1,   0x3,  0x7, 0x0,     0x2,     0x5,     0x27,    0xe7,         0x207,
            0x2e7, 0x1f, 0xb, 0x20007, 0x40007, 0x60007, 0x602e7, 0x1ull << 63, 0x3,
        };
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                uint64_t v = values[i];
                int rc = try_xsetbv((uint32_t)v, (uint32_t)(v >> 32));
                puts_("XSETBV ");
                put_hex(v, 16);
                if (rc == 0) {
                        puts_(" ok ");
                        put_hex(xgetbv(0), 16);
                } else {
                        puts_(" fault ");
                        put_dec((unsigned)rc & 0xff);
                }
                puts_("\n");
        }
}

static volatile unsigned ap_done;
static volatile unsigned hostile_ops; /* set before the APs start: they run it, too */
static volatile unsigned hostile_done;
static void hostile_loop(unsigned cpu);
static volatile unsigned storm_per_cpu; /* set before the APs start: they storm, too */
static volatile unsigned storm_done;
static volatile uint32_t ap_ids[16];

static uint32_t x2apic_id(void)
{
        wrmsr(0x1b, rdmsr(0x1b) | (1u << 11) | (1u << 10)); /* xAPIC enable, x2APIC */
        return (uint32_t)rdmsr(0x802);
}

#define UNKNOWN_MSR 0x1cf0u /* in no table, and unknown to KVM */

static void storm(unsigned n)
{
        uint64_t v;
        for (unsigned i = 0; i < n; i++)
                try_rdmsr(UNKNOWN_MSR, &v);
}

void ap_main(unsigned index)
{
        if (index < 16)
                ap_ids[index] = x2apic_id();
        __atomic_fetch_add(&ap_done, 1, __ATOMIC_SEQ_CST);
        if (storm_per_cpu) {
                storm(storm_per_cpu);
                __atomic_fetch_add(&storm_done, 1, __ATOMIC_SEQ_CST);
        }
        if (hostile_ops) {
                hostile_loop(index);
                __atomic_fetch_add(&hostile_done, 1, __ATOMIC_SEQ_CST);
        }
}

static void test_smp(unsigned n)
{
        uint8_t *t = (uint8_t *)TRAMPOLINE;
        for (const char *p = trampoline_start; p < trampoline_end; p++)
                *t++ = (uint8_t)*p;
        ap_ids[0] = x2apic_id();
        if (n > 1) {
                wrmsr(0x830, 0xc4500);                   /* INIT, all excluding self */
                for (volatile int i = 0; i < 10000; i++) /* settle */
                        ;
                wrmsr(0x830, 0xc4600 | (TRAMPOLINE >> 12)); /* SIPI */
                for (uint64_t spin = 0; ap_done < n - 1 && spin < 2000000000ull; spin++)
                        __asm__ volatile("pause");
        }
        puts_("CPUS ");
        put_dec(ap_done + 1);
        puts_("\n");
        for (unsigned i = 0; i < n && i < 16; i++) {
                puts_("APIC ");
                put_dec(i);
                puts_(" ");
                put_hex(ap_ids[i], 8);
                puts_("\n");
        }
}

static void msr_line(const char *what, uint32_t index, int rc, uint64_t v)
{
        puts_("MSR ");
        puts_(what);
        puts_(" ");
        put_hex(index, 8);
        if (rc) {
                puts_(" fault ");
                put_dec((unsigned)rc & 0xff);
        } else {
                puts_(" ok ");
                put_hex(v, 16);
        }
        puts_("\n");
}

static void test_msr(void)
{
        /* native (TSC), emulated (PLATFORM_ID), #GP class (SGXLEPUBKEYHASH0), unknown */
        static const uint32_t msrs[] = {0x10, 0x17, 0x8c, UNKNOWN_MSR};
        for (size_t i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
                uint64_t v = 0;
                int rc = try_rdmsr(msrs[i], &v);
                msr_line("R", msrs[i], rc, v);
        }
        /* Writes carry a value that must never appear in cvmm's log. */
        static const uint32_t wmsrs[] = {0x17, 0x8c, UNKNOWN_MSR};
        for (size_t i = 0; i < sizeof(wmsrs) / sizeof(wmsrs[0]); i++) {
                int rc = try_wrmsr(wmsrs[i], 0x5ec2e7da7a5ec2e7ull);
                msr_line("W", wmsrs[i], rc, 0);
        }
}

static void test_msrstorm(const char *arg)
{
        unsigned n = parse_dec(arg);
        while (*arg && *arg != ' ')
                arg++;
        unsigned cpus = parse_dec(arg + (*arg == ' '));
        if (cpus < 1)
                cpus = 1;
        storm_per_cpu = n / cpus;
        test_smp(cpus); /* the application processors storm as they start */
        storm(n - storm_per_cpu * (cpus - 1));
        while (storm_done < cpus - 1)
                __asm__ volatile("pause");
        puts_("STORM-DONE\n");
}

#define MANY_BASE 0x4b4d5f00u /* unlisted, unknown to KVM, outside its paravirtual range */

static void test_msrmany(const char *arg)
{
        unsigned k = parse_dec(arg);
        while (*arg && *arg != ' ')
                arg++;
        arg += *arg == ' ';
        unsigned n = parse_dec(arg);
        while (*arg && *arg != ' ')
                arg++;
        unsigned w = parse_dec(arg + (*arg == ' '));
        if (k < 1)
                k = 1;
        uint64_t v;
        unsigned faults = 0;
        for (unsigned i = 0; i < n; i++)
                faults += try_rdmsr(MANY_BASE + i % k, &v) != 0;
        for (unsigned j = 0; j < w; j++)
                for (unsigned i = 0; i < k; i++)
                        faults += try_wrmsr(MANY_BASE + i, 0x5ec2e7da7a5ec2e7ull) != 0;
        puts_("MANY-DONE ");
        put_dec(faults);
        puts_("\n");
}

static void test_unclaimed(const char *arg)
{
        unsigned n = parse_dec(arg);
        unsigned ones = 0;
        for (unsigned i = 0; i < n; i++)
                ones += inb((uint16_t)(0x300 + i % 16)) == 0xff;
        for (unsigned p = 0; p < 16; p++)
                outb((uint16_t)(0x300 + p), 0x5e);
        puts_("UNCLAIMED-DONE ");
        put_dec(ones);
        puts_("\n");
}

#define MMIO_BASE 0x38000000u

static void test_mmio(const char *arg)
{
        unsigned n = parse_dec(arg);
        unsigned ones = 0;
        for (unsigned i = 0; i < n; i++) {
                volatile uint32_t *p =
                    (volatile uint32_t *)(uintptr_t)(MMIO_BASE + (i % 16) * 0x1000u +
                                                     (i / 16 % 4) * 4);
                ones += *p == 0xffffffffu;
        }
        for (unsigned pg = 0; pg < 16; pg++)
                *(volatile uint32_t *)(uintptr_t)(MMIO_BASE + pg * 0x1000u) = 0x5ec2e7u;
        puts_("MMIO-DONE ");
        put_dec(ones);
        puts_("\n");
}

static void test_debugexit(const char *arg)
{
        puts_("DEBUGEXIT\n");
        outl(0xf4, parse_dec(arg));
        puts_("DEBUGEXIT-IGNORED\n");
}

static volatile unsigned irq4_count;
static volatile bool irq_via_ioapic; /* EOI to the local APIC, not to the 8259A */

#define LAPIC_EOI  0xfee000b0u
#define LAPIC_SVR  0xfee000f0u
#define IOAPIC_SEL 0xfec00000u
#define IOAPIC_WIN 0xfec00010u

static void mmio_w32(uint32_t addr, uint32_t v)
{
        *(volatile uint32_t *)(uintptr_t)addr = v;
}

static uint32_t mmio_r32(uint32_t addr)
{
        return *(volatile uint32_t *)(uintptr_t)addr;
}

static uint32_t ioapic_read(uint32_t idx)
{
        mmio_w32(IOAPIC_SEL, idx);
        return mmio_r32(IOAPIC_WIN);
}

static void ioapic_write(uint32_t idx, uint32_t v)
{
        mmio_w32(IOAPIC_SEL, idx);
        mmio_w32(IOAPIC_WIN, v);
}

void irq_c(void)
{
        (void)inb(COM1 + 2); /* IIR: reading it acknowledges THRE */
        irq4_count++;
        if (irq_via_ioapic)
                mmio_w32(LAPIC_EOI, 0);
        else
                outb(0x20, 0x20); /* non-specific EOI to the master 8259A */
}

/* A 64-bit interrupt gate for vector vec in the code segment 0x10. */
static void set_gate(unsigned vec, void (*fn)(void))
{
        uint64_t a = (uint64_t)(uintptr_t)fn;
        uint16_t w[8] = {
            (uint16_t)a,         0x10, 0x8e00, (uint16_t)(a >> 16), (uint16_t)(a >> 32),
            (uint16_t)(a >> 48), 0,    0};
        for (unsigned i = 0; i < 8; i++) {
                idt[vec * 16 + 2 * i] = (uint8_t)w[i];
                idt[vec * 16 + 2 * i + 1] = (uint8_t)(w[i] >> 8);
        }
}

/* n THRE interrupts: each enables THRE in IER, waits with interrupts open until the handler
 * counted it, disables it. */
static void thre_interrupts(unsigned n)
{
        for (unsigned i = 0; i < n; i++) {
                unsigned before = irq4_count;
                outb(COM1 + 1, 0x02); /* IER: THRE, with THR empty */
                while (irq4_count == before)
                        /* Interrupts open for one instruction, without HLT: inside the nested
                         * VM (QEMU 7.2 TCG's SVM under Debian's KVM) an interrupt was seen taken
                         * with its return address at the HLT: the handler ran, then the guest
                         * slept with nothing left to wake it (7 of 200 PIC runs, 3 of 100
                         * level-triggered ones; none of 150 without HLT). */
                        __asm__ volatile("sti; nop; cli" ::: "memory");
                outb(COM1 + 1, 0x00);
        }
}

static void test_irq(const char *arg)
{
        unsigned n = parse_dec(arg);
        set_gate(0x24, irq4_stub);
        /* 8259A pair: ICW1 (edge, ICW4 follows), ICW2 vector base, ICW3 cascade on 2, ICW4 8086 */
        static const uint8_t icw[2][4] = {{0x11, 0x20, 0x04, 0x01}, {0x11, 0x28, 0x02, 0x01}};
        for (unsigned c = 0; c < 2; c++) {
                uint16_t base = c ? 0xa0 : 0x20;
                outb(base, icw[c][0]);
                for (unsigned i = 1; i < 4; i++)
                        outb((uint16_t)(base + 1), icw[c][i]);
        }
        outb(0x21, (uint8_t) ~(1u << 4)); /* only IRQ 4 */
        outb(0xa1, 0xff);
        outb(COM1 + 4, 0x08); /* MCR OUT2: the UART's interrupt output reaches the PIC */
        thre_interrupts(n);
        puts_("IRQ4 ");
        put_dec(irq4_count);
        puts_("\n");
}

/*
 * The same THRE interrupts as test_irq, through the I/O APIC the MADT describes (pin 4, edge,
 * vector 0x24, fixed, to APIC ID 0) and the local APIC, as Linux takes them; no 8259A. Prints
 * the I/O APIC's version register, pin 4's entry as programmed, then the count.
 */
static void test_apicirq(const char *arg)
{
        unsigned n = parse_dec(arg);
        const char *mode = arg;
        while (*mode >= '0' && *mode <= '9')
                mode++;
        /* "level": pin 4 level-triggered, so each next interrupt waits for the last one's EOI
         * to reach the I/O APIC and end its Remote IRR */
        bool level = streq_prefix(mode + (*mode == ' '), "level", &mode);
        set_gate(0x24, irq4_stub);
        irq_via_ioapic = true;
        /* Where an 8259A pair exists (--irqchip kernel) it sees IRQ 4 too and would pass it
         * through LINT0 as ExtINT: masked, as an OS that uses the I/O APIC masks it. Under the
         * split irqchip nothing answers these ports. */
        outb(0x21, 0xff);
        outb(0xa1, 0xff);
        mmio_w32(LAPIC_SVR, mmio_r32(LAPIC_SVR) | 0x1ffu); /* software-enabled, spurious 0xff */
        puts_("IOAPIC-VER ");
        put_hex(ioapic_read(1), 8);
        ioapic_write(0x11 + 2 * 4, 0); /* destination APIC ID 0 */
        /* vector 0x24, fixed, physical, edge (or level), unmasked */
        ioapic_write(0x10 + 2 * 4, 0x24u | (level ? 1u << 15 : 0));
        puts_(" PIN4 ");
        put_hex(ioapic_read(0x10 + 2 * 4), 8);
        puts_("\n");
        outb(COM1 + 4, 0x08); /* MCR OUT2: the UART's interrupt output reaches its pin */
        thre_interrupts(n);
        ioapic_write(0x10 + 2 * 4, 1u << 16); /* masked again */
        puts_("APICIRQ4 ");
        put_dec(irq4_count);
        puts_("\n");
}

/*
 * The hostile guest. Everything it does is chosen by a xorshift64 generator from the seed, so a
 * failure reproduces from the command line. It counts what it did in the categories the host
 * side can compare with cvmm's --metrics, and prints them at the end:
 *   PORT p in out        every port it touched: elements transferred (a string op of count c
 *                        is c), in the direction named, keyed by the instruction's port
 *   MSR U|K R|W n fault f   accesses to indices in no MSR range (U: unknown to every CPU and to
 *                        KVM) and in the architectural/KVM ranges (K), and how many faulted
 *   MMIO r w  CPUID n  XSETBV n fault f  FIXUP vector n
 */
#define HOSTILE_MAX      100000u
#define HOSTILE_MMIO     0x10000000u /* 256 MiB: above RAM when the test gives --memory 256M */
#define HOSTILE_MMIO_END 0x40000000u /* the end of the guest's identity map */

/* One per vCPU: its generator and its string I/O buffer. The counts are shared (atomic). */
struct hcpu {
        uint64_t rng;
        uint8_t buf[64];
};
static struct hcpu hcpus[16];

#define COUNT(x, v) __atomic_fetch_add(&(x), (v), __ATOMIC_RELAXED)

static uint64_t rnd(struct hcpu *h)
{
        h->rng ^= h->rng << 13;
        h->rng ^= h->rng >> 7;
        h->rng ^= h->rng << 17;
        return h->rng;
}

static uint32_t port_in[65536], port_out[65536];

/*
 * Ports the guest never writes: the writes that end the VM (i8042 command 0x64, reset control
 * 0xcf9, the power register 0x600-0x603, --debug-exit's usual 0xf4-0xf7; src/dev/sysctl.c,
 * debug_exit.c) and COM1's transmit register 0x3f8, whose bytes are the guest's report (a
 * random LCR or MCR write may divert them, so the UART is reset before the report). Reads of
 * all of them are harmless and done.
 */
static bool no_write(uint16_t p)
{
        return p == 0x64 || p == 0xcf9 || (p >= 0x600 && p <= 0x603) || (p >= 0xf4 && p <= 0xf7) ||
               p == COM1;
}

/* cvmm's device ports, and the ones KVM's PIC and PIT claim in the kernel. */
static const uint16_t dev_ports[] = {0x20,  0x21,  0x40,  0x41,  0x42,  0x43,  0x60,  0x61,  0x64,
                                     0x80,  0xa0,  0xa1,  0xcf9, 0x600, 0x601, 0x3f8, 0x3f9, 0x3fa,
                                     0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x4d0, 0x4d1};

static uint16_t pick_port(struct hcpu *h)
{
        uint64_t r = rnd(h);
        switch (r & 3) {
        case 0:
                return dev_ports[(r >> 8) % (sizeof(dev_ports) / sizeof(dev_ports[0]))];
        case 1:
                return (uint16_t)(r >> 8); /* anywhere */
        default:
                return (uint16_t)((r >> 8) & 0x3ff); /* the ISA range */
        }
}

static void hostile_port(struct hcpu *h)
{
        uint64_t r = rnd(h);
        uint16_t p = pick_port(h);
        bool out = r & 1;
        unsigned size = 1u << ((r >> 1) % 3);
        bool str = (r >> 3) % 4 == 0;
        if (out && no_write(p))
                out = false;
        uint32_t v = (uint32_t)(r >> 32);
        if (str) {
                uint64_t n = 1 + (r >> 5) % (sizeof(h->buf) / 4);
                void *buf = h->buf;
                uint64_t c = n;
                if (out && size == 1)
                        __asm__ volatile("rep outsb" : "+S"(buf), "+c"(c) : "d"(p) : "memory");
                else if (out && size == 2)
                        __asm__ volatile("rep outsw" : "+S"(buf), "+c"(c) : "d"(p) : "memory");
                else if (out)
                        __asm__ volatile("rep outsl" : "+S"(buf), "+c"(c) : "d"(p) : "memory");
                else if (size == 1)
                        __asm__ volatile("rep insb" : "+D"(buf), "+c"(c) : "d"(p) : "memory");
                else if (size == 2)
                        __asm__ volatile("rep insw" : "+D"(buf), "+c"(c) : "d"(p) : "memory");
                else
                        __asm__ volatile("rep insl" : "+D"(buf), "+c"(c) : "d"(p) : "memory");
                COUNT((out ? port_out : port_in)[p], (uint32_t)n);
                return;
        }
        if (out && size == 1)
                outb(p, (uint8_t)v);
        else if (out && size == 2)
                outw(p, (uint16_t)v);
        else if (out)
                outl(p, v);
        else if (size == 1)
                (void)inb(p);
        else if (size == 2)
                (void)inw(p);
        else
                (void)inl(p);
        COUNT((out ? port_out : port_in)[p], 1);
}

/* Where an MSR may exist: the architectural ranges (Intel, AMD) and the hypervisor ones. */
static bool msr_known_range(uint32_t i)
{
        return i < 0x2000 || (i >= 0x40000000u && i < 0x40001000u) ||
               (i >= 0x4b564d00u && i < 0x4b564e00u) || (i >= 0xc0000000u && i < 0xc0002000u) ||
               (i >= 0xc0010000u && i < 0xc0012000u);
}

/*
 * MSRs never written: a random value there breaks the guest itself, not the VMM (mode and
 * paging (EFER), the APIC and its ICR (an INIT to itself), PAT and MTRRs, segment bases, and
 * the KVM paravirtual MSRs and kvmclock's legacy 0x11/0x12, which make KVM write guest memory
 * at the address written), so only reads go there.
 */
static bool msr_no_write(uint32_t i)
{
        return (i >= 0x10 && i <= 0x12) || i == 0x1b || (i >= 0x1d9 && i <= 0x1dc) ||
               (i >= 0x200 && i <= 0x2ff) || (i >= 0x800 && i <= 0x8ff) ||
               (i >= 0x40000000u && i < 0x40001000u) || (i >= 0x4b564d00u && i < 0x4b564e00u) ||
               (i >= 0xc0000080u && i <= 0xc0000103u) || (i >= 0xc0010000u && i < 0xc0012000u);
}

static const uint32_t known_msrs[] = {
    0x10,        0x17,        0x1b,        0x3a,        0x48,        0x8b,
    0x8c,        0xce,        0x10a,       0x140,       0x174,       0x1a0,
    0x277,       0x6e0,       0x802,       0xda0,       0x1cf0,      0xc0000080u,
    0xc0000081u, 0xc0000100u, 0xc0000103u, 0xc0010015u, 0x4b564d00u, 0x4b564d01u};

static unsigned msr_n[2][2], msr_fault[2][2]; /* [K][W] */

static void hostile_msr(struct hcpu *h)
{
        uint64_t r = rnd(h);
        uint32_t i;
        switch (r & 3) {
        case 0:
                i = known_msrs[(r >> 8) % (sizeof(known_msrs) / sizeof(known_msrs[0]))];
                break;
        case 1:
                i = (uint32_t)(r >> 8) & 0x1fff;
                if (r >> 40 & 1)
                        i |= 0xc0000000u;
                break;
        case 2:
                i = 0x4b4d5f00u + (uint32_t)(r >> 8) % 64; /* a few unknown ones, repeatedly */
                break;
        default:
                i = (uint32_t)(r >> 16); /* anywhere */
                break;
        }
        bool w = r >> 2 & 1;
        if (w && msr_no_write(i))
                w = false;
        bool k = msr_known_range(i);
        int rc;
        if (w) {
                rc = try_wrmsr(i, rnd(h));
        } else {
                uint64_t v;
                rc = try_rdmsr(i, &v);
        }
        COUNT(msr_n[k][w], 1);
        COUNT(msr_fault[k][w], rc != 0);
}

static unsigned mmio_n[2], cpuid_n, xsetbv_n, xsetbv_fault;

static void hostile_mmio(struct hcpu *h)
{
        uint64_t r = rnd(h);
        unsigned size = 1u << (r & 3);
        uintptr_t a = HOSTILE_MMIO + (uintptr_t)((r >> 8) % (HOSTILE_MMIO_END - HOSTILE_MMIO));
        a &= ~(uintptr_t)(size - 1); /* aligned: one access, one exit */
        bool w = r >> 2 & 1;
        uint64_t v = rnd(h);
        if (w) {
                if (size == 1)
                        *(volatile uint8_t *)a = (uint8_t)v;
                else if (size == 2)
                        *(volatile uint16_t *)a = (uint16_t)v;
                else if (size == 4)
                        *(volatile uint32_t *)a = (uint32_t)v;
                else
                        *(volatile uint64_t *)a = v;
        } else {
                if (size == 1)
                        (void)*(volatile uint8_t *)a;
                else if (size == 2)
                        (void)*(volatile uint16_t *)a;
                else if (size == 4)
                        (void)*(volatile uint32_t *)a;
                else
                        (void)*(volatile uint64_t *)a;
        }
        COUNT(mmio_n[w], 1);
}

static void hostile_cpuid(struct hcpu *h)
{
        uint64_t r = rnd(h);
        static const uint32_t bases[] = {0, 0x40000000u, 0x80000000u, 0};
        uint32_t leaf = bases[r & 3] + (uint32_t)((r >> 8) & 0x3f);
        if ((r & 3) == 3)
                leaf = (uint32_t)(r >> 16);
        uint32_t out[4];
        cpuid(leaf, (uint32_t)(r >> 48) & ((r >> 2 & 1) ? 0xffffffffu : 0xf), out);
        COUNT(cpuid_n, 1);
}

static void hostile_xsetbv(struct hcpu *h)
{
        uint64_t r = rnd(h);
        /* Mostly small values around the legal ones; now and then anything, or XCR1. */
        uint64_t v = (r >> 8) & 0x7ff;
        if ((r & 7) == 0)
                v = rnd(h);
        uint32_t lo = (uint32_t)v, hi = (uint32_t)(v >> 32);
        int rc = try_xsetbv(lo, hi);
        COUNT(xsetbv_n, 1);
        COUNT(xsetbv_fault, rc != 0);
}

static void put_count(const char *what, uint64_t v)
{
        puts_(what);
        puts_(" ");
        put_dec(v);
        puts_("\n");
}

static volatile bool hostile_xsetbv_on;
static uint64_t hostile_seed;

/* One vCPU's share: its own generator, seeded from the seed and its index. */
static void hostile_loop(unsigned cpu)
{
        struct hcpu *h = &hcpus[cpu % 16];
        h->rng = (hostile_seed + cpu) * 0x9e3779b97f4a7c15ull + 1;
        bool xsetbv = hostile_xsetbv_on;
        if (xsetbv)
                write_cr4(read_cr4() | (1u << 18)); /* OSXSAVE, per CPU */
        for (unsigned i = 0; i < hostile_ops; i++) {
                switch (rnd(h) % 8) {
                case 0:
                case 1:
                case 2:
                        hostile_port(h);
                        break;
                case 3:
                case 4:
                        hostile_msr(h);
                        break;
                case 5:
                        hostile_mmio(h);
                        break;
                case 6:
                        hostile_cpuid(h);
                        break;
                default:
                        if (xsetbv)
                                hostile_xsetbv(h);
                        else
                                hostile_cpuid(h);
                        break;
                }
        }
}

static void test_hostile(const char *arg)
{
        hostile_seed = parse_dec(arg);
        while (*arg && *arg != ' ')
                arg++;
        arg += *arg == ' ';
        unsigned n = parse_dec(arg);
        while (*arg && *arg != ' ')
                arg++;
        arg += *arg == ' ';
        unsigned cpus = 1;
        if (*arg >= '0' && *arg <= '9') {
                cpus = parse_dec(arg);
                while (*arg && *arg != ' ')
                        arg++;
                arg += *arg == ' ';
        }
        const char *rest;
        bool xsetbv = !streq_prefix(arg, "noxsetbv", &rest);
        if (n > HOSTILE_MAX)
                n = HOSTILE_MAX;
        if (cpus < 1 || cpus > 9) /* the APs' stacks */
                cpus = 1;
        uint32_t r[4];
        cpuid(1, 0, r);
        if (!(r[2] & (1u << 26)))
                xsetbv = false; /* no XSAVE: no XSETBV */
        hostile_xsetbv_on = xsetbv;
        hostile_ops = n;
        if (cpus > 1)
                test_smp(cpus); /* the application processors run their share as they start */
        hostile_loop(0);
        while (hostile_done < cpus - 1)
                __asm__ volatile("pause");
        /* The UART back to its reset state, so that the report reaches the console. */
        outb(COM1 + 3, 0x03); /* LCR: 8N1, DLAB clear */
        outb(COM1 + 1, 0x00); /* IER */
        outb(COM1 + 4, 0x00); /* MCR: loopback off */
        port_out[COM1 + 3]++;
        port_out[COM1 + 1]++;
        port_out[COM1 + 4]++;
        puts_("\nHOSTILE-BEGIN\n");
        for (unsigned p = 0; p < 65536; p++) {
                if (!port_in[p] && !port_out[p])
                        continue;
                puts_("PORT ");
                put_hex(p, 4);
                puts_(" ");
                put_dec(port_in[p]);
                puts_(" ");
                put_dec(port_out[p]);
                puts_("\n");
        }
        static const char *const kn[2] = {"U", "K"}, *const wn[2] = {"R", "W"};
        for (int k = 0; k < 2; k++)
                for (int w = 0; w < 2; w++) {
                        puts_("MSR ");
                        puts_(kn[k]);
                        puts_(" ");
                        puts_(wn[w]);
                        puts_(" ");
                        put_dec(msr_n[k][w]);
                        puts_(" ");
                        put_dec(msr_fault[k][w]);
                        puts_("\n");
                }
        puts_("MMIO ");
        put_dec(mmio_n[0]);
        puts_(" ");
        put_dec(mmio_n[1]);
        puts_("\n");
        put_count("CPUID", cpuid_n);
        puts_("XSETBV ");
        put_dec(xsetbv_n);
        puts_(" ");
        put_dec(xsetbv_fault);
        puts_("\n");
        for (unsigned v = 0; v < 32; v++) {
                if (!fixups[v])
                        continue;
                puts_("FIXUP ");
                put_dec(v);
                puts_(" ");
                put_dec(fixups[v]);
                puts_("\n");
        }
        put_count("HOSTILE-END", (uint64_t)n * cpus);
}

static void test_reboot(void)
{
        uint8_t boots = inb(COM1 + 7); /* the scratch register survives a platform reset */
        boots++;
        outb(COM1 + 7, boots);
        puts_("BOOT ");
        put_dec(boots);
        puts_("\n");
        if (boots < 3)
                reset();
}

/* fw_cfg (QEMU's docs/specs/fw_cfg.rst): n little-endian bytes of entry key. */
static uint64_t fw_cfg_read(uint16_t key, unsigned n)
{
        outw(0x510, key);
        uint64_t v = 0;
        for (unsigned i = 0; i < n; i++)
                v |= (uint64_t)inb(0x511) << (8 * i);
        return v;
}

/* fwcfg: the signature, the CPU count and the RAM size, as firmware reads them. */
static void test_fwcfg(void)
{
        char sig[5] = {0};
        outw(0x510, 0);
        for (unsigned i = 0; i < 4; i++)
                sig[i] = (char)inb(0x511);
        puts_("FWCFG sig ");
        puts_(sig);
        puts_(" cpus ");
        put_dec(fw_cfg_read(0x05, 2));
        puts_(" ram ");
        put_dec(fw_cfg_read(0x03, 8));
        puts_("\n");
}

/* EAX at entry (start.S): 0x2BADB002 when a Multiboot loader started this guest. */
uint32_t boot_magic;

/* The Multiboot v1 information structure's first fields (Multiboot Specification 3.3). */
struct mb_info {
        uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
        uint32_t syms[4], mmap_length, mmap_addr, drives_length, drives_addr, config_table;
        uint32_t boot_loader_name;
};

/*
 * mbinfo: what the Multiboot information holds, as the specification lays it out: flags,
 * memory sizes, each memory map entry, each module (its bounds, first bytes and string).
 */
static void test_mbinfo(const struct mb_info *mi)
{
        if (!mi) {
                puts_("MB none\n");
                return;
        }
        puts_("MB flags ");
        put_hex(mi->flags, 8);
        puts_(" lower ");
        put_dec(mi->mem_lower);
        puts_(" upper ");
        put_dec(mi->mem_upper);
        puts_("\n");
        if (mi->flags & (1u << 6)) {
                uint32_t off = 0;
                while (off + 4 <= mi->mmap_length) {
                        const uint8_t *e = (const uint8_t *)(uintptr_t)(mi->mmap_addr + off);
                        uint32_t size = *(const uint32_t *)e;
                        puts_("MB mmap size ");
                        put_dec(size);
                        puts_(" addr ");
                        put_hex(*(const uint64_t *)(e + 4), 16);
                        puts_(" len ");
                        put_hex(*(const uint64_t *)(e + 12), 16);
                        puts_(" type ");
                        put_dec(*(const uint32_t *)(e + 20));
                        puts_("\n");
                        off += size + 4;
                }
        }
        for (uint32_t i = 0; (mi->flags & (1u << 3)) && i < mi->mods_count; i++) {
                const uint32_t *m = (const uint32_t *)(uintptr_t)(mi->mods_addr + 16 * i);
                puts_("MB module start ");
                put_hex(m[0], 8);
                puts_(" size ");
                put_dec(m[1] - m[0]);
                puts_(" first ");
                const uint8_t *d = (const uint8_t *)(uintptr_t)m[0];
                for (uint32_t k = 0; k < 8 && k < m[1] - m[0]; k++)
                        put_hex(d[k], 2);
                puts_(" string ");
                puts_((const char *)(uintptr_t)m[2]);
                puts_("\n");
        }
        if (mi->flags & (1u << 9)) {
                puts_("MB loader ");
                puts_((const char *)(uintptr_t)mi->boot_loader_name);
                puts_("\n");
        }
}

void guest_main(uint32_t start_info)
{
        const struct hvm_start_info *si = (const void *)(uintptr_t)start_info;
        const struct mb_info *mi = NULL;
        const char *cmd = "";
        /* PVH first: QEMU's PVH boot code leaves EAX = 0x2BADB002 as well */
        if (si && si->magic == 0x336ec578u) {
                if (si->cmdline_paddr)
                        cmd = (const char *)(uintptr_t)si->cmdline_paddr;
        } else if (boot_magic == 0x2badb002u) {
                mi = (const void *)(uintptr_t)start_info;
                if (mi->flags & (1u << 2)) {
                        /* the loader puts the kernel's path first (argv[0]) */
                        cmd = (const char *)(uintptr_t)mi->cmdline;
                        puts_("MB argv0 ");
                        while (*cmd && *cmd != ' ')
                                outb(COM1, (uint8_t)*cmd++);
                        puts_("\n");
                        while (*cmd == ' ')
                                cmd++;
                }
        }
        puts_("GUEST ");
        puts_(cmd);
        puts_("\n");
        const char *arg;
        if (streq_prefix(cmd, "hello", &arg)) {
                puts_("hello from the cvmm test guest\n");
                reset();
        } else if (streq_prefix(cmd, "fwcfg", &arg)) {
                test_fwcfg();
                reset();
        } else if (streq_prefix(cmd, "mbinfo", &arg)) {
                test_mbinfo(mi);
                reset();
        } else if (streq_prefix(cmd, "cpuid", &arg)) {
                test_cpuid();
        } else if (streq_prefix(cmd, "xcr0", &arg)) {
                test_xcr0();
        } else if (streq_prefix(cmd, "smp", &arg)) {
                test_smp(parse_dec(arg));
        } else if (streq_prefix(cmd, "reboot", &arg)) {
                test_reboot();
        } else if (streq_prefix(cmd, "msr", &arg)) {
                test_msr();
        } else if (streq_prefix(cmd, "msrstorm", &arg)) {
                test_msrstorm(arg);
        } else if (streq_prefix(cmd, "unclaimed", &arg)) {
                test_unclaimed(arg);
        } else if (streq_prefix(cmd, "debugexit", &arg)) {
                test_debugexit(arg);
        } else if (streq_prefix(cmd, "mmio", &arg)) {
                test_mmio(arg);
        } else if (streq_prefix(cmd, "msrmany", &arg)) {
                test_msrmany(arg);
        } else if (streq_prefix(cmd, "apicirq", &arg)) {
                test_apicirq(arg);
        } else if (streq_prefix(cmd, "irq", &arg)) {
                test_irq(arg);
        } else if (streq_prefix(cmd, "hostile", &arg)) {
                test_hostile(arg);
        } else if (streq_prefix(cmd, "lowzero", &arg)) {
                test_lowzero();
        } else if (streq_prefix(cmd, "triple", &arg)) {
                triple_fault();
        } else if (!streq_prefix(cmd, "poweroff", &arg)) {
                puts_("UNKNOWN-TEST\n");
        }
        puts_("DONE\n");
        poweroff();
}
