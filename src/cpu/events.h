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
           cpu->svm.vintr | /* an SVM guest's V_IRQ (src/svm/intercept.c) */
           cpu->nested.l2_state_bad; /* R3 (src/nested/rules.c) */
}

/*
 * Delivers the highest-priority event that is due at this boundary
 * (SDM Vol. 3A 6.9, Table 6-2), waking the CPU from HLT for it. Sets
 * *delivered when one was. CPU_STOP for an event the model cannot
 * deliver (SMI), or when the delivery shut the CPU down.
 */
cpu_res events_deliver_due(svmx_cpu *cpu, bool *delivered);

/* The #DB trap after an instruction (SDM Vol. 3B 18.3.1): `dr6` holds
 * the DR6 bits to set — BS for the single-step trap that follows an
 * instruction begun with TF = 1 (18.3.1.4), B0-B3 for data and I/O
 * breakpoints (18.3.1.2-3); one #DB reports them together. */
cpu_res events_debug_trap(svmx_cpu *cpu, uint64_t dr6);

#endif /* SVMX_CPU_EVENTS_H */
