/*
 * src/cpu/except.c - delivery of exceptions, interrupts and software
 * interrupts, and the double-fault rules.
 *
 * A fault raised while delivering an exception is combined with it by
 * the classes of SDM Vol. 3A 6.15 Table 6-5 (APM Vol. 2 8.2.9): benign,
 * contributory (#DE, #TS, #NP, #SS, #GP) and page fault. Two that cannot
 * be handled serially become #DF; a fault while delivering #DF is a
 * triple fault, and the CPU shuts down (SDM Vol. 3A 6.15 "Interrupt 8").
 * Only exceptions the processor raised take part: a fault while
 * delivering INT n, INT3, INTO, INT1, an NMI or an external interrupt is
 * delivered as a first exception.
 *
 * Protected-mode delivery reads and checks everything and writes the
 * whole frame before it changes a register, so a fault during delivery
 * leaves the state as it was.
 */
#include "cpu/segment.h"
#include "cpu/paging.h"
#include "svm/svm_exec.h"

static bool contributory(uint8_t v)
{
    return v == CPU_VEC_DE || v == CPU_VEC_TS || v == CPU_VEC_NP ||
           v == CPU_VEC_SS || v == CPU_VEC_GP;
}

/* Table 6-5: does `second`, raised while delivering `first`, make #DF? */
static bool makes_double_fault(uint8_t first, uint8_t second)
{
    if (contributory(first))
        return contributory(second);
    if (first == CPU_VEC_PF)
        return contributory(second) || second == CPU_VEC_PF;
    return false;
}

/* INT n, INT3 and INTO: the gate DPL check applies and EXT is 0. */
static bool software(const cpu_fault *e)
{
    return e->kind == CPU_EV_SOFTINT || e->kind == CPU_EV_SOFTEXC;
}

/* The EXT bit of error codes raised while delivering `e`: set for events
 * external to the program (interrupts, NMI, processor exceptions and
 * INT1), clear for INT n, INT3 and INTO (SDM Vol. 3A 6.13). */
static unsigned ext_bit(const cpu_fault *e)
{
    return software(e) ? 0 : 1;
}

/*
 * The return address pushed: the faulting instruction for a fault (the
 * run loop has put RIP back there), the next instruction for the
 * trap-like software events (SDM Vol. 3A 6.5: INT n, INT3, INTO and
 * INT1 are traps). A trap-class #DB is raised by the run loop after the
 * instruction retired, so RIP already is the next one. IP wraps at the
 * width of the code segment.
 */
static uint64_t return_rip(const svmx_cpu *cpu, const cpu_fault *e)
{
    uint64_t rip = cpu->regs.rip;
    if (e->injected) /* SVM EVENTINJ: RIP or NRIP (src/svm/vmrun.c) */
        rip = e->inj_rip;
    else if (software(e) || e->kind == CPU_EV_PRIVSW)
        rip += e->insn_len;
    switch (svmx_cpu_mode(cpu)) {
    case SVMX_MODE_LONG64:
        return rip;
    case SVMX_MODE_PROT32:
    case SVMX_MODE_COMPAT32:
        return rip & 0xffffffffull;
    default:
        return rip & 0xffff;
    }
}

/* DR6.BD: set in the payload of a general-detect #DB (SDM Vol. 3B 18.2.3).
 * cpu_fault.payload carries a #DB's DR6 bits, as svmx_events.exc_payload
 * does for a pending #DB. */

/*
 * Fault-class exceptions (SDM Vol. 3A 6.5 and Table 6-1, APM Vol. 2 8.2):
 * #DE #BR #UD #NM #TS #NP #SS #GP #PF #MF #AC #XM #VE #CP. #BP and #OF
 * are traps, #DF and #MC aborts. #DB is a fault only for an instruction
 * breakpoint (not modelled) or general detect (DR6.BD in the payload,
 * SDM Vol. 3B 18.2.4); the single-step #DB and one the embedder made
 * pending are traps.
 */
