/*
 * src/cpu/exec.h - the interpreter's shared internals: the handler type,
 * the per-class dispatch table, memory operands and stop records.
 *
 * Order of work per instruction (documented once here, STYLE.md 3.5):
 *   1. fetch and decode at CS:RIP (#PF/#GP from the fetch, #UD/#GP(0)
 *      from the decode);
 *   2. RIP advances to the next instruction; the handler runs, reading
 *      every operand before it writes anything, so a fault leaves the
 *      architectural state as it was before the instruction;
 *   3. on a fault RIP goes back to the instruction and the exception is
 *      delivered (except.c); on a stop the run loop returns.
 */
#ifndef SVMX_CPU_EXEC_H
#define SVMX_CPU_EXEC_H

#include "svmx/decode.h"
#include "cpu/breakpoint.h"
#include "cpu/cpu_internal.h"
#include "cpu/fault.h"

typedef cpu_res (*exec_fn)(svmx_cpu *cpu, const svmx_insn *insn,
                           cpu_fault *f);

/*
 * X(class, handler): the single list of which handler executes which
 * instruction class; exec_table.c builds the dispatch table from it. A
 * class without a row is not modelled and stops the run UNSUPPORTED.
 */
#define EXEC_HANDLERS(X)                                                      \
    /* insn_basic.c */                                                        \
    X(NOP, insn_nop)         X(HLT, insn_hlt)       X(UD, insn_ud)            \
    X(MOV, insn_mov)         X(LEA, insn_lea)                                 \
    X(JMP, insn_jmp)         X(CALL, insn_call)     X(RET, insn_ret)          \
    X(PUSH, insn_push)       X(POP, insn_pop)       X(CPUID, insn_cpuid)      \
    /* insn_seg.c */                                                          \
    X(MOV_SEG, insn_mov_seg) X(LFP, insn_lfp)       X(LLDT, insn_lldt)        \
    X(LTR, insn_ltr)         X(SLDT, insn_sldt)     X(STR, insn_str)          \
    X(LAR, insn_lar)         X(LSL, insn_lsl)       X(VERR, insn_verr)        \
    X(VERW, insn_verw)       X(ARPL, insn_arpl)                               \
    /* insn_far.c */                                                          \
    X(JMP_FAR, insn_jmp_far) X(CALL_FAR, insn_call_far)                       \
    X(RET_FAR, insn_ret_far) X(IRET, insn_iret)     X(INT, insn_int)          \
    X(INT3, insn_int3)       X(INTO, insn_into)     X(INT1, insn_int1)        \
    /* insn_flags.c */                                                        \
    X(CLC, insn_clc)         X(STC, insn_stc)       X(CMC, insn_cmc)          \
    X(CLD, insn_cld)         X(STD, insn_std)       X(CLI, insn_cli)          \
    X(STI, insn_sti)         X(PUSHF, insn_pushf)   X(POPF, insn_popf)        \
    /* insn_system.c */                                                       \
    X(MOV_CR, insn_mov_cr)   X(MOV_DR, insn_mov_dr) X(CLTS, insn_clts)        \
    X(LMSW, insn_lmsw)       X(SMSW, insn_smsw)     X(LGDT, insn_lgdt)        \
    X(LIDT, insn_lidt)       X(SGDT, insn_sgdt)     X(SIDT, insn_sidt)        \
    X(RDMSR, insn_rdmsr)     X(WRMSR, insn_wrmsr)   X(INVLPG, insn_invlpg)    \
    X(INVD, insn_cache_ctl)  X(WBINVD, insn_cache_ctl)                        \
    X(WBNOINVD, insn_cache_ctl) X(RDTSC, insn_rdtsc) X(RDTSCP, insn_rdtscp)   \
    X(RDPMC, insn_rdpmc)     X(XSETBV, insn_xsetbv) X(XGETBV, insn_xgetbv)    \
    X(PAUSE, insn_pause)     X(MONITOR, insn_monitor) X(MWAIT, insn_monitor)  \
    X(MONITORX, insn_monitor) X(MWAITX, insn_monitor)                         \
    /* insn_syscall.c */                                                      \
    X(SYSCALL, insn_syscall) X(SYSRET, insn_sysret)                           \
    X(SYSENTER, insn_sysenter) X(SYSEXIT, insn_sysexit)                       \
    X(SWAPGS, insn_swapgs)                                                    \
    /* insn_string.c */                                                       \
    X(MOVS, insn_string)     X(CMPS, insn_string)   X(SCAS, insn_string)      \
    X(LODS, insn_string)     X(STOS, insn_string)                             \
    /* insn_io.c */                                                           \
    X(IN, insn_in)           X(OUT, insn_out)       X(INS, insn_ins)          \
    X(OUTS, insn_outs)                                                        \
    /* insn_alu.c */                                                          \
    X(ADD, insn_binop)       X(OR, insn_binop)      X(ADC, insn_binop)        \
    X(SBB, insn_binop)       X(AND, insn_binop)     X(SUB, insn_binop)        \
    X(XOR, insn_binop)       X(CMP, insn_binop)     X(TEST, insn_binop)       \
    X(INC, insn_unary)       X(DEC, insn_unary)     X(NEG, insn_unary)        \
    X(NOT, insn_unary)       X(SHL, insn_shift)     X(SHR, insn_shift)        \
    X(SAR, insn_shift)       X(ROL, insn_shift)     X(ROR, insn_shift)        \
    X(RCL, insn_shift)       X(RCR, insn_shift)     X(JCC, insn_jcc)          \
    X(SETCC, insn_setcc)     X(CMOVCC, insn_cmovcc) X(LOOP, insn_loop)        \
    X(JCXZ, insn_jcxz)                                                        \
    /* insn_arith.c */                                                        \
    X(MUL, insn_mul)         X(IMUL, insn_mul)      X(DIV, insn_div)          \
    X(IDIV, insn_div)        X(XCHG, insn_xchg)     X(XADD, insn_xadd)        \
    X(CMPXCHG, insn_cmpxchg) X(CMPXCHG8B, insn_cmpxchg_wide)                  \
    X(CMPXCHG16B, insn_cmpxchg_wide) X(BT, insn_bt) X(BTS, insn_bt)           \
    X(BTR, insn_bt)          X(BTC, insn_bt)        X(BSF, insn_scan)         \
    X(BSR, insn_scan)        X(LZCNT, insn_scan)    X(TZCNT, insn_scan)       \
    X(POPCNT, insn_scan)     X(BSWAP, insn_bswap)   X(MOVZX, insn_movx)       \
    X(MOVSX, insn_movx)      X(MOVSXD, insn_movx)   X(CBW, insn_cbw)          \
    X(CWD, insn_cwd)         X(SHLD, insn_shd)      X(SHRD, insn_shd)         \
    X(LAHF, insn_lahf)       X(SAHF, insn_sahf)     X(XLAT, insn_xlat)        \
    X(BOUND, insn_bound)                                                      \
    /* insn_stack.c */                                                        \
    X(PUSHA, insn_pusha)     X(POPA, insn_popa)     X(ENTER, insn_enter)      \
    X(LEAVE, insn_leave)                                                      \
    /* insn_absent.c */                                                       \
    X(INVPCID, insn_absent)  X(XSAVES, insn_absent) X(XRSTORS, insn_absent)   \
    X(RDRAND, insn_absent)   X(RDSEED, insn_absent) X(RDPRU, insn_absent)     \
    X(UMWAIT, insn_absent)   X(TPAUSE, insn_absent) X(INVLPGB, insn_absent)   \
    X(TLBSYNC, insn_absent)  X(MCOMMIT, insn_absent) X(GETSEC, insn_absent)   \
    X(ENCLS, insn_absent)    X(ENCLV, insn_absent)  X(PCONFIG, insn_absent)   \
    X(LOADIWKEY, insn_absent) X(RSM, insn_rsm)                                \
    X(VMCALL, insn_vmx)      X(VMLAUNCH, insn_vmx)  X(VMRESUME, insn_vmx)     \
    X(VMXON, insn_vmx)       X(VMXOFF, insn_vmx)    X(VMPTRLD, insn_vmx)      \
    X(VMPTRST, insn_vmx)     X(VMCLEAR, insn_vmx)   X(VMREAD, insn_vmx)       \
    X(VMWRITE, insn_vmx)     X(INVEPT, insn_vmx)    X(INVVPID, insn_vmx)      \
    X(VMFUNC, insn_vmx)                                \
    /* src/svm/svm_insn.c */                                                  \
    X(VMRUN, insn_vmrun)     X(VMMCALL, insn_vmmcall) X(VMLOAD, insn_vmload)  \
    X(VMSAVE, insn_vmsave)   X(STGI, insn_stgi)     X(CLGI, insn_clgi)        \
    X(SKINIT, insn_skinit)   X(INVLPGA, insn_invlpga)

