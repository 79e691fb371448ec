/*
 * tests/kernels/k_flags.c - integer results and arithmetic flags.
 *
 * Every instruction runs at 8, 16, 32 and 64 bits on boundary operands
 * (0, 1, the nibble carry, the sign boundary, all ones, patterns), with
 * the status flags preloaded all clear and all set (POPFQ), and with
 * garbage in the upper bits of the registers. The result registers and
 * the flags (PUSHFQ) are compared with a reference computed here from the
 * manuals' definitions (SDM Vol. 1 3.4.3.1 and Appendix A, the "Flags
 * Affected" and "Operation" sections of SDM Vol. 2; the same in APM Vol.
 * 3). The reference uses only shifts, adds and logic - no MUL or DIV - so
 * it does not lean on what it checks. Flags the manuals call undefined
 * are left out of the comparison; flags they call unaffected must keep
 * their input value. A few literal rows anchor the reference itself.
 *
 * Partial-register rules checked too (SDM Vol. 1 3.4.1.1): an 8- or 16-bit
 * result keeps the rest of the register, a 32-bit one zero-extends.
 */
#include "rt.h"

#define SF_ RT_FL_SF
#define ZF_ RT_FL_ZF
#define PF_ RT_FL_PF
#define CF_ RT_FL_CF
#define OF_ RT_FL_OF
#define AF_ RT_FL_AF
#define ALL RT_FL_STATUS

typedef struct io {
    uint64_t a, b, c, d; /* a: destination / RAX, c: RCX (count), d: RDX */
    uint64_t fl;
} io;

typedef void (*exec_fn)(io *s);

/* ------------------------------------------------------- executors -- */

/* op src, dst with the flags loaded from s->fl and read back after. */
#define PRE  "pushq %[f]\n\tpopfq\n\t"
#define POST "\n\tpushfq\n\tpopq %[f]"

#define X_BIN(op, sfx, mod)                                                   \
    static void x_##op##sfx(io *s)                                            \
    {                                                                         \
        uint64_t a = s->a, b = s->b, f = s->fl;                               \
        __asm__ volatile(PRE #op #sfx " %" #mod "[b], %" #mod "[a]" POST      \
                         : [a] "+r"(a), [f] "+r"(f)                           \
                         : [b] "r"(b)                                         \
                         : "cc", "memory");                                   \
        s->a = a;                                                             \
        s->fl = f;                                                            \
    }
#define X_UN(op, sfx, mod)                                                    \
    static void x_##op##sfx(io *s)                                            \
    {                                                                         \
        uint64_t a = s->a, f = s->fl;                                         \
        __asm__ volatile(PRE #op #sfx " %" #mod "[a]" POST                    \
                         : [a] "+r"(a), [f] "+r"(f)                           \
                         :                                                    \
                         : "cc", "memory");                                   \
        s->a = a;                                                             \
        s->fl = f;                                                            \
    }
#define X_SH(op, sfx, mod)                                                    \
    static void x_##op##sfx(io *s)                                            \
    {                                                                         \
        uint64_t a = s->a, f = s->fl;                                         \
        __asm__ volatile(PRE #op #sfx " %%cl, %" #mod "[a]" POST              \
                         : [a] "+r"(a), [f] "+r"(f)                           \
                         : "c"(s->c)                                          \
                         : "cc", "memory");                                   \
        s->a = a;                                                             \
        s->fl = f;                                                            \
    }
/* The immediate forms: D1 /r for a count of 1, C1 /r ib for the others
   (gas picks the encoding), each a separate decoder path. */
#define X_SHI(op, sfx, mod, n)                                                \
    static void xi##n##_##op##sfx(io *s)                                      \
    {                                                                         \
        uint64_t a = s->a, f = s->fl;                                         \
        __asm__ volatile(PRE #op #sfx " $" #n ", %" #mod "[a]" POST           \
                         : [a] "+r"(a), [f] "+r"(f)                           \
                         :                                                    \
                         : "cc", "memory");                                   \
        s->a = a;                                                             \
        s->fl = f;                                                            \
    }
#define SHI_W(op, n)                                                          \
    X_SHI(op, b, b, n) X_SHI(op, w, w, n) X_SHI(op, l, k, n) X_SHI(op, q, q, n)
#define SHI(op) SHI_W(op, 1) SHI_W(op, 3) SHI_W(op, 17) SHI_W(op, 33)
#define SHI_ROW(op, n) { xi##n##_##op##b, xi##n##_##op##w, xi##n##_##op##l, xi##n##_##op##q }
#define FNS_IMM(op)                                                           \
    { SHI_ROW(op, 1), SHI_ROW(op, 3), SHI_ROW(op, 17), SHI_ROW(op, 33) }
