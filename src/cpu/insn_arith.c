/*
 * src/cpu/insn_arith.c - the integer data instructions beyond group 1:
 * multiply and divide, exchanges and compare-exchanges, bit test and
 * scan, byte swap, sign and zero extension, double shifts, LAHF/SAHF and
 * XLAT. Operand plumbing around the flag-exact functions of alu.c.
 *
 * As everywhere in the interpreter (exec.h), every operand is read
 * before anything is written; where an instruction writes a memory
 * operand and a register, the memory write comes first, so a fault on it
 * leaves the registers as they were.
 */
#include <string.h>

#include "cpu/alu.h"
#include "cpu/exec.h"

/* CPUID.(EAX=7,ECX=0):EBX[3] BMI1, which brings TZCNT (SDM Vol. 2A CPUID
 * Table 3-8). personality.h names only the bits the personalities set. */
#define CPUID7_EBX_BMI1 (1u << 3)

static const alu_policy *policy(const svmx_cpu *cpu)
{
    return alu_policy_get(cpu->vendor);
}

/* The alu.c operation of each class handled here. */
static const uint8_t arith_op_of[SVMX_INSN_CLASS_COUNT] = {
    [SVMX_INSN_MUL] = ALU_MUL,       [SVMX_INSN_IMUL] = ALU_IMUL1,
    [SVMX_INSN_DIV] = ALU_DIV,       [SVMX_INSN_IDIV] = ALU_IDIV,
    [SVMX_INSN_BT] = ALU_BT,         [SVMX_INSN_BTS] = ALU_BTS,
    [SVMX_INSN_BTR] = ALU_BTR,       [SVMX_INSN_BTC] = ALU_BTC,
    [SVMX_INSN_BSF] = ALU_BSF,       [SVMX_INSN_BSR] = ALU_BSR,
    [SVMX_INSN_LZCNT] = ALU_LZCNT,   [SVMX_INSN_TZCNT] = ALU_TZCNT,
    [SVMX_INSN_POPCNT] = ALU_POPCNT, [SVMX_INSN_SHLD] = ALU_SHLD,
    [SVMX_INSN_SHRD] = ALU_SHRD,
};

static alu_op op_of(const svmx_insn *insn)
{
    return (alu_op)arith_op_of[insn->cls];
}

/* A CPUID feature bit of the personality (leaf, subleaf 0). */
enum { ID_EBX, ID_ECX, ID_EDX };
static bool has_feature(const svmx_cpu *cpu, uint32_t leaf, int reg,
                        uint32_t bit)
{
    svmx_cpuid_result id;
    if (svmx_cpu_cpuid(cpu, leaf, 0, &id) != SVMX_OK)
        return false;
    uint32_t v = reg == ID_EBX ? id.ebx : reg == ID_ECX ? id.ecx : id.edx;
    return (v & bit) != 0;
}

/* Reads the operands a[0..n) in order; the first fault ends it. With
 * `rmw` the instruction writes its memory operand, which is then read
 * for writing (exec_read_operand_rmw). */
static cpu_res read_ops(svmx_cpu *cpu, const svmx_insn *insn, unsigned n,
                        bool rmw, uint64_t *v, cpu_fault *f)
{
    for (unsigned i = 0; i < n; i++) {
        const svmx_operand *op = &insn->operands[i];
        cpu_res r = rmw ? exec_read_operand_rmw(cpu, insn, op, &v[i], f)
                        : exec_read_operand(cpu, insn, op, &v[i], f);
        if (r != CPU_OK)
            return r;
    }
    return CPU_OK;
}

/*
 * Writes x = vx, then y = vy; if y is in memory it goes first, so that a
 * fault on it leaves the register x unwritten. With two registers the
 * order is x, y, which decides XADD of a register with itself.
 */
