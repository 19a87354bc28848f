/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the kernel image checks (bzImage setup header, ELF header and program
 * headers of either class, the PVH entry note) through boot_image_open_mem, the same checks
 * `cvmm run --kernel FILE` applies after reading the file, then, for an image they accept,
 * boot_image_load into a 16 MiB guest: the kernel, command line, boot_params or
 * hvm_start_info, page tables, MP and ACPI tables. Guest RAM is mapped once (MAP_NORESERVE) and
 * reused: the loader writes what it needs and must not depend on what was there.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "hw/guestmem.h"
#include "hw/platform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem *guest(void)
{
        static struct guest_mem m;
        static int ready;
        if (!ready) {
                struct cvmm_err err;
                if (guestmem_init(&m, 16u << 20, &err) != 0)
                        abort();
                ready = 1;
        }
        return &m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct boot_image img;
        struct cvmm_err err;
        if (boot_image_open_mem(&img, data, size, "fuzz", &err) != 0)
                return 0;
        static const struct hw_platform plat = {.reset_port = 0xcf9, .reset_value = 6};
        struct boot_entry e;
        if (boot_image_load(&img, guest(), &plat, "console=ttyS0", 2, &e, &err) == 0 &&
            e.kind != img.kind)
                abort();
        boot_image_free(&img);
        return 0;
}
