/*
 * src/cpu/alu.c - integer arithmetic and RFLAGS, as pure functions.
 *
 * Flags are computed straight from the operands and the result, with no
 * lazy-flags state: carries and borrows of the group-1 ops from compares
 * of the masked operands and result (alu_group1_op in alu.h), overflow
 * from the sign bits, AF from bit 4 of a ^ b ^ r. Everything the manuals leave undefined is read from the one
 * alu_policy table below; nothing else in this file makes such a choice
 * (docs/flags.md lists each case with its citations).
 */
#include <stddef.h>

#include "cpu/alu.h"

#define F_CF SVMX_RFLAGS_CF
#define F_PF SVMX_RFLAGS_PF
#define F_AF SVMX_RFLAGS_AF
#define F_ZF SVMX_RFLAGS_ZF
#define F_SF SVMX_RFLAGS_SF
#define F_OF SVMX_RFLAGS_OF
#define OF_SHIFT ALU_OF_SHIFT

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;
#endif

/* PF (bit 2) of each byte: set when the byte has an even number of ones
 * (SDM Vol. 1 3.4.3.1). Each row of four flips the parity of the one
 * before as the top bits of the index do: ABBA at every level. */
#define PF_2(n) n, n ^ F_PF, n ^ F_PF, n
#define PF_4(n) PF_2(n), PF_2(n ^ F_PF), PF_2(n ^ F_PF), PF_2(n)
#define PF_6(n) PF_4(n), PF_4(n ^ F_PF), PF_4(n ^ F_PF), PF_4(n)
const uint8_t alu_pf_bits[256] = {
    PF_6(F_PF), PF_6(0), PF_6(0), PF_6(F_PF)
};
#undef PF_2
#undef PF_4
#undef PF_6

/*
 * What a personality does where the manuals leave a flag or a result
 * undefined. "keep" masks name flags left as they were; a flag neither
 * kept nor given a value is computed as the comment says.
 */

/*
 * The one table of undefined-behaviour choices. AMD: what the host CPU
 * the vectors come from does (AMD EPYC, family 19h model 11h; see
 * tests/gen/gen_alu.c and tests/vectors/alu_amd.inc). Intel: no Intel
 * hardware was at hand, so the values are Bochs's (cpu/mult16.cc,
 * shift16.cc, bit16.cc and their siblings), which follow Intel hardware.
 * Choices both vendors share and that need no switch are fixed in the
 * code and listed in docs/flags.md (shift and rotate OF for count > 1,
 * SHL/SHR CF for count >= size, BSF/BSR flags for a nonzero source,
 * BSWAP r16 = 0).
 */
const alu_policy alu_policies[SVMX_VENDOR_COUNT] = {
    [SVMX_VENDOR_AMD] = {
        .logic_af      = 0,             /* host: AF = 0 */
        .mul_keep      = F_SF | F_ZF | F_AF | F_PF, /* host: all four stay */
        .div_keep      = F_CF | F_OF,   /* host: CF OF stay, */
        .div_set       = F_AF,          /*   AF = 1, SF ZF PF = 0 */
        .shift_af      = F_AF,          /* host: AF = 1 */
        .rcx_mod0_of   = true,          /* host: CF stays, OF updated */
        .shld_of_dest  = true,          /* host: OF = CF at count 16 */
        .shd16_src_src = true,          /* host: rotl/rotr(src, count-16) */
        .bt_keep       = F_OF | F_SF | F_ZF | F_AF | F_PF, /* host: stay */
        .bsf0_keep     = 0,             /* host: flags of a 0 result */
        .cnt_keep      = F_OF,          /* host: OF stays, SF AF PF = 0 */
    },
    [SVMX_VENDOR_INTEL] = {
        .logic_af      = 0,             /* Bochs SET_FLAGS_OSZAPC_LOGIC */
        .mul_keep      = 0,             /* Bochs mult*.cc: logic flags of
                                           the low half; QEMU too, "like
                                           the P4" (cc_helper_template.h) */
        .div_keep      = F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF,
                                        /* Bochs mult*.cc: DIV/IDIV write
                                           no flag */
        .div_set       = 0,
        .shift_af      = 0,             /* Bochs shift*.cc: logic flags */
        .rcx_mod0_of   = false,         /* Bochs: count % 9 or % 17 == 0
                                           is a no-op */
        .shld_of_dest  = false,         /* Bochs shift16.cc: CF ^ MSB(r) */
        .shd16_src_src = false,         /* Bochs shift16.cc: dest:src:dest */
        .bt_keep       = F_OF | F_SF | F_ZF | F_AF | F_PF, /* Bochs bit*.cc:
                                           only CF is written */
        .bsf0_keep     = F_CF | F_OF | F_SF | F_AF | F_PF, /* Bochs bit*.cc:
                                           only ZF is written */
        .cnt_keep      = F_OF | F_SF | F_AF | F_PF, /* Bochs bit*.cc: only
                                           CF and ZF are written */
    },
};


