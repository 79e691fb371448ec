/*
 * src/cpu/insn_seg.c - instructions that load or store segment
 * registers and the LDTR and TR: MOV to and from Sreg, PUSH/POP Sreg,
 * LDS LES LFS LGS LSS, LLDT, LTR, SLDT, STR. The checks themselves are
 * segment.c's.
 */
#include "cpu/segment.h"

/*
 * MOV Sreg, r/m16 (SDM Vol. 2B MOV "Operation"): the segment load of
 * segment.c; MOV SS blocks interrupts until the next instruction ends
 * (SDM Vol. 3A 6.8.3). MOV to CS is #UD (the decoder's); MOV r/m, Sreg
 * is a plain move of the selector.
 */
cpu_res insn_mov_seg(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *dst = &insn->operands[0];
    uint64_t v;
    if (dst->kind != SVMX_OPK_REG || dst->reg_class != SVMX_RC_SEG)
        return insn_mov(cpu, insn, f);
    if (dst->reg == SVMX_CS || dst->reg >= SVMX_SEG_COUNT)
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    cpu_res r = exec_read_operand(cpu, insn, &insn->operands[1], &v, f);
    if (r == CPU_OK)
        r = seg_load(cpu, dst->reg, (uint16_t)v, f);
    if (r == CPU_OK && dst->reg == SVMX_SS)
        cpu->events.shadow |= SVMX_SHADOW_MOVSS;
    return r;
}

/*
 * PUSH Sreg (SDM Vol. 2B PUSH): rSP moves by the operand size. With a
 * 32- or 64-bit operand size Intel's recent processors write only the
 * 16-bit selector, leaving the rest of the slot as it was (SDM Vol. 2B
 * PUSH "If the source operand is a segment register"); AMD zero-extends
 * it (APM Vol. 3 PUSH).
 */
cpu_res insn_push_sreg(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    unsigned size = insn->operand_size, ss = exec_stack_size(cpu);
    unsigned width = cpu->vendor == SVMX_VENDOR_INTEL ? 2 : size;
    uint64_t sp = (cpu->regs.gpr[SVMX_RSP] - size) & exec_mask(ss), lin;
    uint16_t sel = cpu->sregs.seg[insn->operands[0].reg].selector;
    cpu_res r = exec_seg_address(cpu, SVMX_SS, sp, size, true, &lin, f);
    if (r == CPU_OK)
        r = exec_write_linear(cpu, lin, width, exec_user_flag(cpu), sel, f);
    if (r == CPU_OK)
        exec_gpr_write(cpu, SVMX_RSP, ss, false, sp);
    return r;
}

/*
 * POP Sreg (SDM Vol. 2B POP): the low 16 bits of an operand-size pop,
 * loaded with the checks of MOV Sreg; rSP moves (by the old stack's
 * width) only once the load succeeded. POP SS blocks interrupts like
 * MOV SS.
 */
cpu_res insn_pop_sreg(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    unsigned reg = insn->operands[0].reg;
    seg_stack st;
    uint64_t v;
    seg_stack_current(cpu, &st);
    cpu_res r = seg_stack_pop(cpu, &st, insn->operand_size, &v, f);
    if (r == CPU_OK)
        r = seg_load(cpu, reg, (uint16_t)v, f);
    if (r != CPU_OK)
        return r;
    cpu->regs.gpr[SVMX_RSP] = seg_stack_rsp(&st);
    if (reg == SVMX_SS)
        cpu->events.shadow |= SVMX_SHADOW_MOVSS;
    return CPU_OK;
}

/* The segment register an LDS/LES/LSS/LFS/LGS opcode loads (SDM Vol. 2A
 * LDS/LES/LFS/LGS/LSS: C5, C4, 0F B2, 0F B4, 0F B5). */
static unsigned lfp_sreg(const svmx_insn *insn)
{
    if (insn->opcode_map == 0)
        return insn->opcode == 0xc5 ? SVMX_DS : SVMX_ES;
    switch (insn->opcode) {
    case 0xb2: return SVMX_SS;
    case 0xb4: return SVMX_FS;
    default:   return SVMX_GS;
    }
}

/*
 * LDS, LES, LFS, LGS, LSS (SDM Vol. 2A): the far pointer's selector is
 * loaded with the checks of MOV Sreg, then its offset goes to the
 * register. LSS opens no interrupt shadow (only MOV SS and POP SS do,
 * SDM Vol. 3A 6.8.3).
 */
cpu_res insn_lfp(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *dst = &insn->operands[0];
    unsigned osize = insn->operand_size;
    uint16_t sel;
    uint64_t off;
    cpu_res r = seg_far_pointer(cpu, insn, &insn->operands[1], osize, &sel,
                                &off, f);
    if (r == CPU_OK)
        r = seg_load(cpu, lfp_sreg(insn), sel, f);
    if (r == CPU_OK)
        exec_gpr_write(cpu, dst->reg, osize, false, off);
    return r;
}

