/*
 * tests/gen/gen_alu.c - runs the integer ALU instructions on the host CPU
 * and prints what it did as X-macro rows for tests/vectors/alu_amd.inc.
 *
 *   gen_alu > tests/vectors/alu_amd.inc     the checked-in vectors
 *   gen_alu --raw N                         N cases per op and size, one
 *                                           CSV line each, for studying
 *                                           undefined flags (not kept)
 *
 * Built by meson only on request (build_by_default: false) and never run
 * by the tests: its output depends on the host CPU, so the rows are
 * generated once on an AMD machine (docs/flags.md names the CPU) and
 * checked in. Needs an x86-64 host with LZCNT, BMI1 (TZCNT) and POPCNT.
 *
 * Each case loads RAX, RDX, RCX and one more register, sets the six
 * arithmetic flags with POPFQ, runs one instruction and reads the
 * registers and flags back with PUSHFQ. A divide error is caught as
 * SIGFPE and reported as a DE row. The operand set is a fixed list of
 * boundary values per size (0, 1, the sign boundary, all ones, carries
 * out of every nibble and byte) crossed with a seeded pseudo-random
 * sample, so a rerun on the same CPU prints the same file.
 *
 * Row layout (see tests/test_alu.c):
 *   ALU(op, size, a, b, c, flags_in, r0, r1, flags_out, flags_mask)
 *   DE(op, size, a, b, c, flags_in)
 * a, b, c and r0, r1 mean per op what alu_row() in the test says; the
 * mask is the flags the row checks (all six unless the host's value of an
 * undefined flag is not modelled, see UNMODELLED below).
 */
#define _POSIX_C_SOURCE 200809L /* sigaction, sigsetjmp */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__x86_64__) || !defined(__GNUC__)
#error "gen_alu runs the instructions on the host: it needs GCC or clang on x86-64"
#endif

/* RFLAGS arithmetic bits (SDM Vol. 1 3.4.3.1). */
#define F_CF 0x001u
#define F_PF 0x004u
#define F_AF 0x010u
#define F_ZF 0x040u
#define F_SF 0x080u
#define F_OF 0x800u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

typedef struct regs {
    uint64_t a, d, c, s, f;
} regs;

typedef void probe_fn(regs *r);

/*
 * The red zone below RSP may hold the compiler's locals, so step over it
 * before PUSHFQ/POPFQ. Operands are registers only, never RSP-relative.
 */
#define PRE  "lea -128(%%rsp), %%rsp\n\tpushq %[f]\n\tpopfq\n\t"
#define POST "\n\tpushfq\n\tpopq %[f]\n\tlea 128(%%rsp), %%rsp"

#define PROBE(name, insn)                                                     \
    static void name(regs *r)                                                 \
    {                                                                         \
        uint64_t a = r->a, d = r->d, c = r->c, s = r->s, f = r->f;            \
        __asm__ volatile(PRE insn POST                                        \
                         : "+a"(a), "+d"(d), "+c"(c), [s] "+r"(s),            \
                           [f] "+r"(f)                                        \
                         :                                                    \
                         : "cc", "memory");                                   \
        r->a = a;                                                             \
        r->d = d;                                                             \
        r->c = c;                                                             \
        r->s = s;                                                             \
        r->f = f;                                                             \
    }