static const uint64_t imm_counts[4] = { 1, 3, 17, 33 };

/* MUL, IMUL, DIV, IDIV r/m: RAX and RDX implicit. */
#define X_AD(op, sfx, mod)                                                    \
    static void xa_##op##sfx(io *s)                                            \
    {                                                                         \
        uint64_t a = s->a, d = s->d, f = s->fl;                               \
        __asm__ volatile(PRE #op #sfx " %" #mod "[b]" POST                    \
                         : "+a"(a), "+d"(d), [f] "+r"(f)                      \
                         : [b] "r"(s->b)                                      \
                         : "cc", "memory");                                   \
        s->a = a;                                                             \
        s->d = d;                                                             \
        s->fl = f;                                                            \
    }

#define ALL_W(X, op) X(op, b, b) X(op, w, w) X(op, l, k) X(op, q, q)
#define WIDE_W(X, op) X(op, w, w) X(op, l, k) X(op, q, q)

ALL_W(X_BIN, add)
ALL_W(X_BIN, adc)
ALL_W(X_BIN, sub)
ALL_W(X_BIN, sbb)
ALL_W(X_BIN, cmp)
ALL_W(X_BIN, and)
ALL_W(X_BIN, or)
ALL_W(X_BIN, xor)
ALL_W(X_BIN, test)
WIDE_W(X_BIN, imul)
ALL_W(X_UN, inc)
ALL_W(X_UN, dec)
ALL_W(X_UN, neg)
ALL_W(X_UN, not)
ALL_W(X_SH, shl)
ALL_W(X_SH, shr)
ALL_W(X_SH, sar)
ALL_W(X_SH, rol)
ALL_W(X_SH, ror)
ALL_W(X_SH, rcl)
ALL_W(X_SH, rcr)
SHI(shl)
SHI(shr)
SHI(sar)
SHI(rol)
SHI(ror)
SHI(rcl)
SHI(rcr)
ALL_W(X_AD, mul)
ALL_W(X_AD, imul)
ALL_W(X_AD, div)
ALL_W(X_AD, idiv)

/* imulb r, r does not exist: 2-operand IMUL has no 8-bit form. */
#define FNS(op) { x_##op##b, x_##op##w, x_##op##l, x_##op##q }
#define FNS_AD(op) { xa_##op##b, xa_##op##w, xa_##op##l, xa_##op##q }

typedef enum op {
    ADD, ADC, SUB, SBB, CMP, AND, OR, XOR, TEST, INC, DEC, NEG, NOT,
    SHL, SHR, SAR, ROL, ROR, RCL, RCR, MUL, IMUL1, IMUL2, DIV, IDIV,
} op;

typedef enum shape { BIN, UN, SHIFT, AD } shape;

typedef struct opdef {
    const char *name;
    op          op;
    shape       shape;
    exec_fn     x[4];
    exec_fn     xi[4][4]; /* shifts by an immediate: [count][width] */
} opdef;

static const opdef ops[] = {
    { .name = "add", .op = ADD, .shape = BIN, .x = FNS(add) },
    { .name = "adc", .op = ADC, .shape = BIN, .x = FNS(adc) },
    { .name = "sub", .op = SUB, .shape = BIN, .x = FNS(sub) },
    { .name = "sbb", .op = SBB, .shape = BIN, .x = FNS(sbb) },
    { .name = "cmp", .op = CMP, .shape = BIN, .x = FNS(cmp) },
    { .name = "and", .op = AND, .shape = BIN, .x = FNS(and) },
    { .name = "or", .op = OR, .shape = BIN, .x = FNS(or) },
    { .name = "xor", .op = XOR, .shape = BIN, .x = FNS(xor) },
    { .name = "test", .op = TEST, .shape = BIN, .x = FNS(test) },
    { .name = "inc", .op = INC, .shape = UN, .x = FNS(inc) },
    { .name = "dec", .op = DEC, .shape = UN, .x = FNS(dec) },
    { .name = "neg", .op = NEG, .shape = UN, .x = FNS(neg) },
    { .name = "not", .op = NOT, .shape = UN, .x = FNS(not) },
    { .name = "shl", .op = SHL, .shape = SHIFT, .x = FNS(shl),
      .xi = FNS_IMM(shl) },
    { .name = "shr", .op = SHR, .shape = SHIFT, .x = FNS(shr),
      .xi = FNS_IMM(shr) },
    { .name = "sar", .op = SAR, .shape = SHIFT, .x = FNS(sar),
      .xi = FNS_IMM(sar) },
    { .name = "rol", .op = ROL, .shape = SHIFT, .x = FNS(rol),
      .xi = FNS_IMM(rol) },
    { .name = "ror", .op = ROR, .shape = SHIFT, .x = FNS(ror),
      .xi = FNS_IMM(ror) },
    { .name = "rcl", .op = RCL, .shape = SHIFT, .x = FNS(rcl),
      .xi = FNS_IMM(rcl) },
    { .name = "rcr", .op = RCR, .shape = SHIFT, .x = FNS(rcr),
      .xi = FNS_IMM(rcr) },
    { .name = "mul", .op = MUL, .shape = AD, .x = FNS_AD(mul) },
    { .name = "imul r/m", .op = IMUL1, .shape = AD, .x = FNS_AD(imul) },
    { .name = "imul r, r/m", .op = IMUL2, .shape = BIN, .x = { NULL, x_imulw, x_imull, x_imulq } },
    { .name = "div", .op = DIV, .shape = AD, .x = FNS_AD(div) },
    { .name = "idiv", .op = IDIV, .shape = AD, .x = FNS_AD(idiv) },
};

