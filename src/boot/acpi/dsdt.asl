/*
 * cvmm's DSDT, compiled by iasl at build time.
 *
 * _S5: the sleep type a hardware-reduced ACPI guest writes, with SLP_EN, to the sleep control
 * register the FADT names (port 0x600); cvmm's power device turns that into power-off.
 *
 * COM1: on a hardware-reduced platform the guest has no legacy PIC and so no implicit ISA IRQ
 * mapping; the UART's port and its IRQ 4 (edge, active high, through the I/O APIC) must be
 * declared here or its interrupts never arrive.
 */
DefinitionBlock ("dsdt.aml", "DSDT", 2, "CVMM  ", "CVMMDSDT", 1)
{
    Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })

    Scope (\_SB)
    {
        Device (COM1)
        {
            Name (_HID, EisaId ("PNP0501"))
            Name (_UID, One)
            Name (_CRS, ResourceTemplate ()
            {
                IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
                Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, , , ) { 4 }
            })
        }
    }
}