static cpu_res write_two(svmx_cpu *cpu, const svmx_insn *insn,
                         const svmx_operand *x, uint64_t vx,
                         const svmx_operand *y, uint64_t vy, cpu_fault *f)
{
    cpu_res r;
    if (y->kind == SVMX_OPK_MEM) {
        if ((r = exec_write_operand(cpu, insn, y, vy, f)) != CPU_OK)
            return r;
        return exec_write_operand(cpu, insn, x, vx, f);
    }
    if ((r = exec_write_operand(cpu, insn, x, vx, f)) != CPU_OK)
        return r;
    return exec_write_operand(cpu, insn, y, vy, f);
}

/* ---- MUL IMUL DIV IDIV ------------------------------------------------ */

/* The double-width accumulator: AH:AL for bytes, else rDX:rAX
 * (SDM Vol. 2B MUL Table 4-9, Vol. 2A DIV Table 3-15). */
static void acc_read(const svmx_cpu *cpu, unsigned size, uint64_t *hi,
                     uint64_t *lo)
{
    if (size == 1) {
        *hi = exec_gpr_read(cpu, SVMX_RAX, 1, true);
        *lo = exec_gpr_read(cpu, SVMX_RAX, 1, false);
    } else {
        *hi = exec_gpr_read(cpu, SVMX_RDX, size, false);
        *lo = exec_gpr_read(cpu, SVMX_RAX, size, false);
    }
}

static void acc_write(svmx_cpu *cpu, unsigned size, uint64_t hi, uint64_t lo)
{
    if (size == 1) {
        exec_gpr_write(cpu, SVMX_RAX, 2, false, (hi & 0xff) << 8 | (lo & 0xff));
    } else {
        exec_gpr_write(cpu, SVMX_RAX, size, false, lo);
        exec_gpr_write(cpu, SVMX_RDX, size, false, hi);
    }
}

/* IMUL r, r/m and IMUL r, r/m, imm: the product truncated to the
 * destination (SDM Vol. 2A IMUL; the immediate is sign-extended). */
static cpu_res imul_trunc(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0];
    uint64_t v[3], fl = cpu->regs.rflags;
    unsigned n = insn->operand_count == 3 ? 3 : 2;
    cpu_res r = read_ops(cpu, insn, n, false, v, f);
    if (r != CPU_OK)
        return r;
    uint64_t p = alu_mul(policy(cpu), ALU_IMUL2, d->size, v[n - 2], v[n - 1],
                         NULL, &fl);
    if ((r = exec_write_operand(cpu, insn, d, p, f)) != CPU_OK)
        return r;
    cpu->regs.rflags = fl;
    return CPU_OK;
}

/* MUL and one-operand IMUL: rDX:rAX (AX) = rAX (AL) * r/m. */
cpu_res insn_mul(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    if (insn->cls == SVMX_INSN_IMUL && insn->operand_count >= 2)
        return imul_trunc(cpu, insn, f);
    unsigned size = insn->operands[0].size;
    uint64_t b, hi, lo, fl = cpu->regs.rflags;
    cpu_res r = exec_read_operand(cpu, insn, &insn->operands[0], &b, f);
    if (r != CPU_OK)
        return r;
    lo = alu_mul(policy(cpu), op_of(insn), size,
                 exec_gpr_read(cpu, SVMX_RAX, size, false), b, &hi, &fl);
    acc_write(cpu, size, hi, lo);
    cpu->regs.rflags = fl;
    return CPU_OK;
}

/*
 * DIV and IDIV: #DE for a zero divisor and for a quotient that does not
 * fit, IDIV of the most negative dividend by -1 included; the fault
 * writes nothing (SDM Vol. 2A DIV, IDIV).
 */
cpu_res insn_div(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    unsigned size = insn->operands[0].size;
    uint64_t d, hi, lo, q, rem, fl = cpu->regs.rflags;
    cpu_res r = exec_read_operand(cpu, insn, &insn->operands[0], &d, f);
    if (r != CPU_OK)
        return r;
    acc_read(cpu, size, &hi, &lo);
    if (alu_div(policy(cpu), op_of(insn), size, hi, lo, d, &q, &rem, &fl))
        return cpu_raise(f, CPU_VEC_DE, false, 0);
    acc_write(cpu, size, rem, q);
    cpu->regs.rflags = fl;
    return CPU_OK;
}