/* ------------------------------------------------------- reference -- */

static const unsigned widths[4] = { 8, 16, 32, 64 };

static uint64_t mask_of(unsigned w)
{
    return w == 64 ? ~0ull : (1ull << w) - 1;
}

/* A w-bit result written to a register holding old (SDM Vol. 1 3.4.1.1). */
static uint64_t merge(unsigned w, uint64_t old, uint64_t r)
{
    return w >= 32 ? r & mask_of(w) : (old & ~mask_of(w)) | (r & mask_of(w));
}

static int64_t sext(unsigned w, uint64_t v)
{
    return w == 64 ? (int64_t)v : (int64_t)(v << (64 - w)) >> (64 - w);
}

/* SF, ZF, PF of a w-bit result (SDM Vol. 1 A.2: PF is the even parity of
   the low byte). */
static uint64_t szp(unsigned w, uint64_t r)
{
    uint64_t f = 0;
    unsigned ones = 0;
    r &= mask_of(w);
    for (unsigned i = 0; i < 8; i++)
        ones += r >> i & 1;
    if (!(ones & 1))
        f |= PF_;
    if (!r)
        f |= ZF_;
    if (r >> (w - 1) & 1)
        f |= SF_;
    return f;
}

/* 64 x 64 -> 128 by shift-and-add: hi:lo. */
static void mul128(uint64_t x, uint64_t y, uint64_t *hi, uint64_t *lo)
{
    uint64_t h = 0, l = 0, xh = 0, xl = x;
    for (unsigned i = 0; i < 64; i++) {
        if (y >> i & 1) {
            uint64_t nl = l + xl;
            h += xh + (nl < l);
            l = nl;
        }
        xh = xh << 1 | xl >> 63;
        xl <<= 1;
    }
    *hi = h;
    *lo = l;
}

/* hi:lo / y by shift-and-subtract; false if the quotient needs > 64 bits
   or y = 0. */
static bool div128(uint64_t hi, uint64_t lo, uint64_t y, uint64_t *q,
                   uint64_t *r)
{
    if (!y || hi >= y)
        return false;
    uint64_t rem = hi, quo = 0;
    for (int i = 63; i >= 0; i--) {
        bool top = rem >> 63;
        rem = rem << 1 | (lo >> i & 1);
        quo <<= 1;
        if (top || rem >= y) {
            rem -= y;
            quo |= 1;
        }
    }
    *q = quo;
    *r = rem;
    return true;
}

static void neg128(uint64_t *hi, uint64_t *lo)
{
    *lo = ~*lo + 1;
    *hi = ~*hi + (*lo == 0);
}

typedef struct expect {
    io       out;
    uint64_t check;     /* status flags compared                  */
    uint64_t amask;     /* bits of RAX/destination compared        */
    bool     de;        /* #DE expected                            */
} expect;