/* dest = RAX (AL/AX/EAX/RAX), source = the fourth register. */
#define P_RS(mn)                                                              \
    PROBE(p_##mn##_1, #mn "b %b[s], %%al")                                    \
    PROBE(p_##mn##_2, #mn "w %w[s], %%ax")                                    \
    PROBE(p_##mn##_4, #mn "l %k[s], %%eax")                                   \
    PROBE(p_##mn##_8, #mn "q %q[s], %%rax")
#define P_RS3(mn) /* no 8-bit form */                                         \
    PROBE(p_##mn##_2, #mn "w %w[s], %%ax")                                    \
    PROBE(p_##mn##_4, #mn "l %k[s], %%eax")                                   \
    PROBE(p_##mn##_8, #mn "q %q[s], %%rax")
#define P_R(mn) /* one operand: RAX, or the source for MUL/DIV */             \
    PROBE(p_##mn##_1, #mn "b %%al")                                           \
    PROBE(p_##mn##_2, #mn "w %%ax")                                           \
    PROBE(p_##mn##_4, #mn "l %%eax")                                          \
    PROBE(p_##mn##_8, #mn "q %%rax")
#define P_S(mn) /* MUL/DIV family: implicit rAX/rDX, explicit source */      \
    PROBE(p_##mn##_1, #mn "b %b[s]")                                          \
    PROBE(p_##mn##_2, #mn "w %w[s]")                                          \
    PROBE(p_##mn##_4, #mn "l %k[s]")                                          \
    PROBE(p_##mn##_8, #mn "q %q[s]")
#define P_CL(mn) /* shifts and rotates by CL */                               \
    PROBE(p_##mn##_1, #mn "b %%cl, %%al")                                     \
    PROBE(p_##mn##_2, #mn "w %%cl, %%ax")                                     \
    PROBE(p_##mn##_4, #mn "l %%cl, %%eax")                                    \
    PROBE(p_##mn##_8, #mn "q %%cl, %%rax")
#define P_SHD(mn)                                                             \
    PROBE(p_##mn##_2, #mn "w %%cl, %w[s], %%ax")                              \
    PROBE(p_##mn##_4, #mn "l %%cl, %k[s], %%eax")                             \
    PROBE(p_##mn##_8, #mn "q %%cl, %q[s], %%rax")

P_RS(add) P_RS(or) P_RS(adc) P_RS(sbb) P_RS(and) P_RS(sub) P_RS(xor)
P_RS(cmp) P_RS(test) P_RS(xadd)
P_R(inc) P_R(dec) P_R(neg) P_R(not)
P_CL(rol) P_CL(ror) P_CL(rcl) P_CL(rcr) P_CL(shl) P_CL(shr) P_CL(sar)
P_SHD(shld) P_SHD(shrd)
P_S(mul) P_S(div) P_S(idiv)
P_RS3(imul) P_RS3(bt) P_RS3(bts) P_RS3(btr) P_RS3(btc)
P_RS3(bsf) P_RS3(bsr) P_RS3(lzcnt) P_RS3(tzcnt) P_RS3(popcnt)

/* SAL: the /6 encoding of group 2 (D2 /6, D3 /6), which GAS never emits. */
PROBE(p_sal_1, ".byte 0xd2, 0xf0")             /* sal al, cl  */
PROBE(p_sal_2, ".byte 0x66, 0xd3, 0xf0")       /* sal ax, cl  */
PROBE(p_sal_4, ".byte 0xd3, 0xf0")             /* sal eax, cl */
PROBE(p_sal_8, ".byte 0x48, 0xd3, 0xf0")       /* sal rax, cl */
/* BSWAP r16 (66 0F C8): undefined in both manuals, so spelled as bytes. */
PROBE(p_bswap_2, ".byte 0x66, 0x0f, 0xc8")
PROBE(p_bswap_4, "bswapl %%eax")
PROBE(p_bswap_8, "bswapq %%rax")
/* CMPXCHG: accumulator rAX, destination rDX, source the fourth register. */
PROBE(p_cmpxchg_1, "cmpxchgb %b[s], %%dl")
PROBE(p_cmpxchg_2, "cmpxchgw %w[s], %%dx")
PROBE(p_cmpxchg_4, "cmpxchgl %k[s], %%edx")
PROBE(p_cmpxchg_8, "cmpxchgq %q[s], %%rdx")
PROBE(p_cbw_2, "cbtw")
PROBE(p_cbw_4, "cwtl")
PROBE(p_cbw_8, "cltq")
PROBE(p_cwd_2, "cwtd")
PROBE(p_cwd_4, "cltd")
PROBE(p_cwd_8, "cqto")

/* How the row's a, b, c, r0, r1 map onto the host registers. */
typedef enum shape {
    SH_BIN,     /* a=RAX (dest) b=src; r0=dest, r1=src after (XADD)     */
    SH_UN,      /* a=RAX; r0                                           */
    SH_SHIFT,   /* a=RAX b=CL; r0                                      */
    SH_SHD,     /* a=RAX b=src c=CL; r0                                */
    SH_MUL,     /* a=rAX b=src; r0=low r1=high (AH for size 1)         */
    SH_DIV,     /* a=low dividend c=high dividend b=divisor; r0=q r1=r */
    SH_SCAN,    /* a=RAX (old dest) b=src; r0                          */
    SH_BT,      /* a=RAX b=bit offset; r0                              */
    SH_CMPXCHG, /* a=rDX (dest) b=src c=rAX (accumulator); r0=dest r1=acc */
    SH_CONV,    /* a=rAX; r0 = rAX after (CBW) or rDX after (CWD)      */
} shape;

typedef struct op_desc {
    const char *name;      /* the alu_op name, ALU_<name> */
    shape       shape;
    probe_fn   *fn[9];     /* by size; NULL where there is no form */
    unsigned    rows;      /* rows per size in the checked-in file */
} op_desc;

#define SIZES4(mn) { [1] = p_##mn##_1, [2] = p_##mn##_2, [4] = p_##mn##_4, [8] = p_##mn##_8 }
#define SIZES3(mn) { [2] = p_##mn##_2, [4] = p_##mn##_4, [8] = p_##mn##_8 }

/* One-operand IMUL; P_RS3(imul) above is the two-operand form. */
PROBE(p_imul1_1, "imulb %b[s]")
PROBE(p_imul1_2, "imulw %w[s]")
PROBE(p_imul1_4, "imull %k[s]")
PROBE(p_imul1_8, "imulq %q[s]")

static const op_desc ops[] = {
    { "ADD",     SH_BIN,     SIZES4(add),     16 },
    { "OR",      SH_BIN,     SIZES4(or),      10 },
    { "ADC",     SH_BIN,     SIZES4(adc),     16 },
    { "SBB",     SH_BIN,     SIZES4(sbb),     16 },
    { "AND",     SH_BIN,     SIZES4(and),     10 },
    { "SUB",     SH_BIN,     SIZES4(sub),     16 },
    { "XOR",     SH_BIN,     SIZES4(xor),     10 },
    { "CMP",     SH_BIN,     SIZES4(cmp),     16 },
    { "TEST",    SH_BIN,     SIZES4(test),    10 },
    { "INC",     SH_UN,      SIZES4(inc),     10 },
    { "DEC",     SH_UN,      SIZES4(dec),     10 },
    { "NEG",     SH_UN,      SIZES4(neg),     10 },
    { "NOT",     SH_UN,      SIZES4(not),      6 },
    { "ROL",     SH_SHIFT,   SIZES4(rol),     20 },
    { "ROR",     SH_SHIFT,   SIZES4(ror),     20 },
    { "RCL",     SH_SHIFT,   SIZES4(rcl),     24 },
    { "RCR",     SH_SHIFT,   SIZES4(rcr),     24 },
    { "SHL",     SH_SHIFT,   SIZES4(shl),     20 },
    { "SHR",     SH_SHIFT,   SIZES4(shr),     20 },
    { "SAL",     SH_SHIFT,   SIZES4(sal),     10 },
    { "SAR",     SH_SHIFT,   SIZES4(sar),     20 },
    { "SHLD",    SH_SHD,     SIZES3(shld),    24 },
    { "SHRD",    SH_SHD,     SIZES3(shrd),    24 },
    { "MUL",     SH_MUL,     SIZES4(mul),     16 },
    { "IMUL1",   SH_MUL,     SIZES4(imul1),   16 },
    { "IMUL2",   SH_BIN,     SIZES3(imul),    16 },
    { "DIV",     SH_DIV,     SIZES4(div),     16 },
    { "IDIV",    SH_DIV,     SIZES4(idiv),    16 },
    { "BT",      SH_BT,      SIZES3(bt),      10 },
    { "BTS",     SH_BT,      SIZES3(bts),     10 },
    { "BTR",     SH_BT,      SIZES3(btr),     10 },
    { "BTC",     SH_BT,      SIZES3(btc),     10 },
    { "BSF",     SH_SCAN,    SIZES3(bsf),     12 },
    { "BSR",     SH_SCAN,    SIZES3(bsr),     12 },
    { "LZCNT",   SH_SCAN,    SIZES3(lzcnt),   12 },
    { "TZCNT",   SH_SCAN,    SIZES3(tzcnt),   12 },
    { "POPCNT",  SH_SCAN,    SIZES3(popcnt),  12 },
    { "BSWAP",   SH_UN,      SIZES3(bswap),    6 },
    { "XADD",    SH_BIN,     SIZES4(xadd),    10 },
    { "CMPXCHG", SH_CMPXCHG, SIZES4(cmpxchg), 10 },
    { "CBW",     SH_CONV,    SIZES3(cbw),      6 },
    { "CWD",     SH_CONV,    SIZES3(cwd),      6 },
};

/*
 * Undefined flags whose host value is not a function the model
 * reproduces: left out of the row's mask, with the reason. Empty when
 * every undefined flag the host produced is modelled (docs/flags.md).
 */
typedef struct unmodelled {
    const char *op;
    unsigned    flags;
} unmodelled;

static const unmodelled UNMODELLED[] = {
    { NULL, 0 },
};

static unsigned row_mask(const char *op)
{
    unsigned mask = F_ARITH;
    for (size_t i = 0; UNMODELLED[i].op; i++)
        if (strcmp(UNMODELLED[i].op, op) == 0)
            mask &= ~UNMODELLED[i].flags;
    return mask;
}

/* ---- operands ---------------------------------------------------------- */

static uint64_t rng_state = 0x5eed0a1u;

/* splitmix64: small, seeded, the same sequence everywhere. */
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t size_mask(unsigned size)
{
    return size == 8 ? ~(uint64_t)0 : ((uint64_t)1 << (size * 8)) - 1;
}

/* Boundary values of one size: the carries, the sign bit, all ones. */
static uint64_t special(unsigned size, unsigned i)
{
    uint64_t m = size_mask(size), sign = (m >> 1) + 1;
    static const uint64_t fixed[] = {
        0, 1, 2, 0xf, 0x10, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000,
        0xffff, 0x7fffffff, 0x80000000u, 0xffffffffu,
        0x5555555555555555u, 0xaaaaaaaaaaaaaaaau, 0x0f0f0f0f0f0f0f0fu,
    };
    switch (i % 24) {
    case 18: return sign;
    case 19: return sign - 1;
    case 20: return sign + 1;
    case 21: return m;
    case 22: return m - 1;
    case 23: return m ^ 0xf; /* a low-nibble carry that ripples to the top */
    default: return fixed[i % 24] & m;
    }
}

/* A value of one size: half boundary values, half random of random width. */
static uint64_t operand(unsigned size)
{
    uint64_t m = size_mask(size), r = rnd();
    if (r & 1)
        return special(size, (unsigned)(r >> 8) % 24);
    unsigned width = 1 + (unsigned)((r >> 8) % (size * 8));
    uint64_t v = rnd() & (width == 64 ? ~(uint64_t)0 : ((uint64_t)1 << width) - 1);
    if (r & 2) /* negative as often as positive */
        v = ~v;
    return v & m;
}

/* A shift or rotate count in CL: every boundary, then random bytes. */
static uint64_t count_for(unsigned size, unsigned i)
{
    unsigned bits = size * 8;
    const unsigned fixed[] = { 0, 1, 2, bits - 1, bits, bits + 1,
                               bits * 2 - 1, 9, 17, 31, 32, 33, 63, 64, 65,
                               0xff };
    if (i < sizeof fixed / sizeof fixed[0])
        return fixed[i];
    uint64_t r = rnd();
    return (r & 1) ? (r >> 8) % (bits + 2) : (r >> 8) & 0xff;
}

/* Flags in: a random subset of the six; the rest of RFLAGS is the host's. */
static uint64_t flags_base;

static uint64_t flags_in(void)
{
    static const unsigned bit[6] = { F_CF, F_PF, F_AF, F_ZF, F_SF, F_OF };
    uint64_t r = rnd(), f = 0;
    for (unsigned i = 0; i < 6; i++)
        if (r & (1u << i))
            f |= bit[i];
    return f;
}

/* ---- running one case -------------------------------------------------- */

static sigjmp_buf de_jump;

static void on_sigfpe(int sig)
{
    (void)sig;
    siglongjmp(de_jump, 1);
}

/* 1 if the probe raised #DE (SIGFPE), else 0. Nothing live across the jump. */
static int run_probe(probe_fn *fn, regs *r)
{
    if (sigsetjmp(de_jump, 1) != 0)
        return 1;
    fn(r);
    return 0;
}

typedef struct result {
    uint64_t a, b, c, fin; /* the row's inputs */
    uint64_t r0, r1, fout;
    int      de;
} result;

/* Loads the registers for the shape, runs the probe, reads the results. */
static void run_case(const op_desc *op, unsigned size, result *res)
{
    uint64_t m = size_mask(size);
    regs r = { rnd(), rnd(), rnd(), rnd(), flags_base | res->fin };
    uint64_t a = res->a, b = res->b, c = res->c;

    switch (op->shape) {
    case SH_BIN:
    case SH_SCAN:
    case SH_BT:
        r.a = (r.a & ~m) | a;
        r.s = (r.s & ~m) | b;
        break;
    case SH_UN:
    case SH_CONV:
        r.a = (r.a & ~m) | a;
        break;
    case SH_SHIFT:
        r.a = (r.a & ~m) | a;
        r.c = (r.c & ~(uint64_t)0xff) | (b & 0xff);
        break;
    case SH_SHD:
        r.a = (r.a & ~m) | a;
        r.s = (r.s & ~m) | b;
        r.c = (r.c & ~(uint64_t)0xff) | (c & 0xff);
        break;
    case SH_MUL:
        r.a = (r.a & ~m) | a;
        r.s = (r.s & ~m) | b;
        break;
    case SH_DIV:
        if (size == 1) { /* AX = AH:AL */
            r.a = (r.a & ~(uint64_t)0xffff) | a | c << 8;
        } else {
            r.a = (r.a & ~m) | a;
            r.d = (r.d & ~m) | c;
        }
        r.s = (r.s & ~m) | b;
        break;
    case SH_CMPXCHG:
        r.d = (r.d & ~m) | a;
        r.s = (r.s & ~m) | b;
        r.a = (r.a & ~m) | c;
        break;
    }

    res->de = run_probe(op->fn[size], &r);
    if (res->de) {
        res->r0 = res->r1 = res->fout = 0;
        return;
    }

    res->fout = r.f & F_ARITH;
    res->r1 = 0;
    switch (op->shape) {
    case SH_BIN:
        res->r0 = r.a & m;
        res->r1 = strcmp(op->name, "XADD") == 0 ? r.s & m : 0;
        break;
    case SH_MUL:
    case SH_DIV:
        if (size == 1) {
            res->r0 = r.a & 0xff;
            res->r1 = (r.a >> 8) & 0xff;
        } else {
            res->r0 = r.a & m;
            res->r1 = r.d & m;
        }
        break;
    case SH_CMPXCHG:
        res->r0 = r.d & m;
        res->r1 = r.a & m;
        break;
    case SH_CONV:
        res->r0 = strcmp(op->name, "CWD") == 0 ? r.d & m : r.a & m;
        break;
    default:
        res->r0 = r.a & m;
        break;
    }
}

/* The inputs of case i of an op and size: boundary-heavy, then random. */
static void make_inputs(const op_desc *op, unsigned size, unsigned i,
                        result *res)
{
    uint64_t m = size_mask(size);
    res->fin = flags_in();
    res->a = operand(size);
    res->b = operand(size);
    res->c = 0;
    switch (op->shape) {
    case SH_SHIFT:
        res->b = count_for(size, i);
        break;
    case SH_SHD:
        res->c = count_for(size, i);
        break;
    case SH_BT: /* offsets past the operand size show the masking */
        res->b = (i & 1) ? rnd() & m : rnd() % (size * 8);
        break;
    case SH_SCAN: /* zero sources, single bits and sparse values */
        if (i % 4 == 0)
            res->b = 0;
        else if (i % 4 == 1)
            res->b = (uint64_t)1 << (rnd() % (size * 8));
        break;
    case SH_DIV: {
        /* Mostly quotients that fit; every fourth divides by zero or overflows. */
        res->b = (i % 8 == 0) ? 0 : res->b;
        if (strcmp(op->name, "IDIV") == 0 && i % 8 == 4) {
            res->c = m;                       /* dividend = INT_MIN (sign-extended) */
            res->a = ((m >> 1) + 1);
            if (size == 1) {                  /* AX = 0x8000 */
                res->c = 0x80;
                res->a = 0;
            }
            res->b = m;                       /* / -1 */
        } else if (i % 8 == 2) {
            res->c = res->b == 0 ? 1 : res->b; /* high >= divisor: overflow */
        } else if (i % 4 != 0) {
            uint64_t d = res->b ? res->b : 1;
            res->c = rnd() % d;               /* unsigned: fits */
            if (strcmp(op->name, "IDIV") == 0) /* signed: sign-extend a */
                res->c = (res->a >> (size * 8 - 1)) & 1 ? m : 0;
        }
        break;
    }
    case SH_CMPXCHG:
        res->c = (i & 1) ? res->a : operand(size); /* equal half the time */
        break;
    default:
        break;
    }
}

static void print_row(const op_desc *op, unsigned size, const result *r)
{
    if (r->de) {
        printf("DE(%s, %u, 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64
               ", 0x%03" PRIx64 ")\n",
               op->name, size, r->a, r->b, r->c, r->fin);
        return;
    }
    printf("ALU(%s, %u, 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64
           ", 0x%03" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%03" PRIx64
           ", 0x%03x)\n",
           op->name, size, r->a, r->b, r->c, r->fin, r->r0, r->r1, r->fout,
           row_mask(op->name));
}

static void print_raw(const op_desc *op, unsigned size, const result *r)
{
    printf("%s,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
           ",%" PRIu64 ",%" PRIu64 ",%d\n",
           op->name, size, r->a, r->b, r->c, r->fin, r->r0, r->r1, r->fout,
           r->de);
}

int main(int argc, char **argv)
{
    unsigned raw = 0;
    if (argc == 3 && strcmp(argv[1], "--raw") == 0) {
        raw = (unsigned)strtoul(argv[2], NULL, 0);
    } else if (argc != 1) {
        fprintf(stderr, "usage: gen_alu [--raw CASES]\n");
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigfpe;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGFPE, &sa, NULL) != 0) {
        perror("sigaction");
        return 1;
    }

    /* The host's RFLAGS less the arithmetic bits: IF, bit 1, DF = 0. */
    __asm__ volatile("pushfq\n\tpopq %0" : "=r"(flags_base));
    flags_base &= ~(uint64_t)F_ARITH & ~(uint64_t)0x400 /* DF */ &
                  ~(uint64_t)0x40100 /* AC, TF */;

    if (!raw) {
        printf("/*\n"
               " * tests/vectors/alu_amd.inc - generated by tests/gen/gen_alu.c on an\n"
               " * AMD host; do not edit. Regenerate with\n"
               " *   meson compile -C build gen_alu && build/tests/gen/gen_alu \\\n"
               " *       > tests/vectors/alu_amd.inc\n"
               " *   ALU(op, size, a, b, c, flags_in, r0, r1, flags_out, mask)\n"
               " *   DE(op, size, a, b, c, flags_in): the instruction raised #DE\n"
               " * Operands per op: see alu_row() in tests/test_alu.c.\n"
               " */\n");
    }
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        const op_desc *op = &ops[k];
        for (unsigned size = 1; size <= 8; size *= 2) {
            if (!op->fn[size])
                continue;
            unsigned n = raw ? raw : op->rows;
            for (unsigned i = 0; i < n; i++) {
                result r;
                make_inputs(op, size, i, &r);
                run_case(op, size, &r);
                if (raw)
                    print_raw(op, size, &r);
                else
                    print_row(op, size, &r);
            }
        }
    }
    return 0;
}
