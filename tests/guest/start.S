/* SPDX-License-Identifier: MIT */
/*
 * Test guest entry: PVH 32-bit entry (EBX = hvm_start_info), or with -DMULTIBOOT the Multiboot
 * v1 entry (EAX = 0x2BADB002, EBX = the information structure), to 64-bit long mode, exception
 * stubs that let guest code expect a fault, and the real-mode trampoline for application
 * processors.
 */
#define IDT_VECTORS 0x25 /* exceptions 0-21, the COM1 IRQ at 0x24 */
#define CR0_PE  0x1
#define CR0_MP  0x2
#define CR0_PG  0x80000000
#define CR4_PAE 0x20
#define CR4_OSFXSR 0x600
#define MSR_EFER 0xc0000080
#define TRAMPOLINE 0x8000

#ifdef MULTIBOOT
        /* Multiboot v1 header: flags 0x3 (modules page aligned, memory information); no
         * address fields, so the loader reads the ELF program headers. */
        .pushsection .multiboot, "a"
        .balign 4
        .long 0x1badb002, 0x3, -(0x1badb002 + 0x3)
        .popsection
#else
        .pushsection .note.Xen, "a", @note
        .balign 4
        .long 4, 4, 18          /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz "Xen"
        .long _start32
        .popsection
#endif

        .section .text.boot, "ax"
        .code32
        .globl _start32
_start32:
        cli
        movl %eax, boot_magic           /* Multiboot's 0x2BADB002; PVH leaves it undefined */
        movl $stack_top, %esp           /* PVH gives no stack */
        movl %ebx, %esi
        /* identity map of the first 1 GiB with 2 MiB pages */
        movl $boot_pdpt, %eax
        orl $3, %eax
        movl %eax, boot_pml4
        movl $boot_pd, %eax
        orl $3, %eax
        movl %eax, boot_pdpt
        xorl %ecx, %ecx
1:      movl %ecx, %eax
        shll $21, %eax
        orl $0x83, %eax
        movl %eax, boot_pd(,%ecx,8)
        incl %ecx
        cmpl $512, %ecx
        jne 1b
        /* and the 4th GiB, uncached, for the I/O APIC and local APIC pages (0xfec00000...) */
        movl $boot_pd_hi, %eax
        orl $3, %eax
        movl %eax, boot_pdpt + 3 * 8
        xorl %ecx, %ecx
2:      movl %ecx, %eax
        shll $21, %eax
        orl $(0xc0000000 | 0x93), %eax  /* present, writable, PCD, 2 MiB */
        movl %eax, boot_pd_hi(,%ecx,8)
        incl %ecx
        cmpl $512, %ecx
        jne 2b
        call enter_long_mode
        ljmp $0x10, $bsp64

/* Shared by the boot processor and application processors: paging on, long mode on. */
enter_long_mode:
        lgdt gdt_desc
        movl $boot_pml4, %eax
        movl %eax, %cr3
        movl %cr4, %eax
        orl $(CR4_PAE | CR4_OSFXSR), %eax
        movl %eax, %cr4
        movl $MSR_EFER, %ecx
        rdmsr
        orl $0x100, %eax
        wrmsr
        movl %cr0, %eax
        andl $~0xc, %eax        /* EM and TS clear */
        orl $(CR0_PE | CR0_MP | CR0_PG), %eax
        movl %eax, %cr0
        ret

        .globl ap_start32
ap_start32:
        movw $0x18, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movl $ap_boot_stack_top, %esp
        call enter_long_mode
        ljmp $0x10, $ap64

        .code64
bsp64:
        movw $0x18, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movw %ax, %fs
        movw %ax, %gs
        leaq stack_top(%rip), %rsp
        call idt_setup
        movl %esi, %edi
        call guest_main
2:      cli
        hlt
        jmp 2b

ap64:
        movw $0x18, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movl $1, %eax
        lock xaddl %eax, ap_next(%rip)   /* eax = this AP's index, from 1 */
        movl %eax, %edi
        incl %eax
        shll $12, %eax
        leaq ap_stacks(%rip), %rsp
        addq %rax, %rsp
        lidt idt_desc(%rip)
        call ap_main
3:      cli
        hlt
        jmp 3b

/* The registers a C function may clobber, in struct frame's order (guest.c). */
        .macro push_scratch
        pushq %rax
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        .endm
        .macro pop_scratch
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rdi
        popq %rsi
        popq %rdx
        popq %rcx
        popq %rax
        .endm

/* Exception stubs: vector and (dummy) error code, then a common path into exc_c. */
        .macro stub v, has_err