#define EXEC_PROTO_(cls, fn)                                                  \
    cpu_res fn(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f);
EXEC_HANDLERS(EXEC_PROTO_)
#undef EXEC_PROTO_

/* Handler of each class; NULL = not modelled (stop UNSUPPORTED). */
extern const exec_fn exec_table[SVMX_INSN_CLASS_COUNT];

/* Fills the stop record of the run in progress and returns CPU_STOP. */
cpu_res exec_stop(svmx_cpu *cpu, svmx_stop_reason reason, const char *what);

/* Width of RIP arithmetic by mode: IP wraps at 64 KiB, EIP at 4 GiB. */
extern const uint64_t exec_rip_masks[SVMX_MODE_COUNT];

/* The linear address of CS:rip: no CS base in 64-bit mode, 32 bits
 * elsewhere (SDM Vol. 3A 3.4, 3.3.7.1). */
static inline uint64_t exec_cs_linear(const svmx_cpu *cpu, svmx_mode mode,
                                      uint64_t rip)
{
    if (mode == SVMX_MODE_LONG64)
        return rip;
    return (cpu->sregs.seg[SVMX_CS].base + rip) & 0xffffffffull;
}

/* Mask for an operand or address size of `size` bytes. */
static inline uint64_t exec_mask(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (1ull << (size * 8)) - 1;
}

