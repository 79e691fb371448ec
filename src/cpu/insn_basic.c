/*
 * src/cpu/insn_basic.c - data movement, near control transfer and
 * CPUID.
 *
 * Each handler runs with RIP already at the next instruction and reads
 * all of its operands before it writes any (exec.h).
 */
#include "cpu/exec.h"
#include "cpu/segment.h"
#include "svm/svm_exec.h"

cpu_res insn_nop(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)cpu, (void)insn, (void)f;
    return CPU_OK;
}

/* HLT: CPL 0 only (SDM Vol. 2A HLT: #GP(0) if CPL != 0). */
cpu_res insn_hlt(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    if (cpu_cpl(cpu) != 0)
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    cpu_res r = svm_intercept(cpu, SVMX_SVM_EXIT_HLT, 0, 0); /* src/svm */
    if (r == CPU_OK)
        cpu->events.activity = SVMX_ACTIVITY_HLT;
    return r;
}

cpu_res insn_ud(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)cpu, (void)insn;
    return cpu_raise(f, CPU_VEC_UD, false, 0);
}

cpu_res insn_mov(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t v;
    cpu_res r = exec_read_operand(cpu, insn, &insn->operands[1], &v, f);
    if (r != CPU_OK)
        return r;
    return exec_write_operand(cpu, insn, &insn->operands[0], v, f);
}

cpu_res insn_lea(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)f;
    exec_gpr_write(cpu, insn->operands[0].reg, insn->operand_size, false,
                   exec_effective_offset(cpu, insn, &insn->operands[1]));
    return CPU_OK;
}

/*
 * Sets RIP for a near branch: the target is truncated to the operand
 * size; outside 64-bit mode it must lie within CS, in 64-bit mode it must
 * be canonical; either failure is #GP(0) with RIP unchanged (SDM Vol. 2A
 * JMP, CALL; Vol. 2B RET).
 */
static cpu_res near_target(svmx_cpu *cpu, const svmx_insn *insn,
                           uint64_t *target, cpu_fault *f)
{
    const svmx_operand *op = &insn->operands[0];
    if (op->kind == SVMX_OPK_IMM && op->is_relative) {
        *target = cpu->regs.rip + op->imm;
        return CPU_OK;
    }
    return exec_read_operand(cpu, insn, op, target, f);
}

cpu_res insn_jmp(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t t;
    cpu_res r = near_target(cpu, insn, &t, f);
    return r != CPU_OK ? r : exec_branch(cpu, insn, t, f);
}

cpu_res insn_call(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t t;
    cpu_res r = near_target(cpu, insn, &t, f);
    /* The target is checked before the push (SDM Vol. 2A CALL). */
    if (r == CPU_OK)
        r = exec_branch_check(cpu, insn, &t, f);
    if (r == CPU_OK)
        r = exec_push(cpu, insn->operand_size, cpu->regs.rip, f);
    if (r == CPU_OK)
        cpu->regs.rip = t;
    return r;
}

cpu_res insn_ret(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t t, sp;
    cpu_res r = exec_pop(cpu, insn->operand_size, &t, &sp, f);
    if (r != CPU_OK)
        return r;
    if (insn->operand_count && insn->operands[0].kind == SVMX_OPK_IMM)
        sp = (sp + (insn->operands[0].imm & 0xffff)) & exec_mask(exec_stack_size(cpu));
    if ((r = exec_branch(cpu, insn, t, f)) != CPU_OK)
        return r;
    exec_gpr_write(cpu, SVMX_RSP, exec_stack_size(cpu), false, sp);
    return CPU_OK;
}

cpu_res insn_push(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t v;
    const svmx_operand *op = &insn->operands[0];
    if (op->kind == SVMX_OPK_REG && op->reg_class == SVMX_RC_SEG)
        return insn_push_sreg(cpu, insn, f); /* insn_seg.c */
    cpu_res r = exec_read_operand(cpu, insn, op, &v, f);
    if (r != CPU_OK)
        return r;
    return exec_push(cpu, insn->operand_size, v, f);
}

/*
 * POP r/m (SDM Vol. 2B POP, APM Vol. 3 POP): the slot at SS:rSP is read,
 * rSP moves up by the operand size (at the stack width), then the value
 * is written. A register destination of rSP gets the popped value, which
 * wins over the increment. A memory destination's effective address is
 * computed with rSP already incremented ("If the ESP register is used as
 * a base register for addressing a destination operand in memory, the
 * POP instruction computes the effective address of the operand after it
 * increments the ESP register"), and a fault on the write puts rSP back,
 * so the instruction leaves no trace.
 */
cpu_res insn_pop(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *op = &insn->operands[0];
    if (op->kind == SVMX_OPK_REG && op->reg_class == SVMX_RC_SEG)
        return insn_pop_sreg(cpu, insn, f); /* insn_seg.c */
    uint64_t v, sp, old_rsp = cpu->regs.gpr[SVMX_RSP];
    cpu_res r = exec_pop(cpu, insn->operand_size, &v, &sp, f);
    if (r != CPU_OK)
        return r;
    exec_gpr_write(cpu, SVMX_RSP, exec_stack_size(cpu), false, sp);
    r = exec_write_operand(cpu, insn, op, v, f);
    if (r != CPU_OK)
        cpu->regs.gpr[SVMX_RSP] = old_rsp;
    return r;
}

/* CPUID: EAX/ECX in; the 32-bit results zero-extend (SDM Vol. 2A CPUID). */
cpu_res insn_cpuid(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn, (void)f;
    svmx_cpuid_result id;
    cpu_res r = svm_intercept(cpu, SVMX_SVM_EXIT_CPUID, 0, 0); /* src/svm */
    if (r != CPU_OK)
        return r;
    svmx_cpu_cpuid(cpu, (uint32_t)cpu->regs.gpr[SVMX_RAX],
                   (uint32_t)cpu->regs.gpr[SVMX_RCX], &id);
    cpu->regs.gpr[SVMX_RAX] = id.eax;
    cpu->regs.gpr[SVMX_RBX] = id.ebx;
    cpu->regs.gpr[SVMX_RCX] = id.ecx;
    cpu->regs.gpr[SVMX_RDX] = id.edx;
    return CPU_OK;
}
