/*
 * src/svm/svm_exec.h - the calls the interpreter (src/cpu) makes into the
 * SVM world switch and intercepts. Every hook in src/cpu is one of these,
 * guarded by cpu->svm.guest, so a CPU outside guest mode pays one load
 * and branch per hook and nothing else.
 *
 * How an intercept travels (docs/svm.md, "Intercepts"):
 *   - an instruction handler calls svm_intercept() once its simple
 *     exceptions have been checked (APM Vol. 2 15.9, see intercept.c).
 *     When the VMCB intercepts the instruction it records the exit and
 *     returns CPU_EXIT; the handler returns that at once, with nothing
 *     changed. The run loop (exec.c step_one) then puts RIP back on the
 *     instruction, as for a fault, and svm_exit_finish() performs the
 *     #VMEXIT: the VMCB gets the RIP of the intercepted instruction and
 *     NRIP the next one (15.7.1);
 *   - an event at an instruction boundary (INTR, NMI, SMI, VINTR), an
 *     exception about to be delivered, and a triple fault exit at once
 *     through svm_event_exit()/svm_exception(): RIP is already the
 *     guest's;
 *   - VMRUN itself returns CPU_EXIT when it entered the guest.
 * CPU_EXIT is never a fault and never a stop: the run loop counts the
 * instruction (or event), rewinds nothing more and delivers nothing.
 */
#ifndef SVMX_SVM_SVM_EXEC_H
#define SVMX_SVM_SVM_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/cpu_internal.h"
#include "cpu/fault.h"
#include "nested/nested_exec.h"
#include "svmx/svm.h"

/* ========================================================== #VMEXIT == */

/* svm_exit, everything a #VMEXIT reports, is in svm_state.h. */

/*
 * #VMEXIT from guest mode (vmexit.c): saves the guest state and the exit
 * fields into the VMCB page, restores the host state, clears GIF. The
 * guest RIP saved is cpu->regs.rip. Returns CPU_EXIT; CPU_STOP when the
 * host state cannot be restored (shutdown, 15.6) or an MMIO handler
 * failed on the VMCB page. Nothing happens outside guest mode (CPU_OK).
 */
cpu_res svm_vmexit_full(svmx_cpu *cpu, const svm_exit *e);

/*
 * Leaves guest mode without a #VMEXIT (vmexit.c): the host state comes
 * back as #VMEXIT restores it (15.6 step 5), but nothing is written into
 * the VMCB and GIF is left as it is. Rule R2's first half (src/nested/
 * rules.c). CPU_EXIT, or CPU_STOP when the host state cannot be restored.
 */
cpu_res svm_leave_guest(svmx_cpu *cpu);

/* The same with EXITINTINFO and NRIP 0: the call nested paging uses for
 * #VMEXIT(NPF) (npt.h), and any exit that is not an instruction's. */
cpu_res svm_vmexit(svmx_cpu *cpu, uint64_t code, uint64_t info1,
                   uint64_t info2);

/* ======================================================== intercepts == */

/* EXITINFO1 of a MOV CRn intercept with decode assists (15.33.1): bit 63
 * says a MOV caused it (not LMSW, CLTS or SMSW), bits 3:0 the GPR. MOV
 * DRn reports the GPR alone. */
#define SVM_INFO1_MOV_CR(gpr) (1ull << 63 | ((gpr) & 15u))
#define SVM_INFO1_MOV_DR(gpr) ((uint64_t)((gpr) & 15u))

/* Out-of-line halves of the inline hooks below (intercept.c). */
cpu_res svm_insn_exit(svmx_cpu *cpu, uint64_t code, uint64_t info1,
                      uint64_t info2);
cpu_res svm_cr0_exit(svmx_cpu *cpu, uint64_t new_cr0, bool lmsw,
                     uint64_t info1);
cpu_res svm_exit_commit(svmx_cpu *cpu, uint64_t rip, uint8_t shadow);
cpu_res svm_exception_exit(svmx_cpu *cpu, const cpu_fault *e,
                           const cpu_fault *during);
cpu_res svm_event_exit_slow(svmx_cpu *cpu, uint64_t code);
bool svm_guest_intr_ready(const svmx_cpu *cpu);
bool svm_vintr_ready(const svmx_cpu *cpu);
cpu_res svm_vintr_take(svmx_cpu *cpu, cpu_fault *ev);
cpu_res svm_task_switch_exit(svmx_cpu *cpu, uint16_t tss, uint64_t info2,
                             const cpu_fault *during);

/* IRET with NT set in guest mode: reads the back link of the current TSS
 * (the target) and takes the task-switch intercept if it is set. */
cpu_res svm_iret_task_switch(svmx_cpu *cpu, cpu_fault *f);