/* General-register access at an operand size, with the x86 rules for
 * writes: 32-bit writes zero-extend, 8- and 16-bit writes merge
 * (SDM Vol. 1 3.4.1.1). `high8` selects AH..BH. */
static inline uint64_t exec_gpr_read(const svmx_cpu *cpu, unsigned num,
                                     unsigned size, bool high8)
{
    uint64_t v = cpu->regs.gpr[num & 15];
    if (high8)
        return (v >> 8) & 0xff;
    return v & exec_mask(size);
}

static inline void exec_gpr_write(svmx_cpu *cpu, unsigned num, unsigned size,
                                  bool high8, uint64_t value)
{
    uint64_t *r = &cpu->regs.gpr[num & 15];
    if (high8)
        *r = (*r & ~0xff00ull) | (value & 0xff) << 8;
    else if (size == 4)
        *r = value & 0xffffffffull; /* SDM Vol. 1 3.4.1.1: zero-extends */
    else if (size >= 8)
        *r = value;
    else
        *r = (*r & ~exec_mask(size)) | (value & exec_mask(size));
}

/* PG_USER when the CPU runs at CPL 3: the paging flag of an explicit
 * access (SDM Vol. 3A 4.6). */
static inline unsigned exec_user_flag(const svmx_cpu *cpu)
{
    return cpu_cpl(cpu) == 3 ? PG_USER : 0u;
}

/* RFLAGS.IOPL (SDM Vol. 1 3.4.3.3). */
static inline unsigned exec_iopl(const svmx_cpu *cpu)
{
    return (unsigned)((cpu->regs.rflags & SVMX_RFLAGS_IOPL) >> 12);
}

/* base + index * scale + displacement of a memory operand, not yet
 * wrapped to any address size; RIP-relative forms use the RIP of the next
 * instruction. */
