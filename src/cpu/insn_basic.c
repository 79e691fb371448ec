/*
 * src/cpu/insn_basic.c - data movement, near control transfer, flag
 * instructions, port I/O and CPUID.
 *
 * Each handler runs with RIP already at the next instruction and reads
 * all of its operands before it writes any (exec.h).
 */
#include "cpu/exec.h"

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
    cpu->events.activity = SVMX_ACTIVITY_HLT;
    return CPU_OK;
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

/*
 * MOV to a segment register in real and virtual-8086 mode: the selector
 * and base = selector << 4, nothing else (SDM Vol. 3A 21.1.1). Protected
 * mode loads a descriptor, which segment loading will model.
 */
cpu_res insn_mov_seg(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *dst = &insn->operands[0];
    uint64_t v;
    if (dst->kind != SVMX_OPK_REG || dst->reg_class != SVMX_RC_SEG)
        return insn_mov(cpu, insn, f); /* MOV r/m, Sreg */
    svmx_mode mode = svmx_cpu_mode(cpu);
    if (mode != SVMX_MODE_REAL && mode != SVMX_MODE_V86)
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "segment load in protected mode");
    if (dst->reg == SVMX_CS) /* MOV CS is #UD (SDM Vol. 2B MOV) */
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    cpu_res r = exec_read_operand(cpu, insn, &insn->operands[1], &v, f);
    if (r != CPU_OK)
        return r;
    svmx_segment *s = &cpu->sregs.seg[dst->reg];
    s->selector = (uint16_t)v;
    s->base = (uint64_t)s->selector << 4;
    if (dst->reg == SVMX_SS)
        cpu->events.shadow |= SVMX_SHADOW_MOVSS;
    return CPU_OK;
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
cpu_res exec_branch_check(const svmx_cpu *cpu, const svmx_insn *insn,
                          uint64_t *target, cpu_fault *f)
{
    *target &= exec_mask(insn->operand_size);
    if (svmx_cpu_mode(cpu) == SVMX_MODE_LONG64) {
        if (!cpu_canonical(*target, cpu->pers->linear_width))
            return cpu_raise(f, CPU_VEC_GP, true, 0);
    } else if (*target > cpu->sregs.seg[SVMX_CS].limit) {
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    }
    return CPU_OK;
}

cpu_res exec_branch(svmx_cpu *cpu, const svmx_insn *insn, uint64_t target,
                    cpu_fault *f)
{
    cpu_res r = exec_branch_check(cpu, insn, &target, f);
    if (r == CPU_OK)
        cpu->regs.rip = target;
    return r;
}

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
    if (op->kind == SVMX_OPK_REG && op->reg_class == SVMX_RC_SEG &&
        svmx_cpu_mode(cpu) != SVMX_MODE_REAL && svmx_cpu_mode(cpu) != SVMX_MODE_V86)
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "segment push outside real mode");
    cpu_res r = exec_read_operand(cpu, insn, op, &v, f);
    if (r != CPU_OK)
        return r;
    return exec_push(cpu, insn->operand_size, v, f);
}

cpu_res insn_pop(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *op = &insn->operands[0];
    if (op->kind != SVMX_OPK_REG || op->reg_class != SVMX_RC_GPR)
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "POP to memory or a segment register");
    uint64_t v, sp;
    cpu_res r = exec_pop(cpu, insn->operand_size, &v, &sp, f);
    if (r != CPU_OK)
        return r;
    /* POP rSP: the popped value wins over the increment. */
    exec_gpr_write(cpu, SVMX_RSP, exec_stack_size(cpu), false, sp);
    exec_gpr_write(cpu, op->reg, insn->operand_size, false, v);
    return CPU_OK;
}

static cpu_res set_flag(svmx_cpu *cpu, uint64_t bit, int how)
{
    if (how > 0)
        cpu->regs.rflags |= bit;
    else if (how < 0)
        cpu->regs.rflags &= ~bit;
    else
        cpu->regs.rflags ^= bit;
    return CPU_OK;
}

#define FLAG_OP(name, bit, how)                                               \
    cpu_res name(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)          \
    {                                                                         \
        (void)insn, (void)f;                                                  \
        return set_flag(cpu, bit, how);                                       \
    }
