/*
 * src/cpu/insn_stack.c - PUSHA/PUSHAD, POPA/POPAD, ENTER and LEAVE: the
 * instructions that move several stack slots at once.
 *
 * None of them may leave a half-done frame behind a fault. The pops read
 * every slot before any register changes. The pushes run their frame
 * twice: a probe pass makes every access of the instruction in order,
 * with the segment and paging checks of a write but without writing, and
 * only when it got through does the commit pass do the same accesses for
 * real. The probe finds the first fault in the instruction's own order
 * (a read of ENTER's frame-pointer copies included), and a fault leaves
 * memory and registers as they were.
 */
#include "cpu/exec.h"
#include "cpu/paging.h"

/* The walk of one stack-building instruction. */
typedef struct frame {
    uint64_t sp;     /* where the pushes have got to, at the stack width */
    unsigned ss;     /* stack width in bytes (exec_stack_size)           */
    bool     commit; /* false: check every access, write nothing         */
    uint64_t temp;   /* ENTER's FrameTemp                                */
} frame;

/* Translates [lin, lin + size) for a write without writing. */
static cpu_res probe_write(svmx_cpu *cpu, uint64_t lin, unsigned size,
                           cpu_fault *f)
{
    unsigned acc = PG_WRITE | exec_user_flag(cpu);
    unsigned in_page = 4096 - (unsigned)(lin & 0xfff);
    uint64_t phys;
    cpu_res r = paging_translate(cpu, lin, acc, &phys, f);
    if (r == CPU_OK && size > in_page)
        r = paging_translate(cpu, lin + in_page, acc, &phys, f);
    return r;
}

/* A write (or its probe) of `size` bytes at SS:off. */
static cpu_res frame_write(svmx_cpu *cpu, const frame *fr, uint64_t off,
                           unsigned size, uint64_t v, cpu_fault *f)
{
    uint64_t lin;
    cpu_res r = exec_seg_address(cpu, SVMX_SS, off, size, true, &lin, f);
    if (r != CPU_OK)
        return r;
    if (!fr->commit)
        return probe_write(cpu, lin, size, f);
    return exec_write_linear(cpu, lin, size, exec_user_flag(cpu), v, f);
}

static cpu_res frame_push(svmx_cpu *cpu, frame *fr, unsigned size, uint64_t v,
                          cpu_fault *f)
{
    uint64_t sp = (fr->sp - size) & exec_mask(fr->ss);
    cpu_res r = frame_write(cpu, fr, sp, size, v, f);
    if (r == CPU_OK)
        fr->sp = sp;
    return r;
}

/* A read of `size` bytes at SS:off. */
static cpu_res stack_read(svmx_cpu *cpu, uint64_t off, unsigned size,
                          uint64_t *v, cpu_fault *f)
{
    uint64_t lin;
    cpu_res r = exec_seg_address(cpu, SVMX_SS, off, size, false, &lin, f);
    if (r != CPU_OK)
        return r;
    return exec_read_linear(cpu, lin, size, exec_user_flag(cpu), v, f);
}

typedef cpu_res (*frame_fn)(svmx_cpu *cpu, const svmx_insn *insn, frame *fr,
                            cpu_fault *f);

/* Runs `fn` as a probe, then for real; on success *fr is where the
 * commit pass ended, and the caller updates the registers. */
static cpu_res build_frame(svmx_cpu *cpu, const svmx_insn *insn, frame_fn fn,
                           frame *fr, cpu_fault *f)
{
    fr->ss = exec_stack_size(cpu);
    fr->sp = cpu->regs.gpr[SVMX_RSP] & exec_mask(fr->ss);
    fr->temp = 0;
    frame probe = *fr;
    probe.commit = false;
    cpu_res r = fn(cpu, insn, &probe, f);
    if (r != CPU_OK)
        return r;
    fr->commit = true;
    return fn(cpu, insn, fr, f);
}

/* rSP at its stack width after a walk that ended at `sp` (the bits above
 * a 16-bit stack pointer are kept). */
static uint64_t full_sp(const svmx_cpu *cpu, const frame *fr)
{
    return (cpu->regs.gpr[SVMX_RSP] & ~exec_mask(fr->ss)) | fr->sp;
}

/* ---- PUSHA POPA --------------------------------------------------------- */

/*
 * PUSHA/PUSHAD: Temp = rSP; push AX CX DX BX Temp BP SI DI at the operand
 * size (SDM Vol. 2B PUSHA/PUSHAD). #UD in 64-bit mode comes from the
 * decoder.
 */
static cpu_res pusha_frame(svmx_cpu *cpu, const svmx_insn *insn, frame *fr,
                           cpu_fault *f)
{
    unsigned os = insn->operand_size;
    for (unsigned g = SVMX_RAX; g <= SVMX_RDI; g++) {
        uint64_t v = exec_gpr_read(cpu, g, os, false);
        cpu_res r = frame_push(cpu, fr, os, v, f);
        if (r != CPU_OK)
            return r;
    }
    return CPU_OK;
}