static inline uint64_t exec_effective_sum(const svmx_cpu *cpu,
                                          const svmx_operand *op)
{
    uint64_t ea = (uint64_t)op->disp;
    if (op->base == SVMX_GPR_RIP)
        ea += cpu->regs.rip; /* RIP already points past the instruction */
    else if (op->base != SVMX_GPR_NONE)
        ea += cpu->regs.gpr[op->base & 15];
    if (op->index != SVMX_GPR_NONE)
        ea += cpu->regs.gpr[op->index & 15] * op->scale;
    return ea;
}

/* The offset (before segmentation) a memory operand names, wrapped to the
 * address size. */
static inline uint64_t exec_effective_offset(const svmx_cpu *cpu,
                                             const svmx_insn *insn,
                                             const svmx_operand *op)
{
    return exec_effective_sum(cpu, op) & exec_mask(insn->address_size);
}

/* Linear-memory access of 1-8 bytes through paging, split at pages. The
 * inline part is the hostmap hit (hostmap.h); the rest is the _slow
 * function, which also teaches the hostmap. */
cpu_res exec_read_linear_slow(svmx_cpu *cpu, uint64_t lin, unsigned size,
                              unsigned acc, uint64_t *value, cpu_fault *f);
cpu_res exec_write_linear_slow(svmx_cpu *cpu, uint64_t lin, unsigned size,
                               unsigned acc, uint64_t value, cpu_fault *f);

static inline uint8_t *exec_fast_ptr(svmx_cpu *cpu, uint64_t lin,
                                     unsigned size, unsigned acc)
{
    if ((lin & 0xfff) > 4096u - size ||
        (acc & PG_SUPERVISOR_IMPLICIT))
        return NULL;
    return hostmap_lookup(&cpu->hostmap, lin, acc);
}

static inline cpu_res exec_read_linear(svmx_cpu *cpu, uint64_t lin,
                                       unsigned size, unsigned acc,
                                       uint64_t *value, cpu_fault *f)
{
    if (cpu->bp_armed && !(acc & PG_SUPERVISOR_IMPLICIT))
        bp_data_access(cpu, lin, size, false);
    const uint8_t *p = exec_fast_ptr(cpu, lin, size, acc);
    if (p) {
        *value = le_load(p, size);
        return CPU_OK;
    }
    return exec_read_linear_slow(cpu, lin, size, acc, value, f);
}

static inline cpu_res exec_write_linear(svmx_cpu *cpu, uint64_t lin,
                                        unsigned size, unsigned acc,
                                        uint64_t value, cpu_fault *f)
{
    if (cpu->bp_armed && !(acc & PG_SUPERVISOR_IMPLICIT))
        bp_data_access(cpu, lin, size, true);
    uint8_t *p = exec_fast_ptr(cpu, lin, size, acc | PG_WRITE);
    if (p) {
        le_store(p, size, value);
        return CPU_OK;
    }
    return exec_write_linear_slow(cpu, lin, size, acc, value, f);
}

/* Segmentation of a data access at seg:off (SDM Vol. 3A 5.3-5.4). */
cpu_res exec_seg_address(svmx_cpu *cpu, unsigned seg, uint64_t off,
                         unsigned size, bool write, uint64_t *lin, cpu_fault *f);

/*
 * The linear address of a memory operand of an instruction. In 64-bit
 * mode (the instruction's decode mode is the CPU's) only FS and GS have
 * a base and the check is canonicality (SDM Vol. 3A 3.3.7.1), done
 * inline; other modes take exec_seg_address().
 */
static inline cpu_res exec_mem_linear(svmx_cpu *cpu, const svmx_insn *insn,
                                      const svmx_operand *op, bool write,
                                      uint64_t *lin, cpu_fault *f)
{
    unsigned seg = op->seg < SVMX_SEG_COUNT ? op->seg : SVMX_DS;
    unsigned size = op->size ? op->size : 1;
    uint64_t off = exec_effective_offset(cpu, insn, op);
    if (insn->mode == SVMX_MODE_LONG64) {
        uint64_t a = off;
        if (seg == SVMX_FS || seg == SVMX_GS)
            a += cpu->sregs.seg[seg].base;
        unsigned w = cpu->pers->linear_width;
        if (!cpu_canonical(a, w) || !cpu_canonical(a + size - 1, w))
            return cpu_raise(f, seg == SVMX_SS ? CPU_VEC_SS : CPU_VEC_GP, true, 0);
        *lin = a;
        return CPU_OK;
    }
    return exec_seg_address(cpu, seg, off, size, write, lin, f);
}

