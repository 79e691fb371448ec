/*
 * src/cpu/alu.h - the integer arithmetic and flags core: pure functions of
 * their operands and RFLAGS, no CPU state, no allocation, no globals but
 * constant tables.
 *
 * Conventions shared by every function here:
 * - size is the operand size in bytes: 1, 2, 4 or 8. Any other value is
 *   computed as 8, and a size the instruction has no form for (SHLD with
 *   1, ...) gives an unspecified result: never undefined behaviour.
 * - Operands are taken modulo 2^(8*size); results come back zero-extended
 *   to 64 bits. Merging a 1- or 2-byte result into a wider register (and
 *   zero-extending a 4-byte one in 64-bit mode) is the caller's job.
 * - *rflags is read and written: only the six arithmetic flags (CF PF AF
 *   ZF SF OF, SDM Vol. 1 3.4.3.1) ever change, and only those the
 *   instruction writes; every other bit is passed through.
 * - Where the manuals leave a flag (or a result) undefined, the value is
 *   the personality's: functions that have such a case take an
 *   alu_policy, from alu_policy_get(). Every such choice is one entry of
 *   the table in alu.c; docs/flags.md lists them all with the citations.
 */
#ifndef SVMX_CPU_ALU_H
#define SVMX_CPU_ALU_H

#include <stdbool.h>
#include <stdint.h>

#include "svmx/cpu.h"

/* The six arithmetic flags (SDM Vol. 1 Figure 3-8). */
#define ALU_ARITH                                                             \
    (SVMX_RFLAGS_CF | SVMX_RFLAGS_PF | SVMX_RFLAGS_AF | SVMX_RFLAGS_ZF |     \
     SVMX_RFLAGS_SF | SVMX_RFLAGS_OF)

/*
 * Every operation, one row each: X(name, family), family being the
 * alu_<family>() function that runs it (conv: alu_cbw, alu_cwd).
 * Group 1 (ADD..CMP) is in ModRM.reg order of opcodes 80-83, group 2
 * (ROL..SAR) in ModRM.reg order of C0/C1/D0-D3, BT..BTC in the order of
 * 0F BA /4../7 (SDM Vol. 2D Table A-6), so a decoder may add the reg
 * field to the first of a group.
 */
