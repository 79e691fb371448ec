/*
 * src/cpu/insn_far.c - far transfers: JMP and CALL far (direct, indirect
 * and through call gates), RET far, IRET, and the software interrupts
 * INT n, INT3, INTO and INT1.
 *
 * Each transfer reads and checks everything (descriptors, stack room,
 * the target rIP) and writes its stack frame before it loads a register,
 * so a fault leaves the state as it was. Task switches (a TSS or task
 * gate as the target, IRET with NT = 1 in legacy mode) are not modelled
 * and stop the run UNSUPPORTED.
 */
#include "cpu/segment.h"
#include "cpu/paging.h"
#include "svm/svm_exec.h"

static bool real_or_v86(svmx_mode mode)
{
    return mode == SVMX_MODE_REAL || mode == SVMX_MODE_V86;
}

/*
 * The operand size of a far JMP/CALL. REX.W selects m16:64 on Intel
 * (SDM Vol. 2A JMP, CALL); AMD ignores it and reads m16:32 (APM Vol. 3
 * JMP (Far), CALL (Far): "the target offset can only be a 16 or 32 bit
 * value").
 */
static unsigned far_osize(const svmx_cpu *cpu, const svmx_insn *insn)
{
    if (insn->operand_size == 8 && cpu->vendor == SVMX_VENDOR_AMD)
        return 4;
    return insn->operand_size;
}

/* The selector and offset of a far JMP/CALL: in the instruction, or a
 * far pointer in memory. */
static cpu_res far_pointer(svmx_cpu *cpu, const svmx_insn *insn,
                           unsigned osize, uint16_t *sel, uint64_t *off,
                           cpu_fault *f)
{
    const svmx_operand *op = &insn->operands[0];
    if (op->kind == SVMX_OPK_FAR) {
        *sel = op->far_sel;
        *off = op->imm & exec_mask(osize);
        return CPU_OK;
    }
    return seg_far_pointer(cpu, insn, op, osize, sel, off, f);
}

/*
 * Real-address and virtual-8086 mode far JMP/CALL (SDM Vol. 2A JMP, CALL
 * "real-address or virtual-8086 mode"): the target must lie within the
 * CS limit (#GP(0)); CALL pushes CS and the return IP (#SS(0)).
 */
static cpu_res far_real(svmx_cpu *cpu, bool call, uint16_t sel, uint64_t off,
                        unsigned osize, cpu_fault *f)
{
    svmx_segment cs;
    seg_real_value(cpu, SVMX_CS, sel, svmx_cpu_mode(cpu) == SVMX_MODE_V86, &cs);
    if (off > cs.limit)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    if (call) {
        seg_stack st;
        seg_stack_current(cpu, &st);
        const uint64_t frame[2] = { cpu->sregs.seg[SVMX_CS].selector,
                                    cpu->regs.rip };
        cpu_res r = seg_stack_push(cpu, &st, frame, 2, osize, f);
        if (r != CPU_OK)
            return r;
        cpu->regs.gpr[SVMX_RSP] = seg_stack_rsp(&st);
    }
    cpu->sregs.seg[SVMX_CS] = cs;
    cpu->regs.rip = off;
    return CPU_OK;
}

/* Where a protected-mode far JMP/CALL goes. */
typedef struct far_target {
    seg_desc csd;       /* the target code segment's descriptor        */
    svmx_segment cs;    /* CS as it will be loaded                      */
    uint64_t rip;
    unsigned size;      /* push width: operand size, or the gate's size */
    unsigned new_cpl;
    unsigned params;    /* parameters a legacy call gate copies         */
} far_target;

/* Direct to a code segment (CONFORMING-/NONCONFORMING-CODE-SEGMENT of
 * SDM Vol. 2A JMP and CALL): the privilege level does not change. */