static const char *const op_names[ALU_OP_COUNT] = {
#define X(name, family) [ALU_##name] = #name,
    ALU_OPS(X)
#undef X
};

const char *alu_op_name(alu_op op)
{
    if ((unsigned)op >= ALU_OP_COUNT)
        return "?";
    return op_names[op];
}

/* ---- small helpers ---------------------------------------------------- */

/* The count mask of shifts, rotates and SHLD/SHRD (SDM Vol. 2B SAL). */
static inline unsigned count_mask(unsigned size)
{
    return size == 8 ? 63 : 31;
}

static unsigned ctz64(uint64_t v) /* v != 0 */
{
#if defined(__GNUC__)
    return (unsigned)__builtin_ctzll(v);
#else
    unsigned n = 0;
    while (!(v & 1)) {
        v >>= 1;
        n++;
    }
    return n;
#endif
}

static unsigned clz64(uint64_t v) /* v != 0 */
{
#if defined(__GNUC__)
    return (unsigned)__builtin_clzll(v);
#else
    unsigned n = 0;
    while (!(v >> 63)) {
        v <<= 1;
        n++;
    }
    return n;
#endif
}

static unsigned popcount64(uint64_t v)
{
#if defined(__GNUC__)
    return (unsigned)__builtin_popcountll(v);
#else
    v = v - ((v >> 1) & 0x5555555555555555u);
    v = (v & 0x3333333333333333u) + ((v >> 2) & 0x3333333333333333u);
    v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fu;
    return (unsigned)((v * 0x0101010101010101u) >> 56);
#endif
}

/* The 128-bit product a * b: returns the low half, *hi the high. */
static uint64_t umul128(uint64_t a, uint64_t b, uint64_t *hi)
{
#ifdef __SIZEOF_INT128__
    u128 p = (u128)a * b;
    *hi = (uint64_t)(p >> 64);
    return (uint64_t)p;
#else
    uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
    *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return mid << 32 | (uint32_t)ll;
#endif
}

/* hi:lo / d with hi < d, so the quotient fits in 64 bits. */
static uint64_t udiv128(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem)
{
#ifdef __SIZEOF_INT128__
    u128 n = (u128)hi << 64 | lo;
    *rem = (uint64_t)(n % d);
    return (uint64_t)(n / d);
#else
    /* Restoring division; `top` is the 65th bit of the partial remainder. */
    uint64_t q = 0;
    for (int i = 0; i < 64; i++) {
        uint64_t top = hi >> 63;
        hi = hi << 1 | lo >> 63;
        lo <<= 1;
        q <<= 1;
        if (top || hi >= d) {
            hi -= d;
            q |= 1;
        }
    }
    *rem = hi;
    return q;
#endif
}

/* ---- ADD .. CMP, TEST --------------------------------------------------- */


