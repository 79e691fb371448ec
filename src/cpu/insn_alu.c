/*
 * src/cpu/insn_alu.c - integer arithmetic and conditional instructions:
 * operand plumbing around the flag-exact functions of alu.c.
 */
#include "cpu/alu.h"
#include "cpu/exec.h"

static const alu_policy *policy(const svmx_cpu *cpu)
{
    return alu_policy_get(cpu->vendor);
}

/* The alu.c operation each class performs, plus one (0: none): the
 * table behind alu_op_of_class() (alu.h). */
const uint8_t alu_class_ops[SVMX_INSN_CLASS_COUNT] = {
    [SVMX_INSN_ADD] = ALU_ADD + 1, [SVMX_INSN_OR] = ALU_OR + 1,
    [SVMX_INSN_ADC] = ALU_ADC + 1, [SVMX_INSN_SBB] = ALU_SBB + 1,
    [SVMX_INSN_AND] = ALU_AND + 1, [SVMX_INSN_SUB] = ALU_SUB + 1,
    [SVMX_INSN_XOR] = ALU_XOR + 1, [SVMX_INSN_CMP] = ALU_CMP + 1,
    [SVMX_INSN_TEST] = ALU_TEST + 1,
    [SVMX_INSN_INC] = ALU_INC + 1, [SVMX_INSN_DEC] = ALU_DEC + 1,
    [SVMX_INSN_NEG] = ALU_NEG + 1, [SVMX_INSN_NOT] = ALU_NOT + 1,
    [SVMX_INSN_SHL] = ALU_SHL + 1, [SVMX_INSN_SHR] = ALU_SHR + 1,
    [SVMX_INSN_SAR] = ALU_SAR + 1, [SVMX_INSN_ROL] = ALU_ROL + 1,
    [SVMX_INSN_ROR] = ALU_ROR + 1, [SVMX_INSN_RCL] = ALU_RCL + 1,
    [SVMX_INSN_RCR] = ALU_RCR + 1,
};

/* ADD OR ADC SBB AND SUB XOR CMP TEST: dst op= src; CMP and TEST only
 * set flags, and only they read a memory destination as a plain read
 * (the others read it for writing: exec_read_operand_rmw). */
cpu_res insn_binop(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0];
    alu_op op = alu_op_of_class(insn->cls);
    uint64_t a, b, fl = cpu->regs.rflags;
    bool writes = op != ALU_CMP && op != ALU_TEST;
    cpu_res r = writes ? exec_read_operand_rmw(cpu, insn, d, &a, f)
                       : exec_read_operand(cpu, insn, d, &a, f);
    if (r == CPU_OK)
        r = exec_read_operand(cpu, insn, &insn->operands[1], &b, f);
    if (r != CPU_OK)
        return r;
    uint64_t v = alu_arith(policy(cpu), op, d->size, a, b, &fl);
    if (writes && (r = exec_write_operand(cpu, insn, d, v, f)) != CPU_OK)
        return r;
    cpu->regs.rflags = fl;
    return CPU_OK;
}

cpu_res insn_unary(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0];
    alu_op op = alu_op_of_class(insn->cls);
    uint64_t a, fl = cpu->regs.rflags;
    cpu_res r = exec_read_operand_rmw(cpu, insn, d, &a, f);
    if (r != CPU_OK)
        return r;
    uint64_t v = alu_unary(op, d->size, a, &fl);
    if ((r = exec_write_operand(cpu, insn, d, v, f)) != CPU_OK)
        return r;
    cpu->regs.rflags = fl;
    return CPU_OK;
}

cpu_res insn_shift(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0];
    alu_op op = alu_op_of_class(insn->cls);
    uint64_t a, count = 1, fl = cpu->regs.rflags;
    cpu_res r = exec_read_operand_rmw(cpu, insn, d, &a, f);
    if (r == CPU_OK && insn->operand_count > 1)
        r = exec_read_operand(cpu, insn, &insn->operands[1], &count, f);
    if (r != CPU_OK)
        return r;
    uint64_t v = alu_shift(policy(cpu), op, d->size, a, (unsigned)(count & 0xff),
                           &fl);
    if ((r = exec_write_operand(cpu, insn, d, v, f)) != CPU_OK)
        return r;
    cpu->regs.rflags = fl;
    return CPU_OK;
}

cpu_res insn_jcc(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    if (!alu_cond(insn->cond, cpu->regs.rflags))
        return CPU_OK;
    return exec_branch(cpu, insn, cpu->regs.rip + insn->operands[0].imm, f);
}

cpu_res insn_setcc(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    return exec_write_operand(cpu, insn, &insn->operands[0],
                              alu_cond(insn->cond, cpu->regs.rflags), f);
}

/*
 * CMOVcc reads its source whatever the condition (a memory source can
 * fault), and with a 32-bit operand in 64-bit mode writes the destination
 * even when the condition is false, clearing bits 63:32 (SDM Vol. 2A
 * CMOVcc).
 */
cpu_res insn_cmovcc(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0];
    uint64_t v;
    cpu_res r = exec_read_operand(cpu, insn, &insn->operands[1], &v, f);
    if (r != CPU_OK)
        return r;
    if (!alu_cond(insn->cond, cpu->regs.rflags)) {
        if (d->size != 4)
            return CPU_OK;
        v = exec_gpr_read(cpu, d->reg, 4, false);
    }
    return exec_write_operand(cpu, insn, d, v, f);
}

/*
 * LOOP/LOOPE/LOOPNE and JrCXZ count in rCX at the address size (SDM
 * Vol. 2A Jcc, Vol. 2B LOOP).
 */
cpu_res insn_loop(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    unsigned as = insn->address_size;
    uint64_t cx = (exec_gpr_read(cpu, SVMX_RCX, as, false) - 1) & exec_mask(as);
    bool take = cx != 0;
    if (insn->cond != 0xff)
        take = take && alu_cond(insn->cond, cpu->regs.rflags);
    if (take) {
        cpu_res r = exec_branch(cpu, insn, cpu->regs.rip + insn->operands[0].imm, f);
        if (r != CPU_OK)
            return r;
    }
    exec_gpr_write(cpu, SVMX_RCX, as, false, cx);
    return CPU_OK;
}

cpu_res insn_jcxz(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    if (exec_gpr_read(cpu, SVMX_RCX, insn->address_size, false) != 0)
        return CPU_OK;
    return exec_branch(cpu, insn, cpu->regs.rip + insn->operands[0].imm, f);
}