/*
 * Intel lists #GP for a real-mode PUSHA/PUSHAD with SP = 7, 9, 11, 13 or
 * 15, where a slot would straddle the top of the stack segment (SDM Vol.
 * 2B PUSHA, Real-Address Mode Exceptions); AMD lists only the #SS of a
 * stack access past the limit (APM Vol. 3 PUSHA), which the pushes raise
 * by themselves.
 */
static bool pusha_real_gp(const svmx_cpu *cpu)
{
    uint64_t sp = cpu->regs.gpr[SVMX_RSP];
    return cpu->vendor == SVMX_VENDOR_INTEL &&
           svmx_cpu_mode(cpu) == SVMX_MODE_REAL && exec_stack_size(cpu) == 2 &&
           (sp & 0xffff) >= 7 && (sp & 0xffff) <= 15 && (sp & 1);
}

cpu_res insn_pusha(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    frame fr;
    if (pusha_real_gp(cpu))
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    cpu_res r = build_frame(cpu, insn, pusha_frame, &fr, f);
    if (r == CPU_OK)
        exec_gpr_write(cpu, SVMX_RSP, fr.ss, false, fr.sp);
    return r;
}

/*
 * POPA/POPAD: pop DI SI BP, skip the saved SP, pop BX DX CX AX (SDM Vol.
 * 2B POPA/POPAD); the skipped slot is not read. All eight slots are read
 * before any register is written.
 */
cpu_res insn_popa(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    unsigned os = insn->operand_size, ss = exec_stack_size(cpu);
    uint64_t sp = cpu->regs.gpr[SVMX_RSP] & exec_mask(ss), v[8];
    for (int g = SVMX_RDI; g >= (int)SVMX_RAX; g--) {
        if (g != SVMX_RSP) {
            cpu_res r = stack_read(cpu, sp, os, &v[g], f);
            if (r != CPU_OK)
                return r;
        }
        sp = (sp + os) & exec_mask(ss);
    }
    for (int g = SVMX_RDI; g >= (int)SVMX_RAX; g--)
        if (g != SVMX_RSP)
            exec_gpr_write(cpu, (unsigned)g, os, false, v[g]);
    exec_gpr_write(cpu, SVMX_RSP, ss, false, sp);
    return CPU_OK;
}

/* ---- ENTER LEAVE -------------------------------------------------------- */

/*
 * ENTER imm16, imm8 (SDM Vol. 2A ENTER pseudocode, APM Vol. 3 ENTER):
 * push rBP; FrameTemp = rSP; for nesting level L = imm8 mod 32 > 0, push
 * L - 1 frame pointers read at rBP - k * size (rBP counting down at the
 * stack width), then FrameTemp; finally rBP = FrameTemp at the operand
 * size and rSP -= imm16. The SDM lists a fault "if a write using the
 * final value of the stack pointer ... would cause a page fault" and #SS
 * if that SP is outside the segment: the probe checks an operand-sized
 * write there, before anything is written.
 */
static cpu_res enter_frame(svmx_cpu *cpu, const svmx_insn *insn, frame *fr,
                           cpu_fault *f)
{
    unsigned os = insn->operand_size;
    unsigned level = (unsigned)(insn->operands[1].imm & 31);
    uint64_t bp = cpu->regs.gpr[SVMX_RBP] & exec_mask(fr->ss), v;
    cpu_res r = frame_push(cpu, fr, os, exec_gpr_read(cpu, SVMX_RBP, os, false),
                           f);
    if (r != CPU_OK)
        return r;
    fr->temp = full_sp(cpu, fr);
    for (unsigned i = 1; level && i < level; i++) {
        bp = (bp - os) & exec_mask(fr->ss);
        if ((r = stack_read(cpu, bp, os, &v, f)) != CPU_OK ||
            (r = frame_push(cpu, fr, os, v, f)) != CPU_OK)
            return r;
    }
    if (level && (r = frame_push(cpu, fr, os, fr->temp, f)) != CPU_OK)
        return r;
    fr->sp = (fr->sp - (insn->operands[0].imm & 0xffff)) & exec_mask(fr->ss);
    if (fr->commit)
        return CPU_OK;
    return frame_write(cpu, fr, fr->sp, os, 0, f);
}

cpu_res insn_enter(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    frame fr;
    cpu_res r = build_frame(cpu, insn, enter_frame, &fr, f);
    if (r != CPU_OK)
        return r;
    exec_gpr_write(cpu, SVMX_RBP, insn->operand_size, false, fr.temp);
    exec_gpr_write(cpu, SVMX_RSP, fr.ss, false, fr.sp);
    return CPU_OK;
}

/*
 * LEAVE: rSP = rBP at the stack width, then pop rBP at the operand size
 * (SDM Vol. 2A LEAVE). The pop is read first, so a fault changes nothing.
 */
cpu_res insn_leave(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    unsigned os = insn->operand_size, ss = exec_stack_size(cpu);
    uint64_t sp = cpu->regs.gpr[SVMX_RBP] & exec_mask(ss), v;
    cpu_res r = stack_read(cpu, sp, os, &v, f);
    if (r != CPU_OK)
        return r;
    exec_gpr_write(cpu, SVMX_RSP, ss, false, (sp + os) & exec_mask(ss));
    exec_gpr_write(cpu, SVMX_RBP, os, false, v);
    return CPU_OK;
}
