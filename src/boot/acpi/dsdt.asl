/*
 * cvmm's DSDT, compiled by iasl at build time. It holds what belongs to no device; each
 * device that needs describing adds an SSDT of its own (src/dev/NAME.asl, for example the
 * console UART's).
 *
 * _S5: the sleep type a hardware-reduced ACPI guest writes, with SLP_EN, to the sleep control
 * register the FADT names (port 0x600); cvmm's power device turns that into power-off.
 */
DefinitionBlock ("dsdt.aml", "DSDT", 2, "CVMM  ", "CVMMDSDT", 1)
{
    Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })
}
