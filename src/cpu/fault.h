/*
 * src/cpu/fault.h - how an operation inside the model reports what the
 * guest sees. No longjmp: every step that can fault returns a cpu_res and
 * fills a cpu_fault, which the caller passes up until the instruction
 * ends and the exception is delivered (STYLE.md 3.6).
 */
#ifndef SVMX_CPU_FAULT_H
#define SVMX_CPU_FAULT_H

#include <stdbool.h>
#include <stdint.h>

typedef enum cpu_res {
    CPU_OK = 0,   /* done                                                 */
    CPU_FAULT,    /* an exception: see the cpu_fault                      */
    CPU_STOP,     /* the run loop must stop (embedder handler failed, a
                     feature not modelled); see the CPU's stop record      */
    CPU_EXIT,     /* an SVM world switch ended the instruction or event:
                     VMRUN entered the guest, or an intercept fired and
                     #VMEXIT is done or pending (src/svm/svm_exec.h). Not
                     a fault, not a stop; nothing is to be rewound or
                     delivered by the caller                               */
    CPU_HANDOFF,  /* the fast loop's only (exec.c): the decode is not for
                     it and goes to step_one; never leaves run_fast_in     */
} cpu_res;

/* Exception vectors (SDM Vol. 3A 6.3.1 Table 6-1, APM Vol. 2 8.2). */
enum {
    CPU_VEC_DE = 0, CPU_VEC_DB = 1, CPU_VEC_NMI = 2, CPU_VEC_BP = 3,
    CPU_VEC_OF = 4, CPU_VEC_BR = 5, CPU_VEC_UD = 6, CPU_VEC_NM = 7,
    CPU_VEC_DF = 8, CPU_VEC_TS = 10, CPU_VEC_NP = 11, CPU_VEC_SS = 12,
    CPU_VEC_GP = 13, CPU_VEC_PF = 14, CPU_VEC_MF = 16, CPU_VEC_AC = 17,
    CPU_VEC_MC = 18, CPU_VEC_XM = 19, CPU_VEC_VE = 20, CPU_VEC_CP = 21,
};

/*
 * What kind of event a cpu_fault is, numbered as the VMX interruption
 * types (SDM Vol. 3C 24.8.3, Table 24-17). The kind decides the EXT bit
 * of error codes raised while delivering it (SDM Vol. 3A 6.13: set for
 * events external to the program, clear for INT n, INT3 and INTO), the
 * gate DPL check (software events only, SDM Vol. 3A 6.12.1.1) and the
 * return address pushed: the instruction itself for faults, the next
 * instruction (RIP + insn_len) for the trap-like software kinds.
 */
typedef enum cpu_event_kind {
    CPU_EV_EXTINT = 0,   /* external interrupt (INTR)                     */
    CPU_EV_NMI    = 2,
    CPU_EV_HWEXC  = 3,   /* exception raised by the processor             */
    CPU_EV_SOFTINT = 4,  /* INT n                                         */
    CPU_EV_PRIVSW = 5,   /* INT1 (ICEBP)                                  */
    CPU_EV_SOFTEXC = 6,  /* INT3, INTO                                    */
} cpu_event_kind;

typedef struct cpu_fault {
    uint8_t  vector;
    uint8_t  kind;       /* cpu_event_kind                                */
    uint8_t  insn_len;   /* software kinds: length of the INT instruction */
    bool     has_error;
    uint32_t error;
    uint64_t payload;    /* #PF: the faulting linear address (CR2);
                            #DB: the DR6 bits it reports            */
    bool     injected;   /* SVM EVENTINJ (APM Vol. 2 15.20): the event is
                            pushed as given - RFLAGS as it is, the error
                            code whenever it has one, inj_rip as the
                            return address - and is not intercepted   */
    uint64_t inj_rip;    /* injected: the return address it pushes    */
} cpu_fault;

static inline cpu_res cpu_raise(cpu_fault *f, uint8_t vector, bool has_error,
                                uint32_t error)
{
    f->vector = vector;
    f->kind = CPU_EV_HWEXC;
    f->insn_len = 0;
    f->has_error = has_error;
    f->error = error;
    f->payload = 0;
    f->injected = false;
    return CPU_FAULT;
}

/* A software event (INT n, INT3, INTO, INT1) of an instruction of
 * `len` bytes; the run loop delivers it like a fault. */
static inline cpu_res cpu_raise_soft(cpu_fault *f, uint8_t vector,
                                     cpu_event_kind kind, unsigned len)
{
    cpu_raise(f, vector, false, 0);
    f->kind = (uint8_t)kind;
    f->insn_len = (uint8_t)len;
    return CPU_FAULT;
}

#endif /* SVMX_CPU_FAULT_H */
