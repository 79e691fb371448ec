/*
 * src/svm/svm_state.h - the SVM state a CPU carries (APM Vol. 2 15), and
 * the calls the interpreter makes into src/svm. Included by
 * cpu_internal.h, so every file of src/cpu sees struct cpu_svm.
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
 * rely on it, so nothing in guest memory is written for it. */
typedef struct svm_host_state {
    svmx_segment es, cs, ss, ds;
    svmx_dtable  gdt, idt;
    uint64_t     efer, cr0, cr3, cr4, rflags, rip, rsp, rax;
} svm_host_state;

typedef struct cpu_svm {
    bool           guest;      /* guest mode: after VMRUN, before #VMEXIT  */
    uint64_t       vmcb_pa;    /* the VMCB VMRUN loaded (RAX at VMRUN)     */
    svmx_vmcb      vmcb;       /* its contents as read at VMRUN: the cached
                                  controls and, at #VMEXIT, the page the
                                  guest state and exit fields go into      */
    svm_host_state host;
    bool           np;         /* nested paging on for the running guest   */
} cpu_svm;

#endif /* SVMX_SVM_SVM_STATE_H */
