/*
 * src/cpu/events.c - which waiting event is delivered at an instruction
 * boundary, and the embedder's injection calls.
 *
 * Priority between events on one boundary (SDM Vol. 3A 6.9 Table 6-2,
 * APM Vol. 2 8.5 Table 8-8): an exception already in flight (set through
 * svmx_cpu_set_events), then the external hardware interventions INIT
 * and SMI (class 3 of Table 6-2; INIT first, as KVM checks them,
 * routing-rules.md 1.5 and 3.4), then traps of the previous instruction
 * (the single-step #DB, delivered by the run loop right after that
 * instruction), then NMI, then maskable interrupts.
 *
 * What holds each back:
 *   - GIF = 0 holds INIT, SMI, NMI and INTR (APM Vol. 2 15.17 Table
 *     15-10); nothing else holds INIT: not RFLAGS.IF, not a shadow, not
 *     an NMI handler. (SMM and, on Intel, VMX root operation would hold
 *     it too; the model never is in either.)
 *   - NMI: an NMI handler running (until IRET, SDM Vol. 3A 6.7.1) and the
 *     MOV SS / POP SS shadow (SDM Vol. 3C 24.4.2 Table 24-3, "blocking by
 *     MOV SS" blocks NMI; "blocking by STI" need not — the model follows
 *     the architectural minimum and lets NMI through an STI shadow);
 *   - INTR: RFLAGS.IF = 0 and either shadow (SDM Vol. 2B STI, Vol. 2A MOV
 *     "Operation" for SS).
 */
#include "cpu/events.h"
#include "cpu/exec.h"
#include "cpu/msr.h"
#include "svm/svm_exec.h"

/* #SX, the security exception INIT is redirected to (APM Vol. 2 15.28):
 * vector 30, error code 1 = "INIT redirected". */
#define VEC_SX        30u
#define SX_INIT_ERROR 1u

/* What the CPU takes at this boundary, if anything. DUE_INIT .. DUE_INTR
 * are the events an SVM intercept can turn into a #VMEXIT. */
typedef enum due_event {
    DUE_NONE, DUE_EXC, DUE_INIT, DUE_SMI, DUE_NMI, DUE_INTR, DUE_VINTR
} due_event;

static due_event due(const svmx_cpu *cpu)
{
    const svmx_events *e = &cpu->events;
    /* Of a CPU in shutdown, only INIT is taken (events.h). */
    if (e->activity == SVMX_ACTIVITY_SHUTDOWN)
        return events_init_due(cpu) ? DUE_INIT : DUE_NONE;
    if (e->exc_pending)
        return DUE_EXC;
    if (!e->gif)
        return DUE_NONE;
    if (e->init_pending)
        return DUE_INIT;
    if (e->smi_pending)
        return DUE_SMI;
    /* SVM guest mode: an intercepted NMI exits whatever blocks NMIs but
     * GIF; INTR follows V_INTR_MASKING; the virtual interrupt comes last
     * (src/svm/intercept.c, APM Vol. 2 15.21). */
    if (e->nmi_pending && (svm_nmi_exits(cpu) || (!e->nmi_masked &&
                                                  !(e->shadow & SVMX_SHADOW_MOVSS))))
        return DUE_NMI;
    if (e->irq_pending && (cpu->svm.guest ? svm_guest_intr_ready(cpu)
                           : (cpu->regs.rflags & SVMX_RFLAGS_IF) && !e->shadow))
        return DUE_INTR;
    if (cpu->svm.vintr && svm_vintr_ready(cpu))
        return DUE_VINTR;
    return DUE_NONE;
}