/*
 * An instruction's event, from a handler whose simple exceptions passed
 * (RIP is the next instruction), routed by src/nested/route.c. `code` is
 * the exit code; `info1` and `info2` its EXITINFO fields as the exit
 * defines them - decode-assist values are dropped when the personality
 * does not advertise decode assists (15.33), and IOIO/MSR exits go
 * through the IOPM/MSRPM (15.10, 15.11). Reached in guest mode, and
 * outside it while an L1 policy is set. CPU_OK: neither L1 nor L0 takes
 * it, go on (ARCH). CPU_EXIT: L1 does, return it. CPU_STOP: L0 does, or
 * an MMIO handler failed on a permission map.
 */
static inline cpu_res svm_intercept(svmx_cpu *cpu, uint64_t code,
                                    uint64_t info1, uint64_t info2)
{
    return nested_routed(cpu) ? svm_insn_exit(cpu, code, info1, info2)
                              : CPU_OK;
}

/*
 * A write of new_cr0 to CR0 by MOV (lmsw = false; CLTS is a MOV of
 * CR0 & ~TS for this purpose) or by LMSW: the CR0 write intercept, else
 * the selective one (15.9 Table 15-7), same results as svm_intercept().
 */
static inline cpu_res svm_cr0_intercept(svmx_cpu *cpu, uint64_t new_cr0,
                                        bool lmsw, uint64_t info1)
{
    return cpu->svm.guest ? svm_cr0_exit(cpu, new_cr0, lmsw, info1) : CPU_OK;
}

/* MOV to or from CRn (n 0-15) with `value` the source of a write: the
 * CRn read or write intercept, CR0 writes as svm_cr0_intercept(). */
static inline cpu_res svm_cr_intercept(svmx_cpu *cpu, unsigned n, bool write,
                                       uint64_t value, uint64_t info1)
{
    if (!cpu->svm.guest)
        return CPU_OK;
    if (write && n == 0)
        return svm_cr0_exit(cpu, value, false, info1);
    return svm_insn_exit(cpu, (write ? SVMX_SVM_EXIT_CR0_WRITE
                                     : SVMX_SVM_EXIT_CR0_READ) + n,
                         info1, 0);
}

/*
 * The run loop's half of an instruction intercept: `rip` is the
 * instruction's own RIP and `shadow` the interrupt shadow it began with.
 * Performs the recorded #VMEXIT (CPU_EXIT or CPU_STOP); CPU_OK when
 * nothing was recorded (VMRUN that entered the guest).
 */
static inline cpu_res svm_exit_finish(svmx_cpu *cpu, uint64_t rip,
                                      uint8_t shadow)
{
    return cpu->svm.pending.valid || cpu->svm.pending.stop
               ? svm_exit_commit(cpu, rip, shadow)
               : CPU_OK;
}

/*
 * exec_deliver(), before it delivers *e: an exception the VMCB intercepts
 * exits instead (15.12), with EXITINTINFO describing `during`, the event
 * whose delivery raised it (NULL for none, 15.7.2); a nested page fault
 * always exits (npt.h). CPU_OK: deliver it.
 */
static inline cpu_res svm_exception(svmx_cpu *cpu, const cpu_fault *e,
                                    const cpu_fault *during)
{
    return cpu->svm.guest ? svm_exception_exit(cpu, e, during) : CPU_OK;
}

/*
 * An event taken at an instruction boundary or a shutdown: exit `code`
 * (INTR, NMI, SMI, SHUTDOWN) when the VMCB intercepts it, with EXITINFO1
 * and EXITINFO2 0. CPU_OK when it does not.
 */
static inline cpu_res svm_event_exit(svmx_cpu *cpu, uint64_t code)
{
    return nested_routed(cpu) ? svm_event_exit_slow(cpu, code) : CPU_OK;
}

/* An NMI that the VMCB intercepts exits even while NMIs are blocked
 * (only GIF holds it, docs/svm.md). */
static inline bool svm_nmi_exits(const svmx_cpu *cpu)
{
    return cpu->svm.guest &&
           svmx_svm_intercept_test(&cpu->svm.vmcb, SVMX_SVM_INTERCEPT_NMI);
}

/* The time-stamp counter as the running code reads it: TSC + TSC_OFFSET
 * in guest mode (APM Vol. 2 Table B-1 TSC_OFFSET: added to what RDTSC,
 * RDTSCP and RDMSR of the TSC return). */
static inline uint64_t svm_tsc(const svmx_cpu *cpu)
{
    return cpu->tsc + (cpu->svm.guest ? cpu->svm.tsc_offset : 0);
}

