/*
 * src/svm/svm_state.h - the SVM state a CPU carries (APM Vol. 2 15).
 * Included by cpu_internal.h, so every file of src/cpu sees struct
 * cpu_svm; the calls the interpreter makes into src/svm are in
 * svm_exec.h.
 *
 * VM_CR and VM_HSAVE_PA are MSRs with the others (cpu->msr, msr.c).
 *
 * The controls of the running guest are the VMCB as VMRUN read it: later
 * guest writes to the VMCB page have no effect until the next VMRUN
 * (APM Vol. 2 15.5.1, 15.15 "VMCB state caching").
 */
#ifndef SVMX_SVM_SVM_STATE_H
#define SVMX_SVM_SVM_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "svmx/cpu.h"
#include "svmx/svm.h"

/* The host (L1) state VMRUN saves and #VMEXIT restores (APM Vol. 2
 * 15.5.1 "the host save area"). Kept inside the model: its format in
 * the host save area is implementation-specific and software must not
 * rely on it, so nothing in guest memory is written for it. `rip` is the
 * instruction after VMRUN. CR8 and PAT are kept for the two cases where
 * the guest has its own copy (V_INTR_MASKING, nested paging's G_PAT). */
typedef struct svm_host_state {
    svmx_segment es, cs, ss, ds;
    svmx_dtable  gdt, idt;
    uint64_t     efer, cr0, cr3, cr4, rflags, rip, rsp, rax;
    uint64_t     cr8, pat;
} svm_host_state;

/* An instruction intercept that fired inside a handler: the #VMEXIT is
 * performed once the run loop has put RIP back on the instruction
 * (svm_exit_finish in svm_exec.h). */
typedef struct svm_pending_exit {
    bool     valid;
    bool     stop;             /* VMRUN entered the guest, then the run had
                                  to stop (its injected event could not be
                                  delivered): report CPU_STOP              */
    uint64_t code, info1, info2;
    uint64_t nrip;             /* the instruction after the intercepted one */
} svm_pending_exit;

typedef struct cpu_svm {
    bool           guest;      /* guest mode: after VMRUN, before #VMEXIT  */
    bool           np;         /* nested paging on for the running guest   */
    bool           vintr;      /* V_IRQ of the running guest is set: a
                                  virtual interrupt waits (15.21.4)        */
    uint32_t       features;   /* CPUID 8000_000A EDX at VMRUN             */
    uint64_t       vmcb_pa;    /* the VMCB VMRUN loaded (RAX at VMRUN)     */
    uint64_t       tsc_offset; /* TSC_OFFSET of the running guest          */
    svmx_vmcb      vmcb;       /* its contents as read at VMRUN, intercept
                                  words reduced to what the personality
                                  advertises: the cached controls and, at
                                  #VMEXIT, the page the guest state and
                                  exit fields go into                      */
    svm_host_state host;
    svm_pending_exit pending;
    bool           caps_ready; /* `caps` holds the personality's part     */
    svmx_svm_caps  caps;       /* svmx_svm_caps_from_cpu() but the host
                                  bits: CPUID answers no state changes,
                                  read at the first VMRUN after RESET or
                                  INIT instead of on every one            */
} cpu_svm;

/* svmx_svm_caps_from_cpu() for VMRUN (vmrun_check.c): the personality's
 * part from cpu->svm.caps (filled on first use), the host's from its
 * registers. */
svmx_status svm_caps(svmx_cpu *cpu, svmx_svm_caps *caps);

#endif /* SVMX_SVM_SVM_STATE_H */
