/*
 * tests/test_exec_fast.c - the fast loop's handlers for the group-1 ALU
 * instructions and MOV with a memory operand (src/cpu/exec_fast.c: ADD
 * OR ADC SBB AND SUB XOR CMP TEST MOV as op mem, reg; op mem, imm; op
 * reg, mem in 64-bit mode at an address size of 8) against the general
 * handlers they stand for (insn_binop, insn_mov), JMP rel against
 * insn_jmp, and the general handlers the fast loop runs without an end
 * of the hostmap's epoch around them.
 *
 * Every case is one program, run three times on a fresh machine each:
 *
 *       mov ecx, 2
 *   L:  <the instruction>      ; base register: base1, then base2
 *       pushfq                 ; the flags it left, kept on the stack
 *       mov <base>, r12        ; r12 = base2
 *       dec ecx
 *       jnz L
 *       hlt
 *
 *   - the reference: an instruction breakpoint armed in DR7 at an
 *     address nothing runs keeps the CPU out of the fast loop, so every
 *     instruction takes the per-instruction path and its general handler;
 *   - svmx_cpu_run with a budget > 1: the first round is cold (nothing
 *     decoded yet: the general handlers), the second runs in the fast
 *     loop with the handler exec_fast_pick() chose and the hostmap warm;
 *   - svmx_cpu_step, one instruction at a time: the second round's
 *     instruction runs in the fast loop with a budget of 1.
 * Registers, flags, CR2, all of RAM (the pushed flags and any exception
 * frame included) and the stop must agree. With base2 != base1 the
 * second round reaches another page: not present, read-only, across a
 * page end, or a non-canonical address, so the fast handler meets the
 * fault itself. The handlers are checked white-box too: each form the
 * cases run must get a handler of its own from exec_fast_pick(), and
 * the rest their class's general handler as it is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>

#include "exec_fixture.h"
#include "cpu/exec_fast.h"

#define CODE    0x7c00u  /* the fixture's code address                   */
#define LOOP    0x7c05u  /* L: the instruction under test                */
#define DATA    0x5000u  /* the cases' memory: two pages of pattern       */
#define HANDLER 0x9000u  /* vector v is handled by a HLT at HANDLER + v  */

/* Linear pages of the page table map_pages() adds at 2 MiB. */
#define TEST_RO   0x200000u /* DATA, read-only                            */
#define TEST_RW   0x201000u /* DATA, read/write                           */
#define TEST_NP   0x202000u /* not present                                */
#define TEST_CODE 0x203000u /* the code page 0x7000, read/write           */

#define NONCANON 0x0000800000000000ull

enum { REF, RUN, STEP, WAYS };
static const char *const way_names[WAYS] = { "reference", "run", "step" };

/* ---- the machine ------------------------------------------------------- */

/*
 * 64-bit gates to a HLT at HANDLER + v; a page table for the test pages;
 * the accessed and dirty bits already set in every entry a walk uses,
 * so that no way of running sets one the others do not (a translation
 * the TLB still holds sets nothing); CR0.WP = 1, so supervisor writes
 * honour R/W (SDM Vol. 3A 4.6).
 */
static void map_pages(void)
{
    for (unsigned v = 0; v < 32; v++) {
        uint32_t off = HANDLER + v;
        m.ram[off] = 0xf4;
        put64(IDT + 16 * v, (off & 0xffff) | 0x18ull << 16 | 0x8eull << 40 |
                                (uint64_t)(off >> 16) << 48);
        put64(IDT + 16 * v + 8, 0);
    }
    put64(0x10000, 0x11000 | 0x27);       /* P RW U A */
    put64(0x11000, 0x12000 | 0x27);
    put64(0x12000, 0xe7);                 /* 2 MiB page, A D */
    put64(0x12000 + 8, 0x13000 | 0x27);   /* PD[1] -> page table */
    put64(0x13000 + 0, DATA | 0x65);      /* P U A D, read-only */
    put64(0x13000 + 8, DATA | 0x67);      /* P RW U A D */
    put64(0x13000 + 16, 0);               /* not present */
    put64(0x13000 + 24, 0x7000 | 0x67);   /* the code page again */
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    s.cr0 |= 1u << 16;
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
}

/* An instruction breakpoint (R/W = 00) at an address nothing runs: the
 * CPU is never quiet, so the fast loop never runs (exec.c). */
static void arm_unused_breakpoint(void)
{
    svmx_dregs d;
    svmx_cpu_get_dregs(m.cpu, &d);
    d.dr[0] = 0xdead0;
    d.dr7 = 0x401; /* L0; bit 10 reads as 1 */
    assert_int_equal(svmx_cpu_set_dregs(m.cpu, &d), SVMX_OK);
}

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* ---- one case ------------------------------------------------------------ */

typedef struct tcase {
    char     what[96];
    uint8_t  insn[16];
    unsigned len;
    unsigned base;          /* SVMX_RBX or SVMX_RBP                       */
    uint64_t base1, base2;  /* the base register in the two rounds        */
    uint64_t rax, rdx, rsi;
    uint64_t flags;         /* the six arithmetic flags before            */
    uint64_t fs_base;
    uint64_t seed;          /* of the pattern in DATA                     */
} tcase;

typedef struct outcome {
    svmx_stop st;
    svmx_regs r;
    uint64_t  cr2;
    uint8_t   ram[RAM_SIZE];
} outcome;

static outcome outs[WAYS];