#define ALU_OPS(X)                                                            \
    X(ADD, arith)     /* SDM Vol. 2A ADD      */                              \
    X(OR, arith)      /* SDM Vol. 2B OR       */                              \
    X(ADC, arith)     /* SDM Vol. 2A ADC      */                              \
    X(SBB, arith)     /* SDM Vol. 2B SBB      */                              \
    X(AND, arith)     /* SDM Vol. 2A AND      */                              \
    X(SUB, arith)     /* SDM Vol. 2B SUB      */                              \
    X(XOR, arith)     /* SDM Vol. 2D XOR      */                              \
    X(CMP, arith)     /* SDM Vol. 2A CMP      */                              \
    X(TEST, arith)    /* SDM Vol. 2B TEST     */                              \
    X(INC, unary)     /* SDM Vol. 2A INC      */                              \
    X(DEC, unary)     /* SDM Vol. 2A DEC      */                              \
    X(NEG, unary)     /* SDM Vol. 2B NEG      */                              \
    X(NOT, unary)     /* SDM Vol. 2B NOT      */                              \
    X(ROL, shift)     /* SDM Vol. 2B RCL/RCR/ROL/ROR */                       \
    X(ROR, shift)                                                             \
    X(RCL, shift)                                                             \
    X(RCR, shift)                                                             \
    X(SHL, shift)     /* SDM Vol. 2B SAL/SAR/SHL/SHR */                       \
    X(SHR, shift)                                                             \
    X(SAL, shift)     /* /6: the same as SHL on both vendors' hardware */     \
    X(SAR, shift)                                                             \
    X(SHLD, shd)      /* SDM Vol. 2B SHLD     */                              \
    X(SHRD, shd)      /* SDM Vol. 2B SHRD     */                              \
    X(MUL, mul)       /* SDM Vol. 2B MUL: rDX:rAX = rAX * src */              \
    X(IMUL1, mul)     /* SDM Vol. 2A IMUL, one operand: rDX:rAX */            \
    X(IMUL2, mul)     /* SDM Vol. 2A IMUL, two and three operands */          \
    X(DIV, div)       /* SDM Vol. 2A DIV      */                              \
    X(IDIV, div)      /* SDM Vol. 2A IDIV     */                              \
    X(BT, bt)         /* SDM Vol. 2A BT       */                              \
    X(BTS, bt)        /* SDM Vol. 2A BTS      */                              \
    X(BTR, bt)        /* SDM Vol. 2A BTR      */                              \
    X(BTC, bt)        /* SDM Vol. 2A BTC      */                              \
    X(BSF, scan)      /* SDM Vol. 2A BSF      */                              \
    X(BSR, scan)      /* SDM Vol. 2A BSR      */                              \
    X(LZCNT, scan)    /* SDM Vol. 2A LZCNT    */                              \
    X(TZCNT, scan)    /* SDM Vol. 2B TZCNT    */                              \
    X(POPCNT, scan)   /* SDM Vol. 2B POPCNT   */                              \
    X(BSWAP, bswap)   /* SDM Vol. 2A BSWAP    */                              \
    X(XADD, xadd)     /* SDM Vol. 2D XADD     */                              \
    X(CMPXCHG, cmpxchg) /* SDM Vol. 2A CMPXCHG */                             \
    X(CBW, conv)      /* SDM Vol. 2A CBW/CWDE/CDQE (by size 2/4/8) */         \
    X(CWD, conv)      /* SDM Vol. 2A CWD/CDQ/CQO (by size 2/4/8) */

typedef enum alu_op {
#define X(name, fn) ALU_##name,
    ALU_OPS(X)
#undef X
    ALU_OP_COUNT
} alu_op;

/* "ADD", ...; "?" outside the enum. */
const char *alu_op_name(alu_op op);

/*
 * A personality's choices for what the manuals leave undefined; the one
 * table of them is in alu.c (docs/flags.md explains each).
 */
typedef struct alu_policy {
    uint16_t logic_af;      /* AND OR XOR TEST: the AF value */
    uint16_t mul_keep;      /* MUL IMUL: which of SF ZF AF PF stay; the
                               others are SF ZF PF of the low half, AF 0 */
    uint16_t div_keep;      /* DIV IDIV: which of the six stay ... */
    uint16_t div_set;       /* ... and which of the rest are set (else 0) */
    uint16_t shift_af;      /* SHL SHR SAR SHLD SHRD, count != 0: AF */
    bool     rcx_mod0_of;   /* RCL RCR of 8/16 bits by a nonzero multiple
                               of 9/17: OF = the 1-bit formula (true), or
                               no flag changes at all (false) */
    bool     shld_of_dest;  /* SHLD OF: CF ^ MSB(dest << count) (true) or
                               CF ^ MSB(result) (false); they differ only
                               for 16 bits with count >= 16 */
    bool     shd16_src_src; /* SHLD SHRD 16-bit, count 17..31: rotate
                               src:src and CF = 0 (true), or shift
                               dest:src:dest (false) */
    uint16_t bt_keep;       /* BT BTS BTR BTC: which of OF SF ZF AF PF stay
                               (the others are cleared) */
    uint16_t bsf0_keep;     /* BSF BSR, source 0: which of CF OF SF AF PF
                               stay; the others are as for a result of 0
                               (CF OF SF AF 0, PF 1) */
    uint16_t cnt_keep;      /* LZCNT TZCNT: which of OF SF AF PF stay (the
                               others are cleared) */
} alu_policy;

/* The one table of them, by vendor (alu.c). */
extern const alu_policy alu_policies[SVMX_VENDOR_COUNT];

