/*
 * tests/test_alu.c - the integer ALU (src/cpu/alu.h).
 *
 * Three sets of rows, all run by one loop (run_rows) that names every
 * failing row by file and line:
 *   vectors/alu_amd.inc     generated on an AMD host by tests/gen/gen_alu.c,
 *                           every flag the host produced, AMD policy;
 *   vectors/alu_manual.inc  worked out from the manuals, defined flags
 *                           only, on every personality;
 *   intel_rows below        the Intel personality's undefined-flag choices.
 * Then independent reference models (exhaustive over 8 bits, sampled
 * above) for the arithmetic, shifts, multiply and divide, and the
 * condition codes against the SDM's table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cpu/alu.h"
#include "flag_names.h"
#include "test_util.h"

#define NONE 0
#define SZP  (SF | ZF | PF)
#define SZAP (SF | ZF | AF | PF)

_Static_assert(ALL == ALU_ARITH, "flag_names.h's ALL is alu.h's six flags");

/* Bits outside the six that every row passes in and must get back. */
#define OTHER_FLAGS (SVMX_RFLAGS_FIXED | SVMX_RFLAGS_IF | SVMX_RFLAGS_DF |    \
                     SVMX_RFLAGS_ID | (1ull << 40))

typedef struct row {
    const char *file;
    int         line;
    alu_op      op;
    unsigned    size;
    uint64_t    a, b, c, fin;
    uint64_t    r0, r1, fout, mask;
    bool        de;
} row;

#define ALU(op, size, a, b, c, fin, r0, r1, fout, mask)                       \
    { FILE_NAME, __LINE__, ALU_##op, size, a, b, c, fin, r0, r1, fout, mask,  \
      false },