static void boot_case(const tcase *c)
{
    uint8_t code[48];
    unsigned n = 0;
    const uint8_t pre[] = { 0xb9, 0x02, 0x00, 0x00, 0x00 };      /* mov ecx, 2 */
    memcpy(code, pre, sizeof pre);
    n = sizeof pre;
    memcpy(code + n, c->insn, c->len);
    n += c->len;
    code[n++] = 0x9c;                                            /* pushfq */
    code[n++] = 0x4c;                                  /* mov base, r12 */
    code[n++] = 0x89;
    code[n++] = (uint8_t)(0xe0 | (c->base & 7));
    code[n++] = 0xff;                                            /* dec ecx */
    code[n++] = 0xc9;
    code[n++] = 0x75;                                            /* jnz L */
    code[n] = (uint8_t)(int8_t)-(int)(n + 1 - sizeof pre);
    n++;
    code[n++] = 0xf4;                                            /* hlt */
    boot_long(code, n, false);
    map_pages();
    rng_state = c->seed | 1;
    for (unsigned i = 0; i < 0x2000; i += 8)
        put64(DATA + i, rng());
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.gpr[SVMX_RAX] = c->rax;
    r.gpr[SVMX_RDX] = c->rdx;
    r.gpr[SVMX_RSI] = c->rsi;
    r.gpr[c->base] = c->base1;
    r.gpr[SVMX_R12] = c->base2;
    r.rflags = (r.rflags & ~(uint64_t)ALL) | c->flags;
    assert_int_equal(svmx_cpu_set_regs(m.cpu, &r), SVMX_OK);
    if (c->fs_base) {
        svmx_sregs s;
        svmx_cpu_get_sregs(m.cpu, &s);
        s.seg[SVMX_FS].base = c->fs_base;
        assert_int_equal(svmx_cpu_set_sregs(m.cpu, &s), SVMX_OK);
    }
}

static void run_way(const tcase *c, int way, outcome *o)
{
    boot_case(c);
    if (way == REF)
        arm_unused_breakpoint();
    if (way == STEP) {
        uint64_t insns = 0;
        for (unsigned i = 0; i < 100; i++) {
            assert_int_equal(svmx_cpu_step(m.cpu, &o->st), SVMX_OK);
            insns += o->st.insns;
            if (o->st.reason != SVMX_STOP_DEBUG)
                break;
        }
        o->st.insns = insns;
    } else {
        o->st = run(100);
    }
    svmx_sregs s;
    svmx_cpu_get_regs(m.cpu, &o->r);
    svmx_cpu_get_sregs(m.cpu, &s);
    o->cr2 = s.cr2;
    memcpy(o->ram, m.ram, RAM_SIZE);
}

static int differ(const tcase *c, int way)
{
    const outcome *a = &outs[REF], *b = &outs[way];
    const char *w = way_names[way];
    int bad = 0;
    if (a->st.reason != b->st.reason || a->st.rip != b->st.rip ||
        a->st.insns != b->st.insns) {
        print_error("%s: %s stopped %d at %#llx after %llu, reference %d at "
                    "%#llx after %llu\n", c->what, w, (int)b->st.reason,
                    (unsigned long long)b->st.rip,
                    (unsigned long long)b->st.insns, (int)a->st.reason,
                    (unsigned long long)a->st.rip,
                    (unsigned long long)a->st.insns);
        bad++;
    }
    for (unsigned g = 0; g < SVMX_GPR_COUNT; g++)
        if (a->r.gpr[g] != b->r.gpr[g]) {
            print_error("%s: %s gpr %u = %#llx, reference %#llx\n", c->what,
                        w, g, (unsigned long long)b->r.gpr[g],
                        (unsigned long long)a->r.gpr[g]);
            bad++;
        }
    if (a->r.rip != b->r.rip || a->r.rflags != b->r.rflags ||
        a->cr2 != b->cr2) {
        print_error("%s: %s rip %#llx rflags %#llx cr2 %#llx, reference "
                    "%#llx %#llx %#llx\n", c->what, w,
                    (unsigned long long)b->r.rip,
                    (unsigned long long)b->r.rflags,
                    (unsigned long long)b->cr2,
                    (unsigned long long)a->r.rip,
                    (unsigned long long)a->r.rflags,
                    (unsigned long long)a->cr2);
        bad++;
    }
    if (memcmp(a->ram, b->ram, RAM_SIZE) != 0) {
        size_t i = 0;
        while (a->ram[i] == b->ram[i])
            i++;
        print_error("%s: %s RAM[%#zx] = %#x, reference %#x\n", c->what, w, i,
                    b->ram[i], a->ram[i]);
        bad++;
    }
    return bad;
}

/* Runs the case three ways; the number of mismatches, each printed. */
static int run_case(const tcase *c)
{
    for (int way = 0; way < WAYS; way++)
        run_way(c, way, &outs[way]);
    return differ(c, RUN) + differ(c, STEP);
}

/* The exception the reference took in round two: vector (or -1 if it
 * ended at the HLT of the program), error code, frame RIP. */
static int ref_vector(void)
{
    const outcome *o = &outs[REF];
    if (o->st.reason != SVMX_STOP_HLT || o->st.rip < HANDLER + 1 ||
        o->st.rip > HANDLER + 32)
        return -1;
    return (int)(o->st.rip - HANDLER - 1);
}

static uint64_t ref_stack(unsigned slot)
{
    uint64_t sp = outs[REF].r.gpr[SVMX_RSP] + 8 * slot, v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)outs[REF].ram[sp + i] << (8 * i);
    return v;
}

/* ---- encoding -------------------------------------------------------- */

/* ADD OR ADC SBB AND SUB XOR CMP (ModRM.reg order, SDM Vol. 2D A.4),
 * then TEST, then MOV (a plain load or store: insn_mov). */
enum { OP_ADD, OP_OR, OP_ADC, OP_SBB, OP_AND, OP_SUB, OP_XOR, OP_CMP, OP_TEST,
       OP_MOV, OP_COUNT };
static const char *const op_names[OP_COUNT] = {
    "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test", "mov"
};

/* op mem, reg; op mem, imm (imm8 for bytes, else iw/id); op mem, imm8
 * sign-extended (83 /op); op reg, mem. */