exc\v:
        .if \has_err == 0
        pushq $0
        .endif
        pushq $\v
        jmp exc_common
        .endm
        stub 0,0
        stub 1,0
        stub 2,0
        stub 3,0
        stub 4,0
        stub 5,0
        stub 6,0
        stub 7,0
        stub 8,1
        stub 9,0
        stub 10,1
        stub 11,1
        stub 12,1
        stub 13,1
        stub 14,1
        stub 15,0
        stub 16,0
        stub 17,1
        stub 18,0
        stub 19,0
        stub 20,0
        stub 21,1

exc_common:
        push_scratch
        movq %rsp, %rdi
        call exc_c
        pop_scratch
        addq $16, %rsp
        iretq

/* ISA IRQ 4 (COM1) through the 8259A at vector 0x24: irq_c acknowledges it. */
        .globl irq4_stub
irq4_stub:
        push_scratch
        call irq_c
        pop_scratch
        iretq

idt_setup:
        leaq exc_table(%rip), %r8
        leaq idt(%rip), %r9
        xorl %ecx, %ecx
4:      movq (%r8,%rcx,8), %rax
        movw %ax, (%r9)                 /* offset 15:0 */
        movw $0x10, 2(%r9)              /* selector */
        movw $0x8e00, 4(%r9)            /* present, interrupt gate */
        shrq $16, %rax
        movw %ax, 6(%r9)                /* offset 31:16 */
        shrq $16, %rax
        movl %eax, 8(%r9)               /* offset 63:32 */
        movl $0, 12(%r9)
        addq $16, %r9
        incl %ecx
        cmpl $22, %ecx
        jne 4b
        lidt idt_desc(%rip)
        ret

/*
 * int try_<op>(...): runs one instruction that may fault. Returns 0, or 0x100 | vector when it
 * faulted: the exception table below maps the instruction to its fixup, and exc_c puts the
 * result in RAX. Nothing is shared between vCPUs, so several may fault at once.
 */
        .macro extable insn, fixup
        .pushsection .extable, "a"
        .quad \insn, \fixup
        .popsection
        .endm

        .globl try_xsetbv
try_xsetbv:                             /* (uint32_t lo, uint32_t hi) */
        movl %edi, %eax
        movl %esi, %edx
        xorl %ecx, %ecx
5:      xsetbv
        xorl %eax, %eax
8:      ret
        extable 5b, 8b

        .globl try_rdmsr
try_rdmsr:                              /* (uint32_t index, uint64_t *value) */
        movl %edi, %ecx
6:      rdmsr
        movl %eax, (%rsi)
        movl %edx, 4(%rsi)
        xorl %eax, %eax
9:      ret
        extable 6b, 9b

        .globl try_wrmsr
try_wrmsr:                              /* (uint32_t index, uint64_t value) */
        movl %edi, %ecx
        movl %esi, %eax
        movq %rsi, %rdx
        shrq $32, %rdx
7:      wrmsr
        xorl %eax, %eax
10:     ret
        extable 7b, 10b

/* Real-mode trampoline for application processors, copied to TRAMPOLINE (SIPI vector 8). */
        .globl trampoline_start, trampoline_end
        .code16
trampoline_start:
        cli
        xorw %ax, %ax
        movw %ax, %ds
        lgdtl TRAMPOLINE + (tramp_gdt - trampoline_start)
        movl %cr0, %eax
        orl $CR0_PE, %eax
        movl %eax, %cr0
        ljmpl $0x08, $ap_start32
tramp_gdt:
        .word gdt_end - gdt - 1
        .long gdt
trampoline_end:
        .code64

        .section .rodata
        .balign 8
exc_table:
        .quad exc0, exc1, exc2, exc3, exc4, exc5, exc6, exc7, exc8, exc9, exc10
        .quad exc11, exc12, exc13, exc14, exc15, exc16, exc17, exc18, exc19, exc20, exc21

        .section .data
        .balign 16
gdt:
        .quad 0
        .quad 0x00cf9b000000ffff        /* 0x08: 32-bit code */
        .quad 0x00af9b000000ffff        /* 0x10: 64-bit code */
        .quad 0x00cf93000000ffff        /* 0x18: data */
gdt_end:
gdt_desc:
        .word gdt_end - gdt - 1
        .quad gdt
idt_desc:
        .word IDT_VECTORS * 16 - 1
        .quad idt
ap_next:
        .long 1

        .section .bss
        .balign 4096
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd:   .skip 4096
boot_pd_hi: .skip 4096
        .globl idt
idt:       .skip IDT_VECTORS * 16
        .balign 16
        .skip 16384
stack_top:
        .skip 1024
ap_boot_stack_top:
        .balign 4096
        .globl ap_stacks
ap_stacks: .skip 4096 * 9

        .section .note.GNU-stack, "", @progbits