/* The policy of a vendor; NULL outside the enum. */
static inline const alu_policy *alu_policy_get(svmx_vendor vendor)
{
    if ((unsigned)vendor >= SVMX_VENDOR_COUNT)
        return NULL;
    return &alu_policies[vendor];
}

/* ---- the operations -------------------------------------------------- */

/* The operation an instruction class performs: ADD .. TEST, INC .. NOT
 * and the shifts and rotates; ALU_OP_COUNT for any other class. The table
 * is insn_alu.c's. */
extern const uint8_t alu_class_ops[SVMX_INSN_CLASS_COUNT];

static inline alu_op alu_op_of_class(unsigned cls)
{
    if (cls >= SVMX_INSN_CLASS_COUNT || !alu_class_ops[cls])
        return ALU_OP_COUNT;
    return (alu_op)(alu_class_ops[cls] - 1);
}

/* ---- helpers --------------------------------------------------------- */

/* All ones in the low 8*size bits. */
static inline uint64_t alu_mask(unsigned size)
{
    return ~(uint64_t)0 >> ((64 - 8 * (size & 15)) & 63);
}

/* v's low 8*size bits, zero-extended. */
static inline uint64_t alu_zext(unsigned size, uint64_t v)
{
    return v & alu_mask(size);
}

/* v's low 8*size bits, sign-extended to 64. */
static inline uint64_t alu_sext(unsigned size, uint64_t v)
{
    uint64_t sign = (alu_mask(size) >> 1) + 1;
    return ((v & alu_mask(size)) ^ sign) - sign;
}

/* PF of a result: 1 when its low byte has an even number of ones. */
static inline bool alu_parity(uint64_t v)
{
#if defined(__GNUC__)
    /* x86 hosts compute it with the host's own PF (TEST; SETNP) */
    return !__builtin_parity((unsigned)(v & 0xff));
#else
    /* bit n of 0x9669 = even parity of the nibble n */
    return (0x9669u >> ((v ^ (v >> 4)) & 0xf)) & 1;
#endif
}

/* ---- the group-1 core, inline for the interpreter's hot path ---------- */

#define ALU_OF_SHIFT 11 /* OF is bit 11 */

/* 1, 2 and 4 stay; any other size computes as 8 (never UB). */
static inline unsigned alu_norm(unsigned size)
{
    return (size == 1 || size == 2 || size == 4) ? size : 8;
}

static inline uint64_t alu_bit(uint64_t v, unsigned n)
{
    return (v >> n) & 1;
}

/* Bit bits-1 of v moved to bit `at` (0 < at < 64), the rest cleared:
 * one shift and one AND whichever way it goes. */
static inline uint64_t alu_top_to(uint64_t v, unsigned bits, unsigned at)
{
    uint64_t bit = (uint64_t)1 << at;
    return bits - 1 >= at ? (v >> ((bits - 1 - at) & 63)) & bit
                          : (v << ((at - bits + 1) & 63)) & bit;
}

/* PF of each value of a result's low byte, already at bit 2 (alu.c): a
 * load where the parity and its placing take five instructions. */
extern const uint8_t alu_pf_bits[256];

/* SF ZF PF of a result already masked to `bits`. */
static inline uint64_t alu_szp(uint64_t r, unsigned bits)
{
    return (r == 0 ? SVMX_RFLAGS_ZF : 0) | alu_top_to(r, bits, 7) |
           alu_pf_bits[r & 0xff];
}

/*
 * How each group-1 op and TEST computes: an addition or a subtraction,
 * with CF in or not (SDM Vol. 2A ADD, ADC, CMP; Vol. 2B SUB, SBB), or a
 * logic op; stored or not. With op a constant, each compiles to one
 * straight line.
 */