enum { F_MR, F_MI, F_MI8, F_RM, F_COUNT };
static const char *const form_names[F_COUNT] = { "mem,reg", "mem,imm",
                                                  "mem,imm8", "reg,mem" };

/* The memory operand: [base + disp8], [base], [rbx + rsi*4 + disp32],
 * [rip + disp32] (at DATA + 0x180), fs:[rbx + disp8]. */
enum { A_D8, A_D0, A_SIB, A_RIP, A_FS, A_COUNT };

static bool form_exists(unsigned op, unsigned form, unsigned size)
{
    if (op == OP_TEST)
        return form == F_MR || form == F_MI;
    if (op == OP_MOV)
        return form != F_MI8;
    return !(form == F_MI8 && size == 1);
}

/*
 * Encodes op/form/size with the memory operand `am` on base register
 * `base` (rbx or rbp; A_SIB and A_FS use rbx) and the register operand
 * EDX at the size; `lock` adds F0. The instruction sits at LOOP. Returns
 * the length.
 */
static unsigned encode(uint8_t *p, unsigned op, unsigned form, unsigned size,
                       unsigned am, unsigned base, uint64_t imm, bool lock)
{
    unsigned n = 0;
    if (lock)
        p[n++] = 0xf0;
    if (am == A_FS)
        p[n++] = 0x64;
    if (size == 2)
        p[n++] = 0x66;
    if (size == 8)
        p[n++] = 0x48;
    bool wide = size != 1;
    switch (form) {
    case F_MR:
        p[n++] = op == OP_TEST  ? (wide ? 0x85 : 0x84)
                 : op == OP_MOV ? (wide ? 0x89 : 0x88)
                                : (uint8_t)(op << 3 | (wide ? 1 : 0));
        break;
    case F_RM:
        p[n++] = op == OP_MOV ? (wide ? 0x8b : 0x8a)
                              : (uint8_t)(op << 3 | (wide ? 3 : 2));
        break;
    case F_MI:
        p[n++] = op == OP_TEST  ? (wide ? 0xf7 : 0xf6)
                 : op == OP_MOV ? (wide ? 0xc7 : 0xc6)
                                : (wide ? 0x81 : 0x80);
        break;
    default:
        p[n++] = 0x83;
        break;
    }
    unsigned reg = form == F_MR || form == F_RM ? SVMX_RDX
                   : op == OP_TEST || op == OP_MOV ? 0 : op;
    unsigned modrm_at = n;
    switch (am) {
    case A_D8:
    case A_FS:
        p[n++] = (uint8_t)(0x40 | reg << 3 | (am == A_FS ? 3 : (base & 7)));
        p[n++] = 0x10;
        break;
    case A_D0:
        p[n++] = (uint8_t)(reg << 3 | (base & 7)); /* base is rbx here */
        break;
    case A_SIB:
        p[n++] = (uint8_t)(0x80 | reg << 3 | 4);
        p[n++] = 0x80 | SVMX_RSI << 3 | SVMX_RBX; /* scale 4 */
        for (int i = 0; i < 4; i++)
            p[n++] = (uint8_t)(0x20 >> (8 * i));
        break;
    default: /* A_RIP: patched below, once the length is known */
        p[n++] = (uint8_t)(reg << 3 | 5);
        n += 4;
        break;
    }
    unsigned isz = form == F_MI ? (size == 8 ? 4 : size) : form == F_MI8 ? 1 : 0;
    for (unsigned i = 0; i < isz; i++)
        p[n++] = (uint8_t)(imm >> (8 * i));
    if (am == A_RIP) {
        uint32_t disp = (uint32_t)(DATA + 0x180 - (LOOP + n));
        for (int i = 0; i < 4; i++)
            p[modrm_at + 1 + i] = (uint8_t)(disp >> (8 * i));
    }
    return n;
}

/* ---- exec_fast_pick, white-box --------------------------------------- */

/* Whether exec_fast_pick() gives the decode of `bytes` a handler of its
 * own rather than its class's general handler. */
static bool has_own_handler(svmx_mode mode, const uint8_t *bytes, size_t n)
{
    svmx_insn insn;
    size_t needed;
    assert_int_equal(svmx_decode(mode, 0, bytes, n, &insn, &needed), SVMX_OK);
    assert_int_equal(insn.fault, SVMX_DECODE_FAULT_NONE);
    assert_non_null(exec_table[insn.cls]);
    return exec_fast_pick(&insn) != exec_table[insn.cls];
}

/* ---- the tests ---------------------------------------------------------- */

/*
 * Every op, form and size with each addressing form, twice with other
 * values: the same result, flags (ADC and SBB with CF both ways) and
 * memory as the general handler, in the fast loop and stepped.
 */
static void test_forms_agree(void **state)
{
    (void)state;
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int bad = 0, cases = 0;
    for (unsigned op = 0; op < OP_COUNT; op++)
        for (unsigned form = 0; form < F_COUNT; form++)
            for (unsigned si = 0; si < 4; si++)
                for (unsigned am = 0; am < A_COUNT; am++)
                    for (unsigned k = 0; k < 2; k++) {
                        unsigned size = sizes[si];
                        if (!form_exists(op, form, size))
                            continue;
                        tcase c = { .base = SVMX_RBX };
                        rng_state = seed += 0x1234567;
                        uint64_t imm = rng();
                        if (k)
                            imm &= 0x80; /* 0 or a sign bit only */
                        c.len = encode(c.insn, op, form, size, am, SVMX_RBX,
                                       imm, false);
                        c.base1 = c.base2 = DATA + 0x100 + (rng() & 0x78);
                        c.rsi = 2;
                        c.rdx = rng();
                        c.rax = rng();
                        c.flags = rng() & ALL;
                        if (k)
                            c.flags ^= CF;
                        if (am == A_FS) {
                            c.fs_base = 0x1000;
                            c.base1 = c.base2 -= 0x1000;
                        }
                        c.seed = rng();
                        snprintf(c.what, sizeof c.what, "%s %s size %u am %u #%u",
                                 op_names[op], form_names[form], size, am, k);
                        if (!has_own_handler(SVMX_MODE_LONG64, c.insn, c.len)) {
                            print_error("%s: no handler of its own\n", c.what);
                            bad++;
                        }
                        bad += run_case(&c);
                        cases++;
                    }
    assert_true(cases > 300);
    assert_int_equal(bad, 0);
}

