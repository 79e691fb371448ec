/*
 * src/svm/npt.h - SVM nested paging (APM Vol. 2 15.25): the walk of the
 * nested page tables and the nested page fault, #VMEXIT(NPF) (exit code
 * 0x400, SVMX_SVM_EXIT_NPF).
 *
 * While a guest runs with NP_ENABLE set (npt_active(): cpu->svm.guest and
 * cpu->svm.np, which VMRUN sets), every guest-physical address the CPU
 * uses - each entry of the guest's page tables, the guest's PAE PDPTEs,
 * and the final address of every translation, also with the guest's
 * paging off - is translated through the nested tables rooted at nCR3.
 * The nested tables have the format of the host's paging mode as VMRUN
 * saw it (cpu->svm.host: EFER.LMA 4-level, else CR4.PAE PAE, else 32-bit
 * legacy paging; APM Vol. 2 15.25.3), and are walked by paging_walk()
 * over the descriptor npt_desc() builds - the walker is written once.
 * paging.c calls npt_walk() for each guest-physical address; what
 * paging_translate() returns, and what the TLB and the hostmap cache, is
 * the combined linear -> host-physical translation.
 *
 * The rules of the nested walk (docs/svm.md, "Nested paging"):
 *   - every nested access is a user access (APM Vol. 2 15.25.5): U/S = 0
 *     anywhere in the nested walk faults, CR0.WP/SMEP/SMAP do not apply;
 *   - an access to the guest's page tables (reading an entry, setting its
 *     A/D bits, reading a PAE PDPTE) is a nested write, so guest tables
 *     need writable nested pages (EXITINFO1 of such an NPF has W set,
 *     as hardware reports: kvm-unit-tests npt_rw_pfwalk, "confirmed on
 *     bare metal");
 *   - the final access is checked as what it is - read, write or fetch -
 *     against the nested R/W and NX (NX with the host's EFER.NXE);
 *   - A is set in every nested entry used and D in the nested leaf of a
 *     write, as in any walk (APM Vol. 2 5.4.1);
 *   - a reserved bit set in a nested entry is an NPF with P and RSVD.
 *
 * Fault order (APM Vol. 2 15.25.6): the guest walk goes level by level;
 * at each level the entry's address is translated first (an NPF with
 * bit 33 if that fails), then the entry is checked (a guest #PF if that
 * fails). Once the guest walk gives an allowed translation, its final
 * guest-physical address is translated (an NPF with bit 32 if that
 * fails). A guest #PF therefore always wins over an NPF on the final
 * address; the guest's A/D bits are set only after the final translation
 * succeeded.
 */
#ifndef SVMX_SVM_NPT_H
#define SVMX_SVM_NPT_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu_internal.h"
#include "cpu/fault.h"
#include "cpu/paging.h"

/* Whether guest-physical addresses go through the nested tables now. */
static inline bool npt_active(const svmx_cpu *cpu)
{
    return cpu->svm.guest && cpu->svm.np;
}

/*
 * NPF EXITINFO1 (APM Vol. 2 15.25.6); EXITINFO2 is the guest-physical
 * address that faulted:
 *   [0]  P     1: a rights violation or reserved bit; 0: not present
 *   [1]  RW    the nested access was a write (always, for a table access)
 *   [2]  US    always 1: nested accesses are user accesses (15.25.5)
 *   [3]  RSVD  a reserved bit set in a nested entry (always with P)
 *   [4]  ID    a fetch, with the host's EFER.NXE and CR4.PAE set
 *   [32] the fault was on the final guest-physical address
 *   [33] the fault was on an access to the guest's page tables
 * Exactly one of bits 32 and 33 is set. The bits the APM defines for
 * features the model lacks (protection keys, shadow stacks, SEV-SNP's
 * RMP and encrypted accesses) stay 0.
 */
#define NPT_INFO1_ERROR      0xffffffffull
#define NPT_INFO1_FINAL      (1ull << 32)
#define NPT_INFO1_TABLES     (1ull << 33)

/* EXITINFO1 of a nested fault: the nested walk's error bits and the bit
 * of its stage (PG_STAGE_FINAL or PG_STAGE_TABLES). */
static inline uint64_t npt_exitinfo1(uint32_t error, pg_stage stage)
{
    return (uint64_t)error |
           (stage == PG_STAGE_FINAL ? NPT_INFO1_FINAL : NPT_INFO1_TABLES);
}