#define DE(op, size, a, b, c, fin)                                            \
    { FILE_NAME, __LINE__, ALU_##op, size, a, b, c, fin, 0, 0, 0, 0, true },

#define FILE_NAME "vectors/alu_amd.inc"
static const row amd_rows[] = {
#include "vectors/alu_amd.inc"
};
#undef FILE_NAME

#define FILE_NAME "vectors/alu_manual.inc"
static const row manual_rows[] = {
#include "vectors/alu_manual.inc"
};
#undef FILE_NAME

/*
 * The Intel personality's choices (the Intel column of the policy table
 * in alu.c, docs/flags.md), all six flags checked. The AMD host gives a
 * different answer for each of these except the last two.
 */
#define FILE_NAME "test_alu.c"
static const row intel_rows[] = {
    /* MUL/IMUL: SF ZF PF of the low half, AF = 0 (Bochs mult8.cc) */
    ALU(MUL, 1, 0x10, 0x10, 0, SF|AF, 0x00, 0x01, CF|OF|ZF|PF, ALL)
    ALU(IMUL2, 4, 0xffffffff, 0x2, 0, ZF|AF|PF, 0xfffffffe, 0, SF, ALL)
    ALU(IMUL1, 8, 0x3, 0x5, 0, CF|SF, 0xf, 0x0, PF, ALL)
    /* DIV/IDIV: no flag written */
    ALU(DIV, 2, 100, 7, 0, CF|ZF|OF, 14, 2, CF|ZF|OF, ALL)
    ALU(IDIV, 4, 0xfffffff9, 0x2, 0xffffffff, AF|PF, 0xfffffffd, 0xffffffff, AF|PF, ALL)
    /* shifts and SHLD/SHRD: AF = 0 */
    ALU(SHL, 1, 0x81, 1, 0, AF, 0x02, 0, CF|OF, ALL)
    ALU(SAR, 8, 0x8000000000000000, 4, 0, AF, 0xf800000000000000, 0, SF|PF, ALL)
    ALU(SHLD, 4, 0x12345678, 0x9abcdef0, 8, AF, 0x3456789a, 0, PF, ALL)
    /* RCL/RCR by a nonzero multiple of 9/17: nothing changes */
    ALU(RCL, 1, 0x80, 9, 0, CF|OF, 0x80, 0, CF|OF, ALL)
    ALU(RCR, 2, 0x0001, 17, 0, OF, 0x0001, 0, OF, ALL)
    /* SHLD 16-bit count 16: OF = CF ^ MSB(result) */
    ALU(SHLD, 2, 0x1234, 0xabcd, 16, 0, 0xabcd, 0, OF|SF, ALL)
    /* SHLD/SHRD 16-bit count > 16: dest:src:dest (Bochs shift16.cc) */
    ALU(SHLD, 2, 0x1234, 0xabcd, 20, 0, 0xbcd1, 0, OF|SF|PF, ALL)
    ALU(SHRD, 2, 0x1234, 0xabcd, 20, CF, 0x4abc, 0, OF, ALL)
    /* BSF/BSR of 0: only ZF is written */
    ALU(BSF, 4, 0x77, 0x0, 0, CF|OF|SF|AF, 0x77, 0, CF|OF|SF|AF|ZF, ALL)
    ALU(BSR, 8, 0x77, 0x0, 0, 0, 0x77, 0, ZF, ALL)
    /* LZCNT/TZCNT: only CF and ZF are written */
    ALU(LZCNT, 4, 0x0, 0x1, 0, OF|SF|AF|PF, 0x1f, 0, OF|SF|AF|PF, ALL)
    ALU(TZCNT, 2, 0x0, 0x0, 0, SF, 0x10, 0, SF|CF, ALL)
    /* the same as AMD: BT* write only CF, logic ops clear AF */
    ALU(BTS, 4, 0x0, 3, 0, OF|SF|ZF|AF|PF, 0x8, 0, OF|SF|ZF|AF|PF, ALL)
    ALU(XOR, 1, 0x0f, 0x01, 0, AF, 0x0e, 0, 0, ALL)
};
#undef FILE_NAME

/* ---- the row loop ----------------------------------------------------- */

typedef struct got {
    uint64_t r0, r1, flags;
    bool     de;
} got;

/*
 * Runs one row. Operands per op: a/b/c are the inputs and r0/r1 the
 * outputs listed in tests/vectors/alu_manual.inc; the generator
 * (tests/gen/gen_alu.c) loads the host registers the same way.
 */
static got alu_row(const alu_policy *p, const row *r)
{
    got g = { 0, 0, r->fin | OTHER_FLAGS, false };
    uint64_t x;

    switch (r->op) {
    case ALU_ADD: case ALU_OR: case ALU_ADC: case ALU_SBB: case ALU_AND:
    case ALU_SUB: case ALU_XOR: case ALU_CMP: case ALU_TEST:
        g.r0 = alu_arith(p, r->op, r->size, r->a, r->b, &g.flags);
        break;
    case ALU_INC: case ALU_DEC: case ALU_NEG: case ALU_NOT:
        g.r0 = alu_unary(r->op, r->size, r->a, &g.flags);
        break;
    case ALU_ROL: case ALU_ROR: case ALU_RCL: case ALU_RCR:
    case ALU_SHL: case ALU_SHR: case ALU_SAL: case ALU_SAR:
        g.r0 = alu_shift(p, r->op, r->size, r->a, (unsigned)r->b, &g.flags);
        break;
    case ALU_SHLD: case ALU_SHRD:
        g.r0 = alu_shd(p, r->op, r->size, r->a, r->b, (unsigned)r->c,
                       &g.flags);
        break;
    case ALU_MUL: case ALU_IMUL1: case ALU_IMUL2:
        g.r0 = alu_mul(p, r->op, r->size, r->a, r->b, &g.r1, &g.flags);
        if (r->op == ALU_IMUL2) /* truncating form: no high half */
            g.r1 = 0;
        break;
    case ALU_DIV: case ALU_IDIV:
        g.r0 = g.r1 = 0x5a5a5a5a5a5a5a5au; /* must stay on #DE */
        g.de = alu_div(p, r->op, r->size, r->c, r->a, r->b, &g.r0, &g.r1,
                       &g.flags);
        break;
    case ALU_BT: case ALU_BTS: case ALU_BTR: case ALU_BTC:
        g.r0 = alu_bt(p, r->op, r->size, r->a, r->b, &g.flags);
        break;
    case ALU_BSF: case ALU_BSR: case ALU_LZCNT: case ALU_TZCNT:
    case ALU_POPCNT:
        g.r0 = alu_scan(p, r->op, r->size, r->a, r->b, &g.flags);
        break;
    case ALU_BSWAP:
        g.r0 = alu_bswap(r->size, r->a);
        break;
    case ALU_XADD:
        x = r->b;
        g.r0 = alu_xadd(r->size, r->a, &x, &g.flags);
        g.r1 = x;
        break;
    case ALU_CMPXCHG:
        x = r->c;
        g.r0 = alu_cmpxchg(r->size, r->a, r->b, &x, &g.flags);
        g.r1 = x;
        break;
    case ALU_CBW:
        g.r0 = alu_cbw(r->size, r->a);
        break;
    case ALU_CWD:
        g.r0 = alu_cwd(r->size, r->a);
        break;
    case ALU_OP_COUNT:
        break;
    }
    return g;
}

/* Why a row failed, or NULL. */
static const char *row_check(const row *r, const got *g, char *buf,
                             size_t len)
{
    uint64_t want_flags = (r->fin | OTHER_FLAGS);
    if (r->de != g->de) {
        snprintf(buf, len, "#DE %s, want %s", g->de ? "raised" : "not raised",
                 r->de ? "#DE" : "a result");
        return buf;
    }
    if (r->de) {
        if (g->flags != want_flags || g->r0 != 0x5a5a5a5a5a5a5a5au ||
            g->r1 != 0x5a5a5a5a5a5a5a5au) {
            snprintf(buf, len, "#DE changed state: flags %#" PRIx64, g->flags);
            return buf;
        }
        return NULL;
    }
    if (g->r0 != r->r0) {
        snprintf(buf, len, "r0 = %#" PRIx64 ", want %#" PRIx64, g->r0, r->r0);
        return buf;
    }
    if (g->r1 != r->r1) {
        snprintf(buf, len, "r1 = %#" PRIx64 ", want %#" PRIx64, g->r1, r->r1);
        return buf;
    }
    if ((g->flags & ~ALU_ARITH) != OTHER_FLAGS) {
        snprintf(buf, len, "non-arithmetic flags changed: %#" PRIx64,
                 g->flags);
        return buf;
    }
    if ((g->flags & r->mask) != (r->fout & r->mask)) {
        snprintf(buf, len,
                 "flags 0x%03" PRIx64 ", want 0x%03" PRIx64 " (mask 0x%03" PRIx64
                 ", differ 0x%03" PRIx64 ")",
                 (uint64_t)(g->flags & ALU_ARITH), r->fout, r->mask,
                 (uint64_t)((g->flags ^ r->fout) & r->mask));
        return buf;
    }
    return NULL;
}

/* The one loop: runs every row, prints each failing one, fails if any. */
static void run_rows(const row *rows, size_t n, svmx_vendor vendor)
{
    const alu_policy *p = alu_policy_get(vendor);
    unsigned failed = 0;
    char why[160];

    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        got g = alu_row(p, r);
        if (!row_check(r, &g, why, sizeof why))
            continue;
        if (++failed <= 40)
            print_message("%s:%d: %s %s size %u a=%#" PRIx64 " b=%#" PRIx64
                          " c=%#" PRIx64 " flags_in=0x%03" PRIx64 ": %s\n",
                          r->file, r->line, svmx_vendor_name(vendor),
                          alu_op_name(r->op), r->size, r->a, r->b, r->c,
                          r->fin, why);
    }
    if (failed)
        fail_msg("%u of %zu rows failed", failed, n);
}