/* A round-two base address for the fault cases, and what the reference
 * must have raised there. ANY: an error code not checked (but the same
 * every way). */
#define ANY UINT32_MAX
typedef struct where {
    const char *what;
    uint64_t base2;         /* + 0x10 (disp8) is the operand's address   */
    unsigned size;          /* 0: every size                             */
    int vector;             /* for a read; -1: none                      */
    int write_vector;       /* for a read-modify-write                   */
    uint32_t err, write_err;
    uint64_t cr2;           /* for a #PF                                 */
} where;

/*
 * Round two reaches a page that faults: not present (the read faults:
 * CR2 the operand, W = 0 for CMP, TEST and op reg, mem; a
 * read-modify-write gives whatever insn_binop gives, which reads first
 * too); read-only (CMP, TEST and op reg, mem read it; the others #PF
 * with P | W on the write, SDM Vol. 3A 4.7, after the read, and leave
 * memory and flags as they were); an access across a page end into a
 * page not present (CR2 the first byte of that page) or from a
 * read-only page into a writable one, and one that ends at the last
 * byte before a page not present (no fault: exactly `size` bytes are
 * read and written); a non-canonical address
 * (#GP(0)) or one whose last byte is (SDM Vol. 3A 3.3.7.1, 6.15).
 */
static void test_faults_agree(void **state)
{
    (void)state;
    static const where wheres[] = {
        { "not present", TEST_NP + 0x30, 0, 14, 14, 0, ANY, TEST_NP + 0x40 },
        { "read-only", TEST_RO + 0x30, 0, -1, 14, 0, 3, TEST_RO + 0x40 },
        { "into not present", TEST_RW + 0xffc - 0x10, 8, 14, 14, 0, ANY,
          TEST_NP },
        { "read-only into writable", TEST_RO + 0xffc - 0x10, 8, -1, 14, 0, 3,
          TEST_RO + 0xffc },
        { "writable across pages", DATA + 0xffd - 0x10, 0, -1, -1, 0, 0, 0 },
        { "byte before not present", TEST_RW + 0xfff - 0x10, 1, -1, -1, 0, 0, 0 },
        { "word before not present", TEST_RW + 0xffe - 0x10, 2, -1, -1, 0, 0, 0 },
        { "dword before not present", TEST_RW + 0xffc - 0x10, 4, -1, -1, 0, 0, 0 },
        { "qword before not present", TEST_RW + 0xff8 - 0x10, 8, -1, -1, 0, 0, 0 },
        { "non-canonical", NONCANON, 0, 13, 13, 0, 0, 0 },
        { "last byte non-canonical", 0x00007ffffffffff9ull - 0x10, 8, 13, 13,
          0, 0, 0 },
        { "first byte non-canonical", 0xffff7ffffffffffcull - 0x10, 8, 13, 13,
          0, 0, 0 },
    };
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    int bad = 0;
    for (size_t w = 0; w < sizeof wheres / sizeof wheres[0]; w++)
        for (unsigned op = 0; op < OP_COUNT; op++)
            for (unsigned form = 0; form < F_COUNT; form++)
                for (unsigned si = 0; si < 4; si++) {
                    const where *x = &wheres[w];
                    unsigned size = sizes[si];
                    if (!form_exists(op, form, size) || (x->size && x->size != size))
                        continue;
                    tcase c = { .base = SVMX_RBX, .base1 = DATA + 0x200,
                                .base2 = x->base2, .rax = 0x1111, .rsi = 2,
                                .rdx = 0x8000000000000081ull, .flags = CF | ZF,
                                .seed = 7 + w };
                    c.len = encode(c.insn, op, form, size, A_D8, SVMX_RBX,
                                   0x81, false);
                    snprintf(c.what, sizeof c.what, "%s: %s %s size %u", x->what,
                             op_names[op], form_names[form], size);
                    bad += run_case(&c);
                    /* a read for writing, or MOV's plain write */
                    bool rmw = form != F_RM && op != OP_CMP && op != OP_TEST;
                    int v = rmw ? x->write_vector : x->vector;
                    if (ref_vector() != v) {
                        print_error("%s: vector %d, want %d\n", c.what,
                                    ref_vector(), v);
                        bad++;
                        continue;
                    }
                    if (v < 0)
                        continue;
                    uint64_t err = ref_stack(0), frame_rip = ref_stack(1);
                    uint32_t want = rmw ? x->write_err : x->err;
                    if ((want != ANY && err != want) || frame_rip != LOOP ||
                        (v == 14 && outs[REF].cr2 != x->cr2)) {
                        print_error("%s: error %#llx at %#llx, cr2 %#llx\n",
                                    c.what, (unsigned long long)err,
                                    (unsigned long long)frame_rip,
                                    (unsigned long long)outs[REF].cr2);
                        bad++;
                    }
                }
    assert_int_equal(bad, 0);
}

/* SS-relative operands ([rbp + disp8]) that are not canonical raise
 * #SS(0) instead (SDM Vol. 3A 6.15 "Stack Fault Exception"); FS-relative
 * ones add the FS base before the check. */