/* nCR3 and G_PAT of the running guest, from the VMCB as VMRUN read it.
 * G_PAT is kept for readers; the model has no memory types, so it does
 * not change any translation (APM Vol. 2 15.25.8). */
uint64_t npt_ncr3(const svmx_cpu *cpu);
uint64_t npt_g_pat(const svmx_cpu *cpu);

/*
 * The descriptor of the nested tables: the host's paging mode at VMRUN
 * (cpu->svm.host CR0/CR4/EFER), rooted at nCR3 (bits M-1:12 with a
 * 4-level host, 31:5 with a PAE host - whose four nested PDPTEs are read
 * from memory on every walk - and 31:12 with a 32-bit host), the host's
 * reserved bits and NX, and I/D reported for fetches when the host has
 * EFER.NXE and CR4.PAE. False when the saved host state has CR0.PG
 * clear, which VMRUN refuses with NP_ENABLE set (an internal invariant).
 */
bool npt_desc(const svmx_cpu *cpu, pg_desc *d);

/*
 * One nested translation: `gpa` for an access of kind `kind` (PG_READ,
 * PG_WRITE or PG_EXEC; made a user access here). CPU_OK: w->phys is the
 * host-physical address, w->perm the nested rights, w->dirty the nested
 * leaf's D. CPU_FAULT: w->fault, w->level and w->error (bits 31:0 of
 * EXITINFO1) describe the nested fault. CPU_STOP: an MMIO handler failed
 * on a nested entry (cpu->tlb.stop), or the invariant above is broken.
 * Sets the nested A/D bits; touches no TLB.
 */
cpu_res npt_walk(svmx_cpu *cpu, uint64_t gpa, unsigned kind, pg_walk *w);

/*
 * ------------------------------------------------ the NPF as a fault --
 *
 * A nested page fault travels up from paging_translate() like any fault:
 * CPU_FAULT with a cpu_fault that npt_raise() fills, so every instruction
 * handler abandons the instruction with nothing written and the run loop
 * rewinds RIP to it (an NPF is fault-like: the #VMEXIT saves the guest
 * RIP of the faulting instruction, and NEXT_RIP is 0). The cpu_fault is
 * not an exception: its vector (NPT_FAULT_VECTOR) is no exception vector,
 * and it must never be delivered through the guest's IDT.
 *
 * Encoding, private to these functions:
 *   vector   NPT_FAULT_VECTOR, kind CPU_EV_HWEXC, has_error false
 *   error    EXITINFO1[31:0]
 *   insn_len EXITINFO1[39:32] (unused by hardware exceptions)
 *   payload  EXITINFO2, the guest-physical address
 *
 * Who consumes it: svm_exception() (svm_exec.h, intercept.c), which
 * exec_deliver() asks before it delivers a fault raised in guest mode and
 * before it delivers one raised while an event was being delivered (the
 * IDT, GDT, TSS and stack accesses of the delivery). It tests
 * npt_fault_is_npf() first and performs #VMEXIT(NPF) with EXITINFO1 =
 * npt_fault_exitinfo1(f), EXITINFO2 = npt_fault_exitinfo2(f) and, for an
 * NPF during delivery, EXITINTINFO = the event being delivered (APM Vol.
 * 2 15.7.2). An NPF is never subject to the exception bitmap, never turns
 * into #DF, and does not set CR2. The TLB keeps the combined
 * translations per context (the host's, and one per guest ASID, tagged
 * with nCR3 and the paging inputs they were made from: docs/paging.md
 * "Contexts"); VMRUN flushes what TLB_CONTROL asks (APM Vol. 2 15.16.1).
 */
#define NPT_FAULT_VECTOR 0xffu

/* Fills *f with the nested page fault and returns CPU_FAULT. */
cpu_res npt_raise(cpu_fault *f, uint64_t exitinfo1, uint64_t exitinfo2);

static inline bool npt_fault_is_npf(const cpu_fault *f)
{
    return f->kind == CPU_EV_HWEXC && f->vector == NPT_FAULT_VECTOR;
}

static inline uint64_t npt_fault_exitinfo1(const cpu_fault *f)
{
    return (uint64_t)f->insn_len << 32 | f->error;
}

static inline uint64_t npt_fault_exitinfo2(const cpu_fault *f)
{
    return f->payload;
}

#endif /* SVMX_SVM_NPT_H */