/*
 * A task switch the model reached (far JMP/CALL to a TSS or task gate, a
 * task gate in the IDT, IRET with NT): #VMEXIT(TASK_SWITCH) when
 * intercepted (15.14.1 "Task Switch Intercept"), EXITINFO1 = the target
 * TSS selector, EXITINFO2 = the reason bits; `during` is the event whose
 * delivery reached a task gate, or NULL. CPU_OK when not intercepted: the
 * caller then stops UNSUPPORTED, as task switches are not modelled.
 */
#define SVM_TS_IRET    (1ull << 36)
#define SVM_TS_JMP     (1ull << 38)
#define SVM_TS_ERRCODE (1ull << 44)
static inline cpu_res svm_task_switch(svmx_cpu *cpu, uint16_t tss,
                                      uint64_t info2,
                                      const cpu_fault *during)
{
    return cpu->svm.guest ? svm_task_switch_exit(cpu, tss, info2, during)
                          : CPU_OK;
}

/* ========================================= between the src/svm files == */

/*
 * The world switch into the guest (vmrun.c, APM Vol. 2 15.5.1) for the
 * VMCB at `pa`, which the VMRUN handler checked (page-aligned RAM below
 * MAXPHYADDR) and found at host address `page` (#VMEXIT writes it there
 * again). CPU_EXIT: the guest runs (or already exited again while its
 * injected event was delivered); CPU_OK: #VMEXIT(VMEXIT_INVALID), the
 * host goes on after VMRUN; CPU_STOP: the run must stop.
 */
cpu_res svm_vmrun(svmx_cpu *cpu, uint64_t pa, uint8_t *page);

/* The host's part of the capabilities: its paging and long mode now
 * (APM Vol. 2 15.25.3). */
static inline void svm_caps_host(const svmx_cpu *cpu, svmx_svm_caps *caps)
{
    caps->host_paging = (cpu->sregs.cr0 & CPU_CR0_PG) != 0;
    caps->host_long_mode = (cpu->sregs.efer & CPU_EFER_LMA) != 0;
}

/* svmx_svm_caps_from_cpu() for VMRUN: cpu->svm.caps, its personality's
 * part filled on first use, its host bits set from the registers now;
 * NULL when the personality cannot say. */
static inline const svmx_svm_caps *svm_caps(svmx_cpu *cpu)
{
    if (!cpu->svm.caps_ready && svm_caps_personal(cpu) != SVMX_OK)
        return NULL;
    svm_caps_host(cpu, &cpu->svm.caps);
    return &cpu->svm.caps;
}

/* PAE paging outside long mode: the PDPTEs are registers, loaded from
 * CR3 (SDM Vol. 3A 4.4.1). */
static inline bool svm_pae_legacy(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
    return (cr0 & CPU_CR0_PG) && (cr4 & CPU_CR4_PAE) &&
           !(efer & CPU_EFER_LMA);
}

/* Writes `n` fields of *v to the VMCB page at `pa`, each at its offset
 * (vmexit.c); the first failing MMIO status, else SVMX_OK. */
svmx_status svm_vmcb_put(svmx_cpu *cpu, uint64_t pa,
                         const svmx_vmcb *v, const svmx_vmcb_field *fields,
                         size_t n);

/* Clears the cached VMCB's intercept bits of features the personality
 * does not advertise (intercept.c); VMRUN calls it once. */
void svm_mask_intercepts(svmx_cpu *cpu);

/* A segment register to and from the VMCB's four fields (selector,
 * attributes, limit, base at offsets 0, 2, 4, 8 from `at`: Table B-2).
 * The attributes are the 12 bits svmx_segment.attr shares with the VMCB. */
static inline void svm_seg_store(svmx_vmcb *v, svmx_vmcb_field at,
                                 const svmx_segment *s)
{
    svmx_vmcb_set(v, at, s->selector);
    svmx_vmcb_set(v, (svmx_vmcb_field)(at + 2), s->attr & 0xfffu);
    svmx_vmcb_set(v, (svmx_vmcb_field)(at + 4), s->limit);
    svmx_vmcb_set(v, (svmx_vmcb_field)(at + 8), s->base);
}

static inline svmx_segment svm_seg_load(const svmx_vmcb *v,
                                        svmx_vmcb_field at)
{
    return (svmx_segment){
        .selector = (uint16_t)svmx_vmcb_get(v, at),
        .attr = (uint16_t)(svmx_vmcb_get(v, (svmx_vmcb_field)(at + 2)) & 0xfffu),
        .limit = (uint32_t)svmx_vmcb_get(v, (svmx_vmcb_field)(at + 4)),
        .base = svmx_vmcb_get(v, (svmx_vmcb_field)(at + 8)),
    };
}

#endif /* SVMX_SVM_SVM_EXEC_H */