/* ---- XCHG XADD CMPXCHG ------------------------------------------------ */

/* XCHG: with a memory operand the write comes first (SDM Vol. 2B XCHG;
 * the implicit lock changes nothing on one CPU). XCHG EAX, EAX (87 C0)
 * writes EAX and so clears RAX[63:32]. */
cpu_res insn_xchg(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    uint64_t v[2];
    cpu_res r = read_ops(cpu, insn, 2, true, v, f);
    if (r != CPU_OK)
        return r;
    return write_two(cpu, insn, &insn->operands[1], v[0], &insn->operands[0],
                     v[1], f);
}

/* XADD: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP (SDM Vol. 2D XADD), in
 * that order for XADD r, r of one register. */
cpu_res insn_xadd(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0];
    uint64_t v[2], fl = cpu->regs.rflags;
    cpu_res r = read_ops(cpu, insn, 2, true, v, f);
    if (r != CPU_OK)
        return r;
    uint64_t src = v[1];
    uint64_t sum = alu_xadd(d->size, v[0], &src, &fl);
    r = write_two(cpu, insn, &insn->operands[1], src, d, sum, f);
    if (r != CPU_OK)
        return r;
    cpu->regs.rflags = fl;
    return CPU_OK;
}

/*
 * CMPXCHG r/m, r (SDM Vol. 2A CMPXCHG, APM Vol. 3 CMPXCHG). A memory
 * destination is always written, with its own value when the comparison
 * fails ("the destination operand is written back if the comparison
 * fails"), so a read-only page faults either way. A register destination
 * is written only on success: on failure the write-back of its own value
 * is not a register write, so a 32-bit one in 64-bit mode keeps bits
 * 63:32; the accumulator is written (and zero-extended) only on failure.
 * Both vendors' hardware does exactly this (the AMD host of
 * docs/flags.md; emulators tested against Intel parts agree).
 */
cpu_res insn_cmpxchg(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0];
    unsigned size = d->size;
    uint64_t v[2], fl = cpu->regs.rflags;
    cpu_res r = read_ops(cpu, insn, 2, true, v, f);
    if (r != CPU_OK)
        return r;
    uint64_t acc = exec_gpr_read(cpu, SVMX_RAX, size, false);
    uint64_t out = alu_cmpxchg(size, v[0], v[1], &acc, &fl);
    bool equal = (fl & SVMX_RFLAGS_ZF) != 0;
    if ((d->kind == SVMX_OPK_MEM || equal) &&
        (r = exec_write_operand(cpu, insn, d, out, f)) != CPU_OK)
        return r;
    if (!equal)
        exec_gpr_write(cpu, SVMX_RAX, size, false, acc);
    cpu->regs.rflags = fl;
    return CPU_OK;
}

/* Reads (for writing: exec_read_operand_rmw) or writes n (1 or 2)
 * quadwords at lin. */
static cpu_res quads(svmx_cpu *cpu, uint64_t lin, unsigned n, bool write,
                     uint64_t *q, cpu_fault *f)
{
    unsigned acc = exec_user_flag(cpu);
    for (unsigned i = 0; i < n; i++) {
        uint64_t a = lin + 8 * i;
        cpu_res r = write ? exec_write_linear(cpu, a, 8, acc, q[i], f)
                          : exec_read_linear(cpu, a, 8, acc | PG_WRITE, &q[i], f);
        if (r != CPU_OK)
            return r;
    }
    return CPU_OK;
}