static void test_stack_and_fs_faults_agree(void **state)
{
    (void)state;
    int bad = 0;
    for (unsigned form = 0; form < F_COUNT; form++)
        for (unsigned op = 0; op < OP_COUNT; op++) {
            if (!form_exists(op, form, 4))
                continue;
            tcase c = { .base = SVMX_RBP, .base1 = DATA + 0x300,
                        .base2 = NONCANON, .rdx = 5, .flags = 0, .seed = 3 };
            c.len = encode(c.insn, op, form, 4, A_D8, SVMX_RBP, 0x7f, false);
            snprintf(c.what, sizeof c.what, "ss: %s %s", op_names[op],
                     form_names[form]);
            bad += run_case(&c);
            if (ref_vector() != 12 || ref_stack(0) != 0) {
                print_error("%s: vector %d error %#llx, want #SS(0)\n", c.what,
                            ref_vector(), (unsigned long long)ref_stack(0));
                bad++;
            }
            /* fs:[rbx + 0x10]: the base makes round two non-canonical */
            tcase d = { .base = SVMX_RBX, .base1 = (uint64_t)DATA + 0x300 - 0x7000,
                        .base2 = NONCANON - 0x7000, .rdx = 5, .seed = 4,
                        .fs_base = 0x7000 };
            d.len = encode(d.insn, op, form, 4, A_FS, SVMX_RBX, 0x7f, false);
            snprintf(d.what, sizeof d.what, "fs: %s %s", op_names[op],
                     form_names[form]);
            bad += run_case(&d);
            if (ref_vector() != 13) {
                print_error("%s: vector %d, want #GP\n", d.what, ref_vector());
                bad++;
            }
        }
    assert_int_equal(bad, 0);
}

/*
 * Forms left to the general handler: LOCK (kept for insn_binop), a byte
 * register AH..BH, a 32-bit address size. They agree too.
 */
static void test_general_forms_agree(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t b[12];
        unsigned len;
    } rows[] = {
        { "lock add [rbx+0x10], edx", { 0xf0, 0x01, 0x53, 0x10 }, 4 },
        { "lock sub qword [rbx+0x10], 0x81",
          { 0xf0, 0x48, 0x81, 0x6b, 0x10, 0x81, 0, 0, 0 }, 9 },
        { "add [rbx+0x10], dh", { 0x00, 0x73, 0x10 }, 3 },
        { "cmp dh, [rbx+0x10]", { 0x3a, 0x73, 0x10 }, 3 },
        { "add [ebx+0x10], edx", { 0x67, 0x01, 0x53, 0x10 }, 4 },
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        tcase c = { .base = SVMX_RBX, .base1 = DATA + 0x400, .rdx = 0x1234,
                    .flags = CF, .seed = 11 + i };
        c.base2 = rows[i].len == 3 ? TEST_RO : DATA + 0x480;
        memcpy(c.insn, rows[i].b, rows[i].len);
        c.len = rows[i].len;
        snprintf(c.what, sizeof c.what, "%s", rows[i].what);
        if (has_own_handler(SVMX_MODE_LONG64, c.insn, c.len)) {
            print_error("%s: not the general handler\n", c.what);
            bad++;
        }
        bad += run_case(&c);
    }
    assert_int_equal(bad, 0);
}

/* Runs the machine booted already one of the three ways. */
static svmx_stop run_booted(int way)
{
    svmx_stop st;
    if (way == REF)
        arm_unused_breakpoint();
    if (way != STEP)
        return run(1000);
    do
        assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
    while (st.reason == SVMX_STOP_DEBUG);
    return st;
}

/*
 * Self-modifying code through the new forms (SDM Vol. 3A 11.6: a write
 * to a code byte takes effect for the instructions fetched after it).
 * The writer, in a loop of four rounds, is a read-modify-write of
 * [r13]: a data byte in rounds 1-3, so that the fast loop runs the ADD
 * R9D after it unchanged and makes its hints to it, and in round 4 the
 * ADD's immediate, 1, which becomes 5 (2 for INC): R9D = 1 + 1 + 1 + 5
 * only if round 4 runs the new byte. The code page is reached as itself
 * and as TEST_CODE, a second linear address of it. INC mem and the LOCK
 * form run their general handlers, with no end of the epoch around them
 * (exec_fast.c): their write takes the slow path too, as no write entry
 * maps a code page (hostmap.h).
 */