static bool fault_class(const cpu_fault *e)
{
    static const uint32_t faults =
        1u << CPU_VEC_DE | 1u << CPU_VEC_BR | 1u << CPU_VEC_UD |
        1u << CPU_VEC_NM | 1u << CPU_VEC_TS | 1u << CPU_VEC_NP |
        1u << CPU_VEC_SS | 1u << CPU_VEC_GP | 1u << CPU_VEC_PF |
        1u << CPU_VEC_MF | 1u << CPU_VEC_AC | 1u << CPU_VEC_XM |
        1u << CPU_VEC_VE | 1u << CPU_VEC_CP;
    if (e->kind != CPU_EV_HWEXC || e->vector > 31)
        return false;
    if (e->vector == CPU_VEC_DB)
        return (e->payload & CPU_DR6_BD) != 0;
    return (faults >> e->vector) & 1;
}

/*
 * The RFLAGS image a protected-mode delivery pushes (SDM Vol. 3B
 * 18.3.1.1, "When calling an event handler"):
 *   - a fault-class exception other than an instruction-breakpoint #DB:
 *     RF = 1, so that the restarted instruction does not hit its
 *     instruction breakpoint again;
 *   - INT n, INT3, INTO, INT1: RF = 0 ("RF is pushed as 0, since it was
 *     cleared when INT n was executed": RF clears at the start of every
 *     instruction);
 *   - traps, aborts, NMI and external interrupts: RF as it is.
 * The APM says the same in fewer words (APM Vol. 2 3.1.6 "Resume Flag":
 * RF = 1 in the image of an exception, 0 for an instruction-breakpoint
 * #DB); the model reads "exception" there as the fault class too and
 * applies one rule to both vendors. Real-mode FLAGS has no RF. The SDM's
 * other RF = 1 cases - an interrupt or trap after an iteration of a REP
 * string instruction that is not the last - are the RF the string engine
 * leaves in RFLAGS when it yields mid-instruction.
 */
static uint64_t flags_image(const svmx_cpu *cpu, const cpu_fault *e)
{
    uint64_t fl = cpu->regs.rflags;
    if (e->injected) /* SVM EVENTINJ pushes RFLAGS as it is (fault.h) */
        return fl;
    if (fault_class(e))
        return fl | SVMX_RFLAGS_RF;
    if (software(e) || e->kind == CPU_EV_PRIVSW)
        return fl & ~(uint64_t)SVMX_RFLAGS_RF;
    return fl;
}

/*
 * Real-address mode (SDM Vol. 3A 21.1.4, INT n "REAL-ADDRESS-MODE"):
 * the vector's 4-byte IVT entry must lie within the IDTR limit (#GP),
 * then FLAGS, CS and IP are pushed (#SS if the stack has no room), IF,
 * TF and AC cleared, and CS:IP loaded from the entry.
 */
static cpu_res deliver_real(svmx_cpu *cpu, const cpu_fault *e, cpu_fault *f)
{
    uint64_t entry;
    uint64_t ivt = cpu->sregs.idt.base + (uint64_t)e->vector * 4;
    if ((uint64_t)e->vector * 4 + 3 > cpu->sregs.idt.limit)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    cpu_res r = exec_read_linear(cpu, ivt & 0xffffffffull, 4, 0, &entry, f);
    if (r != CPU_OK)
        return r;

    seg_stack st;
    seg_stack_current(cpu, &st);
    const uint64_t frame[3] = { cpu->regs.rflags & 0xffff,
                                cpu->sregs.seg[SVMX_CS].selector,
                                return_rip(cpu, e) };
    if ((r = seg_stack_push(cpu, &st, frame, 3, 2, f)) != CPU_OK)
        return r;
    cpu->regs.gpr[SVMX_RSP] = seg_stack_rsp(&st);
    cpu->regs.rflags &= ~(SVMX_RFLAGS_IF | SVMX_RFLAGS_TF | SVMX_RFLAGS_AC);
    svmx_segment *cs = &cpu->sregs.seg[SVMX_CS];
    cs->selector = (uint16_t)(entry >> 16);
    cs->base = (uint64_t)cs->selector << 4;
    cpu->regs.rip = entry & 0xffff;
    return CPU_OK;
}