/*
 * CMPXCHG8B m64 and CMPXCHG16B m128 (SDM Vol. 2A CMPXCHG8B/CMPXCHG16B):
 * rDX:rAX against the memory operand; equal: ZF = 1 and the memory gets
 * rCX:rBX; not equal: ZF = 0, rDX:rAX gets the memory (32-bit writes, so
 * RAX/RDX are zero-extended in 64-bit mode) and the memory is written
 * back. Only ZF changes. #UD without CPUID.1:EDX.CX8 / ECX.CX16; the
 * register forms are #UD in the decoder. CMPXCHG16B is #GP(0) unless the
 * linear address is 16-byte aligned; the segment and canonical checks
 * come first (a non-canonical SS address is #SS(0) rather than #GP(0)).
 * Being aligned, the 16 bytes lie in one page, so the second 8-byte
 * write cannot fault once the first succeeded.
 */
cpu_res insn_cmpxchg_wide(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *m = &insn->operands[0];
    bool wide = insn->cls == SVMX_INSN_CMPXCHG16B;
    unsigned half = wide ? 8 : 4, n = wide ? 2 : 1;
    uint64_t lin, q[2], lo, hi;

    if (wide ? !has_feature(cpu, 1, ID_ECX, CPU_CPUID1_ECX_CX16)
             : !has_feature(cpu, 1, ID_EDX, CPU_CPUID1_EDX_CX8))
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    if (m->kind != SVMX_OPK_MEM)
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    unsigned seg = m->seg < SVMX_SEG_COUNT ? m->seg : SVMX_DS;
    cpu_res r = exec_seg_address(cpu, seg, exec_effective_offset(cpu, insn, m),
                                 2 * half, true, &lin, f);
    if (r == CPU_OK && wide && (lin & 15))
        r = cpu_raise(f, CPU_VEC_GP, true, 0);
    if (r == CPU_OK)
        r = quads(cpu, lin, n, false, q, f);
    if (r != CPU_OK)
        return r;
    lo = wide ? q[0] : q[0] & 0xffffffffull;
    hi = wide ? q[1] : q[0] >> 32;
    bool equal = lo == exec_gpr_read(cpu, SVMX_RAX, half, false) &&
                 hi == exec_gpr_read(cpu, SVMX_RDX, half, false);
    if (equal) {
        q[0] = exec_gpr_read(cpu, SVMX_RBX, half, false);
        q[1] = exec_gpr_read(cpu, SVMX_RCX, half, false);
        if (!wide)
            q[0] |= q[1] << 32;
    }
    if ((r = quads(cpu, lin, n, true, q, f)) != CPU_OK)
        return r;
    if (!equal) {
        exec_gpr_write(cpu, SVMX_RAX, half, false, lo);
        exec_gpr_write(cpu, SVMX_RDX, half, false, hi);
    }
    cpu->regs.rflags = (cpu->regs.rflags & ~SVMX_RFLAGS_ZF) |
                       (equal ? SVMX_RFLAGS_ZF : 0);
    return CPU_OK;
}

/* ---- BT BTS BTR BTC --------------------------------------------------- */

/* v >> n with the sign copied in (arithmetic), without relying on how C
 * shifts negative values. */
static uint64_t sar64(uint64_t v, unsigned n)
{
    return (v >> n) | ((v >> 63) ? ~(UINT64_MAX >> n) : 0);
}

/* op with its displacement moved by delta bytes (modulo 2^64). */
static svmx_operand displaced(const svmx_operand *op, uint64_t delta)
{
    svmx_operand o = *op;
    uint64_t d = (uint64_t)o.disp + delta;
    memcpy(&o.disp, &d, sizeof d); /* two's complement, no overflow */
    return o;
}

/*
 * BT BTS BTR BTC (SDM Vol. 2A BT "bit base, bit offset"; APM Vol. 3 BT).
 * An immediate offset, and any offset into a register, is taken modulo
 * the operand size (alu_bt). A register offset into memory is a signed
 * index into a bit string at the effective address: the operand read is
 * the operand-sized word at EA + (offset SAR log2(bits)) * size, wrapped
 * to the address size, and the bit is offset mod bits; so negative
 * offsets reach below EA. The word accessed is one operand wide (the SDM
 * allows a 4-byte access for 16 bits; the AMD host reads 2).
 */
