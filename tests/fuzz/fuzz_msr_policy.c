/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the MSR policy (cvmm/msr.h). Input: a 32-bit MSR index, a byte choosing
 * read or write and the profile, and the DYN_* rows the TD has enabled. Asserts what msr.h
 * promises, with the TDX table searched here by a plain linear scan (independent of the
 * library's own lookup): a lookup is deterministic; KVM-owned MSRs are native in every
 * profile; the host profile leaves every MSR to KVM; under tdx, FIXED_0 rows are native, a
 * FIXED_1 (never native) #GP row is #GP and never native, an unlisted MSR is emulated exactly
 * when cvmm's emulation table has it (with that row's read value), else unknown.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cvmm/msr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct cvmm_tdx_msr_row *tdx_row(uint32_t index)
{
        for (size_t i = 0; i < cvmm_tdx_msr_rows_count; i++)
                if (index >= cvmm_tdx_msr_rows[i].first && index <= cvmm_tdx_msr_rows[i].last)
                        return &cvmm_tdx_msr_rows[i];
        return NULL;
}

static int kvm_owned(uint32_t index)
{
        for (size_t i = 0; i < cvmm_msr_kvm_owned_count; i++)
                if (index >= cvmm_msr_kvm_owned[i].first && index <= cvmm_msr_kvm_owned[i].last)
                        return 1;
        return 0;
}

static const struct cvmm_msr_emulated *emulated(uint32_t index)
{
        for (size_t i = 0; i < cvmm_msr_emulated_count; i++)
                if (index >= cvmm_msr_emulated[i].first && index <= cvmm_msr_emulated[i].last)
                        return &cvmm_msr_emulated[i];
        return NULL;
}

#define ASSERT(c)                                                                                  \
        do {                                                                                       \
                if (!(c))                                                                          \
                        abort();                                                                   \
        } while (0)

static void one(enum cvmm_profile p, const struct cvmm_msr_env *env, uint32_t index, bool write)
{
        struct cvmm_msr_decision d, again;
        cvmm_msr_classify(p, env, index, write, &d);
        cvmm_msr_classify(p, env, index, write, &again);
        ASSERT(memcmp(&d, &again, sizeof(d)) == 0);
        ASSERT(d.cls <= CVMM_MSR_UNKNOWN && d.reason != NULL);
        ASSERT(cvmm_msr_class_name(d.cls) != NULL);
        if (kvm_owned(index)) {
                ASSERT(d.cls == CVMM_MSR_NATIVE);
                return;
        }
        if (!cvmm_profile_get(p)->msr_default_deny) {
                ASSERT(d.cls == CVMM_MSR_NATIVE);
                return;
        }
        const struct cvmm_tdx_msr_row *row = tdx_row(index);
        const struct cvmm_msr_emulated *e = emulated(index);
        if (row) {
                unsigned bm = write ? row->write_bitmap : row->read_bitmap;
                unsigned act = write ? row->write_action : row->read_action;
                if (bm == CVMM_TDX_FIXED_0)
                        ASSERT(d.cls == CVMM_MSR_NATIVE);
                if (bm == CVMM_TDX_FIXED_1 && act == CVMM_TDX_GP)
                        ASSERT(d.cls == CVMM_MSR_GP);
                return;
        }
        if (e) {
                ASSERT(d.cls == CVMM_MSR_EMULATED && d.read_value == e->read_value &&
                       d.read_gp == e->read_gp);
        } else {
                ASSERT(d.cls == CVMM_MSR_UNKNOWN);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t in[9] = {0};
        memcpy(in, data, size < sizeof(in) ? size : sizeof(in));
        uint32_t index, dyn;
        memcpy(&index, in, 4);
        memcpy(&dyn, in + 5, 4);
        struct cvmm_msr_env env = {.dyn_enabled = dyn};
        for (unsigned p = 0; p < CVMM_NPROFILES; p++) {
                one((enum cvmm_profile)p, &env, index, in[4] & 1);
                one((enum cvmm_profile)p, NULL, index, in[4] & 1);
        }
        return 0;
}