FLAG_OP(insn_clc, SVMX_RFLAGS_CF, -1)
FLAG_OP(insn_stc, SVMX_RFLAGS_CF, 1)
FLAG_OP(insn_cmc, SVMX_RFLAGS_CF, 0)
FLAG_OP(insn_cld, SVMX_RFLAGS_DF, -1)
FLAG_OP(insn_std, SVMX_RFLAGS_DF, 1)
#undef FLAG_OP

/*
 * CLI/STI: allowed when CPL <= IOPL (always in real mode); otherwise
 * #GP(0). The virtual-interrupt forms of CR4.VME/PVI are not offered by
 * the personalities (SDM Vol. 2A CLI, Vol. 2B STI).
 */
cpu_res insn_cli(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    if ((cpu->sregs.cr0 & CPU_CR0_PE) && cpu_cpl(cpu) > exec_iopl(cpu))
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    cpu->regs.rflags &= ~SVMX_RFLAGS_IF;
    return CPU_OK;
}

cpu_res insn_sti(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    if ((cpu->sregs.cr0 & CPU_CR0_PE) && cpu_cpl(cpu) > exec_iopl(cpu))
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    /* The shadow follows only an STI that sets IF (SDM Vol. 2B STI). */
    if (!(cpu->regs.rflags & SVMX_RFLAGS_IF))
        cpu->events.shadow |= SVMX_SHADOW_STI;
    cpu->regs.rflags |= SVMX_RFLAGS_IF;
    return CPU_OK;
}

/*
 * IN/OUT (SDM Vol. 2A IN, Vol. 2B OUT): in protected mode with CPL > IOPL
 * and in virtual-8086 mode the TSS I/O permission bitmap decides, which
 * is not modelled yet.
 */
static cpu_res io_allowed(svmx_cpu *cpu)
{
    svmx_mode mode = svmx_cpu_mode(cpu);
    if (mode == SVMX_MODE_REAL)
        return CPU_OK;
    if (mode != SVMX_MODE_V86 && cpu_cpl(cpu) <= exec_iopl(cpu))
        return CPU_OK;
    return exec_stop(cpu, SVMX_STOP_UNSUPPORTED, "I/O permission bitmap");
}

static cpu_res io_stop(svmx_cpu *cpu, svmx_status st, uint16_t port,
                       unsigned size, bool write)
{
    if (cpu->stop) {
        cpu->stop->addr = port;
        cpu->stop->size = (uint8_t)size;
        cpu->stop->write = write;
        cpu->stop->handler_status = st;
    }
    return exec_stop(cpu, SVMX_STOP_IO, "port I/O handler failed");
}

static uint16_t io_port(const svmx_cpu *cpu, const svmx_insn *insn)
{
    return insn->io.port_in_dx ? (uint16_t)cpu->regs.gpr[SVMX_RDX]
                               : insn->io.port;
}

cpu_res insn_in(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)f;
    cpu_res r = io_allowed(cpu);
    if (r != CPU_OK)
        return r;
    uint16_t port = io_port(cpu, insn);
    uint32_t v;
    svmx_status st = svmx_mem_pio_in(&cpu->mem, port, insn->io.size, &v);
    if (st != SVMX_OK)
        return io_stop(cpu, st, port, insn->io.size, false);
    exec_gpr_write(cpu, SVMX_RAX, insn->io.size, false, v);
    return CPU_OK;
}

cpu_res insn_out(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)f;
    cpu_res r = io_allowed(cpu);
    if (r != CPU_OK)
        return r;
    uint16_t port = io_port(cpu, insn);
    uint32_t v = (uint32_t)exec_gpr_read(cpu, SVMX_RAX, insn->io.size, false);
    svmx_status st = svmx_mem_pio_out(&cpu->mem, port, insn->io.size, v);
    if (st != SVMX_OK)
        return io_stop(cpu, st, port, insn->io.size, true);
    return CPU_OK;
}

/* CPUID: EAX/ECX in; the 32-bit results zero-extend (SDM Vol. 2A CPUID). */
cpu_res insn_cpuid(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn, (void)f;
    svmx_cpuid_result id;
    svmx_cpu_cpuid(cpu, (uint32_t)cpu->regs.gpr[SVMX_RAX],
                   (uint32_t)cpu->regs.gpr[SVMX_RCX], &id);
    cpu->regs.gpr[SVMX_RAX] = id.eax;
    cpu->regs.gpr[SVMX_RBX] = id.ebx;
    cpu->regs.gpr[SVMX_RCX] = id.ecx;
    cpu->regs.gpr[SVMX_RDX] = id.edx;
    return CPU_OK;
}