static void ref_addsub(op o, unsigned w, uint64_t a, uint64_t b, uint64_t cin,
                       uint64_t *r, uint64_t *f)
{
    uint64_t m = mask_of(w), sb = 1ull << (w - 1);
    uint64_t c = (o == ADC || o == SBB) ? cin : 0;
    uint64_t x;
    bool cf;
    if (o == ADD || o == ADC) {
        x = (a + b + c) & m;
        cf = w < 64 ? a + b + c > m : x < a || (c && x == a);
        *f = ((a ^ x) & (b ^ x) & sb ? OF_ : 0);
    } else {
        x = (a - b - c) & m;
        cf = b > a || (c && b == a);
        *f = ((a ^ b) & (a ^ x) & sb ? OF_ : 0);
    }
    *f |= szp(w, x) | (cf ? CF_ : 0) | ((a ^ b ^ x) & 0x10 ? AF_ : 0);
    *r = x;
}

/* Shifts and rotates by CL (SDM Vol. 2B SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR
   "Operation" and "Flags Affected"). */
static void ref_shift(op o, unsigned w, const io *in, expect *e)
{
    uint64_t m = mask_of(w), sb = 1ull << (w - 1);
    uint64_t a = in->a & m, fin = in->fl;
    unsigned mc = (unsigned)(in->c & (w == 64 ? 63 : 31));
    uint64_t r = a, f = fin & ALL, cf = fin & CF_;
    e->check = ALL;
    if (mc == 0) {
        /* "If the count is 0, the flags are not affected"; whether a
           32-bit destination is rewritten (zero-extended) is not said. */
        e->out.fl = f;
        if (w == 32)
            e->amask = mask_of(32);
        return;
    }
    switch (o) {
    case SHL:
        r = mc < w ? (a << mc) & m : 0;
        cf = mc <= w ? a >> (w - mc) & 1 : 0;
        f = szp(w, r) | cf | ((r & sb ? 1 : 0) ^ cf ? OF_ : 0);
        e->check &= ~AF_;
        if (mc != 1)
            e->check &= ~OF_;
        if (mc >= w) /* undefined for SHL and SHR only */
            e->check &= ~CF_;
        break;
    case SHR:
        r = mc < w ? a >> mc : 0;
        cf = mc <= w ? a >> (mc - 1) & 1 : 0;
        f = szp(w, r) | cf | (a & sb ? OF_ : 0);
        e->check &= ~AF_;
        if (mc != 1)
            e->check &= ~OF_;
        if (mc >= w)
            e->check &= ~CF_;
        break;
    case SAR: {
        int64_t v = sext(w, a);
        r = (uint64_t)(v >> (mc < w ? mc : w - 1)) & m;
        cf = (uint64_t)(v >> (mc - 1 < w - 1 ? mc - 1 : w - 1)) & 1;
        f = szp(w, r) | cf; /* OF = 0 for a 1-bit SAR */
        e->check &= ~AF_;
        if (mc != 1)
            e->check &= ~OF_;
        break;
    }
    case ROL:
    case ROR: {
        unsigned t = mc % w;
        if (o == ROL) {
            r = t ? ((a << t) | (a >> (w - t))) & m : a;
            cf = r & 1;
            f = (fin & ~(CF_ | OF_) & ALL) | cf |
                (((r >> (w - 1)) & 1) ^ cf ? OF_ : 0);
        } else {
            r = t ? ((a >> t) | (a << (w - t))) & m : a;
            cf = r >> (w - 1) & 1;
            f = (fin & ~(CF_ | OF_) & ALL) | cf |
                ((r >> (w - 1) ^ r >> (w - 2)) & 1 ? OF_ : 0);
        }
        if (mc != 1)
            e->check &= ~OF_;
        break;
    }
    case RCL:
    case RCR: {
        unsigned t = w == 8 ? mc % 9 : w == 16 ? mc % 17 : mc;
        uint64_t of = 0;
        if (o == RCR)
            of = ((a >> (w - 1)) & 1) ^ cf; /* before the rotate */
        for (unsigned i = 0; i < t; i++) {
            uint64_t out;
            if (o == RCL) {
                out = r >> (w - 1) & 1;
                r = ((r << 1) | cf) & m;
            } else {
                out = r & 1;
                r = (r >> 1) | cf << (w - 1);
            }
            cf = out;
        }
        if (o == RCL)
            of = ((r >> (w - 1)) & 1) ^ cf;
        f = (fin & ~(CF_ | OF_) & ALL) | cf | (of ? OF_ : 0);
        if (mc != 1)
            e->check &= ~OF_;
        break;
    }
    default:
        break;
    }
    e->out.a = merge(w, in->a, r);
    e->out.fl = f;
}

/* MUL, IMUL and DIV, IDIV with RAX/RDX (SDM Vol. 2A DIV, IDIV, IMUL; 2B
   MUL). For 8 bits the operand is AX and the result AX (AL, AH). */