static void test_amd_vectors(void **state)
{
    (void)state;
    /* The generated file is the bulk of the coverage: make sure it is. */
    bool seen[ALU_OP_COUNT] = { false };
    for (size_t i = 0; i < COUNT_OF(amd_rows); i++)
        seen[amd_rows[i].op] = true;
    for (unsigned op = 0; op < ALU_OP_COUNT; op++)
        if (!seen[op])
            fail_msg("alu_amd.inc has no %s row", alu_op_name((alu_op)op));
    assert_true(COUNT_OF(amd_rows) > 1000);
    run_rows(amd_rows, COUNT_OF(amd_rows), SVMX_VENDOR_AMD);
}

static void test_manual_vectors(void **state)
{
    (void)state;
    for (unsigned v = 0; v < SVMX_VENDOR_COUNT; v++)
        run_rows(manual_rows, COUNT_OF(manual_rows), (svmx_vendor)v);
}

static void test_intel_policy(void **state)
{
    (void)state;
    run_rows(intel_rows, COUNT_OF(intel_rows), SVMX_VENDOR_INTEL);
}

static void test_policy_and_names(void **state)
{
    (void)state;
    assert_non_null(alu_policy_get(SVMX_VENDOR_AMD));
    assert_non_null(alu_policy_get(SVMX_VENDOR_INTEL));
    assert_ptr_not_equal(alu_policy_get(SVMX_VENDOR_AMD),
                         alu_policy_get(SVMX_VENDOR_INTEL));
    assert_null(alu_policy_get(SVMX_VENDOR_COUNT));
    assert_null(alu_policy_get((svmx_vendor)-1));
    for (unsigned op = 0; op < ALU_OP_COUNT; op++)
        assert_string_not_equal(alu_op_name((alu_op)op), "?");
    assert_string_equal(alu_op_name(ALU_OP_COUNT), "?");
    assert_string_equal(alu_op_name(ALU_CMPXCHG), "CMPXCHG");
    /* decoders add ModRM.reg to the first op of a group (SDM Vol. 2D A-6) */
    assert_int_equal(ALU_CMP - ALU_ADD, 7);
    assert_int_equal(ALU_SAR - ALU_ROL, 7);
    assert_int_equal(ALU_BTC - ALU_BT, 3);
}