cpu_res insn_bt(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0], *s = &insn->operands[1];
    alu_op op = op_of(insn);
    unsigned size = d->size;
    uint64_t bit, a, fl = cpu->regs.rflags;
    cpu_res r = exec_read_operand(cpu, insn, s, &bit, f);
    if (r != CPU_OK)
        return r;
    svmx_operand dst = *d;
    if (d->kind == SVMX_OPK_MEM && s->kind == SVMX_OPK_REG) {
        unsigned shift = size == 2 ? 4 : size == 4 ? 5 : 6;
        dst = displaced(d, sar64(alu_sext(size, bit), shift) * size);
    }
    r = op == ALU_BT ? exec_read_operand(cpu, insn, &dst, &a, f)
                     : exec_read_operand_rmw(cpu, insn, &dst, &a, f);
    if (r != CPU_OK)
        return r;
    uint64_t v = alu_bt(policy(cpu), op, size, a, bit, &fl);
    if (op != ALU_BT &&
        (r = exec_write_operand(cpu, insn, &dst, v, f)) != CPU_OK)
        return r;
    cpu->regs.rflags = fl;
    return CPU_OK;
}

/* ---- BSF BSR LZCNT TZCNT POPCNT --------------------------------------- */

/*
 * Without LZCNT (CPUID 8000_0001h:ECX[5], AMD's ABM) or BMI1
 * (CPUID.7.0:EBX[3]) the F3 prefix is ignored and F3 0F BD / F3 0F BC run
 * as BSR / BSF (SDM Vol. 2A LZCNT, Vol. 2B TZCNT; APM Vol. 3 LZCNT,
 * TZCNT). POPCNT without CPUID.1:ECX[23] is #UD (SDM Vol. 2B POPCNT).
 * BSF/BSR of zero leave the destination as it was, not even
 * zero-extended (alu_scan, docs/flags.md).
 */
cpu_res insn_scan(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0];
    alu_op op = op_of(insn);
    uint64_t v[2], fl = cpu->regs.rflags;

    if (op == ALU_LZCNT &&
        !has_feature(cpu, 0x80000001u, ID_ECX, CPU_CPUIDX1_ECX_LZCNT))
        op = ALU_BSR;
    else if (op == ALU_TZCNT && !has_feature(cpu, 7, ID_EBX, CPUID7_EBX_BMI1))
        op = ALU_BSF;
    else if (op == ALU_POPCNT &&
             !has_feature(cpu, 1, ID_ECX, CPU_CPUID1_ECX_POPCNT))
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    cpu_res r = read_ops(cpu, insn, 2, false, v, f);
    if (r != CPU_OK)
        return r;
    uint64_t out = alu_scan(policy(cpu), op, d->size, v[0], v[1], &fl);
    bool keep = (op == ALU_BSF || op == ALU_BSR) &&
                alu_zext(d->size, v[1]) == 0;
    if (!keep && (r = exec_write_operand(cpu, insn, d, out, f)) != CPU_OK)
        return r;
    cpu->regs.rflags = fl;
    return CPU_OK;
}

/* BSWAP r32/r64; r16 is undefined and gives 0 in the low word, the rest
 * of the register kept (alu_bswap, docs/flags.md). */
cpu_res insn_bswap(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0];
    uint64_t v;
    cpu_res r = exec_read_operand(cpu, insn, d, &v, f);
    if (r != CPU_OK)
        return r;
    return exec_write_operand(cpu, insn, d, alu_bswap(d->size, v), f);
}

/* ---- MOVZX MOVSX MOVSXD CBW CWD ----------------------------------------- */