cpu_res events_deliver_due(svmx_cpu *cpu, bool *delivered)
{
    svmx_events *e = &cpu->events;
    due_event d = due(cpu);
    cpu_fault ev;
    cpu_res r;
    static const uint64_t exits[] = {
        [DUE_INIT] = SVMX_SVM_EXIT_INIT, [DUE_SMI] = SVMX_SVM_EXIT_SMI,
        [DUE_NMI] = SVMX_SVM_EXIT_NMI, [DUE_INTR] = SVMX_SVM_EXIT_INTR,
    };

    *delivered = false;
    /* R3 (src/nested/rules.c): an L2 state the state API made invalid is
     * never run, nor delivered into. */
    if (cpu->nested.l2_state_bad)
        return (r = nested_r3(cpu)) == CPU_EXIT ? CPU_OK : r;
    /* SVM: an intercepted INIT, SMI, NMI or INTR exits to the host, which
     * takes the event itself once it sets GIF (APM Vol. 2 15.13, 15.21.8
     * Table 15-12: "#VMEXIT(INIT), INIT is still pending"). */
    if (d >= DUE_INIT && d <= DUE_INTR &&
        (r = svm_event_exit(cpu, exits[d])) != CPU_OK)
        return r == CPU_EXIT ? CPU_OK : r;
    switch (d) {
    case DUE_NONE:
        return CPU_OK;
    case DUE_INIT:
        e->init_pending = false;
        /* 15.21.8 Table 15-12: with VM_CR.R_INIT the INIT becomes #SX,
         * "INIT is no longer pending" - in guest mode an exception of the
         * guest, which its exception intercept may take (15.12.20). */
        if (cpu->vendor == SVMX_VENDOR_AMD &&
            (cpu->msr.vm_cr & CPU_VM_CR_R_INIT)) {
            cpu_raise(&ev, VEC_SX, true, SX_INIT_ERROR);
            break;
        }
        cpu_init_state(cpu); /* taken normally: guest mode ends too */
        *delivered = true;
        return CPU_OK;
    case DUE_SMI:
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "SMI: system-management mode is not modelled");
    case DUE_EXC:
        cpu_raise(&ev, e->exc_vector, e->exc_has_error, e->exc_error);
        if (e->exc_vector == CPU_VEC_PF)
            ev.payload = e->exc_payload;
        if (e->exc_vector == CPU_VEC_DB)
            cpu->dregs.dr6 |= e->exc_payload & CPU_DR6_WRITABLE;
        e->exc_pending = false;
        break;
    case DUE_NMI:
        cpu_raise(&ev, CPU_VEC_NMI, false, 0);
        ev.kind = CPU_EV_NMI;
        e->nmi_pending = false;
        e->nmi_masked = true; /* until the next IRET (SDM Vol. 3A 6.7.1) */
        break;
    case DUE_INTR:
        cpu_raise(&ev, e->irq_vector, false, 0);
        ev.kind = CPU_EV_EXTINT;
        e->irq_pending = false;
        break;
    case DUE_VINTR: /* SVM: V_IRQ, or its VINTR intercept */
        if ((r = svm_vintr_take(cpu, &ev)) != CPU_OK)
            return r == CPU_EXIT ? CPU_OK : r;
        break;
    }
    /* An event ends HLT; the frame holds the RIP after HLT (SDM Vol. 2A
     * HLT). Delivery ends any interrupt shadow. */
    e->activity = SVMX_ACTIVITY_ACTIVE;
    e->shadow = 0;
    *delivered = true;
    r = exec_deliver(cpu, &ev);
    return r == CPU_EXIT ? CPU_OK : r; /* an SVM exception intercept */
}

cpu_res events_debug_trap(svmx_cpu *cpu, uint64_t dr6)
{
    cpu_fault ev;
    cpu->dregs.dr6 |= dr6; /* SDM Vol. 3B 18.2.3 */
    cpu_raise(&ev, CPU_VEC_DB, false, 0);
    return exec_deliver(cpu, &ev);
}

svmx_status svmx_cpu_inject_irq(svmx_cpu *cpu, uint8_t vector)
{
    if (!cpu)
        return SVMX_E_ARG;
    if (cpu->events.irq_pending)
        return SVMX_E_STATE;
    cpu->events.irq_pending = true;
    cpu->events.irq_vector = vector;
    cpu->attention = true; /* a running fast loop looks again */
    return SVMX_OK;
}

svmx_status svmx_cpu_inject_nmi(svmx_cpu *cpu)
{
    if (!cpu)
        return SVMX_E_ARG;
    cpu->events.nmi_pending = true; /* NMIs do not queue beyond one */
    cpu->attention = true;
    return SVMX_OK;
}

svmx_status svmx_cpu_inject_init(svmx_cpu *cpu)
{
    if (!cpu)
        return SVMX_E_ARG;
    cpu->events.init_pending = true; /* latched, one at a time, as NMI */
    cpu->attention = true;
    return SVMX_OK;
}
