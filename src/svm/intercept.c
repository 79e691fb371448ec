/*
 * src/svm/intercept.c - which events and instructions of a running guest
 * the VMCB intercepts, and the exits they take (APM Vol. 2 15.7-15.14,
 * 15.21, appendix C).
 *
 * One decision for every exit: the exit code's row of SVMX_SVM_EXITS
 * (svm.h) names its intercept bit and refine step; the bit is tested in
 * the cached VMCB, whose intercept words VMRUN reduced to what the
 * personality advertises, and the IOPM or MSRPM is read when the row says
 * so. The same question is what the nested router will ask of vmcb12.
 *
 * Priority (one rule, docs/svm.md "Intercept priority"): an instruction's
 * own simple exceptions come first - #UD (including features that are not
 * advertised, so their intercepts are never reached), and the privilege
 * checks: #GP for CPL, IOPL, the TSS I/O bitmap, CR4.TSD, and the DR7.GD
 * #DB, which like an instruction breakpoint precedes intercepts - then
 * the intercept, then everything that depends on operand values or
 * memory (APM Vol. 2 15.9: "instruction intercepts are checked after
 * simple exceptions ... have been checked, but before exceptions related
 * to memory accesses ... and exceptions based on specific operand
 * values"). The exceptions to that guideline the APM gives are kept:
 * RSM's intercept comes before its #UD (15.9 names RSM), and VMRUN,
 * VMLOAD and VMSAVE check rAX before their intercept, as their
 * pseudocode in APM Vol. 3 orders it.
 */
#include "cpu/exec.h"
#include "nested/nested_exec.h"
#include "svm/npt.h"
#include "svm/svm_exec.h"
#include "svm/svm_internal.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------ intercepts VMRUN keeps -- */

enum { EAX, EBX, ECX, EDX };

/*
 * Intercept bits that exist only with a feature (APM Vol. 2 Table B-1 and
 * the instruction pages of Vol. 3): a CPU without the feature ignores
 * them, as hardware does and KVM does for its L1 (routing-rules.md 1.1).
 * leaf 0 marks a bit whose feature the model never has (SEV-ES traps,
 * bus-lock and idle-HLT intercepts).
 */
static const struct icpt_feature {
    uint16_t first, last;     /* intercept numbers, inclusive           */
    uint32_t leaf;
    uint8_t  reg, bit;
} icpt_features[] = {
    { SVMX_SVM_INTERCEPT_SKINIT, SVMX_SVM_INTERCEPT_SKINIT,
      0x80000001u, ECX, 12 },
    { SVMX_SVM_INTERCEPT_RDTSCP, SVMX_SVM_INTERCEPT_RDTSCP,
      0x80000001u, EDX, 27 },
    { SVMX_SVM_INTERCEPT_MONITOR, SVMX_SVM_INTERCEPT_MWAIT_CONDITIONAL,
      1, ECX, 3 },
    { SVMX_SVM_INTERCEPT_XSETBV, SVMX_SVM_INTERCEPT_XSETBV, 1, ECX, 26 },
    { SVMX_SVM_INTERCEPT_RDPRU, SVMX_SVM_INTERCEPT_RDPRU,
      0x80000008u, EBX, 4 },
    { SVMX_SVM_INTERCEPT_EFER_WRITE_TRAP, SVMX_SVM_INTERCEPT_CR_WRITE_TRAP(15),
      0, 0, 0 },
    { SVMX_SVM_INTERCEPT_INVLPGB, SVMX_SVM_INTERCEPT_INVLPGB_ILLEGAL,
      0x80000008u, EBX, 3 },
    { SVMX_SVM_INTERCEPT_INVPCID, SVMX_SVM_INTERCEPT_INVPCID, 7, EBX, 10 },
    { SVMX_SVM_INTERCEPT_MCOMMIT, SVMX_SVM_INTERCEPT_MCOMMIT,
      0x80000008u, EBX, 8 },
    { SVMX_SVM_INTERCEPT_TLBSYNC, SVMX_SVM_INTERCEPT_TLBSYNC,
      0x80000008u, EBX, 3 },
    { SVMX_SVM_INTERCEPT_BUS_LOCK, SVMX_SVM_INTERCEPT_COUNT - 1, 0, 0, 0 },
};

static bool has_feature(const svmx_cpu *cpu, uint32_t leaf, unsigned reg,
                        unsigned bit)
{
    svmx_cpuid_result id;
    if (!leaf || svmx_cpu_cpuid(cpu, leaf, 0, &id) != SVMX_OK)
        return false;
    const uint32_t r[4] = { id.eax, id.ebx, id.ecx, id.edx };
    return (r[reg] >> bit) & 1;
}