/* ---- independent reference models --------------------------------------- */

static unsigned ones(uint64_t v)
{
    unsigned n = 0;
    for (; v; v >>= 1)
        n += (unsigned)(v & 1);
    return n;
}

static uint64_t ref_szp(uint64_t r, unsigned bits)
{
    uint64_t m = bits == 64 ? ~0ull : (1ull << bits) - 1;
    return ((r & m) == 0 ? ZF : 0) | (((r >> (bits - 1)) & 1) ? SF : 0) |
           (ones(r & 0xff) % 2 == 0 ? PF : 0);
}

/* ADD ADC SUB SBB over every pair of bytes and both carries, in int. */
static void test_arith8_exhaustive(void **state)
{
    (void)state;
    const alu_policy *p = alu_policy_get(SVMX_VENDOR_AMD);
    static const alu_op ops[] = { ALU_ADD, ALU_ADC, ALU_SUB, ALU_SBB };
    for (unsigned k = 0; k < COUNT_OF(ops); k++) {
        alu_op op = ops[k];
        bool sub = op == ALU_SUB || op == ALU_SBB;
        bool carry = op == ALU_ADC || op == ALU_SBB;
        for (int a = 0; a < 256; a++)
            for (int b = 0; b < 256; b++)
                for (int c = 0; c < 2; c++) {
                    int ci = carry ? c : 0;
                    int sa = (int8_t)a, sb = (int8_t)b;
                    int u = sub ? a - b - ci : a + b + ci;
                    int s = sub ? sa - sb - ci : sa + sb + ci;
                    int nib = sub ? (a & 15) - (b & 15) - ci
                                  : (a & 15) + (b & 15) + ci;
                    uint64_t want = ref_szp((uint64_t)u & 0xff, 8) |
                                    ((u < 0 || u > 255) ? CF : 0) |
                                    ((s < -128 || s > 127) ? OF : 0) |
                                    ((nib < 0 || nib > 15) ? AF : 0);
                    uint64_t f = c ? CF : 0;
                    uint64_t r = alu_arith(p, op, 1, (uint64_t)a, (uint64_t)b,
                                           &f);
                    if (r != ((uint64_t)u & 0xff) || f != want)
                        fail_msg("%s %#x, %#x, CF=%d: %#" PRIx64 " flags %#"
                                 PRIx64 ", want %#x flags %#" PRIx64,
                                 alu_op_name(op), a, b, c, r, f, u & 0xff,
                                 want);
                }
    }
}

/*
 * Every group-1 op and INC DEC NEG at 16, 32 and 64 bits, on edge values
 * (0, 1, the signs, all ones and their neighbours) and random ones, with
 * CF in both ways and the other flags kept: the result and all six flags
 * against a model that works bit by bit, the way the manuals define
 * them (CF the carry or borrow out of the top bit, OF the carry into it
 * differing from the carry out, AF the carry out of bit 3).
 */
