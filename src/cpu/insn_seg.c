/*
 * src/cpu/insn_seg.c - instructions that load, store or check segment
 * selectors: MOV to and from Sreg, PUSH/POP Sreg, LDS LES LFS LGS LSS,
 * LLDT, LTR, SLDT, STR, and LAR, LSL, VERR, VERW, ARPL. The descriptor
 * reads and checks themselves are segment.c's.
 */
#include "cpu/segment.h"
#include "svm/svm_exec.h"

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
                               uint64_t exit_code, uint16_t *sel, cpu_fault *f)
{
    uint64_t v = 0;
    if (cpu_cpl(cpu) != 0)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    /* SVM: the LDTR/TR write intercepts (src/svm) */
    cpu_res r = svm_intercept(cpu, exit_code, 0, 0);
    if (r == CPU_OK)
        r = exec_read_operand(cpu, insn, &insn->operands[0], &v, f);
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
    cpu_res r = system_selector(cpu, insn, SVMX_SVM_EXIT_LDTR_WRITE, &sel, f);
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
    cpu_res r = system_selector(cpu, insn, SVMX_SVM_EXIT_TR_WRITE, &sel, f);
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
    /* SVM: the LDTR/TR read intercepts (src/svm) */
    cpu_res r = svm_intercept(cpu, sreg == SVMX_TR ? SVMX_SVM_EXIT_TR_READ
                                                   : SVMX_SVM_EXIT_LDTR_READ,
                              0, 0);
    if (r != CPU_OK)
        return r;
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

/* ---- LAR, LSL, VERR, VERW, ARPL ---------------------------------------- */

/* ZF is the only flag these instructions change (SDM Vol. 2A LAR, LSL,
 * ARPL and Vol. 2B VERR/VERW "Flags Affected"). */
static void set_zf(svmx_cpu *cpu, bool zf)
{
    cpu->regs.rflags = (cpu->regs.rflags & ~(uint64_t)SVMX_RFLAGS_ZF) |
                       (zf ? SVMX_RFLAGS_ZF : 0);
}

/* They exist in protected and IA-32e mode only; the decoder already makes
 * them #UD in real and virtual-8086 mode ("Real-Address Mode Exceptions":
 * #UD), this keeps the handlers safe on their own. */
static bool protected_mode(const svmx_cpu *cpu)
{
    svmx_mode mode = svmx_cpu_mode(cpu);
    return mode != SVMX_MODE_REAL && mode != SVMX_MODE_V86;
}

/* The selector: bits 15:0 of a register, or a word in memory (SDM Vol. 2A
 * LAR, LSL: "only bits 16-0 are used"; the memory operand is m16). */
static cpu_res read_selector(svmx_cpu *cpu, const svmx_insn *insn,
                             const svmx_operand *op, uint16_t *sel,
                             cpu_fault *f)
{
    uint64_t v = 0;
    cpu_res r = exec_read_operand(cpu, insn, op, &v, f);
    *sel = (uint16_t)v;
    return r;
}

/* The privilege rule all four share: a descriptor other than conforming
 * code is visible only with CPL <= DPL and RPL <= DPL (SDM Vol. 2A LAR
 * "Operation"; APM Vol. 3 LAR, LSL, VERR, VERW). */
static bool visible(const svmx_cpu *cpu, uint16_t sel, uint16_t attr)
{
    unsigned dpl = SVMX_SEG_ATTR_DPL(attr);
    return seg_is_conforming(attr) ||
           (cpu_cpl(cpu) <= dpl && (sel & 3u) <= dpl);
}

/*
 * The system-descriptor types LAR and LSL accept, as bit masks over the
 * type (code and data segments are always valid):
 *
 *   legacy mode (SDM Vol. 2A Tables "Segment and Gate Types" of LAR and
 *   LSL; APM Vol. 3 LAR, LSL - they agree):
 *     LAR  1 2 3 4 5 9 B C   TSSs, LDT, call and task gates
 *     LSL  1 2 3 9 B         TSSs and LDT
 *   IA-32e mode, Intel (the same SDM tables):
 *     LAR  9 B C             64-bit TSSs and call gates; the LDT is "No"
 *     LSL  0 2 9 B           type 0 is listed as "upper 8 bytes of a
 *                            16-byte descriptor: Yes"
 *   long mode, AMD (APM Vol. 3 LAR, LSL):
 *     LAR  2 9 B C
 *     LSL  2 9 B
 */
#define T(x) (1u << (x))
static const uint16_t lar_types[3] = {
    T(1) | T(2) | T(3) | T(4) | T(5) | T(9) | T(0xb) | T(0xc),
    T(9) | T(0xb) | T(0xc),
    T(2) | T(9) | T(0xb) | T(0xc),
};
static const uint16_t lsl_types[3] = {
    T(1) | T(2) | T(3) | T(9) | T(0xb),
    T(0) | T(2) | T(9) | T(0xb),
    T(2) | T(9) | T(0xb),
};
#undef T

/* Row of the tables above: 0 legacy, 1 IA-32e Intel, 2 long mode AMD. */
static unsigned type_row(const svmx_cpu *cpu)
{
    if (!seg_lma(cpu))
        return 0;
    return cpu->vendor == SVMX_VENDOR_INTEL ? 1 : 2;
}

/*
 * AMD reads the whole 16-byte descriptor of an LDT or TSS in 64-bit mode
 * and of a call gate in long mode, and takes it only if bits 12:8 of its
 * fourth doubleword (the upper type) are zero (APM Vol. 3 LAR, LSL); 16
 * bytes beyond the table limit fail as 8 do. The SDM describes no such
 * read, and the Intel personality makes none.
 */
static cpu_res amd_upper_ok(svmx_cpu *cpu, uint16_t sel, seg_desc *d,
                            bool *ok, cpu_fault *f)
{
    unsigned type = SVMX_SEG_ATTR_TYPE(d->seg.attr);
    bool lm64 = svmx_cpu_mode(cpu) == SVMX_MODE_LONG64;
    *ok = true;
    if (cpu->vendor != SVMX_VENDOR_AMD || !seg_lma(cpu) ||
        (type != SEG_T_CALL && !lm64))
        return CPU_OK;
    cpu_res r = seg_peek_upper(cpu, sel, ok, d, f);
    if (r == CPU_OK && *ok)
        *ok = ((d->hi >> 40) & 0x1f) == 0;
    return r;
}

/*
 * The checks LAR and LSL share (SDM Vol. 2A LAR, LSL "Operation"; APM
 * Vol. 3), in the APM's order: a null selector, the table limit, the
 * privilege rule, the type. *ok says whether they passed; only a #PF of
 * a descriptor read (and the operand's own faults) make it a fault.
 */
static cpu_res lar_lsl_check(svmx_cpu *cpu, const svmx_insn *insn,
                             const uint16_t *types, seg_desc *d, bool *ok,
                             cpu_fault *f)
{
    uint16_t sel;
    cpu_res r = read_selector(cpu, insn, &insn->operands[1], &sel, f);
    if (r == CPU_OK)
        r = seg_peek(cpu, sel, ok, d, f);
    if (r != CPU_OK || !*ok)
        return r;
    uint16_t a = d->seg.attr;
    *ok = visible(cpu, sel, a) &&
          ((a & SVMX_SEG_ATTR_S) ||
           (types[type_row(cpu)] >> SVMX_SEG_ATTR_TYPE(a)) & 1);
    if (!*ok || (a & SVMX_SEG_ATTR_S))
        return CPU_OK;
    return amd_upper_ok(cpu, sel, d, ok, f);
}

/* The destination of LAR and LSL is written only when ZF = 1, at the
 * operand size (32 bits zero-extend, 16 bits merge). */
static cpu_res finish_lar_lsl(svmx_cpu *cpu, const svmx_insn *insn, bool ok,
                              uint64_t value)
{
    const svmx_operand *dst = &insn->operands[0];
    if (ok)
        exec_gpr_write(cpu, dst->reg, dst->size, false, value);
    set_zf(cpu, ok);
    return CPU_OK;
}

/*
 * LAR (SDM Vol. 2A LAR, APM Vol. 3 LAR): bits 63:32 of the descriptor
 * masked by FF00h for a 16-bit operand, else by 00FxFF00h: type, S, DPL,
 * P, and AVL, L, D/B, G. The SDM leaves bits 19:16 ("x") undefined; the
 * APM's mask is 00FF_FF00h, returning limit 19:16 there, and the model
 * does that on both personalities (docs/flags.md).
 */
cpu_res insn_lar(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    seg_desc d;
    bool ok;
    if (!protected_mode(cpu))
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    cpu_res r = lar_lsl_check(cpu, insn, lar_types, &d, &ok, f);
    if (r != CPU_OK)
        return r;
    uint64_t mask = insn->operands[0].size == 2 ? 0xff00u : 0x00ffff00u;
    return finish_lar_lsl(cpu, insn, ok, (d.raw >> 32) & mask);
}

/*
 * LSL (SDM Vol. 2A LSL, APM Vol. 3 LSL): the byte-granular limit - the
 * 20-bit limit, shifted left 12 with FFFh below it when G = 1 - truncated
 * to a 16-bit operand.
 */
cpu_res insn_lsl(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    seg_desc d;
    bool ok;
    if (!protected_mode(cpu))
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    cpu_res r = lar_lsl_check(cpu, insn, lsl_types, &d, &ok, f);
    if (r != CPU_OK)
        return r;
    return finish_lar_lsl(cpu, insn, ok, ok ? d.seg.limit : 0);
}

/*
 * VERR and VERW (SDM Vol. 2B VERR/VERW, APM Vol. 3): ZF = 1 when the
 * selector is not null, lies within its table, names a code or data
 * segment (never a system descriptor) that is visible (conforming code
 * always is) and is readable (data, or code with R) for VERR or writable
 * data for VERW. Presence is not checked; nothing is loaded.
 */
static cpu_res verify(svmx_cpu *cpu, const svmx_insn *insn, bool write,
                      cpu_fault *f)
{
    uint16_t sel;
    seg_desc d;
    bool ok;
    if (!protected_mode(cpu))
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    cpu_res r = read_selector(cpu, insn, &insn->operands[0], &sel, f);
    if (r == CPU_OK)
        r = seg_peek(cpu, sel, &ok, &d, f);
    if (r != CPU_OK)
        return r;
    if (ok) {
        uint16_t a = d.seg.attr;
        ok = (a & SVMX_SEG_ATTR_S) && visible(cpu, sel, a) &&
             (write ? seg_is_writable_data(a) : seg_is_data(a) || (a & 2));
    }
    set_zf(cpu, ok);
    return CPU_OK;
}

cpu_res insn_verr(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return verify(cpu, insn, false, f);
}

cpu_res insn_verw(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return verify(cpu, insn, true, f);
}

/*
 * ARPL r/m16, r16 (SDM Vol. 2A ARPL, APM Vol. 3 ARPL): if the
 * destination's RPL is below the source's, it is raised to it and ZF = 1;
 * otherwise ZF = 0 and nothing is written. Opcode 63 is MOVSXD in 64-bit
 * mode (the decoder's). A memory destination is a read-modify-write: it
 * is checked for writing - segment (#GP(0) "if the destination is located
 * in a non-writable segment") and page - before it is read, whichever
 * way the comparison goes (exec_read_operand_rmw).
 */
cpu_res insn_arpl(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *dst = &insn->operands[0];
    uint64_t src = exec_gpr_read(cpu, insn->operands[1].reg, 2, false);
    uint64_t v;
    if (!protected_mode(cpu) || svmx_cpu_mode(cpu) == SVMX_MODE_LONG64)
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    cpu_res r = exec_read_operand_rmw(cpu, insn, dst, &v, f);
    if (r != CPU_OK)
        return r;
    bool raise = (v & 3) < (src & 3);
    if (raise) {
        v = (v & ~3ull) | (src & 3);
        if ((r = exec_write_operand(cpu, insn, dst, v, f)) != CPU_OK)
            return r;
    }
    set_zf(cpu, raise);
    return CPU_OK;
}