void svm_mask_intercepts(svmx_cpu *cpu)
{
    svmx_vmcb *v = &cpu->svm.vmcb;
    for (size_t i = 0; i < COUNT_OF(icpt_features); i++) {
        const struct icpt_feature *f = &icpt_features[i];
        if (has_feature(cpu, f->leaf, f->reg, f->bit))
            continue;
        for (unsigned n = f->first; n <= f->last; n++)
            svmx_svm_intercept_set(v, n, false);
    }
}

/* ----------------------------------------------------------- decision -- */

/*
 * The decision itself is the router's (src/nested/route.c): vmcb12's
 * intercept bit and refine step, then the L0 policy. This file performs
 * what it decides for the SVM hooks.
 */
static cpu_res map_failed(svmx_cpu *cpu, const svmx_exit *x, svmx_status st)
{
    if (cpu->stop) {
        const svmx_vmcb *v = &cpu->svm.vmcb;
        cpu->stop->addr = svm_rd64(v, x->code == SVMX_SVM_EXIT_IOIO
                                          ? SVMX_VMCB_IOPM_BASE_PA
                                          : SVMX_VMCB_MSRPM_BASE_PA);
        cpu->stop->handler_status = st;
    }
    return exec_stop(cpu, SVMX_STOP_MMIO,
                     "MMIO handler failed on an SVM permission map");
}

/* Routes the event `d` was initialised with; CPU_STOP when a map read
 * failed or the L0 policy took it, else CPU_OK with d->route set. */
static cpu_res route(svmx_cpu *cpu, svmx_decision *d)
{
    svmx_status st = nested_route(cpu, d);
    if (st != SVMX_OK)
        return map_failed(cpu, &d->exit, st);
    if (d->route == SVMX_ROUTE_L0)
        return nested_l0_stop(cpu, &d->exit);
    return CPU_OK;
}

/* ------------------------------------------------ instruction exits -- */

/* An instruction intercept L1 takes: performed once the run loop put RIP
 * back on the instruction (svm_exit_finish), NRIP the next one (RIP now,
 * 15.7.1). */
static cpu_res record(svmx_cpu *cpu, uint64_t code, uint64_t info1,
                      uint64_t info2, uint64_t nrip)
{
    cpu->svm.pending.valid = true;
    cpu->svm.pending.exit = (svm_exit){
        .code = code, .info1 = info1, .info2 = info2, .nrip = nrip,
    };
    return CPU_EXIT;
}

/* An instruction's event `d`, initialised: REFLECT records the exit,
 * ARCH lets the instruction go on, L0 stops. */
static cpu_res insn_event(svmx_cpu *cpu, svmx_decision *d)
{
    cpu_res r = route(cpu, d);
    if (r != CPU_OK || d->route != SVMX_ROUTE_REFLECT)
        return r;
    return record(cpu, d->exit.code, d->exit.info1, d->exit.info2,
                  d->exit.nrip);
}

/* svm_insn_exit() with the record built: out of line, so that the
 * common case sets up no decision. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static cpu_res insn_exit_routed(svmx_cpu *cpu, uint64_t code, uint64_t info1,
                                uint64_t info2)
{
    svmx_decision d = { .route = SVMX_ROUTE_ARCH };
    nested_exit_init(cpu, &d.exit, code, info1, info2);
    return insn_event(cpu, &d);
}

cpu_res svm_insn_exit(svmx_cpu *cpu, uint64_t code, uint64_t info1,
                      uint64_t info2)
{
    /* The router's common answer needs no record (nested_l2_reflects). */
    uint64_t reported = info1;
    if (nested_l2_reflects(cpu, code, &reported))
        return record(cpu, code, reported, info2, cpu->regs.rip);
    return insn_exit_routed(cpu, code, info1, info2);
}

cpu_res svm_cr0_exit(svmx_cpu *cpu, uint64_t new_cr0, bool lmsw,
                     uint64_t info1)
{
    svmx_decision d = { .route = SVMX_ROUTE_ARCH };
    nested_exit_init(cpu, &d.exit, SVMX_SVM_EXIT_CR0_WRITE, info1, 0);
    d.exit.value = new_cr0;
    if (lmsw)
        d.exit.flags |= SVMX_EXIT_LMSW;
    return insn_event(cpu, &d);
}

cpu_res svm_exit_commit(svmx_cpu *cpu, uint64_t rip, uint8_t shadow)
{
    svm_pending_exit *p = &cpu->svm.pending;
    p->valid = false;
    if (p->stop) {
        p->stop = false;
        return CPU_STOP;
    }
    /* The instruction did not execute: the guest is back where it was,
     * in the interrupt shadow it began with (15.7.1, INTERRUPT_SHADOW).
     * The exit is read in place: nothing writes it during the #VMEXIT. */
    cpu->regs.rip = rip;
    cpu->events.shadow = shadow;
    return svm_vmexit_full(cpu, &p->exit);
}

/* ---------------------------------------------------- event exits -- */