static cpu_res direct_target(svmx_cpu *cpu, uint16_t sel, uint64_t off,
                             unsigned osize, far_target *t, cpu_fault *f)
{
    uint16_t a = t->csd.seg.attr;
    unsigned cpl = cpu_cpl(cpu), dpl = SVMX_SEG_ATTR_DPL(a);
    if ((seg_lma(cpu) && seg_l_and_d(a)) ||
        (seg_is_conforming(a) ? dpl > cpl : ((sel & 3u) > cpl || dpl != cpl)))
        return cpu_raise(f, CPU_VEC_GP, true, sel & 0xfffcu);
    if (!(a & SVMX_SEG_ATTR_P))
        return cpu_raise(f, CPU_VEC_NP, true, sel & 0xfffcu);
    t->cs = t->csd.seg;
    t->new_cpl = cpl;
    t->rip = off;
    t->size = osize;
    t->params = 0;
    return CPU_OK;
}

/*
 * Through a call gate (SDM Vol. 2A JMP and CALL "CALL-GATE", Vol. 3A
 * 5.8.3-5.8.5; APM Vol. 2 4.11.2): the gate's DPL against CPL and RPL,
 * its presence, in IA-32e mode the upper half, then the code segment it
 * names. Only CALL to a non-conforming segment of a lower DPL changes
 * the privilege level.
 */
static cpu_res gate_target(svmx_cpu *cpu, bool call, uint16_t gsel,
                           seg_desc *gd, far_target *t, cpu_fault *f)
{
    unsigned cpl = cpu_cpl(cpu);
    unsigned gdpl = (unsigned)(gd->raw >> 45) & 3;
    bool lma = seg_lma(cpu);
    cpu_res r;
    if (gdpl < cpl || gdpl < (gsel & 3u))
        return cpu_raise(f, CPU_VEC_GP, true, gsel & 0xfffcu);
    if (!(gd->raw >> 47 & 1))
        return cpu_raise(f, CPU_VEC_NP, true, gsel & 0xfffcu);
    if (lma && (r = seg_read_upper(cpu, gsel, 0, gd, f)) != CPU_OK)
        return r;

    uint16_t sel = (uint16_t)(gd->raw >> 16);
    if (seg_null(sel))
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    if ((r = seg_read(cpu, sel, CPU_VEC_GP, 0, &t->csd, f)) != CPU_OK)
        return r;
    uint16_t a = t->csd.seg.attr;
    unsigned dpl = SVMX_SEG_ATTR_DPL(a);
    bool conf = seg_is_conforming(a);
    if (!seg_is_code(a) || (call || conf ? dpl > cpl : dpl != cpl) ||
        (lma && (!(a & SVMX_SEG_ATTR_L) || seg_l_and_d(a))))
        return cpu_raise(f, CPU_VEC_GP, true, sel & 0xfffcu);
    if (!(a & SVMX_SEG_ATTR_P))
        return cpu_raise(f, CPU_VEC_NP, true, sel & 0xfffcu);

    bool gate16 = ((gd->raw >> 40) & 0xf) == SEG_T_CALL16;
    t->rip = (gd->raw & 0xffff) | ((gd->raw >> 32) & 0xffff0000ull);
    if (gate16)
        t->rip &= 0xffff;
    if (lma)
        t->rip |= (gd->hi & 0xffffffffull) << 32;
    t->size = gate16 ? 2 : lma ? 8 : 4;
    t->params = lma ? 0 : (unsigned)(gd->raw >> 32) & 0x1f;
    t->new_cpl = call && !conf && dpl < cpl ? dpl : cpl;
    t->cs = t->csd.seg;
    t->cs.selector = sel;
    return CPU_OK;
}

/* Resolves the selector of a far JMP/CALL (SDM Vol. 2A JMP, CALL: the
 * descriptor must be code, a call gate, or in legacy mode a task gate or
 * TSS). */