uint64_t alu_xadd(unsigned size, uint64_t dest, uint64_t *src,
                  uint64_t *rflags)
{
    size = alu_norm(size);
    uint64_t sum = alu_group1(0, ALU_ADD, size, dest, *src, rflags);
    *src = alu_zext(size, dest); /* SDM Vol. 2D XADD: TEMP <- SRC + DEST */
    return sum;
}

uint64_t alu_cmpxchg(unsigned size, uint64_t dest, uint64_t src,
                     uint64_t *acc, uint64_t *rflags)
{
    size = alu_norm(size);
    dest = alu_zext(size, dest);
    (void)alu_group1(0, ALU_CMP, size, *acc, dest, rflags);
    if (*rflags & F_ZF)
        return alu_zext(size, src);
    *acc = dest;
    return dest;
}

/* ---- INC DEC NEG NOT ---------------------------------------------------- */

uint64_t alu_unary(alu_op op, unsigned size, uint64_t a, uint64_t *rflags)
{
    return alu_unary_in(op, size, a, rflags);
}

/* ---- shifts and rotates ------------------------------------------------- */

/*
 * SDM Vol. 2B RCL/RCR/ROL/ROR and SAL/SAR/SHL/SHR. OF for counts > 1 is
 * undefined; both vendors' hardware (and Bochs) apply the 1-bit formula
 * to the result at every count: for left shifts and rotates MSB(r) ^ CF,
 * for right ones the two top bits of r XORed (which is the SDM's MSB of
 * the original operand at count 1 for SHR, and 0 for SAR). SHL/SHR CF for
 * count >= size (8/16-bit, undefined) is the last bit shifted out, 0
 * beyond the operand, on both.
 */
uint64_t alu_shift(const alu_policy *p, alu_op op, unsigned size, uint64_t a,
                   unsigned count, uint64_t *rflags)
{
    return alu_shift_in(p, op, size, a, count, rflags);
}

/* ---- SHLD SHRD ---------------------------------------------------------- */

uint64_t alu_shd(const alu_policy *p, alu_op op, unsigned size, uint64_t dest,
                 uint64_t src, unsigned count, uint64_t *rflags)
{
    size = alu_norm(size);
    if (size == 1) /* no 8-bit form: compute as 16 */
        size = 2;
    unsigned bits = 8 * size, c = count & count_mask(size);
    uint64_t m = alu_mask(size), f = *rflags, a = dest & m, b = src & m;
    uint64_t r, cf, of;
    bool left = op == ALU_SHLD;

    if (c == 0 || (op != ALU_SHLD && op != ALU_SHRD))
        return a;
    if (c > bits) {
        /* 16 bits, count 17..31: "the result is undefined" (SDM Vol. 2B
         * SHLD); k = 1..15 is how far past the source the shift goes. */
        unsigned k = c - 16;
        if (p->shd16_src_src) {
            r = left ? (b << k | b >> (16 - k)) & m
                     : (b >> k | b << (16 - k)) & m;
            cf = 0;
        } else if (left) {
            r = (b << k | a >> (16 - k)) & m;
            cf = alu_bit(b, 16 - k);
        } else {
            r = (b >> k | a << (16 - k)) & m;
            cf = 0;
        }
    } else if (left) {
        r = ((a << c) | (b >> (bits - c))) & m;
        cf = alu_bit(a, bits - c);
    } else {
        r = ((a >> c) | (b << (bits - c))) & m;
        cf = alu_bit(a, c - 1);
    }
    /* OF for count > 1 is undefined: the 1-bit formula, as for shifts */
    if (left)
        of = cf ^ alu_bit(p->shld_of_dest ? (a << c) & m : r, bits - 1);
    else
        of = alu_bit(r, bits - 1) ^ alu_bit(r, bits - 2);
    *rflags = (f & ~ALU_ARITH) | cf | of << OF_SHIFT | p->shift_af |
              alu_szp(r, bits);
    return r;
}

/* ---- MUL IMUL ----------------------------------------------------------- */