/*
 * EXITINTINFO of an event being delivered (15.7.2, Figure 15-1; the
 * EVENTINJ layout): TYPE 0 external interrupt, 2 NMI, 3 exception (INT3,
 * INTO and INT1 included, as they raise exceptions), 4 INTn; EV and the
 * error code for an exception that pushes one.
 */
static uint64_t event_info(const cpu_fault *e)
{
    unsigned type;
    switch (e->kind) {
    case CPU_EV_EXTINT:  type = SVMX_SVM_EVENT_TYPE_INTR; break;
    case CPU_EV_NMI:     type = SVMX_SVM_EVENT_TYPE_NMI; break;
    case CPU_EV_SOFTINT: type = SVMX_SVM_EVENT_TYPE_SWINT; break;
    default:             type = SVMX_SVM_EVENT_TYPE_EXCEPTION; break;
    }
    uint64_t v = e->vector | (uint64_t)type << 8 | SVMX_SVM_EVENT_VALID;
    if (e->kind == CPU_EV_HWEXC && e->has_error)
        v |= SVMX_SVM_EVENT_EV | (uint64_t)e->error << 32;
    return v;
}

/* The RIP after an instruction of `len` bytes at RIP, wrapping at the
 * width of the mode, as the return address of INT3/INTO does. */
static uint64_t next_rip(const svmx_cpu *cpu, unsigned len)
{
    uint64_t rip = cpu->regs.rip + len;
    switch (cpu_mode(cpu)) {
    case SVMX_MODE_LONG64:
        return rip;
    case SVMX_MODE_PROT32:
    case SVMX_MODE_COMPAT32:
        return rip & 0xffffffffull;
    default:
        return rip & 0xffff;
    }
}

cpu_res svm_exception_exit(svmx_cpu *cpu, const cpu_fault *e,
                           const cpu_fault *during)
{
    svmx_decision d = { .route = SVMX_ROUTE_ARCH };
    uint64_t intinfo = during ? event_info(during) : 0;
    /* A nested page fault is not an exception: it always exits (npt.h,
     * APM Vol. 2 15.25.6), with the event in flight in EXITINTINFO. */
    if (npt_fault_is_npf(e)) {
        nested_exit_init(cpu, &d.exit, SVMX_SVM_EXIT_NPF,
                         npt_fault_exitinfo1(e), npt_fault_exitinfo2(e));
    } else {
        /* 15.20: injected events are not intercepted; 15.12: only
         * exceptions consult the bitmap - not INTR, NMI, INTn or INT1
         * (ICEBP). */
        if (e->injected ||
            (e->kind != CPU_EV_HWEXC && e->kind != CPU_EV_SOFTEXC))
            return CPU_OK;
        /* 15.12: EXITINFO1 = the error code (if the exception has one),
         * EXITINFO2 = the faulting address for #PF (CR2 is not written). */
        nested_exit_init(cpu, &d.exit, SVMX_SVM_EXIT_EXCP(e->vector),
                         e->has_error ? e->error : 0,
                         e->vector == CPU_VEC_PF ? e->payload : 0);
    }
    /* The exceptions of INT3 and INTO, and BOUND's #BR, report the next
     * RIP (15.7.1); other exceptions none. */
    d.exit.nrip = e->kind == CPU_EV_SOFTEXC ||
                          (e->vector == CPU_VEC_BR && e->insn_len)
                      ? next_rip(cpu, e->insn_len) : 0;
    d.exit.intinfo = intinfo;
    cpu_res r = route(cpu, &d);
    if (r != CPU_OK || d.route != SVMX_ROUTE_REFLECT)
        return r;
    return svm_vmexit_full(cpu, &(svm_exit){
        .code = d.exit.code, .info1 = d.exit.info1, .info2 = d.exit.info2,
        .intinfo = intinfo, .nrip = d.exit.nrip });
}

cpu_res svm_event_exit_slow(svmx_cpu *cpu, uint64_t code)
{
    svmx_decision d = { .route = SVMX_ROUTE_ARCH };
    nested_exit_init(cpu, &d.exit, code, 0, 0);
    d.exit.nrip = 0; /* an event, not an instruction (15.7.1) */
    cpu_res r = route(cpu, &d);
    if (r != CPU_OK || d.route != SVMX_ROUTE_REFLECT)
        return r;
    return svm_vmexit(cpu, d.exit.code, 0, 0);
}