/* Vectors that push an error code (SDM Vol. 3A 6.13, Table 6-1; APM
 * Vol. 2 8.2 Table 8-1 adds #SX, 30, AMD's). */
static bool pushes_error(uint8_t v)
{
    return v == CPU_VEC_DF || (v >= CPU_VEC_TS && v <= CPU_VEC_PF) ||
           v == CPU_VEC_AC || v == CPU_VEC_CP || v == 30;
}

/*
 * An IDT gate (SDM Vol. 3A 6.11 Figure 6-2, 6.14.1 Figure 6-8):
 *   [15:0] offset 15:0  [31:16] selector  [34:32] IST (IA-32e)
 *   [43:40] type  [44] 0  [46:45] DPL  [47] P  [63:48] offset 31:16
 *   IA-32e: bits 95:64 offset 63:32.
 */
typedef struct idt_gate {
    uint16_t sel;
    uint64_t off;
    unsigned ist;
    unsigned size;       /* push width: 2 (16-bit gate), 4, 8 (IA-32e) */
    bool     interrupt;  /* interrupt gate: IF is cleared              */
} idt_gate;

/*
 * Reads and checks the gate of `e` (SDM Vol. 2A INT n pseudocode): the
 * IDT limit, the gate type, the DPL for software events, presence. A
 * task gate of legacy mode is a task switch, not modelled.
 */
static cpu_res read_gate(svmx_cpu *cpu, const cpu_fault *e, idt_gate *g,
                         cpu_fault *f)
{
    bool lm = seg_lma(cpu);
    unsigned gsize = lm ? 16 : 8;
    uint32_t idt_err = (uint32_t)e->vector << 3 | 2 | ext_bit(e);
    uint64_t lo, hi = 0;
    cpu_res r;

    if ((uint64_t)e->vector * gsize + gsize - 1 > cpu->sregs.idt.limit)
        return cpu_raise(f, CPU_VEC_GP, true, idt_err);
    uint64_t addr = cpu->sregs.idt.base + (uint64_t)e->vector * gsize;
    if (!lm)
        addr &= 0xffffffffull;
    if ((r = exec_read_linear(cpu, addr, 8, PG_SUPERVISOR_IMPLICIT, &lo, f)) != CPU_OK ||
        (lm && (r = exec_read_linear(cpu, addr + 8, 8, PG_SUPERVISOR_IMPLICIT,
                                     &hi, f)) != CPU_OK))
        return r;

    unsigned type = (unsigned)(lo >> 40) & 0x1f; /* S bit and type */
    bool legacy16 = !lm && (type == SEG_T_INT16 || type == SEG_T_TRAP16);
    if (type != SEG_T_INT && type != SEG_T_TRAP && !legacy16 &&
        (lm || type != SEG_T_TASK))
        return cpu_raise(f, CPU_VEC_GP, true, idt_err);
    /* SDM Vol. 3A 6.12.1.1: only INT n, INT3 and INTO check the gate DPL
     * (not INT1, not hardware events); the error code has EXT = 0. */
    if (software(e) && ((lo >> 45) & 3) < cpu_cpl(cpu))
        return cpu_raise(f, CPU_VEC_GP, true, (uint32_t)e->vector << 3 | 2);
    if (!((lo >> 47) & 1))
        return cpu_raise(f, CPU_VEC_NP, true, idt_err);
    if (type == SEG_T_TASK) {
        /* SVM: the task-switch intercept (src/svm/intercept.c) */
        cpu_res r2 = svm_task_switch(cpu, (uint16_t)(lo >> 16), 0, e);
        return r2 != CPU_OK ? r2 : exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                                             "task gate in the IDT (task switch)");
    }

    g->sel = (uint16_t)(lo >> 16);
    g->off = (lo & 0xffff) | ((lo >> 32) & 0xffff0000ull);
    g->ist = lm ? (unsigned)(lo >> 32) & 7 : 0;
    g->size = lm ? 8 : legacy16 ? 2 : 4;
    if (lm)
        g->off |= hi << 32;
    else if (legacy16)
        g->off &= 0xffff;
    g->interrupt = type == SEG_T_INT || type == SEG_T_INT16;
    return CPU_OK;
}

