/*
 * src/svm/vmrun_check.h - VMRUN's quick consistency test (APM Vol. 2
 * 15.5.1 "Canonicalization and Consistency Checks"), the common case of
 * svmx_svm_vmrun_check() (vmrun_check.c): true only when every check
 * passes; false when one fails or when the quick test cannot tell - then
 * the full check decides, and names the one that fails. test_svm_check
 * and fuzz_vmrun_check hold the two together.
 */
#ifndef SVMX_SVM_VMRUN_CHECK_H
#define SVMX_SVM_VMRUN_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu_internal.h"
#include "svm/svm_internal.h"
#include "svmx/svm.h"

/*
 * 15.25.4, 7.8.1: every PAT entry (one byte) is a supported type - UC 0,
 * WC 1, WT 4, WP 5, WB 6, UC- 7 - with its reserved bits 7:3 clear. All
 * eight at once: an entry is bad if a bit of 7:3 is set, or if bit 1 is
 * set and bit 2 clear (types 2 and 3).
 */
#define SVM_PAT_BYTE_LSB 0x0101010101010101ull
static inline bool svm_pat_valid(uint64_t pat)
{
    uint64_t bad = (pat & 0xf8 * SVM_PAT_BYTE_LSB) |
                   ((pat >> 1) & ~(pat >> 2) & SVM_PAT_BYTE_LSB);
    return bad == 0;
}

/*
 * svmx_svm_vmrun_check()'s common case, for VMRUN: its checks as one OR
 * of what makes each fail, without the bit per check and the report - and
 * conservative where that is simpler: a valid EVENTINJ, and an IOPM or
 * MSRPM base at or above 2^(MAXPHYADDR-1), answer false without looking
 * further (below that the map's last byte is always under 2^MAXPHYADDR
 * - 1, as MAXPHYADDR >= 32). So true means every check passes, false
 * only "ask svmx_svm_vmrun_check()". The numbers are those of its
 * comments (vmrun_check.c), in svm.h's order of the checks.
 * Inline, so VMRUN keeps the loads in registers.
 */
static inline bool svm_vmrun_check_fast(const svmx_vmcb *vmcb,
                                        const svmx_svm_caps *caps)
{
    unsigned m = caps->maxphyaddr;
    if (m < 32 || m > 52)
        return false;
    uint64_t efer = svm_rd64(vmcb, SVMX_VMCB_EFER);
    uint64_t cr0 = svm_rd64(vmcb, SVMX_VMCB_CR0);
    uint64_t cr3 = svm_rd64(vmcb, SVMX_VMCB_CR3);
    uint64_t cr4 = svm_rd64(vmcb, SVMX_VMCB_CR4);
    uint16_t cs = svm_rd16(vmcb, SVMX_VMCB_CS_ATTRIB);
    bool lme_pg = (efer & CPU_EFER_LME) && (cr0 & CPU_CR0_PG);
    uint64_t efer_ok = caps->efer_allowed &
                       (caps->long_mode ? ~0ull
                                        : ~(CPU_EFER_LMA | CPU_EFER_LME));
    uint64_t bad =
        (~efer & CPU_EFER_SVME) |                                   /* 1 */
        (cr0 & ~(cr0 >> 1) & CPU_CR0_NW) |  /* 2: NW (29) without CD (30) */
        ((cr0 | svm_rd64(vmcb, SVMX_VMCB_DR6) |               /* 3, 6, 7 */
          svm_rd64(vmcb, SVMX_VMCB_DR7)) >> 32) |
        (cr3 >> (lme_pg ? m : 32u)) |                               /* 4 */
        (cr4 & ~caps->cr4_allowed) |                                /* 5 */
        (efer & ~efer_ok) |                                      /* 8, 9 */
        ((svm_rd64(vmcb, SVMX_VMCB_MSRPM_BASE_PA) |          /* 14, 15 */
          svm_rd64(vmcb, SVMX_VMCB_IOPM_BASE_PA)) >> (m - 1)) |
        (svm_rd64(vmcb, SVMX_VMCB_EVENTINJ) &                   /* 16-18 */
         SVMX_SVM_EVENT_VALID);
    if (lme_pg)                                                 /* 10-12 */
        bad |= (~cr4 & CPU_CR4_PAE) | (~cr0 & CPU_CR0_PE) |
               ((cs & SVMX_SEG_ATTR_L) && (cs & SVMX_SEG_ATTR_DB));
    bad |= !svm_icpt_bit(vmcb, SVMX_SVM_INTERCEPT_VMRUN);          /* 13 */
    bad |= svm_rd32(vmcb, SVMX_VMCB_GUEST_ASID) == 0;              /* 19 */
    if ((caps->svm_features & SVMX_SVM_FEATURE_NP) &&           /* 20-22 */
        (svm_rd64(vmcb, SVMX_VMCB_NP_ENABLE) & SVMX_VMCB_NP_ENABLE_BIT))
        bad |= (uint64_t)!caps->host_paging |
               (svm_rd64(vmcb, SVMX_VMCB_N_CR3) >>
                (caps->host_long_mode ? m : 32u)) |
               (uint64_t)!svm_pat_valid(svm_rd64(vmcb, SVMX_VMCB_G_PAT));
    if (caps->svm_features & SVMX_SVM_FEATURE_VNMI)                /* 23 */
        bad |= (vmcb->bytes[SVMX_VMCB_V_INTR_MASKING] &
                SVMX_VMCB_V_NMI_ENABLE_BIT) &&
               !svm_icpt_bit(vmcb, SVMX_SVM_INTERCEPT_NMI);
    return bad == 0;
}

#endif /* SVMX_SVM_VMRUN_CHECK_H */
