/*
 * src/cpu/insn_flags.c - the instructions that write RFLAGS directly: the
 * single-flag ones (CLC STC CMC CLD STD, CLI STI) and PUSHF/POPF with
 * their IOPL and CPL rules.
 *
 * The personalities offer neither CR4.VME nor CR4.PVI (docs/
 * personalities.md), so the virtual-interrupt forms of CLI, STI, PUSHF
 * and POPF never apply: where they would, the instruction faults.
 */
#include "cpu/exec.h"
#include "svm/svm_exec.h"

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
 * Virtual-8086 mode with IOPL < 3: PUSHF and POPF trap to the monitor
 * with #GP(0) (SDM Vol. 2B PUSHF, POPF; APM Vol. 3 PUSHF, POPF). With
 * CR4.VME the 16-bit forms would work on VIF instead; no personality
 * offers VME, so that branch is only a guard.
 */
static cpu_res v86_iopl_check(svmx_cpu *cpu, const svmx_insn *insn,
                              cpu_fault *f)
{
    if (svmx_cpu_mode(cpu) != SVMX_MODE_V86 || exec_iopl(cpu) == 3)
        return CPU_OK;
    if (insn->operand_size == 2 && (cpu->sregs.cr4 & CPU_CR4_VME))
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED,
                         "virtual-8086 mode extensions");
    return cpu_raise(f, CPU_VEC_GP, true, 0);
}

/*
 * PUSHF/PUSHFD/PUSHFQ: the image has VM and RF clear (SDM Vol. 2B PUSHF:
 * "EFLAGS AND 00FCFFFFH"); the 16-bit form pushes FLAGS, bits 15:0.
 */
cpu_res insn_pushf(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    cpu_res r = v86_iopl_check(cpu, insn, f);
    if (r == CPU_OK) /* SVM: the PUSHF intercept (src/svm) */
        r = svm_intercept(cpu, SVMX_SVM_EXIT_PUSHF, 0, 0);
    if (r != CPU_OK)
        return r;
    uint64_t image = cpu->regs.rflags & ~(SVMX_RFLAGS_VM | SVMX_RFLAGS_RF);
    return exec_push(cpu, insn->operand_size,
                     image & exec_mask(insn->operand_size), f);
}

/*
 * The flags POPF may change at any privilege (SDM Vol. 2B POPF, APM
 * Vol. 3 POPF): CF PF AF ZF SF TF DF OF NT, and AC and ID, which both
 * personalities have (486-class alignment check, CPUID).
 */
#define POPF_ANY                                                              \
    (SVMX_RFLAGS_CF | SVMX_RFLAGS_PF | SVMX_RFLAGS_AF | SVMX_RFLAGS_ZF |      \
     SVMX_RFLAGS_SF | SVMX_RFLAGS_TF | SVMX_RFLAGS_DF | SVMX_RFLAGS_OF |      \
     SVMX_RFLAGS_NT | SVMX_RFLAGS_AC | SVMX_RFLAGS_ID)

/*
 * POPF/POPFD/POPFQ (SDM Vol. 2B POPF Operation, APM Vol. 3 POPF):
 *   IF changes only when CPL <= IOPL (real mode counts as CPL 0, v86
 *   mode as CPL 3 with IOPL 3), IOPL only at CPL 0;
 *   VM, VIF, VIP and the reserved bits never change; bit 1 stays 1;
 *   the 32- and 64-bit forms clear RF, the 16-bit form writes bits 15:0
 *   only and leaves the upper half as it was.
 */
cpu_res insn_popf(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    unsigned size = insn->operand_size, cpl = cpu_cpl(cpu);
    cpu_res r = v86_iopl_check(cpu, insn, f);
    if (r == CPU_OK) /* SVM: the POPF intercept (src/svm) */
        r = svm_intercept(cpu, SVMX_SVM_EXIT_POPF, 0, 0);
    if (r != CPU_OK)
        return r;
    uint64_t v, sp;
    if ((r = exec_pop(cpu, size, &v, &sp, f)) != CPU_OK)
        return r;

    uint64_t mask = POPF_ANY;
    if (cpl <= exec_iopl(cpu))
        mask |= SVMX_RFLAGS_IF;
    if (cpl == 0)
        mask |= SVMX_RFLAGS_IOPL;
    mask &= exec_mask(size);
    uint64_t fl = (cpu->regs.rflags & ~mask) | (v & mask);
    if (size != 2)
        fl &= ~SVMX_RFLAGS_RF;
    cpu->regs.rflags = fl | SVMX_RFLAGS_FIXED;
    exec_gpr_write(cpu, SVMX_RSP, exec_stack_size(cpu), false, sp);
    return CPU_OK;
}
