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

/* Everything a #VMEXIT reports (APM Vol. 2 15.6, 15.7). */
typedef struct svm_exit {
    uint64_t code;      /* EXITCODE                                      */
    uint64_t info1;     /* EXITINFO1                                     */
    uint64_t info2;     /* EXITINFO2                                     */
    uint64_t intinfo;   /* EXITINTINFO: the event being delivered, or 0  */
    uint64_t nrip;      /* NRIP: the next instruction of an instruction
                           intercept, 0 for the other exits (15.7.1)     */
} svm_exit;

/* An instruction intercept that fired inside a handler: the #VMEXIT is
 * performed once the run loop has put RIP back on the instruction
 * (svm_exit_finish in svm_exec.h). */
typedef struct svm_pending_exit {
    bool     valid;            /* `exit` waits (intinfo 0, nrip the
                                  instruction after the intercepted one) */
    bool     stop;             /* VMRUN entered the guest, then the run had
                                  to stop (its injected event could not be
                                  delivered): report CPU_STOP              */
    svm_exit exit;
} svm_pending_exit;

typedef struct cpu_svm {
    bool           guest;      /* guest mode: after VMRUN, before #VMEXIT  */
    bool           np;         /* nested paging on for the running guest   */
    bool           vintr;      /* V_IRQ of the running guest is set: a
                                  virtual interrupt waits (15.21.4)        */
    uint32_t       features;   /* CPUID 8000_000A EDX at VMRUN             */
    uint64_t       vmcb_pa;    /* the VMCB VMRUN loaded (RAX at VMRUN)     */
    uint8_t       *vmcb_page;  /* its host address: VMRUN takes only a
                                  VMCB in RAM, which stays where it is
                                  while the CPU exists (svmx_mem)         */
    uint64_t       tsc_offset; /* TSC_OFFSET of the running guest          */
    svmx_vmcb      vmcb;       /* its control area and G_PAT as read at
                                  VMRUN, intercept words reduced to what
                                  the personality advertises: the cached
                                  controls (vmrun.c step 1). The rest of
                                  its bytes mean nothing: #VMEXIT writes
                                  the page itself                          */
    svm_host_state host;
    svm_pending_exit pending;
    bool           caps_ready; /* `caps` holds the personality's part     */
    svmx_svm_caps  caps;       /* svmx_svm_caps_from_cpu() as of the last
                                  VMRUN: the personality's part, which no
                                  CPU state changes, read at the first
                                  VMRUN after RESET or INIT instead of on
                                  every one; the host bits set by each   */
} cpu_svm;

/* Fills cpu->svm.caps's personality part and sets caps_ready
 * (vmrun_check.c; svm_caps() in svm_exec.h calls it). */
svmx_status svm_caps_personal(svmx_cpu *cpu);

#endif /* SVMX_SVM_SVM_STATE_H */