enum { ALU_G1_SUB = 1, ALU_G1_CARRY = 2, ALU_G1_LOGIC = 4, ALU_G1_NO_STORE = 8 };
static const uint8_t alu_g1_props[ALU_TEST + 1] = {
    [ALU_ADD]  = 0,
    [ALU_OR]   = ALU_G1_LOGIC,
    [ALU_ADC]  = ALU_G1_CARRY,
    [ALU_SBB]  = ALU_G1_SUB | ALU_G1_CARRY,
    [ALU_AND]  = ALU_G1_LOGIC,
    [ALU_SUB]  = ALU_G1_SUB,
    [ALU_XOR]  = ALU_G1_LOGIC,
    [ALU_CMP]  = ALU_G1_SUB | ALU_G1_NO_STORE,
    [ALU_TEST] = ALU_G1_LOGIC | ALU_G1_NO_STORE, /* SDM Vol. 2B TEST: AND, no store */
};

/* logic_af: AF of AND OR XOR TEST, which the SDM leaves undefined. */
#if defined(__GNUC__)
#define ALU_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define ALU_ALWAYS_INLINE inline
#endif

static ALU_ALWAYS_INLINE uint64_t alu_group1_op(uint64_t logic_af, alu_op op,
                                                unsigned size, uint64_t a,
                                                uint64_t b, uint64_t *rflags)
{
    unsigned bits = 8 * size;
    uint64_t m = alu_mask(size), f = *rflags, r, cf, of, af;

    a &= m;
    b &= m;
    if ((unsigned)op > ALU_TEST) /* not a group-1 op: nothing happens */
        return a;
    unsigned k = alu_g1_props[op];
    if (k & ALU_G1_LOGIC) { /* AND OR XOR TEST: CF = OF = 0 */
        r = op == ALU_OR ? a | b : op == ALU_XOR ? a ^ b : a & b;
        cf = of = 0;
        af = logic_af;
    } else {
        /* With a and b below 2^bits, the carry out of a + b + cin is
         * r < a, or r == a with cin = 1 (b + cin was 2^bits); the
         * borrow of a - b - cin is a < b, or a == b with cin = 1. OF:
         * the operands' signs agree (ADD) or differ (SUB) and the
         * result's differs from a's. AF: the carry into bit 4. */
        uint64_t cin = (k & ALU_G1_CARRY) ? (f & SVMX_RFLAGS_CF) : 0;
        if (k & ALU_G1_SUB) {
            r = (a - b - cin) & m;
            cf = (uint64_t)(a < b) | (cin & (a == b));
            of = (a ^ b) & (a ^ r);
        } else {
            r = (a + b + cin) & m;
            cf = (uint64_t)(r < a) | (cin & (r == a));
            of = (a ^ r) & (b ^ r);
        }
        of = alu_top_to(of, bits, ALU_OF_SHIFT);
        af = (a ^ b ^ r) & SVMX_RFLAGS_AF;
    }
    *rflags = (f & ~ALU_ARITH) | cf | of | af | alu_szp(r, bits);
    return (k & ALU_G1_NO_STORE) ? a : r;
}

/* The same with `op` a constant in each case, so that every operation
 * compiles to its own straight line (the interpreter's hot path). */
static ALU_ALWAYS_INLINE uint64_t alu_group1(uint64_t logic_af, alu_op op, unsigned size,
                                  uint64_t a, uint64_t b, uint64_t *rflags)
{
    switch (op) {
#define ALU_G1_CASE(o)                                                        \
    case o:                                                                   \
        return alu_group1_op(logic_af, o, size, a, b, rflags);
    ALU_G1_CASE(ALU_ADD) ALU_G1_CASE(ALU_OR) ALU_G1_CASE(ALU_ADC)
    ALU_G1_CASE(ALU_SBB) ALU_G1_CASE(ALU_AND) ALU_G1_CASE(ALU_SUB)
    ALU_G1_CASE(ALU_XOR) ALU_G1_CASE(ALU_CMP) ALU_G1_CASE(ALU_TEST)
#undef ALU_G1_CASE
    default:
        return a & alu_mask(size); /* not a group-1 op: nothing happens */
    }
}