static cpu_res far_resolve(svmx_cpu *cpu, bool call, uint16_t sel,
                           uint64_t off, unsigned osize, far_target *t,
                           cpu_fault *f)
{
    seg_desc d;
    if (seg_null(sel))
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    cpu_res r = seg_read(cpu, sel, CPU_VEC_GP, 0, &d, f);
    if (r != CPU_OK)
        return r;
    uint16_t a = d.seg.attr;
    bool lma = seg_lma(cpu);
    if (a & SVMX_SEG_ATTR_S) {
        if (!seg_is_code(a))
            return cpu_raise(f, CPU_VEC_GP, true, sel & 0xfffcu);
        t->csd = d;
        r = direct_target(cpu, sel, off, osize, t, f);
    } else {
        switch (SVMX_SEG_ATTR_TYPE(a)) {
        case SEG_T_CALL16:
            if (lma)
                return cpu_raise(f, CPU_VEC_GP, true, sel & 0xfffcu);
            /* fall through */
        case SEG_T_CALL:
            r = gate_target(cpu, call, sel, &d, t, f);
            break;
        case SEG_T_TASK:
        case SEG_T_TSS16:
        case SEG_T_TSS:
            if (lma)
                return cpu_raise(f, CPU_VEC_GP, true, sel & 0xfffcu);
            /* SVM: the task-switch intercept, the new TSS (src/svm) */
            r = svm_task_switch(cpu, SVMX_SEG_ATTR_TYPE(a) == SEG_T_TASK
                                         ? (uint16_t)(d.raw >> 16) : sel,
                                call ? 0 : SVM_TS_JMP, NULL);
            return r != CPU_OK ? r : exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                             "far JMP or CALL to a TSS or task gate (task switch)");
        default: /* LDT, busy TSS, interrupt and trap gates */
            return cpu_raise(f, CPU_VEC_GP, true, sel & 0xfffcu);
        }
    }
    if (r == CPU_OK)
        seg_set_rpl(&t->cs, t->new_cpl);
    return r;
}

/* The new rIP: canonical for 64-bit code, else within the CS limit
 * (#GP(0)); compatibility-mode targets keep 32 bits. */
static cpu_res target_rip_ok(svmx_cpu *cpu, const svmx_segment *cs,
                             uint64_t *rip, cpu_fault *f)
{
    if (seg_lma(cpu) && (cs->attr & SVMX_SEG_ATTR_L)) {
        if (!seg_canonical(cpu, *rip))
            return cpu_raise(f, CPU_VEC_GP, true, 0);
        return CPU_OK;
    }
    if (*rip > cs->limit)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    return CPU_OK;
}

/*
 * CALL through a gate to a more privileged level (SDM Vol. 2A CALL
 * "MORE-PRIVILEGE", Vol. 3A 5.8.5-5.8.6): the inner stack comes from the
 * TSS (IA-32e: RSPn and a null SS), the new stack gets the caller's
 * SS:rSP, the gate's parameter count of words or doublewords copied from
 * the caller's stack, and CS:rIP.
 */