static uint64_t ref_add(unsigned bits, uint64_t a, uint64_t b, unsigned cin,
                        uint64_t *flags)
{
    uint64_t r = 0;
    unsigned c = cin, c3 = 0, cin_top = 0;
    for (unsigned i = 0; i < bits; i++) {
        unsigned s = (unsigned)((a >> i) & 1) + (unsigned)((b >> i) & 1) + c;
        if (i == bits - 1)
            cin_top = c;
        r |= (uint64_t)(s & 1) << i;
        c = s >> 1;
        if (i == 3)
            c3 = c;
    }
    *flags = ref_szp(r, bits) | (c ? CF : 0) | (c3 ? AF : 0) |
             (c != cin_top ? OF : 0);
    return r;
}

static void test_arith_wide_reference(void **state)
{
    (void)state;
    static const alu_op ops[] = { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND,
                                  ALU_SUB, ALU_XOR, ALU_CMP, ALU_TEST,
                                  ALU_INC, ALU_DEC, ALU_NEG };
    static const unsigned sizes[] = { 2, 4, 8 };
    const alu_policy *p = alu_policy_get(SVMX_VENDOR_AMD);
    uint64_t x = 0x243f6a8885a308d3ull;
    for (unsigned si = 0; si < COUNT_OF(sizes); si++) {
        unsigned size = sizes[si], bits = 8 * size;
        uint64_t m = alu_mask(size), sign = (m >> 1) + 1;
        const uint64_t edges[] = { 0, 1, 2, 0xf, 0x10, sign - 1, sign,
                                   sign + 1, m - 1, m };
        for (unsigned i = 0; i < 30; i++)
            for (unsigned j = 0; j < 30; j++) {
                uint64_t a, b;
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                a = i < COUNT_OF(edges) ? edges[i] : x;
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                b = j < COUNT_OF(edges) ? edges[j] : x;
                /* bits above the size must not matter */
                uint64_t ha = a | (x & ~m), hb = b | (~x & ~m);
                a &= m, b &= m;
                for (unsigned k = 0; k < COUNT_OF(ops); k++)
                    for (unsigned c = 0; c < 2; c++) {
                        alu_op op = ops[k];
                        uint64_t fin = OTHER_FLAGS | (c ? CF : 0) |
                                       (x & (PF | AF | ZF | SF | OF));
                        uint64_t want_r, want_f, f = fin, res;
                        bool carry = op == ALU_ADC || op == ALU_SBB;
                        unsigned cin = carry ? c : 0;
                        switch (op) {
                        case ALU_ADD: case ALU_ADC:
                            want_r = ref_add(bits, a, b, cin, &want_f);
                            break;
                        case ALU_SUB: case ALU_SBB: case ALU_CMP:
                            /* a - b - cin = a + ~b + !cin, borrows inverted */
                            want_r = ref_add(bits, a, ~b & m, !cin, &want_f);
                            want_f ^= CF | AF;
                            if (op == ALU_CMP)
                                want_r = a;
                            break;
                        case ALU_INC: case ALU_DEC:
                            want_r = op == ALU_INC
                                         ? ref_add(bits, a, 1, 0, &want_f)
                                         : ref_add(bits, a, m, 0, &want_f);
                            if (op == ALU_DEC)
                                want_f ^= AF; /* a + ~1 + 1: borrow of bit 3 */
                            want_f = (want_f & ~CF) | (c ? CF : 0);
                            break;
                        case ALU_NEG:
                            want_r = ref_add(bits, 0, ~a & m, 1, &want_f);
                            want_f ^= CF | AF;
                            break;
                        default: { /* OR AND XOR TEST: CF OF 0, AF policy */
                            uint64_t v = op == ALU_OR ? a | b
                                         : op == ALU_XOR ? a ^ b : a & b;
                            want_f = ref_szp(v, bits) | p->logic_af;
                            want_r = op == ALU_TEST ? a : v;
                            break;
                        }
                        }
                        want_f |= fin & ~ALL;
                        if (op >= ALU_INC)
                            res = alu_unary(op, size, ha, &f);
                        else
                            res = alu_arith(p, op, size, ha, hb, &f);
                        if (res != want_r || f != want_f)
                            fail_msg("%s size %u %#" PRIx64 ", %#" PRIx64
                                     " CF=%u: %#" PRIx64 " flags %#" PRIx64
                                     ", want %#" PRIx64 " flags %#" PRIx64,
                                     alu_op_name(op), size, a, b, c, res, f,
                                     want_r, want_f);
                    }
            }
    }
}