/*
 * MOVZX, MOVSX (SDM Vol. 2B MOVZX, MOVSX) and MOVSXD. MOVSXD without
 * REX.W is a plain move at the operand size: r32, r/m32 zero-extends as
 * any 32-bit write. With a 16-bit operand size Intel documents MOVSXD
 * r16, r/m16 (SDM Vol. 2B MOVSX/MOVSXD); AMD documents only the 32-bit
 * source (APM Vol. 3 MOVSXD) and its hardware reads 32 bits of a memory
 * source there (the AMD host faults on a 4-byte read past a page end
 * where a 2-byte one does not), writing the low 16 bits.
 */
cpu_res insn_movx(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    svmx_operand src = insn->operands[1];
    uint64_t v;
    if (insn->cls == SVMX_INSN_MOVSXD) /* the decoder says 2 or 4 by form */
        src.size = cpu->vendor == SVMX_VENDOR_INTEL && insn->operand_size == 2
                       ? 2 : 4;
    cpu_res r = exec_read_operand(cpu, insn, &src, &v, f);
    if (r != CPU_OK)
        return r;
    if (insn->cls != SVMX_INSN_MOVZX)
        v = alu_sext(src.size, v);
    return exec_write_operand(cpu, insn, &insn->operands[0], v, f);
}

/* CBW/CWDE/CDQE: rAX = sign-extended low half (SDM Vol. 2A CBW). */
cpu_res insn_cbw(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)f;
    unsigned os = insn->operand_size;
    exec_gpr_write(cpu, SVMX_RAX, os, false,
                   alu_cbw(os, cpu->regs.gpr[SVMX_RAX]));
    return CPU_OK;
}

/* CWD/CDQ/CQO: rDX = the sign of rAX (SDM Vol. 2A CWD). */
cpu_res insn_cwd(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)f;
    unsigned os = insn->operand_size;
    exec_gpr_write(cpu, SVMX_RDX, os, false,
                   alu_cwd(os, cpu->regs.gpr[SVMX_RAX]));
    return CPU_OK;
}

/* ---- SHLD SHRD ---------------------------------------------------------- */

/*
 * SHLD/SHRD r/m, r, imm8/CL (SDM Vol. 2B SHLD, SHRD): the count is masked
 * to 5 bits (6 with REX.W); a masked count of 0 changes no flag; 16-bit
 * counts above 16 give the personality's undefined result (alu_shd,
 * docs/flags.md). The destination is written whatever the count, as for
 * the shifts, so a 32-bit register in 64-bit mode is zero-extended even
 * by a count of 0 (the AMD host does so).
 */
cpu_res insn_shd(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *d = &insn->operands[0];
    uint64_t v[3], fl = cpu->regs.rflags;
    cpu_res r = read_ops(cpu, insn, 3, true, v, f);
    if (r != CPU_OK)
        return r;
    uint64_t out = alu_shd(policy(cpu), op_of(insn), d->size, v[0], v[1],
                           (unsigned)(v[2] & 0xff), &fl);
    if ((r = exec_write_operand(cpu, insn, d, out, f)) != CPU_OK)
        return r;
    cpu->regs.rflags = fl;
    return CPU_OK;
}

/* ---- LAHF SAHF XLAT ----------------------------------------------------- */

/* SF ZF AF PF CF: the flags LAHF and SAHF move (SDM Vol. 2A LAHF). */
#define AH_FLAGS                                                              \
    (SVMX_RFLAGS_SF | SVMX_RFLAGS_ZF | SVMX_RFLAGS_AF | SVMX_RFLAGS_PF |     \
     SVMX_RFLAGS_CF)

/* In 64-bit mode LAHF and SAHF need CPUID 8000_0001h:ECX[0] (LAHF-SAHF),
 * else #UD (SDM Vol. 2A LAHF, Vol. 2B SAHF; APM Vol. 3 LAHF, SAHF). */