static cpu_res call_inner(svmx_cpu *cpu, far_target *t, cpu_fault *f)
{
    unsigned cpl = t->new_cpl;
    unsigned acc = cpl == 3 ? PG_USER : 0;
    svmx_segment ss;
    seg_desc ssd = { .addr = 0 };
    seg_stack old, st;
    uint64_t sp;
    cpu_res r;

    seg_stack_current(cpu, &old);
    if (seg_lma(cpu)) {
        if ((r = seg_tss_rsp64(cpu, 4 + 8 * cpl, 0, &sp, f)) != CPU_OK)
            return r;
        seg_null_ss((uint16_t)cpl, cpl, &ss);
        seg_stack_new(cpu, &ss, sp, true, acc, 0, &st);
    } else {
        uint16_t ss_sel;
        if ((r = seg_tss_stack(cpu, cpl, 0, &ss_sel, &sp, f)) != CPU_OK ||
            (r = seg_check_tss_ss(cpu, ss_sel, cpl, 0, &ss, &ssd, f)) != CPU_OK)
            return r;
        seg_stack_new(cpu, &ss, sp, false, acc, ss_sel & 0xfffcu, &st);
    }

    uint64_t frame[4 + 31];
    unsigned n = 0;
    frame[n++] = cpu->sregs.seg[SVMX_SS].selector;
    frame[n++] = cpu->regs.gpr[SVMX_RSP];
    n += t->params;
    frame[n++] = cpu->sregs.seg[SVMX_CS].selector;
    frame[n++] = cpu->regs.rip;
    if ((r = seg_stack_room(cpu, &st, n, t->size, f)) != CPU_OK ||
        (r = target_rip_ok(cpu, &t->cs, &t->rip, f)) != CPU_OK)
        return r;
    /* The parameters, read from the caller's stack at its privilege; the
     * deepest one is pushed first so the order is kept. */
    for (unsigned i = 0; i < t->params; i++) {
        old.sp = (cpu->regs.gpr[SVMX_RSP] + (uint64_t)(t->params - 1 - i) * t->size) &
                 old.mask;
        if ((r = seg_stack_pop(cpu, &old, t->size, &frame[2 + i], f)) != CPU_OK)
            return r;
    }
    if ((r = seg_stack_push(cpu, &st, frame, n, t->size, f)) != CPU_OK ||
        (r = seg_set_type_bits(cpu, &t->csd, 1, f)) != CPU_OK ||
        (r = seg_set_type_bits(cpu, &ssd, 1, f)) != CPU_OK)
        return r;
    cpu->sregs.seg[SVMX_SS] = st.ss;
    cpu->regs.gpr[SVMX_RSP] = seg_stack_rsp(&st);
    t->cs.attr |= 1;
    cpu->sregs.seg[SVMX_CS] = t->cs;
    cpu->regs.rip = t->rip;
    return CPU_OK;
}

/* JMP far and CALL far in protected and IA-32e mode. */
static cpu_res far_protected(svmx_cpu *cpu, bool call, uint16_t sel,
                             uint64_t off, unsigned osize, cpu_fault *f)
{
    far_target t;
    seg_stack st;
    cpu_res r = far_resolve(cpu, call, sel, off, osize, &t, f);
    if (r != CPU_OK)
        return r;
    if (call && t.new_cpl < cpu_cpl(cpu))
        return call_inner(cpu, &t, f);
    seg_stack_current(cpu, &st);
    const uint64_t frame[2] = { cpu->sregs.seg[SVMX_CS].selector, cpu->regs.rip };
    /* Room for the return address (#SS(0)) before the target check. */
    if ((call && (r = seg_stack_room(cpu, &st, 2, t.size, f)) != CPU_OK) ||
        (r = target_rip_ok(cpu, &t.cs, &t.rip, f)) != CPU_OK ||
        (call && (r = seg_stack_push(cpu, &st, frame, 2, t.size, f)) != CPU_OK) ||
        (r = seg_set_type_bits(cpu, &t.csd, 1, f)) != CPU_OK)
        return r;
    if (call)
        cpu->regs.gpr[SVMX_RSP] = seg_stack_rsp(&st);
    t.cs.attr |= 1;
    cpu->sregs.seg[SVMX_CS] = t.cs;
    cpu->regs.rip = t.rip;
    return CPU_OK;
}

static cpu_res far_jmp_call(svmx_cpu *cpu, const svmx_insn *insn, bool call,
                            cpu_fault *f)
{
    unsigned osize = far_osize(cpu, insn);
    uint16_t sel;
    uint64_t off;
    cpu_res r = far_pointer(cpu, insn, osize, &sel, &off, f);
    if (r != CPU_OK)
        return r;
    if (real_or_v86(svmx_cpu_mode(cpu)))
        return far_real(cpu, call, sel, off, osize, f);
    return far_protected(cpu, call, sel, off, osize, f);
}

cpu_res insn_jmp_far(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return far_jmp_call(cpu, insn, false, f);
}

cpu_res insn_call_far(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return far_jmp_call(cpu, insn, true, f);
}

/* Pops `n` values of `size` bytes into v[]. */
static cpu_res pop_n(svmx_cpu *cpu, seg_stack *st, unsigned n, unsigned size,
                     uint64_t *v, cpu_fault *f)
{
    cpu_res r = CPU_OK;
    for (unsigned i = 0; i < n && r == CPU_OK; i++)
        r = seg_stack_pop(cpu, st, size, &v[i], f);
    return r;
}