/* Operand access for register, immediate and memory operands. The
 * general-register and immediate forms are inline; the rest (memory,
 * segment registers, what is not modelled) go to the _any functions. */
cpu_res exec_read_operand_any(svmx_cpu *cpu, const svmx_insn *insn,
                              const svmx_operand *op, uint64_t *value,
                              cpu_fault *f);
cpu_res exec_write_operand_any(svmx_cpu *cpu, const svmx_insn *insn,
                               const svmx_operand *op, uint64_t value,
                               cpu_fault *f);

/* A memory operand of 1-8 bytes read as a read (`write` 0) or for
 * writing (PG_WRITE: exec_read_operand_rmw). */
static inline cpu_res exec_read_mem_operand(svmx_cpu *cpu,
                                            const svmx_insn *insn,
                                            const svmx_operand *op,
                                            unsigned write, uint64_t *value,
                                            cpu_fault *f)
{
    uint64_t lin;
    cpu_res r = exec_mem_linear(cpu, insn, op, write != 0, &lin, f);
    if (r != CPU_OK)
        return r;
    return exec_read_linear(cpu, lin, op->size, exec_user_flag(cpu) | write,
                            value, f);
}

static inline cpu_res exec_read_operand(svmx_cpu *cpu, const svmx_insn *insn,
                                        const svmx_operand *op,
                                        uint64_t *value, cpu_fault *f)
{
    if (op->kind == SVMX_OPK_REG && op->reg_class == SVMX_RC_GPR) {
        *value = exec_gpr_read(cpu, op->reg, op->size, false);
        return CPU_OK;
    }
    if (op->kind == SVMX_OPK_IMM) {
        *value = op->imm;
        return CPU_OK;
    }
    if (op->kind == SVMX_OPK_MEM && op->size && op->size <= 8)
        return exec_read_mem_operand(cpu, insn, op, 0, value, f);
    return exec_read_operand_any(cpu, insn, op, value, f);
}

/*
 * The destination of a read-modify-write instruction (ADD mem, r; INC;
 * the shifts; BTS/BTR/BTC; XCHG; XADD; CMPXCHG ...): read as the first
 * half of a write. Its segment is checked for writing and its page
 * translated for a write before any byte is read, so a page that is not
 * present, or present but not writable, or a supervisor page at CPL 3,
 * faults on the read with W/R = 1 in the #PF error code (SDM Vol. 3A 4.7:
 * W/R "describes the access causing the page-fault exception"; the
 * locked and unlocked forms alike read for ownership, as the Bochs model
 * of the processor does) and its accessed and dirty flags are set.
 * Other operands are read as exec_read_operand() reads them.
 */
static inline cpu_res exec_read_operand_rmw(svmx_cpu *cpu,
                                            const svmx_insn *insn,
                                            const svmx_operand *op,
                                            uint64_t *value, cpu_fault *f)
{
    if (op->kind == SVMX_OPK_MEM && op->size && op->size <= 8)
        return exec_read_mem_operand(cpu, insn, op, PG_WRITE, value, f);
    return exec_read_operand(cpu, insn, op, value, f);
}

static inline cpu_res exec_write_operand(svmx_cpu *cpu, const svmx_insn *insn,
                                         const svmx_operand *op,
                                         uint64_t value, cpu_fault *f)
{
    if (op->kind == SVMX_OPK_REG && op->reg_class == SVMX_RC_GPR) {
        exec_gpr_write(cpu, op->reg, op->size, false, value);
        return CPU_OK;
    }
    if (op->kind == SVMX_OPK_MEM && op->size && op->size <= 8) {
        uint64_t lin;
        cpu_res r = exec_mem_linear(cpu, insn, op, true, &lin, f);
        if (r != CPU_OK)
            return r;
        return exec_write_linear(cpu, lin, op->size, exec_user_flag(cpu), value, f);
    }
    return exec_write_operand_any(cpu, insn, op, value, f);
}

