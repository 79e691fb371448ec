/*
 * src/cpu/insn_syscall.c - the fast system-call instructions: SYSCALL and
 * SYSRET (STAR, LSTAR, CSTAR, SFMASK), SYSENTER and SYSEXIT (the
 * IA32_SYSENTER_* MSRs), and SWAPGS (KERNEL_GS_BASE).
 *
 * None of them reads a descriptor: CS and SS get selectors derived from an
 * MSR and fixed flat attributes, and the new CPL is the DPL given to SS
 * (cpu_cpl). The vendors differ in where SYSCALL/SYSRET and SYSENTER/
 * SYSEXIT work, in SYSRET's canonical check and in what SYSRET does to
 * SS; each difference is made where it applies, citing both manuals.
 * Both personalities advertise SYSCALL (CPUID 8000_0001h EDX[11]; on
 * Intel reported in IA-32e mode only) and SEP (CPUID.1:EDX[11]).
 */
#include "cpu/exec.h"

static cpu_res gp0(cpu_fault *f)
{
    return cpu_raise(f, CPU_VEC_GP, true, 0);
}

static cpu_res ud(cpu_fault *f)
{
    return cpu_raise(f, CPU_VEC_UD, false, 0);
}

/*
 * Attributes of the flat segments these instructions load, in the 12-bit
 * form of svmx_segment: accessed execute/read code (type 11) or accessed
 * read/write data (type 3), S = 1, P = 1, G = 1, with L = 1 for 64-bit
 * code and D/B = 1 otherwise; base 0, limit 4 GiB.
 */
#define SEG_BASE (SVMX_SEG_ATTR_S | SVMX_SEG_ATTR_P | SVMX_SEG_ATTR_G)
#define CODE64(dpl) ((uint16_t)(SEG_BASE | 0xb | SVMX_SEG_ATTR_L | (dpl) << 5))
#define CODE32(dpl) ((uint16_t)(SEG_BASE | 0xb | SVMX_SEG_ATTR_DB | (dpl) << 5))
#define DATA32(dpl) ((uint16_t)(SEG_BASE | 0x3 | SVMX_SEG_ATTR_DB | (dpl) << 5))

static void load_flat(svmx_cpu *cpu, unsigned seg, uint64_t sel, uint16_t attr)
{
    svmx_segment *s = &cpu->sregs.seg[seg];
    s->selector = (uint16_t)sel;
    s->base = 0;
    s->limit = 0xffffffffu;
    s->attr = attr;
}

static bool intel(const svmx_cpu *cpu)
{
    return cpu->vendor == SVMX_VENDOR_INTEL;
}

/*
 * SYSCALL (SDM Vol. 2B SYSCALL, APM Vol. 3 SYSCALL):
 *   #UD with EFER.SCE = 0; on Intel also outside 64-bit mode. AMD runs it
 *   in every mode: long mode (64-bit and compatibility) enters 64-bit
 *   mode at LSTAR or CSTAR; legacy mode enters 32-bit protected mode at
 *   STAR[31:0]. SYSCALL in real mode would load protected-mode segments
 *   without CR0.PE, a state the model does not represent: UNSUPPORTED.
 *   Long mode: RCX := next RIP, R11 := RFLAGS (AMD with RF clear; Intel as
 *   it is), RFLAGS &= ~SFMASK, RF := 0.
 *   Legacy mode: ECX := next EIP; VM, IF and RF := 0.
 *   CS := STAR[47:32] & FFFCh, SS := STAR[47:32] + 8, both DPL 0.
 */
cpu_res insn_syscall(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    svmx_mode mode = svmx_cpu_mode(cpu);
    uint64_t star_cs = (cpu->msr.star >> 32) & 0xffff;
    uint64_t fl = cpu->regs.rflags;
    if (!(cpu->sregs.efer & CPU_EFER_SCE))
        return ud(f);
    if (intel(cpu) && mode != SVMX_MODE_LONG64)
        return ud(f);
    if (mode == SVMX_MODE_REAL)
        return exec_stop(cpu, SVMX_STOP_UNSUPPORTED, "SYSCALL in real mode");

    if (cpu->sregs.efer & CPU_EFER_LMA) {
        cpu->regs.gpr[SVMX_RCX] = cpu->regs.rip;
        cpu->regs.gpr[SVMX_R11] = intel(cpu) ? fl : fl & ~SVMX_RFLAGS_RF;
        cpu->regs.rip = mode == SVMX_MODE_LONG64 ? cpu->msr.lstar
                                                 : cpu->msr.cstar;
        fl &= ~(cpu->msr.fmask | SVMX_RFLAGS_RF);
        load_flat(cpu, SVMX_CS, star_cs & 0xfffc, CODE64(0));
    } else {
        exec_gpr_write(cpu, SVMX_RCX, 4, false, cpu->regs.rip);
        cpu->regs.rip = cpu->msr.star & 0xffffffffull;
        fl &= ~(SVMX_RFLAGS_VM | SVMX_RFLAGS_IF | SVMX_RFLAGS_RF);
        load_flat(cpu, SVMX_CS, star_cs & 0xfffc, CODE32(0));
    }
    load_flat(cpu, SVMX_SS, star_cs + 8, DATA32(0));
    cpu->regs.rflags = fl | SVMX_RFLAGS_FIXED;
    return CPU_OK;
}