/*
 * The stack of a return to an outer level: SS:rSP popped from the old
 * stack. A 16-bit stack keeps the current upper half of ESP (SDM Vol. 3A
 * 6.12.1; Bochs and hardware agree: the "ESP high word" of 16-bit stacks).
 */
static void outer_stack(svmx_cpu *cpu, const svmx_segment *ss, uint64_t sp,
                        bool to64, unsigned cpl, seg_stack *st)
{
    seg_stack_new(cpu, ss, sp, to64, cpl == 3 ? PG_USER : 0, 0, st);
    st->sp0 = cpu->regs.gpr[SVMX_RSP];
}

/*
 * RET far, with or without imm16 (SDM Vol. 2B RET "far return";
 * APM Vol. 2 4.11.3): CS:rIP popped; a return to an outer level also
 * pops SS:rSP, releases imm16 bytes from both stacks and makes data
 * segments the new level may not use null.
 */
cpu_res insn_ret_far(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    unsigned osize = insn->operand_size;
    uint64_t imm = insn->operand_count && insn->operands[0].kind == SVMX_OPK_IMM
                       ? insn->operands[0].imm & 0xffff : 0;
    svmx_mode mode = svmx_cpu_mode(cpu);
    unsigned cpl = cpu_cpl(cpu);
    seg_stack st;
    uint64_t v[4];
    seg_desc csd, ssd = { .addr = 0 };
    cpu_res r;

    seg_stack_current(cpu, &st);
    if ((r = pop_n(cpu, &st, 2, osize, v, f)) != CPU_OK)
        return r;
    uint64_t rip = v[0] & exec_mask(osize);
    uint16_t sel = (uint16_t)v[1];
    if (real_or_v86(mode)) {
        svmx_segment cs;
        seg_real_value(cpu, SVMX_CS, sel, mode == SVMX_MODE_V86, &cs);
        if (rip > cs.limit)
            return cpu_raise(f, CPU_VEC_GP, true, 0);
        st.sp = (st.sp + imm) & st.mask;
        cpu->regs.gpr[SVMX_RSP] = seg_stack_rsp(&st);
        cpu->sregs.seg[SVMX_CS] = cs;
        cpu->regs.rip = rip;
        return CPU_OK;
    }

    if ((r = seg_check_return_cs(cpu, sel, &csd, f)) != CPU_OK)
        return r;
    unsigned new_cpl = sel & 3u;
    bool to64 = seg_lma(cpu) && (csd.seg.attr & SVMX_SEG_ATTR_L);
    svmx_segment cs = csd.seg, ss;
    seg_stack nst = st;
    st.sp = (st.sp + imm) & st.mask;
    if (new_cpl > cpl) {
        if ((r = pop_n(cpu, &st, 2, osize, &v[2], f)) != CPU_OK ||
            (r = seg_check_return_ss(cpu, (uint16_t)v[3], new_cpl, to64, &ss,
                                     &ssd, f)) != CPU_OK)
            return r;
        outer_stack(cpu, &ss, v[2] & exec_mask(osize), to64, new_cpl, &nst);
        nst.sp = (nst.sp + imm) & nst.mask;
    } else {
        nst = st;
    }
    if ((r = target_rip_ok(cpu, &cs, &rip, f)) != CPU_OK ||
        (r = seg_set_type_bits(cpu, &csd, 1, f)) != CPU_OK ||
        (r = seg_set_type_bits(cpu, &ssd, 1, f)) != CPU_OK)
        return r;
    cs.attr |= 1;
    cpu->sregs.seg[SVMX_CS] = cs;
    cpu->regs.rip = rip;
    if (new_cpl > cpl) {
        cpu->sregs.seg[SVMX_SS] = nst.ss;
        seg_invalidate_outer(cpu, new_cpl);
    }
    cpu->regs.gpr[SVMX_RSP] = seg_stack_rsp(&nst);
    return CPU_OK;
}