static void test_self_modifying_rmw(void **state)
{
    (void)state;
    /*
     * 7c00 mov r8d, 4             41 b8 04 00 00 00
     * 7c06 mov edx, 4             ba 04 00 00 00
     * 7c0b mov r10, [r14]         4d 8b 16     (r14: the immediate)
     * 7c0e mov r13, r15           4d 89 fd     (r15: a data byte)
     * 7c11 cmp r8d, 1             41 83 f8 01
     * 7c15 cmove r13, r14         4d 0f 44 ee
     * 7c19 <writer>               NOP-padded to 8 bytes
     * 7c21 add r9d, 1             41 83 c1 01  (the immediate at 7c24)
     * 7c25 dec r8d                41 ff c8
     * 7c28 jnz 7c0b               75 e1
     * 7c2a hlt
     * The read of [r14] gives the hostmap a read entry for the code page,
     * so that round 4's read of the immediate is a hit and only its write
     * takes the slow path.
     */
    enum { WRITER = 0x7c19, IMM = 0x7c24 };
    static const struct {
        const char *what;
        uint8_t w[8];
        unsigned len, to;   /* the writer, and what it makes of 1 */
    } writers[] = {
        { "add byte [r13], 4", { 0x41, 0x80, 0x45, 0x00, 0x04 }, 5, 5 },
        { "add [r13], dl", { 0x41, 0x00, 0x55, 0x00 }, 4, 5 },
        { "sub byte [r13], -4", { 0x41, 0x80, 0x6d, 0x00, 0xfc }, 5, 5 },
        { "or byte [r13], 4", { 0x41, 0x80, 0x4d, 0x00, 0x04 }, 5, 5 },
        { "xor [r13], dl", { 0x41, 0x30, 0x55, 0x00 }, 4, 5 },
        { "add word [r13], 4", { 0x66, 0x41, 0x83, 0x45, 0x00, 0x04 }, 6, 5 },
        { "add qword [r13], rdx", { 0x49, 0x01, 0x55, 0x00 }, 4, 5 },
        { "inc byte [r13]", { 0x41, 0xfe, 0x45, 0x00 }, 4, 2 },
        { "lock add [r13], dl", { 0xf0, 0x41, 0x00, 0x55, 0x00 }, 5, 5 },
    };
    for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++)
        for (int alias = 0; alias < 2; alias++)
            for (int way = 0; way < WAYS; way++) {
                uint8_t code[] = {
                    0x41, 0xb8, 0x04, 0x00, 0x00, 0x00, 0xba, 0x04, 0x00, 0x00,
                    0x00, 0x4d, 0x8b, 0x16, 0x4d, 0x89, 0xfd, 0x41, 0x83, 0xf8,
                    0x01, 0x4d, 0x0f, 0x44, 0xee, 0x90, 0x90, 0x90, 0x90, 0x90,
                    0x90, 0x90, 0x90, 0x41, 0x83, 0xc1, 0x01, 0x41, 0xff, 0xc8,
                    0x75, 0xe1, 0xf4,
                };
                memcpy(code + (WRITER - CODE), writers[i].w, writers[i].len);
                boot_long(code, sizeof code, false);
                map_pages();
                set_reg(SVMX_R14, alias ? TEST_CODE + (IMM & 0xfff) : IMM);
                set_reg(SVMX_R15, DATA + 0x40);
                svmx_stop st = run_booted(way);
                uint64_t want = 3 + writers[i].to;
                if (st.reason != SVMX_STOP_HLT || reg(SVMX_R9) != want)
                    print_error("%s%s, %s: stop %d at %#llx, r9 %#llx\n",
                                writers[i].what, alias ? " (alias)" : "",
                                way_names[way], (int)st.reason,
                                (unsigned long long)st.rip,
                                (unsigned long long)reg(SVMX_R9));
                assert_int_equal(st.reason, SVMX_STOP_HLT);
                assert_int_equal(st.rip, 0x7c2b);
                assert_int_equal(reg(SVMX_R9), want);
                assert_int_equal(get(IMM, 1), writers[i].to);
            }
}

/*
 * The same through STOS, whose general handler the fast loop runs as it
 * is: a REP run in one RAM page is stored through a host pointer, past
 * the hostmap, and insn_string.c ends the epoch for it; a single STOSB
 * stores through the slow path. Rounds 1-3 store the immediate it
 * already holds, so the fast loop makes its hints to the ADD and follows
 * them; round 4 stores another one, which must run: R9D = 1 + 1 + 1 + 5.
 */
static void test_self_modifying_string(void **state)
{
    (void)state;
    /*
     * 7c00 mov r8d, 4             41 b8 04 00 00 00
     * 7c06 mov edx, 5             ba 05 00 00 00
     * 7c0b mov eax, 1             b8 01 00 00 00
     * 7c10 cmp r8d, 1             41 83 f8 01
     * 7c14 cmove eax, edx         0f 44 c2
     * 7c17 lea rdi, [rip + 0xa]   48 8d 3d 0a 00 00 00  (-> 7c28)
     * 7c1e mov ecx, 1             b9 01 00 00 00
     * 7c23 rep stosb              f3 aa   (or nop; stosb)
     * 7c25 add r9d, 1             41 83 c1 01  (the immediate at 7c28)
     * 7c29 dec r8d                41 ff c8
     * 7c2c jnz 7c0b               75 dd
     * 7c2e hlt
     */
    for (int rep = 0; rep < 2; rep++) {
        uint8_t code[] = {
            0x41, 0xb8, 0x04, 0x00, 0x00, 0x00, 0xba, 0x05, 0x00, 0x00, 0x00,
            0xb8, 0x01, 0x00, 0x00, 0x00, 0x41, 0x83, 0xf8, 0x01, 0x0f, 0x44,
            0xc2, 0x48, 0x8d, 0x3d, 0x0a, 0x00, 0x00, 0x00, 0xb9, 0x01, 0x00,
            0x00, 0x00, 0xf3, 0xaa, 0x41, 0x83, 0xc1, 0x01, 0x41, 0xff, 0xc8,
            0x75, 0xdd, 0xf4,
        };
        if (!rep)
            code[0x23] = 0x90;
        for (int way = 0; way < WAYS; way++) {
            boot_long(code, sizeof code, false);
            map_pages();
            svmx_stop st = run_booted(way);
            if (st.reason != SVMX_STOP_HLT || reg(SVMX_R9) != 8)
                print_error("%s, %s: stop %d at %#llx, r9 %#llx\n",
                            rep ? "rep stosb" : "stosb", way_names[way],
                            (int)st.reason, (unsigned long long)st.rip,
                            (unsigned long long)reg(SVMX_R9));
            assert_int_equal(st.reason, SVMX_STOP_HLT);
            assert_int_equal(st.rip, 0x7c2f);
            assert_int_equal(reg(SVMX_R9), 1 + 1 + 1 + 5);
        }
    }
}

/*
 * Decodes without a form of their own run their class's general handler
 * as it is, nothing around it (exec_fast.c `general`): those that reach
 * memory only through the operand and stack paths, and those that go
 * around them - the string instructions, PUSHA and ENTER - but end the
 * epoch themselves (test_self_modifying_string).
 */
