/*
 * src/cpu/events.h - events that wait for an instruction boundary:
 * a pending exception, SMI, NMI, a maskable external interrupt and the
 * single-step trap, and the wake-up from HLT.
 */
#ifndef SVMX_CPU_EVENTS_H
#define SVMX_CPU_EVENTS_H

#include "cpu/cpu_internal.h"
#include "cpu/fault.h"

/* True when some event waits (cheap: the run loop asks before every
 * instruction). */
static inline bool events_waiting(const svmx_cpu *cpu)
{
    return cpu->events.exc_pending | cpu->events.nmi_pending |
           cpu->events.irq_pending | cpu->events.smi_pending |
           cpu->svm.vintr; /* an SVM guest's V_IRQ (src/svm/intercept.c) */
}

/*
 * Delivers the highest-priority event that is due at this boundary
 * (SDM Vol. 3A 6.9, Table 6-2), waking the CPU from HLT for it. Sets
 * *delivered when one was. CPU_STOP for an event the model cannot
 * deliver (SMI), or when the delivery shut the CPU down.
 */
cpu_res events_deliver_due(svmx_cpu *cpu, bool *delivered);

/* The single-step trap after an instruction that began with TF = 1
 * (SDM Vol. 3A 18.3.1.4): #DB with DR6.BS. */
cpu_res events_single_step(svmx_cpu *cpu);

#endif /* SVMX_CPU_EVENTS_H */