/* The handler's code segment (SDM Vol. 2A INT n): null #GP(EXT); limit,
 * not code, DPL > CPL, not 64-bit code in IA-32e mode #GP(sel + EXT);
 * not present #NP(sel + EXT). */
static cpu_res handler_cs(svmx_cpu *cpu, uint16_t sel, unsigned ext,
                          seg_desc *d, cpu_fault *f)
{
    uint32_t err = (sel & 0xfffcu) | ext;
    if (seg_null(sel))
        return cpu_raise(f, CPU_VEC_GP, true, ext);
    cpu_res r = seg_read(cpu, sel, CPU_VEC_GP, ext, d, f);
    if (r != CPU_OK)
        return r;
    uint16_t a = d->seg.attr;
    if (!seg_is_code(a) || SVMX_SEG_ATTR_DPL(a) > cpu_cpl(cpu) ||
        (seg_lma(cpu) && (!(a & SVMX_SEG_ATTR_L) || seg_l_and_d(a))))
        return cpu_raise(f, CPU_VEC_GP, true, err);
    if (!(a & SVMX_SEG_ATTR_P))
        return cpu_raise(f, CPU_VEC_NP, true, err);
    return CPU_OK;
}

/*
 * The handler's stack (SDM Vol. 3A 6.12.1, 6.14.4-6.14.5; INT n
 * pseudocode): a more privileged handler gets SS:ESP of its level from
 * the TSS; IA-32e mode takes RSPn or ISTn, loads a null SS and aligns
 * the frame to 16 bytes. `ssd` is the descriptor to mark accessed.
 */
static cpu_res handler_stack(svmx_cpu *cpu, const idt_gate *g,
                             unsigned new_cpl, bool to_inner, unsigned ext,
                             seg_stack *st, seg_desc *ssd, cpu_fault *f)
{
    unsigned acc = new_cpl == 3 ? PG_USER : PG_SUPERVISOR_IMPLICIT;
    svmx_segment ss = cpu->sregs.seg[SVMX_SS];
    cpu_res r;
    ssd->addr = 0;
    if (seg_lma(cpu)) {
        uint64_t rsp = cpu->regs.gpr[SVMX_RSP];
        if (g->ist || to_inner) {
            unsigned off = g->ist ? 0x24 + 8 * (g->ist - 1) : 4 + 8 * new_cpl;
            if ((r = seg_tss_rsp64(cpu, off, ext, &rsp, f)) != CPU_OK)
                return r;
        }
        if (to_inner)
            seg_null_ss((uint16_t)new_cpl, new_cpl, &ss);
        seg_stack_new(cpu, &ss, rsp & ~0xfull, true, acc, ext, st);
        return CPU_OK;
    }
    if (!to_inner) {
        seg_stack_new(cpu, &ss, cpu->regs.gpr[SVMX_RSP], false, acc, ext, st);
        return CPU_OK;
    }
    uint16_t ss_sel;
    uint64_t sp;
    if ((r = seg_tss_stack(cpu, new_cpl, ext, &ss_sel, &sp, f)) != CPU_OK ||
        (r = seg_check_tss_ss(cpu, ss_sel, new_cpl, ext, &ss, ssd, f)) != CPU_OK)
        return r;
    seg_stack_new(cpu, &ss, sp, false, acc, (ss_sel & 0xfffcu) | ext, st);
    return CPU_OK;
}