/* MUL IMUL over every pair of bytes; DIV IDIV over every AX. */
static void test_muldiv8(void **state)
{
    (void)state;
    const alu_policy *p = alu_policy_get(SVMX_VENDOR_INTEL);
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++) {
            uint64_t hi, f = 0;
            unsigned u = a * b;
            uint64_t lo = alu_mul(p, ALU_MUL, 1, a, b, &hi, &f);
            assert_int_equal(lo | hi << 8, u);
            assert_int_equal(f & (CF | OF), u > 255 ? CF | OF : 0);
            int s = (int8_t)a * (int8_t)b;
            f = 0;
            lo = alu_mul(p, ALU_IMUL1, 1, a, b, &hi, &f);
            assert_int_equal(lo | hi << 8, (unsigned)s & 0xffff);
            assert_int_equal(f & (CF | OF), (s < -128 || s > 127) ? CF | OF : 0);
        }
    static const unsigned divisors[] = { 0, 1, 2, 3, 7, 10, 0x0f, 0x10, 0x7e,
                                         0x7f, 0x80, 0x81, 0xc3, 0xfe, 0xff };
    for (unsigned ax = 0; ax < 0x10000; ax++)
        for (unsigned k = 0; k < COUNT_OF(divisors); k++) {
            unsigned d = divisors[k];
            uint64_t q = 0, r = 0, f = 0;
            bool de = alu_div(p, ALU_DIV, 1, ax >> 8, ax & 0xff, d, &q, &r, &f);
            bool want_de = d == 0 || ax / d > 255;
            assert_int_equal(de, want_de);
            if (!de) {
                assert_int_equal(q, ax / d);
                assert_int_equal(r, ax % d);
            }
            int sn = (int16_t)ax, sd = (int8_t)d;
            de = alu_div(p, ALU_IDIV, 1, ax >> 8, ax & 0xff, d, &q, &r, &f);
            want_de = sd == 0 || sn / sd > 127 || sn / sd < -128;
            if (de != want_de)
                fail_msg("IDIV %d / %d: #DE %d", sn, sd, de);
            if (!de) { /* C division truncates toward 0, as IDIV does */
                assert_int_equal(q, (unsigned)(sn / sd) & 0xff);
                assert_int_equal(r, (unsigned)(sn % sd) & 0xff);
            }
        }
}

/*
 * Shifts and rotates, one bit at a time, the way the SDM's pseudocode
 * loops (SDM Vol. 2B RCL/RCR/ROL/ROR and SAL/SAR/SHL/SHR "Operation").
 * OF is the count-1 formula where defined; for counts > 1 it is the
 * documented choice of both personalities (same formula on the result).
 */
static uint64_t ref_shift(alu_op op, unsigned bits, uint64_t a, unsigned count,
                          uint64_t fin, uint64_t *fout)
{
    uint64_t m = bits == 64 ? ~0ull : (1ull << bits) - 1, msb = 1ull << (bits - 1);
    unsigned c = count & (bits == 64 ? 63 : 31), t = c;
    uint64_t cf = fin & CF, d = a & m;

    *fout = fin;
    if (c == 0)
        return d;
    if (op == ALU_ROL || op == ALU_ROR)
        t = c % bits;
    if ((op == ALU_RCL || op == ALU_RCR) && bits < 32)
        t = c % (bits + 1);
    for (unsigned i = 0; i < t; i++) {
        uint64_t out;
        switch (op) {
        case ALU_ROL: out = d >> (bits - 1); d = ((d << 1) | out) & m; break;
        case ALU_ROR: out = d & 1; d = (d >> 1) | (out ? msb : 0); break;
        case ALU_RCL: out = d >> (bits - 1); d = ((d << 1) | cf) & m; break;
        case ALU_RCR: out = d & 1; d = (d >> 1) | (cf ? msb : 0); break;
        case ALU_SHL: out = d >> (bits - 1); d = (d << 1) & m; break;
        case ALU_SHR: out = d & 1; d >>= 1; break;
        default:      out = d & 1; d = (d >> 1) | (d & msb); break; /* SAR */
        }
        cf = out;
    }
    if (op == ALU_ROL)
        cf = d & 1; /* "IF (COUNT & COUNTMASK) != 0 THEN CF <- LSB(DEST)" */
    if (op == ALU_ROR)
        cf = d >> (bits - 1);
    uint64_t top = d >> (bits - 1), next = (d >> (bits - 2)) & 1, of;
    switch (op) {
    case ALU_ROL: case ALU_RCL: case ALU_SHL: of = top ^ cf; break;
    case ALU_SAR: of = 0; break;
    default:      of = top ^ next; break;
    }
    uint64_t f = (fin & ~(CF | OF)) | cf | (of ? OF : 0);
    if (op == ALU_SHL || op == ALU_SHR || op == ALU_SAR)
        f = (f & ~SZP) | ref_szp(d, bits); /* AF: the policy's, not checked */
    *fout = f;
    return d;
}