/* Near branch to `target` at the instruction's operand size: #GP(0) if it
 * leaves CS (or is not canonical in 64-bit mode), RIP unchanged then
 * (SDM Vol. 2A JMP, Jcc, CALL). exec_branch_check only truncates and
 * checks the target. */
static inline cpu_res exec_branch_check(const svmx_cpu *cpu,
                                        const svmx_insn *insn,
                                        uint64_t *target, cpu_fault *f)
{
    *target &= exec_mask(insn->operand_size);
    if (cpu_mode(cpu) == SVMX_MODE_LONG64) {
        if (!cpu_canonical(*target, cpu->pers->linear_width))
            return cpu_raise(f, CPU_VEC_GP, true, 0);
    } else if (*target > cpu->sregs.seg[SVMX_CS].limit) {
        return cpu_raise(f, CPU_VEC_GP, true, 0);
    }
    return CPU_OK;
}

static inline cpu_res exec_branch(svmx_cpu *cpu, const svmx_insn *insn,
                                  uint64_t target, cpu_fault *f)
{
    cpu_res r = exec_branch_check(cpu, insn, &target, f);
    if (r == CPU_OK)
        cpu->regs.rip = target;
    return r;
}

/* The stack width in bytes, and a push of `size` bytes through SS. RSP
 * changes only when the write succeeded. */
unsigned exec_stack_size(const svmx_cpu *cpu);
cpu_res exec_push_slow(svmx_cpu *cpu, unsigned size, uint64_t value,
                       cpu_fault *f);

/* True in 64-bit mode (EFER.LMA and CS.L): the stack is flat there. */
static inline bool exec_long64(const svmx_cpu *cpu)
{
    return (cpu->sregs.efer & CPU_EFER_LMA) &&
           (cpu->sregs.seg[SVMX_CS].attr & SVMX_SEG_ATTR_L);
}

static inline cpu_res exec_push(svmx_cpu *cpu, unsigned size, uint64_t value,
                                cpu_fault *f)
{
    if (exec_long64(cpu)) {
        uint64_t sp = cpu->regs.gpr[SVMX_RSP] - size;
        uint8_t *p = exec_fast_ptr(cpu, sp, size, exec_user_flag(cpu) | PG_WRITE);
        if (p && cpu_canonical(sp, cpu->pers->linear_width)) {
            le_store(p, size, value);
            cpu->regs.gpr[SVMX_RSP] = sp;
            return CPU_OK;
        }
    }
    return exec_push_slow(cpu, size, value, f);
}

/* Reads `size` bytes at SS:rSP; *new_sp is rSP after the pop. RSP itself
 * is left to the caller, which commits it with the rest of the
 * instruction. */
cpu_res exec_pop_slow(svmx_cpu *cpu, unsigned size, uint64_t *value,
                      uint64_t *new_sp, cpu_fault *f);

static inline cpu_res exec_pop(svmx_cpu *cpu, unsigned size, uint64_t *value,
                               uint64_t *new_sp, cpu_fault *f)
{
    if (exec_long64(cpu)) {
        uint64_t sp = cpu->regs.gpr[SVMX_RSP];
        const uint8_t *p = exec_fast_ptr(cpu, sp, size, exec_user_flag(cpu));
        if (p && cpu_canonical(sp, cpu->pers->linear_width)) {
            *value = le_load(p, size);
            *new_sp = sp + size;
            return CPU_OK;
        }
    }
    return exec_pop_slow(cpu, size, value, new_sp, f);
}

/* Delivers an exception or interrupt (except.c). */
cpu_res exec_deliver(svmx_cpu *cpu, const cpu_fault *f);

#endif /* SVMX_CPU_EXEC_H */