static bool ah_flags_usable(const svmx_cpu *cpu)
{
    return svmx_cpu_mode(cpu) != SVMX_MODE_LONG64 ||
           has_feature(cpu, 0x80000001u, ID_ECX, CPU_CPUIDX1_ECX_LAHF);
}

/* LAHF: AH = SF:ZF:0:AF:0:PF:1:CF. */
cpu_res insn_lahf(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    if (!ah_flags_usable(cpu))
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    exec_gpr_write(cpu, SVMX_RAX, 1, true,
                   (cpu->regs.rflags & AH_FLAGS) | SVMX_RFLAGS_FIXED);
    return CPU_OK;
}

/* SAHF: SF ZF AF PF CF = AH bits 7 6 4 2 0; OF and the rest kept. */
cpu_res insn_sahf(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    (void)insn;
    if (!ah_flags_usable(cpu))
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    uint64_t ah = exec_gpr_read(cpu, SVMX_RAX, 1, true);
    cpu->regs.rflags = (cpu->regs.rflags & ~AH_FLAGS) | (ah & AH_FLAGS);
    return CPU_OK;
}

/*
 * XLAT: AL = [seg:rBX + AL], AL unsigned, the sum wrapped to the address
 * size; DS unless overridden (SDM Vol. 2D XLAT). Built as a memory
 * operand so the access takes the common path.
 */
cpu_res insn_xlat(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    svmx_operand m = {
        .kind = SVMX_OPK_MEM,
        .seg = insn->seg_override < SVMX_SEG_COUNT ? insn->seg_override
                                                   : SVMX_SEG_DS,
        .base = SVMX_RBX,
        .index = SVMX_GPR_NONE,
        .size = 1,
        .disp = (int64_t)exec_gpr_read(cpu, SVMX_RAX, 1, false),
    };
    uint64_t v;
    cpu_res r = exec_read_operand(cpu, insn, &m, &v, f);
    if (r != CPU_OK)
        return r;
    exec_gpr_write(cpu, SVMX_RAX, 1, false, v);
    return CPU_OK;
}

/*
 * BOUND r16/32, m16&16/m32&32 (SDM Vol. 2A BOUND, APM Vol. 3 BOUND; not
 * in 64-bit mode, where the decoder gives #UD): the signed index must
 * lie within [lower, upper], the two words at the memory operand, else
 * #BR — a fault, reported at BOUND with nothing changed. The fault
 * carries the instruction's length: an SVM #VMEXIT for it saves nRIP
 * (APM Vol. 2 15.7.1: "exceptions caused by INT3, INTO and BOUND").
 */
cpu_res insn_bound(svmx_cpu *cpu, const svmx_insn *insn, cpu_fault *f)
{
    const svmx_operand *ix = &insn->operands[0], *m = &insn->operands[1];
    unsigned size = insn->operand_size;
    uint64_t lin, lo, hi;
    if (m->kind != SVMX_OPK_MEM)
        return cpu_raise(f, CPU_VEC_UD, false, 0);
    cpu_res r = exec_mem_linear(cpu, insn, m, false, &lin, f);
    unsigned acc = exec_user_flag(cpu);
    uint64_t amask = insn->mode == SVMX_MODE_LONG64 ? UINT64_MAX : 0xffffffffull;
    if (r == CPU_OK)
        r = exec_read_linear(cpu, lin, size, acc, &lo, f);
    if (r == CPU_OK)
        r = exec_read_linear(cpu, (lin + size) & amask, size, acc, &hi, f);
    if (r != CPU_OK)
        return r;
    int64_t v = (int64_t)alu_sext(size, exec_gpr_read(cpu, ix->reg, size, false));
    if (v < (int64_t)alu_sext(size, lo) || v > (int64_t)alu_sext(size, hi)) {
        cpu_raise(f, CPU_VEC_BR, false, 0);
        f->insn_len = insn->length;
        return CPU_FAULT;
    }
    return CPU_OK;
}