static void test_general_handlers(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        svmx_mode mode;
        uint8_t b[8];
        unsigned len;
    } rows[] = {
        { "rep movsb", SVMX_MODE_LONG64, { 0xf3, 0xa4 }, 2 },
        { "rep stosq", SVMX_MODE_LONG64, { 0xf3, 0x48, 0xab }, 3 },
        { "cmpsb", SVMX_MODE_LONG64, { 0xa6 }, 1 },
        { "repne scasb", SVMX_MODE_LONG64, { 0xf2, 0xae }, 2 },
        { "lodsd", SVMX_MODE_LONG64, { 0xad }, 1 },
        { "enter 8, 1", SVMX_MODE_LONG64, { 0xc8, 0x08, 0x00, 0x01 }, 4 },
        { "pushad", SVMX_MODE_PROT32, { 0x60 }, 1 },
        { "popad", SVMX_MODE_PROT32, { 0x61 }, 1 },
        { "leave", SVMX_MODE_LONG64, { 0xc9 }, 1 },
        { "xchg [rbx], eax", SVMX_MODE_LONG64, { 0x87, 0x03 }, 2 },
        { "lock cmpxchg [rbx], ecx", SVMX_MODE_LONG64, { 0xf0, 0x0f, 0xb1, 0x0b }, 4 },
        { "cmpxchg16b [rbx]", SVMX_MODE_LONG64, { 0x48, 0x0f, 0xc7, 0x0b }, 4 },
        { "bts [rbx], eax", SVMX_MODE_LONG64, { 0x0f, 0xab, 0x03 }, 3 },
        { "push qword [rbx]", SVMX_MODE_LONG64, { 0xff, 0x33 }, 2 },
        { "call [rbx]", SVMX_MODE_LONG64, { 0xff, 0x13 }, 2 },
        { "xlat", SVMX_MODE_LONG64, { 0xd7 }, 1 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (has_own_handler(rows[i].mode, rows[i].b, rows[i].len))
            print_error("%s: not the general handler\n", rows[i].what);
        assert_false(has_own_handler(rows[i].mode, rows[i].b, rows[i].len));
    }
}

/* ---- JMP rel ------------------------------------------------------------ */

/* The decode of `bytes` in 64-bit mode, and the handler exec_fast_pick()
 * gives it. */
static exec_fn pick_long(const uint8_t *bytes, size_t n, svmx_insn *insn)
{
    size_t needed;
    assert_int_equal(svmx_decode(SVMX_MODE_LONG64, 0, bytes, n, insn, &needed),
                     SVMX_OK);
    assert_int_equal(insn->fault, SVMX_DECODE_FAULT_NONE);
    return exec_fast_pick(insn);
}

/*
 * JMP rel8 and rel32 in 64-bit mode get a handler of their own (and
 * outside it one for the other modes); JMP r/m does not. White-box, the
 * handler and insn_jmp agree at the edges of the canonical halves, with
 * the wrap-around at 2^64: a target that is not canonical is #GP(0) with
 * RIP unchanged (SDM Vol. 2A JMP), at the personality's linear width.
 */
static void test_jmp_rel_edges(void **state)
{
    (void)state;
    static const struct {
        uint64_t next;      /* RIP of the next instruction */
        int32_t disp;
        bool gp;
    } rows[] = {
        { 0x7c07, -7, false },
        { 0x00007ffffffffff0ull, 0xf, false },
        { 0x00007ffffffffff0ull, 0x10, true },
        { 0x00007fff00000000ull, 0x7fffffff, false },
        { 0x00007fffffff0000ull, 0x7fffffff, true },
        { 0xffff800000000010ull, -0x10, false },
        { 0xffff800000000010ull, -0x11, true },
        { 0xffff800000000000ull, -0x80000000, true },
        { 0xfffffffffffffff0ull, 0x20, false },   /* wraps to 0x10 */
        { 0x10, -0x20, false },                   /* and back */
    };
    static const uint8_t jmp_rm[] = { 0xff, 0xe0 }; /* jmp rax */
    static const uint8_t jmp_rel32_32[] = { 0xe9, 0, 0, 0, 0 };
    assert_false(has_own_handler(SVMX_MODE_LONG64, jmp_rm, sizeof jmp_rm));
    assert_true(has_own_handler(SVMX_MODE_PROT32, jmp_rel32_32,
                                sizeof jmp_rel32_32));
    boot_long(jmp_rel32_32, sizeof jmp_rel32_32, false);
    svmx_cpu *cpu = m.cpu;
    cpu->hostmap.run_width = cpu->pers->linear_width; /* as the fast loop */
    assert_int_equal(cpu->hostmap.run_width, 48);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        for (int wide = 0; wide < 2; wide++) {
            uint8_t b[5];
            size_t n;
            if (!wide && (rows[i].disp < -128 || rows[i].disp > 127))
                continue;
            if (wide) {
                b[0] = 0xe9;
                for (int k = 0; k < 4; k++)
                    b[1 + k] = (uint8_t)((uint32_t)rows[i].disp >> (8 * k));
                n = 5;
            } else {
                b[0] = 0xeb;
                b[1] = (uint8_t)rows[i].disp;
                n = 2;
            }
            svmx_insn insn;
            exec_fn fast = pick_long(b, n, &insn);
            assert_true(fast != exec_table[SVMX_INSN_JMP]);
            cpu_fault ff, fg;
            memset(&ff, 0, sizeof ff);
            memset(&fg, 0, sizeof fg);
            cpu->regs.rip = rows[i].next;
            cpu_res rf = fast(cpu, &insn, &ff);
            uint64_t rip_f = cpu->regs.rip;
            cpu->regs.rip = rows[i].next;
            cpu_res rg = exec_table[SVMX_INSN_JMP](cpu, &insn, &fg);
            uint64_t rip_g = cpu->regs.rip;
            uint64_t want = rows[i].next + (uint64_t)(int64_t)rows[i].disp;
            if (rf != rg || rip_f != rip_g || ff.vector != fg.vector ||
                ff.has_error != fg.has_error || ff.error != fg.error)
                print_error("jmp %#llx%+d: fast %d rip %#llx vector %u, "
                            "insn_jmp %d rip %#llx vector %u\n",
                            (unsigned long long)rows[i].next, rows[i].disp,
                            (int)rf, (unsigned long long)rip_f, ff.vector,
                            (int)rg, (unsigned long long)rip_g, fg.vector);
            assert_int_equal(rf, rg);
            assert_true(rip_f == rip_g);
            if (rows[i].gp) {
                assert_int_equal(rf, CPU_FAULT);
                assert_int_equal(ff.vector, CPU_VEC_GP);
                assert_true(ff.has_error && ff.error == 0);
                assert_true(rip_f == rows[i].next);
            } else {
                assert_int_equal(rf, CPU_OK);
                assert_true(rip_f == want);
            }
        }
}