static void test_shift_reference(void **state)
{
    (void)state;
    static const alu_op ops[] = { ALU_ROL, ALU_ROR, ALU_RCL, ALU_RCR,
                                  ALU_SHL, ALU_SHR, ALU_SAR };
    static const uint64_t samples[] = {
        0, 1, 2, 3, 0x7f, 0x80, 0x81, 0xff, 0x5555, 0x8000, 0x8001, 0xffff,
        0x12345678, 0x80000000, 0x80000001, 0xffffffff,
        0x0123456789abcdef, 0x8000000000000000, 0xffffffffffffffff };
    const alu_policy *p = alu_policy_get(SVMX_VENDOR_AMD);

    for (unsigned k = 0; k < COUNT_OF(ops); k++)
        for (unsigned size = 1; size <= 8; size *= 2) {
            unsigned bits = 8 * size;
            unsigned n = size == 1 ? 256 : (unsigned)COUNT_OF(samples);
            for (unsigned i = 0; i < n; i++)
                for (unsigned count = 0; count < 70; count++)
                    for (uint64_t fin = 0; fin <= CF; fin++) {
                        uint64_t a = size == 1 ? i : samples[i], want_f, f = fin;
                        uint64_t want = ref_shift(ops[k], bits, a, count, fin,
                                                  &want_f);
                        uint64_t got_r = alu_shift(p, ops[k], size, a, count,
                                                   &f);
                        /* RCL/RCR by a nonzero multiple of 9/17: OF is the
                         * policy's (AMD: the formula, as the reference) */
                        if (got_r != want || (f & ~AF) != (want_f & ~AF))
                            fail_msg("%s size %u %#" PRIx64 " by %u CF=%u: %#"
                                     PRIx64 " flags %#" PRIx64 ", want %#"
                                     PRIx64 " flags %#" PRIx64,
                                     alu_op_name(ops[k]), size, a, count,
                                     (unsigned)fin, got_r, f, want, want_f);
                    }
        }
}

/* The 16 conditions as SDM Vol. 2D Table B-10 lists them, one by one. */
static bool ref_cond(unsigned cc, uint64_t f)
{
    bool cf = f & CF, pf = f & PF, zf = f & ZF, sf = f & SF, of = f & OF;
    switch (cc) {
    case 0x0: return of;                   /* O */
    case 0x1: return !of;                  /* NO */
    case 0x2: return cf;                   /* B, NAE */
    case 0x3: return !cf;                  /* NB, AE */
    case 0x4: return zf;                   /* E, Z */
    case 0x5: return !zf;                  /* NE, NZ */
    case 0x6: return cf || zf;             /* BE, NA */
    case 0x7: return !cf && !zf;           /* NBE, A */
    case 0x8: return sf;                   /* S */
    case 0x9: return !sf;                  /* NS */
    case 0xa: return pf;                   /* P, PE */
    case 0xb: return !pf;                  /* NP, PO */
    case 0xc: return sf != of;             /* L, NGE */
    case 0xd: return sf == of;             /* NL, GE */
    case 0xe: return zf || sf != of;       /* LE, NG */
    default:  return !zf && sf == of;      /* NLE, G */
    }
}