/*
 * ADD OR ADC SBB AND SUB XOR CMP TEST: a op b (ADC/SBB also take CF).
 * Returns what the destination holds afterwards: a itself for CMP and
 * TEST, which only set flags.
 */
static ALU_ALWAYS_INLINE uint64_t alu_arith(const alu_policy *p, alu_op op,
                                 unsigned size, uint64_t a, uint64_t b,
                                 uint64_t *rflags)
{
    return alu_group1(p->logic_af, op, alu_norm(size), a, b, rflags);
}


/* INC DEC NEG NOT of a (INC/DEC keep CF; NOT changes no flag). */
uint64_t alu_unary(alu_op op, unsigned size, uint64_t a, uint64_t *rflags);

/* alu_unary and alu_shift as inline functions, for the interpreter's
 * fast handlers, where op and size are constants (exec_fast.c); the
 * functions in alu.c are these. */
static ALU_ALWAYS_INLINE uint64_t alu_unary_in(alu_op op, unsigned size,
                                               uint64_t a, uint64_t *rflags)
{
    size = alu_norm(size);
    unsigned bits = 8 * size;
    uint64_t m = alu_mask(size), f = *rflags, r, x;

    a &= m;
    switch (op) {
    /* x = a ^ r: bit 4 is AF (the operand 1 or 0 - a has nothing of its
     * own there). OF: r is the sign alone (INC), or the sign bit of
     * x & a or a & r is set (DEC, NEG), whichever compiles shorter. */
    case ALU_INC: /* SDM Vol. 2A INC: CF unaffected; OF: + to - */
        r = (a + 1) & m;
        x = a ^ r;
        *rflags = (f & ~(ALU_ARITH & ~(uint64_t)SVMX_RFLAGS_CF)) |
                  (uint64_t)(r == (m >> 1) + 1) << ALU_OF_SHIFT |
                  (x & SVMX_RFLAGS_AF) | alu_szp(r, bits);
        return r;
    case ALU_DEC: /* SDM Vol. 2A DEC: CF unaffected; OF: - to + */
        r = (a - 1) & m;
        x = a ^ r;
        *rflags = (f & ~(ALU_ARITH & ~(uint64_t)SVMX_RFLAGS_CF)) |
                  alu_top_to(x & a, bits, ALU_OF_SHIFT) |
                  (x & SVMX_RFLAGS_AF) | alu_szp(r, bits);
        return r;
    case ALU_NEG: /* SDM Vol. 2B NEG: CF = source != 0; flags as 0 - a;
                     OF: a and -a both negative, a the sign alone */
        r = (0 - a) & m;
        x = a ^ r;
        *rflags = (f & ~ALU_ARITH) | (uint64_t)(a != 0) |
                  alu_top_to(a & r, bits, ALU_OF_SHIFT) |
                  (x & SVMX_RFLAGS_AF) | alu_szp(r, bits);
        return r;
    case ALU_NOT: /* SDM Vol. 2B NOT: no flags */
        return ~a & m;
    default:
        return a;
    }
}