static void ref_ad(op o, unsigned w, const io *in, expect *e)
{
    uint64_t m = mask_of(w);
    uint64_t b = in->b & m, a = in->a & m, d = in->d & m;
    uint64_t hi = 0, lo = 0;
    bool sgn = o == IMUL1 || o == IDIV;
    e->check = 0;
    e->out = *in;
    if (o == MUL || o == IMUL1) {
        uint64_t x = a, y = b;
        bool neg = false;
        if (sgn) {
            int64_t sx = sext(w, x), sy = sext(w, y);
            neg = (sx < 0) != (sy < 0);
            x = sx < 0 ? 0 - (uint64_t)sx : (uint64_t)sx;
            y = sy < 0 ? 0 - (uint64_t)sy : (uint64_t)sy;
        }
        mul128(x, y, &hi, &lo);
        if (neg)
            neg128(&hi, &lo);
        /* split the 2w-bit product into its two halves */
        if (w < 64) {
            hi = (lo >> w) & m;
            lo &= m;
        }
        bool wide = sgn ? hi != ((lo >> (w - 1) & 1) ? m : 0) : hi != 0;
        e->out.fl = (in->fl & ALL & ~(CF_ | OF_)) | (wide ? CF_ | OF_ : 0);
        e->check = CF_ | OF_; /* SF ZF AF PF undefined */
    } else {
        /* dividend: AX for 8 bits, else rDX:rAX */
        uint64_t nh = d, nl = a;
        if (w == 8) {
            nh = 0;
            nl = in->a & 0xffff;
        } else if (w < 64) {
            nl = d << w | a;
            nh = 0;
        }
        bool nneg = false, dneg = false;
        uint64_t dv = b;
        if (sgn) {
            unsigned nw = 2 * w;
            nneg = nw == 128 ? (int64_t)nh < 0 : (nl >> (nw - 1)) & 1;
            if (nneg) {
                if (nw == 128)
                    neg128(&nh, &nl);
                else
                    nl = (0 - nl) & mask_of(nw);
            }
            dneg = sext(w, b) < 0;
            if (dneg)
                dv = (0 - b) & m;
        }
        uint64_t q, r;
        bool ok = div128(nh, nl, dv, &q, &r);
        /* the quotient must fit the destination (signed for IDIV) */
        if (ok && !sgn && q > m)
            ok = false;
        if (ok && sgn) {
            uint64_t lim = 1ull << (w - 1); /* |q| <= lim - 1, or = lim if negative */
            if ((nneg != dneg) ? q > lim : q > lim - 1)
                ok = false;
            if (nneg != dneg)
                q = 0 - q;
            if (nneg)
                r = 0 - r;
        }
        if (!ok) {
            e->de = true;
            e->out = *in;
            e->check = ALL; /* #DE: nothing is written */
            return;
        }
        q &= m;
        r &= m;
        if (w == 8) {
            e->out.a = (in->a & ~0xffffull) | r << 8 | q;
        } else {
            e->out.a = merge(w, in->a, q);
            e->out.d = merge(w, in->d, r);
        }
        return;
    }
    if (w == 8) {
        e->out.a = (in->a & ~0xffffull) | (hi << 8) | lo;
    } else {
        e->out.a = merge(w, in->a, lo);
        e->out.d = merge(w, in->d, hi);
    }
}

static void reference(op o, unsigned w, const io *in, expect *e)
{
    uint64_t m = mask_of(w);
    uint64_t a = in->a & m, b = in->b & m, cin = in->fl & CF_;
    uint64_t r = a, f = 0;
    e->out = *in;
    e->check = ALL;
    e->amask = ~0ull;
    e->de = false;
    switch (o) {
    case ADD: case ADC: case SUB: case SBB: case CMP:
        ref_addsub(o == CMP ? SUB : o, w, a, b, cin, &r, &f);
        if (o == CMP)
            r = a;
        break;
    case AND: case OR: case XOR: case TEST:
        r = o == OR ? a | b : o == XOR ? a ^ b : a & b;
        f = szp(w, r); /* CF = OF = 0 */
        e->check &= ~AF_;
        if (o == TEST)
            r = a;
        break;
    case INC: case DEC: {
        uint64_t t;
        ref_addsub(o == INC ? ADD : SUB, w, a, 1, 0, &r, &t);
        f = (t & ~CF_) | cin; /* CF unaffected */
        break;
    }
    case NEG:
        ref_addsub(SUB, w, 0, a, 0, &r, &f);
        break;
    case NOT:
        r = ~a & m;
        f = in->fl & ALL;
        break;
    case IMUL2: {
        expect t;
        io i2 = *in;
        i2.b = in->b;
        ref_ad(IMUL1, w, &i2, &t);
        r = w == 64 ? t.out.a : t.out.a & m;
        f = t.out.fl;
        e->check = t.check;
        break;
    }
    default:
        if (o >= SHL && o <= RCR) {
            ref_shift(o, w, in, e);
            return;
        }
        ref_ad(o, w, in, e);
        return;
    }
    /* CMP and TEST write no register at all */
    e->out.a = o == CMP || o == TEST ? in->a : merge(w, in->a, r);
    e->out.fl = f;
}