uint64_t alu_mul(const alu_policy *p, alu_op op, unsigned size, uint64_t a,
                 uint64_t b, uint64_t *hi, uint64_t *rflags)
{
    size = alu_norm(size);
    unsigned bits = 8 * size;
    uint64_t m = alu_mask(size), f = *rflags, lo, high;
    bool wide; /* the product does not fit in size */

    a &= m;
    b &= m;
    if (op == ALU_MUL) {
        if (size == 8) {
            lo = umul128(a, b, &high);
        } else { /* fits in 64 bits */
            uint64_t prod = a * b;
            lo = prod & m;
            high = prod >> bits;
        }
        wide = high != 0; /* SDM Vol. 2B MUL: CF = OF = upper half != 0 */
    } else if (op == ALU_IMUL1 || op == ALU_IMUL2) {
        if (size == 8) {
            /* unsigned product, then the signed correction of the top */
            lo = umul128(a, b, &high);
            high -= ((a >> 63) ? b : 0) + ((b >> 63) ? a : 0);
        } else { /* two's complement product of the sign-extended values */
            uint64_t prod = alu_sext(size, a) * alu_sext(size, b);
            lo = prod & m;
            high = (prod >> bits) & m;
        }
        /* SDM Vol. 2A IMUL: CF = OF = the result is not the sign-extended
         * low half */
        wide = high != (alu_bit(lo, bits - 1) ? m : 0);
    } else {
        if (hi)
            *hi = 0;
        return a;
    }
    if (hi)
        *hi = high;
    *rflags = (f & ~ALU_ARITH) | (f & p->mul_keep) |
              (alu_szp(lo, bits) & ~(uint64_t)p->mul_keep) |
              (wide ? F_CF | F_OF : 0);
    return lo;
}

/* ---- DIV IDIV ----------------------------------------------------------- */

bool alu_div(const alu_policy *p, alu_op op, unsigned size, uint64_t hi,
             uint64_t lo, uint64_t divisor, uint64_t *quot, uint64_t *rem,
             uint64_t *rflags)
{
    size = alu_norm(size);
    unsigned bits = 8 * size;
    uint64_t m = alu_mask(size), sign = (m >> 1) + 1, d = divisor & m, q, r;

    hi &= m;
    lo &= m;
    if (d == 0)
        return true;
    if (op == ALU_DIV) {
        if (hi >= d) /* the quotient would need more than `bits` bits */
            return true;
        if (size == 8) {
            q = udiv128(hi, lo, d, &r);
        } else {
            uint64_t n = hi << bits | lo;
            q = n / d;
            r = n % d;
        }
    } else if (op == ALU_IDIV) {
        /* Magnitudes in unsigned arithmetic: no C overflow at INT_MIN. */
        bool neg_n = alu_bit(hi, bits - 1), neg_d = alu_bit(d, bits - 1);
        uint64_t ad = neg_d ? (0 - d) & m : d, qm, rm;
        if (size == 8) {
            uint64_t mh = hi, ml = lo;
            if (neg_n) { /* 128-bit negate */
                mh = ~hi + (lo == 0);
                ml = 0 - lo;
            }
            if (mh >= ad) /* |quotient| >= 2^64 */
                return true;
            qm = udiv128(mh, ml, ad, &rm);
        } else {
            uint64_t n = alu_sext(2 * size, hi << bits | lo);
            uint64_t an = neg_n ? 0 - n : n;
            qm = an / ad;
            rm = an % ad;
        }
        /* SDM Vol. 2A IDIV: #DE if the quotient is outside
         * [-2^(bits-1), 2^(bits-1) - 1]; INT_MIN / -1 is the usual case. */
        if (qm > (neg_n != neg_d ? sign : sign - 1))
            return true;
        q = neg_n != neg_d ? 0 - qm : qm;
        r = neg_n ? 0 - rm : rm;
    } else {
        return true;
    }
    *quot = q & m;
    *rem = r & m;
    *rflags = (*rflags & ~ALU_ARITH) | (*rflags & p->div_keep) |
              (p->div_set & ~(uint64_t)p->div_keep);
    return false;
}