/*
 * Protected-mode, virtual-8086 and IA-32e delivery through an interrupt
 * or trap gate (SDM Vol. 3A 6.12.1 and 6.14, Vol. 2A INT n pseudocode;
 * APM Vol. 2 8.7 and 8.9).
 */
static cpu_res deliver_protected(svmx_cpu *cpu, const cpu_fault *e,
                                 cpu_fault *f)
{
    const unsigned ext = ext_bit(e);
    bool lm = seg_lma(cpu);
    bool v86 = !lm && (cpu->regs.rflags & SVMX_RFLAGS_VM);
    idt_gate g = { 0 };
    seg_desc csd, ssd;
    cpu_res r;

    if ((r = read_gate(cpu, e, &g, f)) != CPU_OK ||
        (r = handler_cs(cpu, g.sel, ext, &csd, f)) != CPU_OK)
        return r;
    uint16_t a = csd.seg.attr;
    unsigned cpl = cpu_cpl(cpu), dpl = SVMX_SEG_ATTR_DPL(a);
    uint32_t cs_err = (g.sel & 0xfffcu) | ext;
    bool to_inner = !seg_is_conforming(a) && dpl < cpl;
    /* From virtual-8086 mode only a ring-0 non-conforming handler
     * (INT n "INTERRUPT-FROM-VIRTUAL-8086-MODE"). */
    if (v86 && (!to_inner || dpl != 0))
        return cpu_raise(f, CPU_VEC_GP, true, cs_err);
    unsigned new_cpl = to_inner ? dpl : cpl;

    seg_stack st;
    if ((r = handler_stack(cpu, &g, new_cpl, to_inner, ext, &st, &ssd, f)) != CPU_OK)
        return r;

    /* The frame, first push first: from virtual-8086 mode GS, FS, DS, ES;
     * SS:rSP on a stack switch (always in IA-32e mode); then rFLAGS,
     * CS, rIP and the error code (SDM Vol. 3A Figures 6-4, 6-9). */
    uint64_t frame[10];
    unsigned n = 0;
    if (v86) {
        frame[n++] = cpu->sregs.seg[SVMX_GS].selector;
        frame[n++] = cpu->sregs.seg[SVMX_FS].selector;
        frame[n++] = cpu->sregs.seg[SVMX_DS].selector;
        frame[n++] = cpu->sregs.seg[SVMX_ES].selector;
    }
    if (lm || to_inner) {
        frame[n++] = cpu->sregs.seg[SVMX_SS].selector;
        frame[n++] = cpu->regs.gpr[SVMX_RSP];
    }
    frame[n++] = flags_image(cpu, e);
    frame[n++] = cpu->sregs.seg[SVMX_CS].selector;
    frame[n++] = return_rip(cpu, e);
    if (e->kind == CPU_EV_HWEXC && e->has_error &&
        (pushes_error(e->vector) || e->injected)) /* SVM EVENTINJ.EV */
        frame[n++] = e->error;

    /* Room on the stack (#SS), then the handler's rIP (#GP(EXT)), then
     * the writes; the pseudocode's order. */
    if ((r = seg_stack_room(cpu, &st, n, g.size, f)) != CPU_OK)
        return r;
    if (lm ? !seg_canonical(cpu, g.off) : g.off > csd.seg.limit)
        return cpu_raise(f, CPU_VEC_GP, true, ext);
    if ((r = seg_stack_push(cpu, &st, frame, n, g.size, f)) != CPU_OK ||
        (r = seg_set_type_bits(cpu, &csd, 1, f)) != CPU_OK ||
        (r = seg_set_type_bits(cpu, &ssd, 1, f)) != CPU_OK)
        return r;

    /* Commit. A 16-bit stack keeps the upper half of ESP: the old one,
     * or after a switch the one loaded from the TSS. */
    if (v86) {
        static const unsigned data[] = { SVMX_ES, SVMX_DS, SVMX_FS, SVMX_GS };
        for (unsigned i = 0; i < 4; i++)
            seg_null_value(cpu, data[i], 0, &cpu->sregs.seg[data[i]]);
    }
    svmx_segment cs = csd.seg;
    cs.selector = g.sel;
    seg_set_rpl(&cs, new_cpl);
    cpu->sregs.seg[SVMX_CS] = cs;
    if (to_inner)
        cpu->sregs.seg[SVMX_SS] = st.ss;
    cpu->regs.gpr[SVMX_RSP] = seg_stack_rsp(&st);
    cpu->regs.rip = g.off;
    cpu->regs.rflags &= ~(SVMX_RFLAGS_TF | SVMX_RFLAGS_NT | SVMX_RFLAGS_RF |
                          SVMX_RFLAGS_VM);
    if (g.interrupt)
        cpu->regs.rflags &= ~SVMX_RFLAGS_IF;
    return CPU_OK;
}