static ALU_ALWAYS_INLINE uint64_t alu_shift_in(const alu_policy *p, alu_op op,
                                               unsigned size, uint64_t a,
                                               unsigned count, uint64_t *rflags)
{
    size = alu_norm(size);
    unsigned bits = 8 * size, c = count & (size == 8 ? 63u : 31u), t;
    uint64_t m = alu_mask(size), f = *rflags, cfin = f & SVMX_RFLAGS_CF, r, cf, of;

    a &= m;
    if (c == 0) /* "If the count is 0, the flags are not affected." */
        return a;
    switch (op) {
    case ALU_ROL: /* rotates change CF and OF only */
        t = c & (bits - 1);
        r = t ? ((a << t) | (a >> (bits - t))) & m : a;
        cf = r & 1;
        of = alu_bit(r, bits - 1) ^ cf;
        goto rotate;
    case ALU_ROR:
        t = c & (bits - 1);
        r = t ? ((a >> t) | (a << (bits - t))) & m : a;
        cf = alu_bit(r, bits - 1);
        of = cf ^ alu_bit(r, bits - 2);
        goto rotate;
    case ALU_RCL:
    case ALU_RCR:
        /* tempCOUNT: modulo 9 and 17 for 8 and 16 bits, through CF */
        t = size == 1 ? c % 9 : size == 2 ? c % 17 : c;
        if (t == 0) {
            if (!p->rcx_mod0_of)
                return a;
            r = a;
            cf = cfin;
        } else if (op == ALU_RCL) {
            /* (a >> 1) >> (bits - t): one shift of bits + 1 - t, never 64 */
            r = ((a << t) | cfin << (t - 1) | ((a >> 1) >> (bits - t))) & m;
            cf = alu_bit(a, bits - t);
        } else {
            r = ((a >> t) | cfin << (bits - t) | ((a << 1) << (bits - t))) & m;
            cf = alu_bit(a, t - 1);
        }
        of = op == ALU_RCL ? alu_bit(r, bits - 1) ^ cf
                           : alu_bit(r, bits - 1) ^ alu_bit(r, bits - 2);
        goto rotate;
    case ALU_SHL:
    case ALU_SAL:
        r = (a << c) & m;
        cf = c <= bits ? alu_bit(a, bits - c) : 0;
        of = alu_bit(r, bits - 1) ^ cf;
        break;
    case ALU_SHR:
        r = a >> c;
        cf = alu_bit(a, c - 1);
        of = alu_bit(r, bits - 1) ^ alu_bit(r, bits - 2);
        break;
    case ALU_SAR: {
        uint64_t sx = alu_sext(size, a); /* bits above the operand = sign */
        r = ((sx >> c) | ((0 - (sx >> 63)) << (63 - c) << 1)) & m;
        cf = alu_bit(sx, c - 1);
        of = 0;
        break;
    }
    default:
        return a;
    }
    *rflags = (f & ~ALU_ARITH) | cf | of << ALU_OF_SHIFT | p->shift_af |
              alu_szp(r, bits);
    return r;

rotate: /* SDM Vol. 2B RCL: SF ZF AF PF are not affected */
    *rflags = (f & ~(SVMX_RFLAGS_CF | SVMX_RFLAGS_OF)) | cf | of << ALU_OF_SHIFT;
    return r;
}

/*
 * ROL ROR RCL RCR SHL SHR SAL SAR of a by count (CL or imm8 as it is; the
 * function masks it to 5 bits, 6 for size 8). A masked count of 0 changes
 * nothing. RCL/RCR of 8 and 16 bits rotate by the masked count modulo 9
 * and 17.
 */
uint64_t alu_shift(const alu_policy *p, alu_op op, unsigned size, uint64_t a,
                   unsigned count, uint64_t *rflags);

/*
 * SHLD SHRD: shift dest by count (masked as for shifts), filling from src.
 * size is 2, 4 or 8.
 */
uint64_t alu_shd(const alu_policy *p, alu_op op, unsigned size, uint64_t dest,
                 uint64_t src, unsigned count, uint64_t *rflags);

/*
 * MUL IMUL1 IMUL2: a * b. Returns the low half; *hi (may be NULL) gets
 * the high half: AH for size 1, else rDX. IMUL2 is the truncating two-
 * and three-operand form: its result is the return value, and CF = OF =
 * 1 when the product does not fit in size (*hi tells by how much).
 */
uint64_t alu_mul(const alu_policy *p, alu_op op, unsigned size, uint64_t a,
                 uint64_t b, uint64_t *hi, uint64_t *rflags);