/*
 * IRET in real-address mode and in virtual-8086 mode at IOPL 3 (SDM
 * Vol. 2A IRET "REAL-ADDRESS-MODE", "RETURN-FROM-VIRTUAL-8086-MODE"):
 * IP, CS, FLAGS popped, IP within the CS limit (#GP(0)). Real mode keeps
 * VM, VIF and VIP of a 32-bit image; v86 mode also keeps IOPL.
 */
static cpu_res iret_real(svmx_cpu *cpu, unsigned osize, bool v86,
                         cpu_fault *f)
{
    seg_stack st;
    uint64_t v[3];
    svmx_segment cs;
    seg_stack_current(cpu, &st);
    cpu_res r = pop_n(cpu, &st, 3, osize, v, f);
    if (r != CPU_OK)
        return r;
    uint64_t rip = v[0] & exec_mask(osize);
    seg_real_value(cpu, SVMX_CS, (uint16_t)v[1], v86, &cs);
    if (rip > cs.limit)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    uint64_t keep = osize == 2 ? ~0xffffull
                               : SVMX_RFLAGS_VM | SVMX_RFLAGS_VIF | SVMX_RFLAGS_VIP;
    if (v86)
        keep |= SVMX_RFLAGS_IOPL;
    cpu->regs.rflags = (cpu->regs.rflags & keep) |
                       (v[2] & ~keep & SVMX_RFLAGS_DEFINED) | SVMX_RFLAGS_FIXED;
    cpu->regs.gpr[SVMX_RSP] = seg_stack_rsp(&st);
    cpu->sregs.seg[SVMX_CS] = cs;
    cpu->regs.rip = rip;
    return CPU_OK;
}

/*
 * IRET from CPL 0 of legacy protected mode to virtual-8086 mode (SDM
 * Vol. 2A IRET "RETURN-TO-VIRTUAL-8086-MODE"): after EIP, CS and EFLAGS
 * (with VM set) the frame holds ESP, SS, ES, DS, FS, GS; every segment
 * register is loaded the v86 way and EFLAGS is taken whole.
 */
static cpu_res iret_to_v86(svmx_cpu *cpu, seg_stack *st, const uint64_t *v,
                           cpu_fault *f)
{
    static const unsigned regs[] = { SVMX_SS, SVMX_ES, SVMX_DS, SVMX_FS, SVMX_GS };
    uint64_t w[6];
    cpu_res r = pop_n(cpu, st, 6, 4, w, f);
    if (r != CPU_OK)
        return r;
    if ((v[0] & 0xffffffffull) > 0xffff)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    cpu->regs.rflags = (v[2] & 0xffffffffull & SVMX_RFLAGS_DEFINED) | SVMX_RFLAGS_FIXED;
    seg_real_value(cpu, SVMX_CS, (uint16_t)v[1], true, &cpu->sregs.seg[SVMX_CS]);
    for (unsigned i = 0; i < 5; i++)
        seg_real_value(cpu, regs[i], (uint16_t)w[i + 1], true,
                       &cpu->sregs.seg[regs[i]]);
    cpu->regs.gpr[SVMX_RSP] = w[0] & 0xffffffffull;
    cpu->regs.rip = v[0] & 0xffff;
    return CPU_OK;
}

/*
 * The RFLAGS an IRET loads in protected and IA-32e mode (SDM Vol. 2A
 * IRET "RETURN-TO-SAME-PRIVILEGE-LEVEL"): the arithmetic flags, TF, DF
 * and NT always; RF, AC and ID with a 32- or 64-bit frame; IF only if
 * CPL <= IOPL; IOPL, and VIF/VIP with a 32- or 64-bit frame, only at
 * CPL 0. `cpl` is the CPL before the return.
 */