/*
 * SYSRET (SDM Vol. 2B SYSRET, APM Vol. 3 SYSRET):
 *   #UD with EFER.SCE = 0; on Intel also outside 64-bit mode. #GP(0) at
 *   CPL != 0 and, on AMD, outside protected mode.
 *   From 64-bit mode with REX.W: to 64-bit mode at RCX, CS := STAR[63:48]
 *   + 16. Intel checks RCX first: non-canonical is #GP(0) at CPL 0. AMD
 *   does not: it returns, and the #GP(0) comes from fetching at RCX, at
 *   CPL 3 - the run loop's fetch check does exactly that.
 *   Otherwise: to 32-bit code at ECX, CS := STAR[63:48]. RPL 3, DPL 3.
 *   From 64-bit mode RFLAGS := R11 with RF, VM and the reserved bits
 *   clear (Intel: "R11 AND 3C7FD7H"; AMD: RF = VM = 0); from AMD's legacy
 *   and compatibility modes only RFLAGS.IF := 1.
 *   SS: Intel loads (STAR[63:48] + 8) | 3 with flat DPL 3 attributes. AMD
 *   loads the selector STAR[63:48] + 8 and leaves SS's base, limit and
 *   attributes alone; the model still sets SS.DPL to 3, because its CPL
 *   is SS.DPL (cpu_internal.h) and AMD's CPL is 3 afterwards.
 */
cpu_res insn_sysret(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    svmx_mode mode = svmx_cpu_mode(cpu);
    uint64_t ret_cs = cpu->msr.star >> 48, rcx = cpu->regs.gpr[SVMX_RCX];
    bool to64 = mode == SVMX_MODE_LONG64 && insn->operand_size == 8;
    if (!(cpu->sregs.efer & CPU_EFER_SCE))
        return ud(f);
    if (intel(cpu) && mode != SVMX_MODE_LONG64)
        return ud(f);
    if (mode == SVMX_MODE_REAL || cpu_cpl(cpu) != 0)
        return gp0(f);
    if (to64 && intel(cpu) && !cpu_canonical(rcx, cpu->pers->linear_width))
        return gp0(f);

    uint64_t fl = cpu->regs.rflags | SVMX_RFLAGS_IF;
    if (mode == SVMX_MODE_LONG64)
        fl = cpu->regs.gpr[SVMX_R11] & SVMX_RFLAGS_DEFINED &
             ~(SVMX_RFLAGS_RF | SVMX_RFLAGS_VM);
    if (to64) {
        cpu->regs.rip = rcx;
        load_flat(cpu, SVMX_CS, ((ret_cs + 16) & 0xffff) | 3, CODE64(3));
    } else {
        cpu->regs.rip = rcx & 0xffffffffull;
        load_flat(cpu, SVMX_CS, ret_cs | 3, CODE32(3));
    }
    if (intel(cpu)) {
        load_flat(cpu, SVMX_SS, ((ret_cs + 8) & 0xffff) | 3, DATA32(3));
    } else {
        svmx_segment *ss = &cpu->sregs.seg[SVMX_SS];
        ss->selector = (uint16_t)(ret_cs + 8);
        ss->attr = (uint16_t)((ss->attr & ~(3u << 5)) | 3u << 5);
    }
    cpu->regs.rflags = fl | SVMX_RFLAGS_FIXED;
    return CPU_OK;
}

/*
 * What SYSENTER and SYSEXIT share: AMD does not recognize them in long
 * mode (#UD, APM Vol. 3 SYSENTER, SYSEXIT); both vendors refuse them in
 * real mode and with a null IA32_SYSENTER_CS (#GP(0), SDM Vol. 2B
 * SYSENTER, SYSEXIT: CR0.PE = 0 or IA32_SYSENTER_CS[15:2] = 0).
 */
