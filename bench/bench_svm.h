/*
 * bench/bench_svm.h - the machine the SVM benchmarks share: L1 on
 * bench_machine.h's 64-bit machine with EFER.SVME, and a VMCB for a
 * 64-bit guest sharing L1's segments and page tables (APM Vol. 2 15.5.1
 * for what VMRUN needs).
 */
#ifndef SVMX_BENCH_SVM_H
#define SVMX_BENCH_SVM_H

#include <stdint.h>
#include <string.h>

#include "svmx/svmx.h"

#include "bench_machine.h"

#define BSVM_PT        0x10000u     /* PML4, PDPT, PD                    */
#define BSVM_VMCB      0x40000u
#define BSVM_HSAVE     0x41000u
#define BSVM_L1_STACK  0x80000u
#define BSVM_L2_STACK  0x90000u

#define BSVM_MSR_EFER  0xc0000080u
#define BSVM_MSR_HSAVE 0xc0010117u
#define BSVM_EFER_LM   0x500ull       /* LME | LMA */
#define BSVM_EFER_SVME 0x1000ull

static inline void bsvm_seg(svmx_vmcb *v, svmx_vmcb_field at, uint16_t sel,
                            uint16_t attr)
{
    svmx_vmcb_set(v, at, sel);
    svmx_vmcb_set(v, (svmx_vmcb_field)(at + 2), attr);
    svmx_vmcb_set(v, (svmx_vmcb_field)(at + 4), 0xffffffff);
    svmx_vmcb_set(v, (svmx_vmcb_field)(at + 8), 0);
}

/* A 64-bit guest at CPL 0 with L1's segments and page tables, RIP at
 * `rip`, VMRUN intercepted (15.5.1 requires it), ASID 1. The caller adds
 * its intercepts and copies it to BSVM_VMCB. */
static inline void bsvm_vmcb(svmx_vmcb *v, uint64_t rip)
{
    memset(v, 0, sizeof *v);
    svmx_svm_intercept_set(v, SVMX_SVM_INTERCEPT_VMRUN, true);
    svmx_vmcb_set(v, SVMX_VMCB_GUEST_ASID, 1);
    bsvm_seg(v, SVMX_VMCB_CS_SELECTOR, 0x08, 0xa9b);
    bsvm_seg(v, SVMX_VMCB_SS_SELECTOR, 0x10, 0xc93);
    bsvm_seg(v, SVMX_VMCB_DS_SELECTOR, 0x10, 0xc93);
    bsvm_seg(v, SVMX_VMCB_ES_SELECTOR, 0x10, 0xc93);
    svmx_vmcb_set(v, SVMX_VMCB_EFER, BSVM_EFER_LM | BSVM_EFER_SVME);
    svmx_vmcb_set(v, SVMX_VMCB_CR0, 0x80000011);
    svmx_vmcb_set(v, SVMX_VMCB_CR3, BSVM_PT);
    svmx_vmcb_set(v, SVMX_VMCB_CR4, 0x20);
    svmx_vmcb_set(v, SVMX_VMCB_DR6, 0xffff0ff0);
    svmx_vmcb_set(v, SVMX_VMCB_DR7, 0x400);
    svmx_vmcb_set(v, SVMX_VMCB_RFLAGS, 0x2);
    svmx_vmcb_set(v, SVMX_VMCB_RIP, rip);
    svmx_vmcb_set(v, SVMX_VMCB_RSP, BSVM_L2_STACK);
}

/* Resets `cpu` into L1: bench_long_mode() with the tables at BSVM_PT and
 * the stack at BSVM_L1_STACK, EFER.SVME, VM_HSAVE_PA, RIP `entry`, RAX
 * the VMCB; the rest of RAM is the caller's. 0, or -1 if the state API
 * refused something. */
static inline int bsvm_boot(svmx_cpu *cpu, uint8_t *ram, uint64_t entry)
{
    if (bench_long_mode(cpu, ram, BSVM_PT, entry, BSVM_L1_STACK) ||
        svmx_cpu_set_msr(cpu, BSVM_MSR_EFER, BSVM_EFER_LM | BSVM_EFER_SVME) != SVMX_OK ||
        svmx_cpu_set_msr(cpu, BSVM_MSR_HSAVE, BSVM_HSAVE) != SVMX_OK)
        return -1;
    return bench_set_gpr(cpu, SVMX_RAX, BSVM_VMCB);
}

#endif /* SVMX_BENCH_SVM_H */