static uint64_t iret_flags(const svmx_cpu *cpu, uint64_t image, unsigned osize,
                           unsigned cpl)
{
    uint64_t chg = SVMX_RFLAGS_CF | SVMX_RFLAGS_PF | SVMX_RFLAGS_AF |
                   SVMX_RFLAGS_ZF | SVMX_RFLAGS_SF | SVMX_RFLAGS_TF |
                   SVMX_RFLAGS_DF | SVMX_RFLAGS_OF | SVMX_RFLAGS_NT;
    if (osize >= 4)
        chg |= SVMX_RFLAGS_RF | SVMX_RFLAGS_AC | SVMX_RFLAGS_ID;
    if (cpl <= exec_iopl(cpu))
        chg |= SVMX_RFLAGS_IF;
    if (cpl == 0) {
        chg |= SVMX_RFLAGS_IOPL;
        if (osize >= 4)
            chg |= SVMX_RFLAGS_VIF | SVMX_RFLAGS_VIP;
    }
    return (cpu->regs.rflags & ~chg) | (image & chg) | SVMX_RFLAGS_FIXED;
}

/*
 * IRET in protected and IA-32e mode (SDM Vol. 2A IRET "PROTECTED-MODE",
 * "IA-32e-MODE", "RETURN-TO-OUTER-PRIVILEGE-LEVEL"; APM Vol. 2 8.7.4 and
 * 8.9.4): rIP, CS, rFLAGS popped; SS:rSP too on a return to an outer
 * level and always for an IRET that starts in 64-bit mode.
 */
static cpu_res iret_protected(svmx_cpu *cpu, unsigned osize, cpu_fault *f)
{
    unsigned cpl = cpu_cpl(cpu);
    seg_stack st, nst;
    uint64_t v[5];
    seg_desc csd, ssd = { .addr = 0 };
    svmx_segment ss;
    cpu_res r;

    seg_stack_current(cpu, &st);
    if ((r = pop_n(cpu, &st, 3, osize, v, f)) != CPU_OK)
        return r;
    if (!seg_lma(cpu) && osize == 4 && (v[2] & SVMX_RFLAGS_VM) && cpl == 0)
        return iret_to_v86(cpu, &st, v, f);
    uint16_t sel = (uint16_t)v[1];
    if ((r = seg_check_return_cs(cpu, sel, &csd, f)) != CPU_OK)
        return r;
    unsigned new_cpl = sel & 3u;
    bool to64 = seg_lma(cpu) && (csd.seg.attr & SVMX_SEG_ATTR_L);
    bool pop_ss = new_cpl > cpl || svmx_cpu_mode(cpu) == SVMX_MODE_LONG64;
    nst = st;
    if (pop_ss) {
        if ((r = pop_n(cpu, &st, 2, osize, &v[3], f)) != CPU_OK ||
            (r = seg_check_return_ss(cpu, (uint16_t)v[4], new_cpl, to64, &ss,
                                     &ssd, f)) != CPU_OK)
            return r;
        outer_stack(cpu, &ss, v[3] & exec_mask(osize), to64, new_cpl, &nst);
    }
    svmx_segment cs = csd.seg;
    uint64_t rip = v[0] & exec_mask(osize);
    if ((r = target_rip_ok(cpu, &cs, &rip, f)) != CPU_OK ||
        (r = seg_set_type_bits(cpu, &csd, 1, f)) != CPU_OK ||
        (r = seg_set_type_bits(cpu, &ssd, 1, f)) != CPU_OK)
        return r;
    cpu->regs.rflags = iret_flags(cpu, v[2], osize, cpl);
    cs.attr |= 1;
    cpu->sregs.seg[SVMX_CS] = cs;
    cpu->regs.rip = rip;
    if (pop_ss)
        cpu->sregs.seg[SVMX_SS] = nst.ss;
    cpu->regs.gpr[SVMX_RSP] = seg_stack_rsp(&nst);
    if (new_cpl > cpl)
        seg_invalidate_outer(cpu, new_cpl);
    return CPU_OK;
}

