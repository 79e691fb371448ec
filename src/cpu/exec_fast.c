/*
 * src/cpu/exec_fast.c - handlers for the commonest operand forms of the
 * commonest instructions, picked once per cached decode for the fast
 * loop (exec.c). Each does exactly what the class's general handler does
 * for that form — same reads, same order, same faults — only without the
 * run-time tests of operand kinds and modes the form makes unnecessary.
 * The general handlers stay the reference; tests/test_exec*.c run both
 * paths (the fast loop and single steps).
 */
#include "cpu/alu.h"
#include "cpu/exec.h"
#include "cpu/exec_fast.h"

static bool is_gpr(const svmx_operand *op)
{
    return op->kind == SVMX_OPK_REG && op->reg_class == SVMX_RC_GPR;
}

/* A memory operand the inline path handles (1-8 bytes). */
static bool is_mem(const svmx_operand *op)
{
    return op->kind == SVMX_OPK_MEM && op->size >= 1 && op->size <= 8;
}

static bool is_rel_imm(const svmx_operand *op)
{
    return op->kind == SVMX_OPK_IMM && op->is_relative;
}

/* The group-1 operation of a class (ADD .. TEST), or ALU_OP_COUNT. */
static alu_op group1_op(unsigned cls)
{
    alu_op op = alu_op_of_class(cls);
    return op <= ALU_TEST ? op : ALU_OP_COUNT;
}

/* ADD..TEST reg, reg|imm: as insn_binop (insn_alu.c), with the operation
 * a constant so each one compiles to its own straight line. */
static ALU_ALWAYS_INLINE cpu_res binop(svmx_cpu *cpu, const svmx_insn *insn,
                                       alu_op op, uint64_t b)
{
    const svmx_operand *d = &insn->operands[0];
    unsigned size = alu_norm(d->size);
    uint64_t fl = cpu->regs.rflags;
    uint64_t a = exec_gpr_read(cpu, d->reg, size, false);
    uint64_t v = alu_group1_op(alu_policy_get(cpu->vendor)->logic_af, op, size,
                               a, b, &fl);
    if (op != ALU_CMP && op != ALU_TEST)
        exec_gpr_write(cpu, d->reg, d->size, false, v);
    cpu->regs.rflags = fl;
    return CPU_OK;
}

#define FAST_BINOP(name, op)                                                  \
    static cpu_res fast_##name##_rr(svmx_cpu *cpu, const svmx_insn *insn,     \
                                    cpu_fault *f)                             \
    {                                                                         \
        (void)f;                                                              \
        const svmx_operand *s = &insn->operands[1];                          \
        return binop(cpu, insn, op, exec_gpr_read(cpu, s->reg, s->size, false)); \
    }                                                                         \
    static cpu_res fast_##name##_ri(svmx_cpu *cpu, const svmx_insn *insn,     \
                                    cpu_fault *f)                             \
    {                                                                         \
        (void)f;                                                              \
        return binop(cpu, insn, op, insn->operands[1].imm);                   \
    }
FAST_BINOP(add, ALU_ADD)
FAST_BINOP(or, ALU_OR)
FAST_BINOP(adc, ALU_ADC)
FAST_BINOP(sbb, ALU_SBB)
FAST_BINOP(and, ALU_AND)
FAST_BINOP(sub, ALU_SUB)
FAST_BINOP(xor, ALU_XOR)
FAST_BINOP(cmp, ALU_CMP)
FAST_BINOP(test, ALU_TEST)
#undef FAST_BINOP

/* MOV reg, reg|imm: as insn_mov (insn_basic.c). */
static cpu_res fast_mov_rr(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)f;
    const svmx_operand *d = &insn->operands[0], *s = &insn->operands[1];
    exec_gpr_write(cpu, d->reg, d->size, false,
                   exec_gpr_read(cpu, s->reg, s->size, false));
    return CPU_OK;
}

static cpu_res fast_mov_ri(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)f;
    const svmx_operand *d = &insn->operands[0];
    exec_gpr_write(cpu, d->reg, d->size, false, insn->operands[1].imm);
    return CPU_OK;
}

/* MOV reg, mem and MOV mem, reg|imm: as insn_mov (insn_basic.c) — the
 * source is read before the destination is touched. */
static cpu_res fast_mov_rm(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0], *s = &insn->operands[1];
    uint64_t lin, v;
    cpu_res r = exec_mem_linear(cpu, insn, s, false, &lin, f);
    if (r == CPU_OK)
        r = exec_read_linear(cpu, lin, s->size, exec_user_flag(cpu), &v, f);
    if (r == CPU_OK)
        exec_gpr_write(cpu, d->reg, d->size, false, v);
    return r;
}