/*
 * JMP rel8 and rel32 run three ways (the reference, the fast loop and
 * single steps) in code at the top of the lower canonical half: a loop
 * of both, then a JMP rel32 past 2^47, whose #GP(0) handler counts and
 * returns to it (IRETQ) twice, so that the fast loop meets the fault in
 * the cached decode. Registers, RAM (the exception frames) and the stop
 * must agree, and the frame must name the JMP.
 */
#define HIGH 0x00007fffffe00000ull /* maps physical 0-2 MiB */
#define GP_HANDLER 0x9100u

static void boot_jmp(void)
{
    /*
     * 7c00 mov ecx, 3             b9 03 00 00 00
     * 7c05 dec ecx                ff c9
     * 7c07 jz 7c10                74 07
     * 7c09 jmp 7c20               e9 12 00 00 00
     * 7c0e hlt                    f4 f4
     * 7c10 jmp HIGH+7c15+2 MiB    e9 00 00 20 00   (not canonical)
     * 7c15 hlt                    f4 ...
     * 7c20 jmp 7c05               eb e3
     */
    uint8_t code[0x22];
    memset(code, 0xf4, sizeof code);
    static const uint8_t a[] = { 0xb9, 0x03, 0x00, 0x00, 0x00, 0xff, 0xc9,
                                 0x74, 0x07, 0xe9, 0x12, 0x00, 0x00, 0x00 };
    static const uint8_t b[] = { 0xe9, 0x00, 0x00, 0x20, 0x00 };
    memcpy(code, a, sizeof a);
    memcpy(code + 0x10, b, sizeof b);
    code[0x20] = 0xeb;
    code[0x21] = 0xe3;
    boot_long(code, sizeof code, false);
    map_pages();
    put64(0x10000 + 255 * 8, 0x14000 | 0x27);  /* PML4[255] */
    put64(0x14000 + 511 * 8, 0x15000 | 0x27);  /* PDPT[511] */
    put64(0x15000 + 511 * 8, 0xe7);            /* PD[511]: 2 MiB at 0 */
    /* #GP: inc r9d; cmp r9d, 3; je hlt; add rsp, 8; btr qword [rsp+16],
     * 16; iretq; hlt. The frame's RF (set for a fault, SDM Vol. 3A
     * 18.3.1.1) is cleared so that the CPU is quiet again at the JMP and
     * runs it in the fast loop. */
    static const uint8_t h[] = { 0x41, 0xff, 0xc1, 0x41, 0x83, 0xf9, 0x03,
                                 0x74, 0x0d, 0x48, 0x83, 0xc4, 0x08, 0x48,
                                 0x0f, 0xba, 0x74, 0x24, 0x10, 0x10, 0x48,
                                 0xcf, 0xf4 };
    memcpy(m.ram + GP_HANDLER, h, sizeof h);
    put64(IDT + 16 * 13, (GP_HANDLER & 0xffff) | 0x18ull << 16 |
                             0x8eull << 40 | (uint64_t)(GP_HANDLER >> 16) << 48);
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rip = HIGH + CODE;
    assert_int_equal(svmx_cpu_set_regs(m.cpu, &r), SVMX_OK);
}

static void test_jmp_rel_runs_agree(void **state)
{
    (void)state;
    tcase c = { .what = "jmp rel8/rel32, then not canonical" };
    for (int way = 0; way < WAYS; way++) {
        boot_jmp();
        svmx_stop st = run_booted(way);
        outcome *o = &outs[way];
        svmx_sregs s;
        o->st = st;
        o->st.insns = 0; /* stepping counts otherwise */
        svmx_cpu_get_regs(m.cpu, &o->r);
        svmx_cpu_get_sregs(m.cpu, &s);
        o->cr2 = s.cr2;
        memcpy(o->ram, m.ram, RAM_SIZE);
    }
    int bad = differ(&c, RUN) + differ(&c, STEP);
    assert_int_equal(bad, 0);
    assert_int_equal(outs[REF].st.reason, SVMX_STOP_HLT);
    assert_true(outs[REF].st.rip == GP_HANDLER + 23); /* past its HLT */
    assert_true(outs[REF].r.gpr[SVMX_R9] == 3);
    assert_true(outs[REF].r.gpr[SVMX_RCX] == 0);
    assert_true(ref_stack(0) == 0);                      /* #GP(0) */
    assert_true(ref_stack(1) == HIGH + CODE + 0x10);     /* the JMP */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms_agree),
        cmocka_unit_test(test_faults_agree),
        cmocka_unit_test(test_stack_and_fs_faults_agree),
        cmocka_unit_test(test_general_forms_agree),
        cmocka_unit_test(test_self_modifying_rmw),
        cmocka_unit_test(test_self_modifying_string),
        cmocka_unit_test(test_general_handlers),
        cmocka_unit_test(test_jmp_rel_edges),
        cmocka_unit_test(test_jmp_rel_runs_agree),
    };
    return cmocka_run_group_tests(tests, NULL, fixture_teardown);
}
