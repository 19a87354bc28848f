/* SPDX-License-Identifier: MIT */
/* The platform's guest-physical layout, shared by guest memory, the loader, the tables and the VMM.
 */
#ifndef CVMM_HW_LAYOUT_H
#define CVMM_HW_LAYOUT_H

#define LAYOUT_GDT          0x500ull  /* GDT: null, code32, code64, data, TSS */
#define LAYOUT_PVH_INFO     0x6000ull /* hvm_start_info, module list, memory map */
#define LAYOUT_MB_INFO      0x6000ull /* or the Multiboot information (one boot protocol) */
#define LAYOUT_MB_INFO_SIZE 0x1000ull
#define LAYOUT_ZERO_PAGE    0x7000ull /* Linux boot_params */
#define LAYOUT_PML4         0x9000ull /* identity map of the first 4 GiB with 2 MiB pages */
#define LAYOUT_PDPT         0xa000ull
#define LAYOUT_PD           0xb000ull /* four page directories, 0xb000..0xefff */
#define LAYOUT_CMDLINE      0x20000ull
#define LAYOUT_CMDLINE_MAX  0x10000ull
#define LAYOUT_PROBE        0x40000ull /* before boot the CPUID probe's (vmm/probe.h), */
#define LAYOUT_PROBE_END    0x70000ull /* cleared before the guest's first instruction */
#define LAYOUT_EBDA         0x9e000ull /* reserved to 640K: the MP configuration table, then */
#define LAYOUT_MPF          0x9fc00ull /* the MP floating pointer, in the last KiB Linux scans */
#define LAYOUT_LOW_END      0xa0000ull /* end of conventional memory */
#define LAYOUT_BIOS         0xf0000ull /* reserved up to 1 MiB */
#define LAYOUT_ACPI         0xf0000ull /* RSDP (found by the guest's scan), then the tables */
#define LAYOUT_ACPI_SIZE    0x4000ull
#define LAYOUT_HIMEM        0x100000ull   /* where kernels are loaded */
#define LAYOUT_GAP_START    0xc0000000ull /* 32-bit MMIO hole: IOAPIC, local APIC */
#define LAYOUT_GAP_END      0x100000000ull
#define LAYOUT_IOAPIC       0xfec00000ull
#define LAYOUT_LAPIC        0xfee00000ull

/* GDT selectors: Linux's 64-bit boot protocol wants __BOOT_CS 0x10 and __BOOT_DS 0x18. */
#define SEL_CODE32 0x08
#define SEL_CODE64 0x10
#define SEL_DATA   0x18
#define SEL_TSS    0x20

#endif