static cpu_res fast_mov_mr(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0], *s = &insn->operands[1];
    uint64_t v = s->kind == SVMX_OPK_IMM ? s->imm
               : exec_gpr_read(cpu, s->reg, s->size, false);
    uint64_t lin;
    cpu_res r = exec_mem_linear(cpu, insn, d, true, &lin, f);
    if (r == CPU_OK)
        r = exec_write_linear(cpu, lin, d->size, exec_user_flag(cpu), v, f);
    return r;
}

/* INC DEC NEG NOT reg: as insn_unary (insn_alu.c). */
static cpu_res fast_unary_r(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)f;
    const svmx_operand *d = &insn->operands[0];
    alu_op op = alu_op_of_class(insn->cls);
    uint64_t fl = cpu->regs.rflags;
    uint64_t v = alu_unary(op, d->size, exec_gpr_read(cpu, d->reg, d->size, false),
                           &fl);
    exec_gpr_write(cpu, d->reg, d->size, false, v);
    cpu->regs.rflags = fl;
    return CPU_OK;
}

/* The shifts and rotates of a register by an immediate or 1: as
 * insn_shift (insn_alu.c). */
static cpu_res fast_shift_ri(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)f;
    const svmx_operand *d = &insn->operands[0];
    uint64_t count = insn->operand_count > 1 ? insn->operands[1].imm : 1;
    uint64_t fl = cpu->regs.rflags;
    uint64_t v = alu_shift(alu_policy_get(cpu->vendor),
                           alu_op_of_class(insn->cls), d->size,
                           exec_gpr_read(cpu, d->reg, d->size, false),
                           (unsigned)(count & 0xff), &fl);
    exec_gpr_write(cpu, d->reg, d->size, false, v);
    cpu->regs.rflags = fl;
    return CPU_OK;
}

/* CMOVcc reg, reg: as insn_cmovcc (insn_alu.c) — a 32-bit destination
 * is written (zero-extended) even when the condition is false. */
static cpu_res fast_cmov_rr(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)f;
    const svmx_operand *d = &insn->operands[0], *s = &insn->operands[1];
    uint64_t v = exec_gpr_read(cpu, s->reg, s->size, false);
    if (!alu_cond(insn->cond, cpu->regs.rflags)) {
        if (d->size != 4)
            return CPU_OK;
        v = exec_gpr_read(cpu, d->reg, 4, false);
    }
    exec_gpr_write(cpu, d->reg, d->size, false, v);
    return CPU_OK;
}

/* Jcc rel: as insn_jcc (insn_alu.c). */
static cpu_res fast_jcc(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    if (!alu_cond(insn->cond, cpu->regs.rflags))
        return CPU_OK;
    return exec_branch(cpu, insn, cpu->regs.rip + insn->operands[0].imm, f);
}

/* The 64-bit stack forms (decoded in 64-bit mode with an 8-byte operand
 * size): as insn_push, insn_pop, insn_call and insn_ret (insn_basic.c),
 * with the stack width known to be 8. */
static cpu_res fast_push_r64(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return exec_push(cpu, 8, cpu->regs.gpr[insn->operands[0].reg & 15], f);
}

static cpu_res fast_pop_r64(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t v, sp;
    cpu_res r = exec_pop(cpu, 8, &v, &sp, f);
    if (r != CPU_OK)
        return r;
    cpu->regs.gpr[SVMX_RSP] = sp;
    cpu->regs.gpr[insn->operands[0].reg & 15] = v; /* POP RSP: v wins */
    return CPU_OK;
}

static cpu_res fast_call_rel64(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t t = cpu->regs.rip + insn->operands[0].imm;
    cpu_res r = exec_branch_check(cpu, insn, &t, f);
    if (r == CPU_OK)
        r = exec_push(cpu, 8, cpu->regs.rip, f);
    if (r == CPU_OK)
        cpu->regs.rip = t;
    return r;
}

static cpu_res fast_ret64(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t t, sp;
    cpu_res r = exec_pop(cpu, 8, &t, &sp, f);
    if (r == CPU_OK)
        r = exec_branch(cpu, insn, t, f);
    if (r == CPU_OK)
        cpu->regs.gpr[SVMX_RSP] = sp;
    return r;
}

/* The class's general handler, for decodes without a form of their own
 * (number 0). */
static cpu_res fast_general(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return exec_table[insn->cls](cpu, insn, f);
}