cpu_res svm_task_switch_exit(svmx_cpu *cpu, uint16_t tss, uint64_t info2,
                             const cpu_fault *during)
{
    svmx_decision d = { .route = SVMX_ROUTE_ARCH };
    /* 15.14.1: EXITINFO1 = the new TSS selector; EXITINFO2 = the reason
     * (IRET bit 36, far JMP bit 38; neither: CALL or a task gate) and an
     * error code the event would push (bit 44, bits 31:0). A task switch
     * from an instruction records its exit like an instruction intercept;
     * one reached while delivering an event exits at once. */
    if (during && during->kind == CPU_EV_HWEXC && during->has_error)
        info2 |= SVM_TS_ERRCODE | during->error;
    nested_exit_init(cpu, &d.exit, SVMX_SVM_EXIT_TASK_SWITCH, tss, info2);
    if (!during)
        return insn_event(cpu, &d);
    d.exit.nrip = 0;
    d.exit.intinfo = event_info(during);
    cpu_res r = route(cpu, &d);
    if (r != CPU_OK || d.route != SVMX_ROUTE_REFLECT)
        return r;
    return svm_vmexit_full(cpu, &(svm_exit){
        .code = SVMX_SVM_EXIT_TASK_SWITCH, .info1 = tss, .info2 = info2,
        .intinfo = d.exit.intinfo });
}

cpu_res svm_iret_task_switch(svmx_cpu *cpu, cpu_fault *f)
{
    /* The target of IRET with NT is the back link at offset 0 of the
     * current TSS (SDM Vol. 3A 8.3, APM Vol. 2 12.3.4). */
    uint64_t link;
    uint64_t lin = cpu->sregs.seg[SVMX_TR].base & 0xffffffffull;
    cpu_res r = exec_read_linear(cpu, lin, 2, PG_SUPERVISOR_IMPLICIT, &link, f);
    if (r != CPU_OK)
        return r;
    return svm_task_switch(cpu, (uint16_t)link, SVM_TS_IRET, NULL);
}

/* -------------------------------------------------------- interrupts -- */

/*
 * Physical INTR in guest mode (15.21.1, routing-rules.md 1.5): with
 * V_INTR_MASKING = 1 the host's RFLAGS.IF (saved at VMRUN) masks it and
 * the guest's IF only masks virtual interrupts; otherwise the guest's IF.
 * An interrupt shadow holds it back only when it would be delivered into
 * the guest: the INTR intercept is not blocked by the shadow.
 */
bool svm_guest_intr_ready(const svmx_cpu *cpu)
{
    const svmx_vmcb *v = &cpu->svm.vmcb;
    bool masking = svm_rd8(v, SVMX_VMCB_V_INTR_MASKING) &
                   SVMX_VMCB_V_INTR_MASKING_BIT;
    uint64_t fl = masking ? cpu->svm.host.rflags : cpu->regs.rflags;
    if (!(fl & SVMX_RFLAGS_IF))
        return false;
    return !cpu->events.shadow ||
           svmx_svm_intercept_test(v, SVMX_SVM_INTERCEPT_INTR);
}

/*
 * A virtual interrupt (15.21.4) is taken when V_IRQ is set, the guest's
 * RFLAGS.IF is 1, no interrupt shadow is open and its priority V_INTR_PRIO
 * is above the guest's TPR - unless V_IGN_TPR. The guest's TPR is CR8
 * under V_INTR_MASKING (VMRUN loaded it from V_TPR) and V_TPR otherwise.
 * GIF is checked by the caller with the other events.
 */
bool svm_vintr_ready(const svmx_cpu *cpu)
{
    const svmx_vmcb *v = &cpu->svm.vmcb;
    if (!cpu->svm.vintr || !(cpu->regs.rflags & SVMX_RFLAGS_IF) ||
        cpu->events.shadow)
        return false;
    uint8_t prio = svm_rd8(v, SVMX_VMCB_V_INTR_PRIO);
    if (prio & SVMX_VMCB_V_IGN_TPR_BIT)
        return true;
    bool masking = svm_rd8(v, SVMX_VMCB_V_INTR_MASKING) &
                   SVMX_VMCB_V_INTR_MASKING_BIT;
    unsigned tpr = (unsigned)(masking ? cpu->sregs.cr8
                                      : svm_rd8(v, SVMX_VMCB_V_TPR)) & 0xfu;
    return (prio & SVMX_VMCB_V_INTR_PRIO_MASK) > tpr;
}

/*
 * Takes the virtual interrupt: #VMEXIT(VINTR) when intercepted (V_IRQ
 * stays set, so the VMCB shows it still waits), else the external
 * interrupt V_INTR_VECTOR for delivery through the guest's IDT, and
 * V_IRQ clears (15.21.4).
 */
cpu_res svm_vintr_take(svmx_cpu *cpu, cpu_fault *ev)
{
    cpu_res r = svm_event_exit_slow(cpu, SVMX_SVM_EXIT_VINTR);
    if (r != CPU_OK)
        return r;
    cpu->svm.vintr = false;
    cpu_raise(ev, svm_rd8(&cpu->svm.vmcb, SVMX_VMCB_V_INTR_VECTOR), false, 0);
    ev->kind = CPU_EV_EXTINT;
    return CPU_OK;
}