static cpu_res iret(svmx_cpu *cpu, unsigned osize, cpu_fault *f)
{
    svmx_mode mode = svmx_cpu_mode(cpu);
    /* CR4.VME is not offered by the personalities: IOPL < 3 traps to
     * the virtual-8086 monitor (SDM Vol. 2A IRET). */
    if (mode == SVMX_MODE_V86 && exec_iopl(cpu) < 3)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    /* SVM: the IRET intercept, after that check (src/svm) */
    cpu_res r = svm_intercept(cpu, SVMX_SVM_EXIT_IRET, 0, 0);
    if (r != CPU_OK)
        return r;
    if (mode == SVMX_MODE_REAL || mode == SVMX_MODE_V86)
        return iret_real(cpu, osize, mode == SVMX_MODE_V86, f);
    if (cpu->regs.rflags & SVMX_RFLAGS_NT) {
        if (seg_lma(cpu)) /* IA-32e mode has no task switches */
            return cpu_raise(f, CPU_VEC_GP, true, 0);
        /* SVM: the task-switch intercept (src/svm) */
        if (cpu->svm.guest && (r = svm_iret_task_switch(cpu, f)) != CPU_OK)
            return r;
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "IRET with NT set (return from a nested task)");
    }
    return iret_protected(cpu, osize, f);
}

/*
 * IRET, IRETD, IRETQ. Executing IRET ends NMI blocking (SDM Vol. 3A
 * 6.7.1), also when the IRET faults: VMX reports that case as "NMI
 * unblocking due to IRET" (SDM Vol. 3C 28.2.3), so the unblocking comes
 * before the fault. Chosen for both vendors.
 */
cpu_res insn_iret(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    cpu_res r = iret(cpu, insn->operand_size, f);
    if (r != CPU_STOP && r != CPU_EXIT) /* not run: an SVM intercept */
        cpu->events.nmi_masked = false;
    return r;
}

/*
 * INT n (SDM Vol. 2A INT n): in virtual-8086 mode with IOPL < 3 it is
 * #GP(0) (CR4.VME is not offered, so no redirection); otherwise the
 * software interrupt is delivered by except.c with the next instruction
 * as the return address, the gate DPL check and EXT = 0.
 */
cpu_res insn_int(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    if (svmx_cpu_mode(cpu) == SVMX_MODE_V86 && exec_iopl(cpu) < 3)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    /* SVM: the INTn intercept, EXITINFO1 the vector (src/svm) */
    cpu_res r = svm_intercept(cpu, SVMX_SVM_EXIT_SWINT,
                              insn->operands[0].imm & 0xff, 0);
    if (r != CPU_OK)
        return r;
    return cpu_raise_soft(f, (uint8_t)insn->operands[0].imm, CPU_EV_SOFTINT,
                          insn->length);
}

/* INT3: #BP as a software exception, with no IOPL check in v86 mode
 * (SDM Vol. 2A INT n; APM Vol. 3 INT 3) - unless the embedder's debug
 * hooks take it first (debug_hooks.c): then it does not execute. */
cpu_res insn_int3(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    if (cpu->debug.set.int3 && debug_int3(cpu, insn))
        return CPU_STOP;
    return cpu_raise_soft(f, CPU_VEC_BP, CPU_EV_SOFTEXC, insn->length);
}

/* INTO: #OF only when OF = 1 (64-bit mode: #UD from the decoder). */
cpu_res insn_into(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    if (!(cpu->regs.rflags & SVMX_RFLAGS_OF))
        return CPU_OK;
    return cpu_raise_soft(f, CPU_VEC_OF, CPU_EV_SOFTEXC, insn->length);
}

/* INT1 (ICEBP): #DB as a privileged software exception: no gate DPL
 * check, EXT = 1 (SDM Vol. 2A INT n, Vol. 3C 24.8.3 type 5). */
cpu_res insn_int1(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    /* SVM: the ICEBP intercept (src/svm) */
    cpu_res r = svm_intercept(cpu, SVMX_SVM_EXIT_ICEBP, 0, 0);
    if (r != CPU_OK)
        return r;
    return cpu_raise_soft(f, CPU_VEC_DB, CPU_EV_PRIVSW, insn->length);
}
