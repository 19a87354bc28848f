/*
 * The console UART's ACPI description: an SSDT the device adds to the platform when it is
 * created (uart8250.c), compiled by iasl at build time. On a hardware-reduced platform the
 * guest has no legacy PIC and so no implicit ISA IRQ mapping: the UART's ports and its IRQ
 * (edge, active high, through the I/O APIC) must be declared here or its interrupts never
 * arrive.
 */
#include "uart8250.h"

DefinitionBlock ("", "SSDT", 2, "CVMM  ", "CVMMCOM1", 1)
{
    Scope (\_SB)
    {
        Device (COM1)
        {
            Name (_HID, EisaId ("PNP0501"))
            Name (_UID, One)
            Name (_CRS, ResourceTemplate ()
            {
                IO (Decode16, UART_BASE, UART_BASE, 0x01, UART_LEN)
                Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, , , ) { UART_IRQ }
            })
        }
    }
}