/*
 * DIV IDIV of the double-width dividend hi:lo (AH:AL for size 1, else
 * rDX:rAX) by divisor. Returns true when the instruction raises #DE
 * (divisor 0, or a quotient that does not fit in size, which includes
 * IDIV of the most negative dividend by -1; SDM Vol. 2A DIV/IDIV): then
 * nothing is written, *rflags included. Otherwise *quot and *rem get the
 * quotient and remainder (the remainder has the dividend's sign).
 */
bool alu_div(const alu_policy *p, alu_op op, unsigned size, uint64_t hi,
             uint64_t lo, uint64_t divisor, uint64_t *quot, uint64_t *rem,
             uint64_t *rflags);

/*
 * BT BTS BTR BTC, register and immediate forms: the bit offset is taken
 * modulo 8*size (a memory operand's bit base is the caller's job, SDM Vol.
 * 2A BT "bit base"). CF = the bit before; returns the destination after.
 * size is 2, 4 or 8.
 */
uint64_t alu_bt(const alu_policy *p, alu_op op, unsigned size, uint64_t a,
                uint64_t bit, uint64_t *rflags);

/*
 * BSF BSR LZCNT TZCNT POPCNT of src; dest is the destination before.
 * BSF/BSR of src 0 set ZF and return dest as given: the instruction
 * writes nothing, not even RAX[63:32] of a 4-byte form in 64-bit mode
 * (AMD documents the destination as unchanged; Intel says undefined and
 * its hardware leaves it too), so the caller skips the write when ZF = 1.
 * size is 2, 4 or 8.
 */
uint64_t alu_scan(const alu_policy *p, alu_op op, unsigned size, uint64_t dest,
                  uint64_t src, uint64_t *rflags);

/* BSWAP: size 4 or 8; size 2 is undefined and gives 0 (docs/flags.md). */
uint64_t alu_bswap(unsigned size, uint64_t a);

/* XADD: returns the sum for the destination; *src gets the old dest. */
uint64_t alu_xadd(unsigned size, uint64_t dest, uint64_t *src,
                  uint64_t *rflags);

/*
 * CMPXCHG: compares the accumulator with dest (flags as CMP acc, dest).
 * Equal: returns src (the new dest). Not equal: returns dest (hardware
 * writes it back) and *acc = dest, zero-extended to size; only then does
 * a 4-byte form in 64-bit mode zero RAX[63:32] (SDM Vol. 2A CMPXCHG), so
 * the caller tells by ZF.
 */
uint64_t alu_cmpxchg(unsigned size, uint64_t dest, uint64_t src,
                     uint64_t *acc, uint64_t *rflags);

/* CBW/CWDE/CDQE (size 2/4/8): rAX's low half sign-extended to size. */
uint64_t alu_cbw(unsigned size, uint64_t rax);

/* CWD/CDQ/CQO (size 2/4/8): the rDX value, all ones if rAX < 0 else 0. */
uint64_t alu_cwd(unsigned size, uint64_t rax);

/*
 * The condition tttn of Jcc/SETcc/CMOVcc (SDM Vol. 2D B.1.4.7, Table
 * B-10); only the low 4 bits of cc count.
 */
static inline bool alu_cond(unsigned cc, uint64_t rflags)
{
    unsigned cf = (unsigned)alu_bit(rflags, 0), pf = (unsigned)alu_bit(rflags, 2);
    unsigned zf = (unsigned)alu_bit(rflags, 6), sf = (unsigned)alu_bit(rflags, 7);
    unsigned of = (unsigned)alu_bit(rflags, 11), lt = sf ^ of;
    unsigned conds = of                  /* 0: O       */
                     | cf << 1           /* 2: B/C     */
                     | zf << 2           /* 4: E/Z     */
                     | (cf | zf) << 3    /* 6: BE      */
                     | sf << 4           /* 8: S       */
                     | pf << 5           /* A: P       */
                     | lt << 6           /* C: L       */
                     | (zf | lt) << 7;   /* E: LE      */
    return ((conds >> ((cc >> 1) & 7)) ^ cc) & 1;
}

#endif /* SVMX_CPU_ALU_H */