/* ------------------------------------------------------------ driver -- */

static uint64_t values(unsigned w, unsigned i)
{
    uint64_t m = mask_of(w), sb = 1ull << (w - 1);
    const uint64_t v[] = {
        0, 1, 2, 0xf, 0x10, sb - 1, sb, sb + 1, m - 1, m,
        0x5555555555555555ull & m, 0xaaaaaaaaaaaaaaaaull & m,
        0x123456789abcdef0ull & m,
    };
    return v[i];
}
#define NVALUES 13

static const uint64_t counts[] = {
    0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 18, 31, 32, 33, 63, 64, 65, 255,
};
#define NCOUNTS (sizeof counts / sizeof counts[0])

static const uint64_t garbage_a = 0xdeadbeefcafef00dull;
static const uint64_t garbage_b = 0x0123456789abcdefull;
static const uint64_t garbage_d = 0xfedcba9876543210ull;

static unsigned shown;

/* Runs one executor; the vector + 1 of its exception, or 0. */
static __attribute__((noinline)) int run_caught(exec_fn x, io *s)
{
    return RT_FAULT(x(s));
}

static void run_one(const opdef *od, unsigned wi, io in, exec_fn x)
{
    unsigned w = widths[wi];
    expect e;
    reference(od->op, w, &in, &e);
    io got = in;
    got.fl = in.fl | 2;
    int caught = run_caught(x, &got);
    bool ok = (caught != 0) == e.de;
    if (caught && caught != RT_DE + 1)
        ok = false;
    if (!caught) {
        ok = ok && ((got.a ^ e.out.a) & e.amask) == 0;
        ok = ok && got.d == e.out.d;
        ok = ok && ((got.fl ^ e.out.fl) & e.check) == 0;
    }
    rt_checks++;
    if (ok)
        return;
    rt_failures++;
    if (shown++ >= 8)
        return;
    rt_printf("FAIL: %s%u a=%#lx b=%#lx cl=%#lx d=%#lx flags in %#lx:\n",
              od->name, w, in.a, in.b, in.c, in.d, in.fl);
    if (caught)
        rt_printf("      got %s, expected %s\n",
                  rt_vector_name(caught - 1), e.de ? "#DE" : "no exception");
    else if (e.de)
        rt_printf("      got no exception, expected #DE\n");
    else
        rt_printf("      got a=%#lx d=%#lx flags %#lx, expected a=%#lx "
                  "d=%#lx flags %#lx (compared %#lx)\n", got.a, got.d,
                  got.fl & ALL, e.out.a, e.out.d, e.out.fl, e.check);
}

static void run_op(const opdef *od)
{
    for (unsigned wi = 0; wi < 4; wi++) {
        if (!od->x[wi])
            continue;
        unsigned w = widths[wi];
        uint64_t m = mask_of(w);
        for (unsigned fi = 0; fi < 2; fi++) {
            uint64_t fin = fi ? ALL : 0;
            for (unsigned i = 0; i < NVALUES; i++) {
                io in = { (garbage_a & ~m) | values(w, i), 0, 0, garbage_d,
                          fin };
                if (od->shape == UN) {
                    run_one(od, wi, in, od->x[wi]);
                } else if (od->shape == SHIFT) {
                    for (unsigned k = 0; k < NCOUNTS; k++) {
                        in.c = counts[k];
                        run_one(od, wi, in, od->x[wi]);
                    }
                    for (unsigned k = 0; k < 4; k++) {
                        in.c = imm_counts[k];
                        run_one(od, wi, in, od->xi[k][wi]);
                    }
                } else {
                    for (unsigned j = 0; j < NVALUES; j++) {
                        unsigned k = (i + j) % NVALUES;
                        in.b = (garbage_b & ~m) | values(w, j);
                        /* DIV's dividend: AH:AL, or rDX:rAX */
                        if (od->shape == AD && w > 8)
                            in.d = (garbage_d & ~m) | values(w, k);
                        else if (od->shape == AD)
                            in.a = (garbage_a & ~0xffffull) |
                                   values(8, k) << 8 | values(8, i);
                        run_one(od, wi, in, od->x[wi]);
                    }
                }
            }
        }
    }
}