/* ---- bit test and scan -------------------------------------------------- */

uint64_t alu_bt(const alu_policy *p, alu_op op, unsigned size, uint64_t a,
                uint64_t bit, uint64_t *rflags)
{
    size = alu_norm(size);
    unsigned k = (unsigned)(bit & (8 * size - 1));
    uint64_t m = alu_mask(size), one = (uint64_t)1 << k, r;

    a &= m;
    switch (op) {
    case ALU_BT:  r = a; break;
    case ALU_BTS: r = a | one; break;
    case ALU_BTR: r = a & ~one; break;
    case ALU_BTC: r = a ^ one; break;
    default:      return a;
    }
    /* SDM Vol. 2A BT: CF = the bit; ZF unaffected; OF SF AF PF undefined */
    *rflags = (*rflags & ~ALU_ARITH) | (*rflags & p->bt_keep) | alu_bit(a, k);
    return r;
}

uint64_t alu_scan(const alu_policy *p, alu_op op, unsigned size, uint64_t dest,
                  uint64_t src, uint64_t *rflags)
{
    size = alu_norm(size);
    unsigned bits = 8 * size;
    uint64_t m = alu_mask(size), s = src & m, f = *rflags & ~ALU_ARITH, r;

    switch (op) {
    case ALU_BSF:
    case ALU_BSR:
        if (s == 0) {
            /* SDM Vol. 2A BSF: ZF = 1, destination undefined; APM Vol. 3
             * BSF: unchanged, and hardware of both vendors keeps it. */
            *rflags = f | (*rflags & p->bsf0_keep) |
                      (F_PF & ~(uint64_t)p->bsf0_keep) | F_ZF;
            return dest;
        }
        r = op == ALU_BSF ? ctz64(s) : 63 - clz64(s);
        /* ZF = 0; CF OF SF AF PF undefined: both vendors give the flags of
         * a logic op on the index (all 0 but PF) */
        *rflags = f | (uint64_t)alu_parity(r) << 2;
        return r;
    case ALU_LZCNT: /* SDM Vol. 2A LZCNT: CF = src 0, ZF = result 0 */
    case ALU_TZCNT: /* SDM Vol. 2B TZCNT: the same */
        if (s == 0)
            r = bits;
        else
            r = op == ALU_LZCNT ? clz64(s) - (64 - bits) : ctz64(s);
        *rflags = f | (*rflags & p->cnt_keep) | (s == 0 ? F_CF : 0) |
                  (r == 0 ? F_ZF : 0);
        return r;
    case ALU_POPCNT: /* SDM Vol. 2B POPCNT: all 0 but ZF = src 0 */
        *rflags = f | (s == 0 ? F_ZF : 0);
        return popcount64(s);
    default:
        return dest;
    }
}

/* ---- BSWAP, conversions, conditions ------------------------------------ */

uint64_t alu_bswap(unsigned size, uint64_t a)
{
    size = alu_norm(size);
    if (size < 4) /* SDM Vol. 2A BSWAP r16: undefined; hardware gives 0 */
        return 0;
    uint64_t r = 0;
    for (unsigned i = 0; i < size; i++) /* compilers turn this into bswap */
        r |= ((a >> (8 * i)) & 0xff) << (8 * (size - 1 - i));
    return r;
}

uint64_t alu_cbw(unsigned size, uint64_t rax)
{
    size = alu_norm(size);
    if (size == 1)
        size = 2;
    return alu_sext(size / 2, rax) & alu_mask(size);
}

uint64_t alu_cwd(unsigned size, uint64_t rax)
{
    size = alu_norm(size);
    if (size == 1)
        size = 2;
    return alu_bit(rax, 8 * size - 1) ? alu_mask(size) : 0;
}

/*
 * SDM Vol. 2D B.1.4.7 Table B-10: tttn = 2 * condition + negate. The eight
 * conditions are one byte, bit i = condition i, so the test is a shift.
 */