/* LLDT and LTR load descriptors of the GDT only: CPL 0, then the
 * selector operand (SDM Vol. 2A LLDT, LTR). */
static cpu_res system_selector(svmx_cpu *cpu, const svmx_insn *insn,
                               uint16_t *sel, cpu_fault *f)
{
    uint64_t v;
    if (cpu_cpl(cpu) != 0)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    cpu_res r = exec_read_operand(cpu, insn, &insn->operands[0], &v, f);
    *sel = (uint16_t)v;
    return r;
}

/*
 * The descriptor of an LDT or TSS for LLDT/LTR: in the GDT (TI = 1 is
 * #GP(sel)), of an allowed type (#GP(sel)); in IA-32e mode 16 bytes with
 * a zero upper type and a canonical base (#GP(sel), SDM Vol. 2A LLDT and
 * LTR "64-Bit Mode Exceptions"); present (#NP(sel)).
 */
static cpu_res system_descriptor(svmx_cpu *cpu, uint16_t sel,
                                 bool (*type_ok)(unsigned type, bool lma),
                                 seg_desc *d, cpu_fault *f)
{
    bool lma = seg_lma(cpu);
    uint32_t err = sel & 0xfffcu;
    cpu_res r;
    if (sel & 4)
        return cpu_raise(f, CPU_VEC_GP, true, err);
    if ((r = seg_read(cpu, sel, CPU_VEC_GP, 0, d, f)) != CPU_OK)
        return r;
    if ((d->seg.attr & SVMX_SEG_ATTR_S) ||
        !type_ok(SVMX_SEG_ATTR_TYPE(d->seg.attr), lma))
        return cpu_raise(f, CPU_VEC_GP, true, err);
    if (lma) {
        if ((r = seg_read_upper(cpu, sel, 0, d, f)) != CPU_OK)
            return r;
        d->seg.base |= (d->hi & 0xffffffffull) << 32;
        if (!seg_canonical(cpu, d->seg.base))
            return cpu_raise(f, CPU_VEC_GP, true, err);
    }
    if (!(d->seg.attr & SVMX_SEG_ATTR_P))
        return cpu_raise(f, CPU_VEC_NP, true, err);
    return CPU_OK;
}

static bool ldt_type(unsigned type, bool lma)
{
    (void)lma;
    return type == SEG_T_LDT;
}

/* An available TSS: 32/64-bit, or 16-bit outside IA-32e mode (SDM Vol.
 * 3A 8.2.2, 8.7; a busy TSS is #GP(sel)). */
static bool tss_type(unsigned type, bool lma)
{
    return type == SEG_T_TSS || (!lma && type == SEG_T_TSS16);
}

/* LLDT (SDM Vol. 2A LLDT): a null selector leaves LDTR unusable. */
cpu_res insn_lldt(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint16_t sel;
    seg_desc d;
    cpu_res r = system_selector(cpu, insn, &sel, f);
    if (r != CPU_OK)
        return r;
    if (seg_null(sel)) {
        seg_null_value(cpu, SVMX_LDTR, sel, &cpu->sregs.seg[SVMX_LDTR]);
        return CPU_OK;
    }
    if ((r = system_descriptor(cpu, sel, ldt_type, &d, f)) != CPU_OK)
        return r;
    cpu->sregs.seg[SVMX_LDTR] = d.seg;
    return CPU_OK;
}

/* LTR (SDM Vol. 2A LTR): a null selector is #GP(0); the TSS descriptor
 * is marked busy in the GDT, a locked write whose fault ends the
 * instruction before TR changes. */
cpu_res insn_ltr(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint16_t sel;
    seg_desc d;
    cpu_res r = system_selector(cpu, insn, &sel, f);
    if (r != CPU_OK)
        return r;
    if (seg_null(sel))
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    if ((r = system_descriptor(cpu, sel, tss_type, &d, f)) != CPU_OK ||
        (r = seg_set_type_bits(cpu, &d, 2, f)) != CPU_OK)
        return r;
    cpu->sregs.seg[SVMX_TR] = d.seg;
    return CPU_OK;
}

/*
 * SLDT and STR (SDM Vol. 2B SLDT, STR): a register destination gets the
 * selector zero-extended to the operand size, memory 16 bits (the
 * decoder gives the operand its size). CR4.UMIP makes them #GP(0) above
 * CPL 0 (SDM Vol. 3A 2.5; no personality offers UMIP yet).
 */
static cpu_res store_selector(svmx_cpu *cpu, const svmx_insn *insn,
                              unsigned sreg, cpu_fault *f)
{
    if ((cpu->sregs.cr4 & CPU_CR4_UMIP) && cpu_cpl(cpu) > 0)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    return exec_write_operand(cpu, insn, &insn->operands[0],
                              cpu->sregs.seg[sreg].selector, f);
}

cpu_res insn_sldt(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return store_selector(cpu, insn, SVMX_LDTR, f);
}

cpu_res insn_str(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return store_selector(cpu, insn, SVMX_TR, f);
}