/* X(name, handler): the fast handlers, numbered from 1 in this order. */
#define EXEC_FAST(X)                                                          \
    X(ADD_RR, fast_add_rr)     X(ADD_RI, fast_add_ri)                        \
    X(OR_RR, fast_or_rr)       X(OR_RI, fast_or_ri)                          \
    X(ADC_RR, fast_adc_rr)     X(ADC_RI, fast_adc_ri)                        \
    X(SBB_RR, fast_sbb_rr)     X(SBB_RI, fast_sbb_ri)                        \
    X(AND_RR, fast_and_rr)     X(AND_RI, fast_and_ri)                        \
    X(SUB_RR, fast_sub_rr)     X(SUB_RI, fast_sub_ri)                        \
    X(XOR_RR, fast_xor_rr)     X(XOR_RI, fast_xor_ri)                        \
    X(CMP_RR, fast_cmp_rr)     X(CMP_RI, fast_cmp_ri)                        \
    X(TEST_RR, fast_test_rr)   X(TEST_RI, fast_test_ri)                      \
    X(MOV_RR, fast_mov_rr)     X(MOV_RI, fast_mov_ri)                        \
    X(JCC, fast_jcc)           X(PUSH_R64, fast_push_r64)                    \
    X(POP_R64, fast_pop_r64)   X(CALL_REL64, fast_call_rel64)                \
    X(RET64, fast_ret64)       X(UNARY_R, fast_unary_r)                      \
    X(SHIFT_RI, fast_shift_ri) X(CMOV_RR, fast_cmov_rr)                      \
    X(MOV_RM, fast_mov_rm)     X(MOV_MR, fast_mov_mr)

enum {
    FAST_NONE,
#define X(name, fn) FAST_##name,
    EXEC_FAST(X)
#undef X
    FAST_COUNT
};

const exec_fn exec_fast_fns[EXEC_FAST_MAX + 1] = {
    [FAST_NONE] = fast_general,
#define X(name, fn) [FAST_##name] = fn,
    EXEC_FAST(X)
#undef X
};

_Static_assert(FAST_COUNT <= EXEC_FAST_MAX + 1, "EXEC_FAST_MAX too small");
_Static_assert(FAST_TEST_RI == FAST_ADD_RR + 2 * (ALU_TEST - ALU_ADD) + 1,
               "the group-1 rows follow alu_op's order");

unsigned exec_fast_pick(const svmx_insn *insn)
{
    const svmx_operand *o0 = &insn->operands[0], *o1 = &insn->operands[1];
    bool long64 = insn->mode == SVMX_MODE_LONG64 && insn->operand_size == 8;
    unsigned n = insn->operand_count;

    alu_op g1 = group1_op(insn->cls);
    if (g1 != ALU_OP_COUNT && n == 2 && is_gpr(o0)) {
        /* The rows are ADD_RR, ADD_RI, OR_RR, ... in alu_op order. */
        unsigned row = FAST_ADD_RR + 2u * (unsigned)(g1 - ALU_ADD);
        if (is_gpr(o1) && o1->size == o0->size)
            return row;
        if (o1->kind == SVMX_OPK_IMM)
            return row + 1;
    }
    switch (insn->cls) {
    case SVMX_INSN_MOV:
        if (n == 2 && is_gpr(o0) && is_gpr(o1) && o1->size == o0->size)
            return FAST_MOV_RR;
        if (n == 2 && is_gpr(o0) && o1->kind == SVMX_OPK_IMM)
            return FAST_MOV_RI;
        if (n == 2 && is_gpr(o0) && is_mem(o1))
            return FAST_MOV_RM;
        if (n == 2 && is_mem(o0) && (is_gpr(o1) || o1->kind == SVMX_OPK_IMM))
            return FAST_MOV_MR;
        return FAST_NONE;
    case SVMX_INSN_JCC:
        return n >= 1 && is_rel_imm(o0) ? FAST_JCC : FAST_NONE;
    case SVMX_INSN_INC: case SVMX_INSN_DEC: case SVMX_INSN_NEG: case SVMX_INSN_NOT:
        return n == 1 && is_gpr(o0) ? FAST_UNARY_R : FAST_NONE;
    case SVMX_INSN_SHL: case SVMX_INSN_SHR: case SVMX_INSN_SAR:
    case SVMX_INSN_ROL: case SVMX_INSN_ROR: case SVMX_INSN_RCL: case SVMX_INSN_RCR:
        return is_gpr(o0) && (n == 1 || (n == 2 && o1->kind == SVMX_OPK_IMM))
                   ? FAST_SHIFT_RI : FAST_NONE;
    case SVMX_INSN_CMOVCC:
        return n == 2 && is_gpr(o0) && is_gpr(o1) && o1->size == o0->size
                   ? FAST_CMOV_RR : FAST_NONE;
    case SVMX_INSN_PUSH:
        return long64 && n == 1 && is_gpr(o0) ? FAST_PUSH_R64 : FAST_NONE;
    case SVMX_INSN_POP:
        return long64 && n == 1 && is_gpr(o0) ? FAST_POP_R64 : FAST_NONE;
    case SVMX_INSN_CALL:
        return long64 && n >= 1 && is_rel_imm(o0) ? FAST_CALL_REL64 : FAST_NONE;
    case SVMX_INSN_RET:
        return long64 && n == 0 ? FAST_RET64 : FAST_NONE;
    default:
        return FAST_NONE;
    }
}