static cpu_res sysenter_allowed(const svmx_cpu *cpu, cpu_fault *f)
{
    if (!intel(cpu) && (cpu->sregs.efer & CPU_EFER_LMA))
        return ud(f);
    if (!(cpu->sregs.cr0 & CPU_CR0_PE) || !(cpu->msr.sysenter_cs & 0xfffc))
        return gp0(f);
    return CPU_OK;
}

/*
 * SYSENTER (SDM Vol. 2B SYSENTER, APM Vol. 3 SYSENTER): VM, IF and RF
 * := 0; CS := IA32_SYSENTER_CS & FFFCh, SS := that + 8, DPL 0; in IA-32e
 * mode (Intel only) 64-bit code with RSP/RIP := the full MSRs, otherwise
 * 32-bit code with ESP/EIP := their low halves.
 */
cpu_res insn_sysenter(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    uint64_t sel = cpu->msr.sysenter_cs & 0xfffc;
    cpu_res r = sysenter_allowed(cpu, f);
    if (r != CPU_OK)
        return r;
    cpu->regs.rflags &= ~(SVMX_RFLAGS_VM | SVMX_RFLAGS_IF | SVMX_RFLAGS_RF);
    if (cpu->sregs.efer & CPU_EFER_LMA) {
        cpu->regs.gpr[SVMX_RSP] = cpu->msr.sysenter_esp;
        cpu->regs.rip = cpu->msr.sysenter_eip;
        load_flat(cpu, SVMX_CS, sel, CODE64(0));
    } else {
        exec_gpr_write(cpu, SVMX_RSP, 4, false, cpu->msr.sysenter_esp);
        cpu->regs.rip = cpu->msr.sysenter_eip & 0xffffffffull;
        load_flat(cpu, SVMX_CS, sel, CODE32(0));
    }
    load_flat(cpu, SVMX_SS, sel + 8, DATA32(0));
    return CPU_OK;
}

/*
 * SYSEXIT (SDM Vol. 2B SYSEXIT, APM Vol. 3 SYSEXIT): CPL 0 (#GP(0)).
 * With REX.W (Intel, 64-bit mode): RSP := RCX, RIP := RDX, both
 * canonical or #GP(0), CS := IA32_SYSENTER_CS + 32, 64-bit code.
 * Otherwise ESP := ECX, EIP := EDX, CS := IA32_SYSENTER_CS + 16, 32-bit
 * code. CS gets RPL 3 and DPL 3; SS := CS + 8, DPL 3.
 */
cpu_res insn_sysexit(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    bool to64 = insn->operand_size == 8;
    uint64_t base = cpu->msr.sysenter_cs & 0xffff;
    uint64_t rcx = cpu->regs.gpr[SVMX_RCX], rdx = cpu->regs.gpr[SVMX_RDX];
    unsigned width = cpu->pers->linear_width;
    cpu_res r = sysenter_allowed(cpu, f);
    if (r != CPU_OK)
        return r;
    if (cpu_cpl(cpu) != 0)
        return gp0(f);
    if (to64 && (!cpu_canonical(rcx, width) || !cpu_canonical(rdx, width)))
        return gp0(f);
    uint64_t sel = ((base + (to64 ? 32 : 16)) & 0xffff) | 3;
    if (to64) {
        cpu->regs.gpr[SVMX_RSP] = rcx;
        cpu->regs.rip = rdx;
        load_flat(cpu, SVMX_CS, sel, CODE64(3));
    } else {
        exec_gpr_write(cpu, SVMX_RSP, 4, false, rcx);
        cpu->regs.rip = rdx & 0xffffffffull;
        load_flat(cpu, SVMX_CS, sel, CODE32(3));
    }
    load_flat(cpu, SVMX_SS, (sel + 8) & 0xffff, DATA32(3));
    return CPU_OK;
}

/*
 * SWAPGS (SDM Vol. 2B SWAPGS, APM Vol. 3 SWAPGS): 64-bit mode only (the
 * decoder makes it #UD elsewhere), CPL 0; exchanges GS.base with
 * IA32_KERNEL_GS_BASE.
 */
cpu_res insn_swapgs(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    if (svmx_cpu_mode(cpu) != SVMX_MODE_LONG64)
        return ud(f);
    if (cpu_cpl(cpu) != 0)
        return gp0(f);
    uint64_t gs = cpu->sregs.seg[SVMX_GS].base;
    cpu->sregs.seg[SVMX_GS].base = cpu->msr.kernel_gs_base;
    cpu->msr.kernel_gs_base = gs;
    return CPU_OK;
}