static void test_cond(void **state)
{
    (void)state;
    static const uint64_t bits[] = { CF, PF, AF, ZF, SF, OF };
    for (unsigned set = 0; set < 64; set++) {
        uint64_t f = OTHER_FLAGS;
        for (unsigned i = 0; i < 6; i++)
            if (set & (1u << i))
                f |= bits[i];
        for (unsigned cc = 0; cc < 16; cc++) {
            if (alu_cond(cc, f) != ref_cond(cc, f))
                fail_msg("cc %#x flags %#" PRIx64, cc, f);
            assert_int_equal(alu_cond(cc + 0x70, f), alu_cond(cc, f));
        }
    }
}

static void test_helpers(void **state)
{
    (void)state;
    for (unsigned v = 0; v < 0x200; v++) {
        assert_int_equal(alu_parity(v), ones(v & 0xff) % 2 == 0);
        assert_int_equal(alu_pf_bits[v & 0xff], ones(v & 0xff) % 2 ? 0 : PF);
    }
    for (unsigned bits = 8; bits <= 64; bits *= 2)
        for (unsigned at = 1; at < 64; at++) {
            uint64_t top = 1ull << (bits - 1);
            assert_true(alu_top_to(top, bits, at) == 1ull << at);
            assert_true(alu_top_to(~top, bits, at) == 0);
        }
    assert_int_equal(alu_mask(1), 0xff);
    assert_int_equal(alu_mask(2), 0xffff);
    assert_int_equal(alu_mask(4), 0xffffffffu);
    assert_true(alu_mask(8) == ~0ull);
    assert_true(alu_sext(1, 0x1280) == 0xffffffffffffff80ull);
    assert_true(alu_sext(2, 0x7fff) == 0x7fff);
    assert_true(alu_sext(4, 0xffffffff80000000ull) == 0xffffffff80000000ull);
    assert_true(alu_sext(4, 0x123456789ull) == 0x23456789);
    assert_true(alu_sext(8, 0x8000000000000000ull) == 0x8000000000000000ull);
    assert_int_equal(alu_zext(2, 0x123456), 0x3456);
    /* BSWAP r16 is undefined; both vendors' hardware write 0 */
    assert_int_equal(alu_bswap(2, 0x1234), 0);
}

/* Sizes outside 1/2/4/8 compute as 8 and never hit undefined behaviour. */
static void test_odd_sizes(void **state)
{
    (void)state;
    static const unsigned sizes[] = { 0, 3, 5, 16, 1000 };
    const alu_policy *p = alu_policy_get(SVMX_VENDOR_AMD);
    for (unsigned k = 0; k < COUNT_OF(sizes); k++) {
        unsigned s = sizes[k];
        uint64_t f = 0, f8 = 0, hi, q, r;
        assert_true(alu_arith(p, ALU_ADD, s, ~0ull, 1, &f) ==
                    alu_arith(p, ALU_ADD, 8, ~0ull, 1, &f8));
        assert_true(f == f8);
        for (unsigned c = 0; c < 70; c++) {
            f = f8 = CF;
            assert_true(alu_shift(p, ALU_RCR, s, 0x8001, c, &f) ==
                        alu_shift(p, ALU_RCR, 8, 0x8001, c, &f8));
            assert_true(f == f8);
            (void)alu_shd(p, ALU_SHLD, s, 0x8001, 0x1234, c, &f);
        }
        (void)alu_mul(p, ALU_IMUL1, s, ~0ull, 3, &hi, &f);
        assert_true(hi == ~0ull);
        assert_true(alu_div(p, ALU_IDIV, s, ~0ull, 0x8000000000000000ull,
                            ~0ull, &q, &r, &f));
        (void)alu_bt(p, ALU_BTC, s, 0, 200, &f);
        (void)alu_scan(p, ALU_LZCNT, s, 0, 1, &f);
        assert_true(alu_cwd(s, 0x8000000000000000ull) == ~0ull);
        assert_true(alu_cbw(s, 0x80000000u) == 0xffffffff80000000ull);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amd_vectors),
        cmocka_unit_test(test_manual_vectors),
        cmocka_unit_test(test_intel_policy),
        cmocka_unit_test(test_policy_and_names),
        cmocka_unit_test(test_arith8_exhaustive),
        cmocka_unit_test(test_arith_wide_reference),
        cmocka_unit_test(test_muldiv8),
        cmocka_unit_test(test_shift_reference),
        cmocka_unit_test(test_cond),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_odd_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