static const opdef *cur;
static void case_op(void)
{
    shown = 0;
    run_op(cur);
}

/* ------------------------------------------------------------ anchors -- */

/*
 * Literal rows, worked out by hand from the manuals' definitions, that pin
 * the reference above (and the CPU): result, flags (status bits compared
 * under `check`), or #DE.
 */
typedef struct anchor {
    const char *what;
    op          op;
    unsigned    wi;
    io          in;
    uint64_t    a, d, fl, check;
    bool        de;
} anchor;

static const anchor anchors[] = {
    /* 0x7f + 1: signed overflow, carry out of bit 3, 0x80 has odd parity */
    { "add8 0x7f+1", ADD, 0, { 0x7f, 1, 0, 0, 0 }, 0x80, 0, OF_ | SF_ | AF_, ALL, false },
    { "add8 0xff+1", ADD, 0, { 0xff, 1, 0, 0, 0 }, 0, 0, CF_ | ZF_ | AF_ | PF_, ALL, false },
    { "adc8 0xff+0+CF", ADC, 0, { 0xff, 0, 0, 0, CF_ }, 0, 0, CF_ | ZF_ | AF_ | PF_, ALL, false },
    { "sub32 0-1", SUB, 2, { 0, 1, 0, 0, 0 }, 0xffffffff, 0, CF_ | SF_ | AF_ | PF_, ALL, false },
    { "sub64 min-1", SUB, 3, { 0x8000000000000000ull, 1, 0, 0, 0 }, 0x7fffffffffffffffull, 0, OF_ | AF_ | PF_, ALL, false },
    { "sbb16 0-0-CF", SBB, 1, { 0, 0, 0, 0, CF_ }, 0xffff, 0, CF_ | SF_ | AF_ | PF_, ALL, false },
    /* INC leaves CF as it was (here 1) */
    { "inc16 0x7fff", INC, 1, { 0x7fff, 0, 0, 0, CF_ }, 0x8000, 0, OF_ | SF_ | AF_ | PF_ | CF_, ALL, false },
    { "dec8 0x80", DEC, 0, { 0x80, 0, 0, 0, 0 }, 0x7f, 0, OF_ | AF_, ALL, false },
    { "neg8 0x80", NEG, 0, { 0x80, 0, 0, 0, 0 }, 0x80, 0, CF_ | OF_ | SF_, ALL, false },
    { "neg32 0", NEG, 2, { 0, 0, 0, 0, 0 }, 0, 0, ZF_ | PF_, ALL, false },
    { "xor32 zero-extends", XOR, 2, { 0xffffffff00000001ull, 1, 0, 0, ALL }, 0, 0, ZF_ | PF_, ALL & ~AF_, false },
    { "and8 keeps bits 63:8", AND, 0, { 0x1234, 0x0f, 0, 0, 0 }, 0x1204, 0, 0, ALL & ~AF_, false },
    { "shl8 0xc0 by 1", SHL, 0, { 0xc0, 0, 1, 0, 0 }, 0x80, 0, CF_ | SF_, ALL & ~AF_, false },
    { "shr16 0x8001 by 1", SHR, 1, { 0x8001, 0, 1, 0, 0 }, 0x4000, 0, CF_ | OF_ | PF_, ALL & ~AF_, false },
    { "sar32 0x80000001 by 1", SAR, 2, { 0x80000001, 0, 1, 0, 0 }, 0xc0000000, 0, CF_ | SF_ | PF_, ALL & ~AF_, false },
    { "sar8 0x80 by 9 (CF defined)", SAR, 0, { 0x80, 0, 9, 0, 0 }, 0xff, 0, CF_ | SF_ | PF_, CF_ | SF_ | ZF_ | PF_, false },
    { "shl32 by 32 masks to 0", SHL, 2, { 0x1, 0, 32, 0, ALL }, 1, 0, ALL, ALL, false },
    { "rol8 0x80 by 1", ROL, 0, { 0x80, 0, 1, 0, 0 }, 0x01, 0, CF_ | OF_, ALL, false },
    { "rol8 0x01 by 8 sets CF", ROL, 0, { 0x01, 0, 8, 0, 0 }, 0x01, 0, CF_, ALL & ~OF_, false },
    { "rcr8 0x01 by 1 with CF", RCR, 0, { 0x01, 0, 1, 0, CF_ }, 0x80, 0, CF_ | OF_, ALL, false },
    { "rcl16 by 17 is no rotation", RCL, 1, { 0x8001, 0, 17, 0, 0 }, 0x8001, 0, 0, ALL & ~OF_, false },
    { "mul8 0x80*2", MUL, 0, { 0x80, 2, 0, 0, 0 }, 0x100, 0, CF_ | OF_, CF_ | OF_, false },
    { "imul8 -128*-1", IMUL1, 0, { 0x80, 0xff, 0, 0, 0 }, 0x0080, 0, CF_ | OF_, CF_ | OF_, false },
    { "imul8 -1*-1", IMUL1, 0, { 0xff, 0xff, 0, 0, 0 }, 0x0001, 0, 0, CF_ | OF_, false },
    { "mul64 2^63*2", MUL, 3, { 0x8000000000000000ull, 2, 0, 0, 0 }, 0, 1, CF_ | OF_, CF_ | OF_, false },
    { "imul2 32 0x10000*0x10000", IMUL2, 2, { 0x10000, 0x10000, 0, 0, 0 }, 0, 0, CF_ | OF_, CF_ | OF_, false },
    { "div8 0x100/2", DIV, 0, { 0x100, 2, 0, 0, 0 }, 0x80, 0, 0, 0, false },
    { "div64 2^64/2", DIV, 3, { 0, 2, 0, 1, 0 }, 0x8000000000000000ull, 0, 0, 0, false },
    { "div16 7/2 remainder in DX", DIV, 1, { 7, 2, 0, 0, 0 }, 3, 1, 0, 0, false },
    { "idiv32 -7/2 truncates", IDIV, 2, { 0xfffffff9, 2, 0, 0xffffffff, 0 }, 0xfffffffd, 0xffffffff, 0, 0, false },
    { "idiv8 -128/-1 overflows", IDIV, 0, { 0xff80, 0xff, 0, 0, 0 }, 0, 0, 0, 0, true },
    { "div8 0x100/1 overflows", DIV, 0, { 0x100, 1, 0, 0, 0 }, 0, 0, 0, 0, true },
    { "div32 by 0", DIV, 2, { 1, 0, 0, 0, 0 }, 0, 0, 0, 0, true },
};

