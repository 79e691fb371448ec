/*
 * src/cpu/events.h - events that wait for an instruction boundary:
 * a pending exception, INIT, SMI, NMI, a maskable external interrupt and
 * the single-step trap, and the wake-up from HLT.
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
           cpu->events.init_pending |
           cpu->svm.vintr | /* an SVM guest's V_IRQ (src/svm/intercept.c) */
           cpu->nested.l2_state_bad; /* R3 (src/nested/rules.c) */
}

/* An INIT that would be taken now: it ends the shutdown state too (SDM
 * Vol. 3A 6.15 "Interrupt 8": a processor in shutdown waits for "an NMI
 * interrupt, SMI interrupt, hardware reset, or INIT#"), for a run loop
 * that asks before it stops on a CPU in shutdown. */
static inline bool events_init_due(const svmx_cpu *cpu)
{
    return cpu->events.init_pending & cpu->events.gif;
}

/*
 * Delivers the highest-priority event that is due at this boundary
 * (SDM Vol. 3A 6.9, Table 6-2), waking the CPU from HLT for it. Sets
 * *delivered when one was (an INIT counts). CPU_STOP for an event the
 * model cannot deliver (SMI), or when the delivery shut the CPU down.
 */
cpu_res events_deliver_due(svmx_cpu *cpu, bool *delivered);

/* The #DB trap after an instruction (SDM Vol. 3B 18.3.1): `dr6` holds
 * the DR6 bits to set — BS for the single-step trap that follows an
 * instruction begun with TF = 1 (18.3.1.4), B0-B3 for data and I/O
 * breakpoints (18.3.1.2-3); one #DB reports them together. */
cpu_res events_debug_trap(svmx_cpu *cpu, uint64_t dr6);

/*
 * The INIT state of the bootstrap processor (cpu.c, beside the RESET
 * state it shares): real mode at F000:FFF0, out of SVM guest mode, with
 * nothing pending but an INTR request (init_pending included). What INIT
 * keeps and what it discards is listed there and in cpu.h
 * (svmx_cpu_inject_init).
 */
void cpu_init_state(svmx_cpu *cpu);

#endif /* SVMX_CPU_EVENTS_H */