static void chain_add(svmx_cpu *cpu, uint8_t vector)
{
    svmx_stop *s = cpu->stop;
    if (!s)
        return;
    if (s->chain_len < sizeof s->chain) {
        s->chain[s->chain_len++] = vector;
    } else { /* keep the last three */
        s->chain[0] = s->chain[1];
        s->chain[1] = s->chain[2];
        s->chain[2] = vector;
    }
}

cpu_res exec_deliver(svmx_cpu *cpu, const cpu_fault *fault)
{
    cpu_fault cur = *fault, first;
    if (cpu->stop)
        cpu->stop->chain_len = 0;
    /* An NMI blocks further NMIs until the next IRET (SDM Vol. 3A 6.7.1). */
    if (fault->kind == CPU_EV_NMI)
        cpu->events.nmi_masked = true;
    /* SVM: an intercepted exception exits instead of being delivered
     * (src/svm/intercept.c, APM Vol. 2 15.12). */
    cpu_res r = svm_exception(cpu, &cur, NULL);
    if (r != CPU_OK)
        return r;
    for (;;) {
        cpu_fault next = { 0 };
        bool hw = cur.kind == CPU_EV_HWEXC;
        chain_add(cpu, cur.vector);
        if (hw && cur.vector == CPU_VEC_PF)
            cpu->sregs.cr2 = cur.payload;
        if (svmx_cpu_mode(cpu) == SVMX_MODE_REAL)
            r = deliver_real(cpu, &cur, &next);
        else
            r = deliver_protected(cpu, &cur, &next);
        if (r != CPU_FAULT)
            return r;
        /* SVM: a fault raised while delivering `cur` exits, if
         * intercepted, before it can make #DF or a triple fault, with
         * `cur` in EXITINTINFO (APM Vol. 2 15.7.2). */
        if ((r = svm_exception(cpu, &next, &cur)) != CPU_OK)
            return r;
        if (hw && cur.vector == CPU_VEC_DF) {
            /* Triple fault: shutdown (SDM Vol. 3A 6.15, Interrupt 8), or
             * in an SVM guest #VMEXIT(SHUTDOWN) if intercepted (APM
             * Vol. 2 15.14.3). */
            if ((r = svm_event_exit(cpu, SVMX_SVM_EXIT_SHUTDOWN)) != CPU_OK)
                return r;
            cpu->events.activity = SVMX_ACTIVITY_SHUTDOWN;
            return exec_stop(cpu, SVMX_STOP_SHUTDOWN, "triple fault");
        }
        if (!hw || !makes_double_fault(cur.vector, next.vector)) {
            cur = next;
            continue;
        }
        first = cur;
        cpu_raise(&cur, CPU_VEC_DF, true, 0);
        /* SVM: the #DF intercept, the first event in EXITINTINFO. */
        if ((r = svm_exception(cpu, &cur, &first)) != CPU_OK)
            return r;
    }
}