static const opdef *find_op(op o)
{
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (ops[i].op == o)
            return &ops[i];
    return NULL;
}

static void t_anchors(void)
{
    for (unsigned i = 0; i < sizeof anchors / sizeof anchors[0]; i++) {
        const anchor *an = &anchors[i];
        const opdef *od = find_op(an->op);
        unsigned w = widths[an->wi];
        expect e;
        reference(an->op, w, &an->in, &e);
        /* the reference agrees with the hand-worked row ... */
        CHECK(e.de == an->de, "%s: reference #DE %d", an->what, e.de);
        if (!an->de) {
            CHECK(e.out.a == an->a, "%s: reference a=%#lx, row %#lx",
                  an->what, e.out.a, an->a);
            CHECK(((e.out.fl ^ an->fl) & an->check) == 0,
                  "%s: reference flags %#lx, row %#lx", an->what,
                  e.out.fl, an->fl);
        }
        /* ... and so does the CPU */
        io got = an->in;
        got.fl |= 2;
        int caught = run_caught(od->x[an->wi], &got);
        if (an->de) {
            CHECK_EXC(caught, RT_DE, RT_NOERR, 0);
            CHECK(got.a == an->in.a && got.d == an->in.d,
                  "%s: #DE changed RAX/RDX", an->what);
            continue;
        }
        CHECK(!caught, "%s: raised %s", an->what,
              rt_vector_name(caught ? caught - 1 : 0));
        CHECK(got.a == an->a, "%s: a=%#lx, expected %#lx", an->what, got.a,
              an->a);
        if (an->op == MUL || an->op == DIV || an->op == IDIV ||
            an->op == IMUL1)
            CHECK(got.d == an->d, "%s: d=%#lx, expected %#lx", an->what,
                  got.d, an->d);
        CHECK(((got.fl ^ an->fl) & an->check) == 0,
              "%s: flags %#lx, expected %#lx under %#lx", an->what,
              got.fl & ALL, an->fl, an->check);
    }
}

void kmain(void)
{
    rt_printf("k_flags: integer results and defined flags, 8/16/32/64-bit, "
              "on %s\n", rt_cpuinfo.vendor);
    RT_RUN(t_anchors);
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        cur = &ops[i];
        rt_run_case(ops[i].name, case_op);
    }
}
