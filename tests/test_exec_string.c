/*
 * tests/test_exec_string.c - MOVS CMPS SCAS LODS STOS INS OUTS through the
 * run loop: every operand size, both directions, 16/32/64-bit address
 * sizes, REP/REPE/REPNE with counts 0, 1 and many, segment overrides,
 * faults in the middle of a REP and their exact restart, the REP chunks
 * and the budget, port handlers called once per element, and the TSS
 * I/O permission bitmap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "exec_fixture.h"

/* ---- helpers ------------------------------------------------------------ */

enum { REAL, PROT, LONG, BOOT_COUNT };
static const char *const boot_names[BOOT_COUNT] = { "real", "prot", "long" };

/* What the current case is, for failure messages. */
static char what[128];

#define EQ(a, b)                                                              \
    do {                                                                      \
        unsigned long long a_ = (unsigned long long)(a);                      \
        unsigned long long b_ = (unsigned long long)(b);                      \
        if (a_ != b_) {                                                       \
            print_error("%s: %s = %#llx, expected %#llx (line %d)\n", what,   \
                        #a, a_, b_, __LINE__);                                \
            fail();                                                           \
        }                                                                     \
    } while (0)

#define ARITH (SVMX_RFLAGS_CF | SVMX_RFLAGS_PF | SVMX_RFLAGS_AF |            \
               SVMX_RFLAGS_ZF | SVMX_RFLAGS_SF | SVMX_RFLAGS_OF)

static void boot(int b, const uint8_t *code, size_t n)
{
    if (b == REAL)
        boot_real(SVMX_VENDOR_AMD, code, n);
    else if (b == PROT)
        boot_protected(code, n, false);
    else
        boot_long(code, n, false);
}

static void set_flags(uint64_t set, uint64_t clear)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags = (r.rflags | set) & ~clear;
    svmx_cpu_set_regs(m.cpu, &r);
}

/* Back to `v` after a handler's HLT: RIP and the activity state. */
static void set_rip(uint64_t v)
{
    svmx_regs r;
    svmx_events ev;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rip = v;
    svmx_cpu_set_regs(m.cpu, &r);
    svmx_cpu_get_events(m.cpu, &ev);
    ev.activity = SVMX_ACTIVITY_ACTIVE;
    assert_int_equal(svmx_cpu_set_events(m.cpu, &ev), SVMX_OK);
}

static void set_iopl(unsigned iopl)
{
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags = (r.rflags & ~SVMX_RFLAGS_IOPL) | (uint64_t)iopl << 12;
    svmx_cpu_set_regs(m.cpu, &r);
}

static svmx_sregs sregs(void)
{
    svmx_sregs s;
    svmx_cpu_get_sregs(m.cpu, &s);
    return s;
}

static void set_sregs(const svmx_sregs *s)
{
    assert_int_equal(svmx_cpu_set_sregs(m.cpu, s), SVMX_OK);
}

static void put(uint64_t addr, unsigned n, uint64_t v)
{
    for (unsigned i = 0; i < n; i++)
        m.ram[addr + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t mask_of(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
}

/* [rep] [66] [REX.W] op: the string opcode `op` (byte form) at `size`. */
static size_t encode(int b, unsigned size, uint8_t rep, uint8_t op,
                     uint8_t *out)
{
    size_t n = 0;
    if (rep)
        out[n++] = rep;
    if (size == 1) {
        out[n++] = op;
        return n;
    }
    if (b == REAL ? size == 4 : size == 2)
        out[n++] = 0x66;
    if (size == 8)
        out[n++] = 0x48;
    out[n++] = (uint8_t)(op + 1);
    return n;
}

static unsigned sizes_count(int b)
{
    return b == LONG ? 4 : 3;
}

static const unsigned sizes[4] = { 1, 2, 4, 8 };

/* The flags CMP a, b sets (SDM Vol. 2A CMP), computed independently of
 * the model. */
static uint64_t cmp_flags(unsigned size, uint64_t a, uint64_t b)
{
    uint64_t mk = mask_of(size), sign = 1ull << (8 * size - 1);
    a &= mk;
    b &= mk;
    uint64_t r = (a - b) & mk, fl = 0;
    unsigned ones = 0;
    for (unsigned i = 0; i < 8; i++)
        ones += (unsigned)(r >> i) & 1;
    if (a < b)
        fl |= SVMX_RFLAGS_CF;
    if (!(ones & 1))
        fl |= SVMX_RFLAGS_PF;
    if ((a ^ b ^ r) & 0x10)
        fl |= SVMX_RFLAGS_AF;
    if (r == 0)
        fl |= SVMX_RFLAGS_ZF;
    if (r & sign)
        fl |= SVMX_RFLAGS_SF;
    if ((a ^ b) & (a ^ r) & sign)
        fl |= SVMX_RFLAGS_OF;
    return fl;
}

/* A value for element j that varies in every byte. */
static uint64_t pattern(unsigned j, unsigned salt)
{
    return (0x9e3779b97f4a7c15ull * (j + 1) + salt * 0x1234567ull) ^
           ((uint64_t)j << 7);
}

static svmx_stop run_to_hlt(void)
{
    svmx_stop st = run(1000000);
    EQ(st.reason, SVMX_STOP_HLT);
    return st;
}

/* ---- long-mode page tables with 4 KiB pages, and fault handlers ---------- */

#define PT 0x13000

/* Replaces the fixture's 2 MiB page by a page table of 4 KiB pages (user,
 * writable) so single pages can be unmapped. */
static void map_4k(void)
{
    put64(0x12000, PT | 7);
    for (uint64_t i = 0; i < 512; i++)
        put64(PT + i * 8, i << 12 | 7);
    svmx_sregs s = sregs();
    set_sregs(&s); /* drops cached translations */
}

static void set_pte(uint64_t page, uint64_t flags)
{
    put64(PT + page * 8, page << 12 | flags);
    svmx_sregs s = sregs();
    set_sregs(&s);
}

/* A 64-bit interrupt gate to CS 0x18:handler (SDM Vol. 3A 6.14.1). */
static void idt64(unsigned vec, uint64_t handler)
{
    put64(IDT + vec * 16, (handler & 0xffff) | 0x18ull << 16 | 0x8eull << 40 |
                              ((handler >> 16) & 0xffff) << 48);
    put64(IDT + vec * 16 + 8, handler >> 32);
}

/* #GP -> HLT at 0x8000, #PF -> HLT at 0x8100, #SS -> 0x8200; the ring-0
 * stack for a fault from CPL 3 at 0x9000. */
static void long_handlers(void)
{
    idt64(13, 0x8000);
    idt64(14, 0x8100);
    idt64(12, 0x8200);
    m.ram[0x8100] = 0xf4;
    m.ram[0x8200] = 0xf4;
    put64(TSS + 4, 0x9000); /* RSP0 */
}

static void prot_handlers(void)
{
    put64(IDT + 13 * 8, gate32(0x8000, 0x08, 0x8e));
    put64(IDT + 14 * 8, gate32(0x8100, 0x08, 0x8e));
    m.ram[0x8100] = 0xf4;
    put(TSS + 4, 4, 0x9000); /* ESP0 */
    put(TSS + 8, 2, 0x10);   /* SS0 */
}

/* ---- MOVS ------------------------------------------------------------------ */

#define SRC 0x4800u
#define DST 0x5800u

/* The element offsets touched: element j at start +/- j * size. */
static int64_t elem_off(unsigned size, bool down, unsigned j)
{
    return down ? -(int64_t)(j * size) : (int64_t)(j * size);
}

/*
 * One MOVS at `size` in boot mode b, direction `down`, with REP and
 * `count` (or without REP when count < 0): the bytes moved, nothing else
 * written, rSI/rDI/rCX at the address size (16-bit: bits above kept).
 */
static void movs_case(int b, unsigned size, bool down, int count, uint8_t rep)
{
    uint8_t code[8];
    size_t n = encode(b, size, count >= 0 ? rep : 0, 0xa4, code);
    code[n++] = 0xf4;
    snprintf(what, sizeof what, "movs %s size %u %s count %d rep %#x",
             boot_names[b], size, down ? "down" : "up", count, rep);
    boot(b, code, n);
    for (unsigned i = 0; i < 0x1000; i++)
        m.ram[0x4000 + i] = (uint8_t)(i * 7 + 3);
    memset(m.ram + 0x5000, 0, 0x1000);
    uint64_t hi = b == REAL ? 0xabcd0000ull : 0; /* above the 16-bit SI */
    set_reg(SVMX_RSI, hi | SRC);
    set_reg(SVMX_RDI, hi | DST);
    set_reg(SVMX_RCX, count >= 0 ? hi | (unsigned)count : 0x77);
    set_flags(down ? SVMX_RFLAGS_DF : 0, down ? 0 : SVMX_RFLAGS_DF);
    run_to_hlt();

    unsigned elems = count < 0 ? 1 : (unsigned)count;
    uint8_t expect[0x1000] = { 0 };
    for (unsigned j = 0; j < elems; j++) {
        int64_t o = elem_off(size, down, j);
        memcpy(expect + 0x800 + o, m.ram + SRC + o, size);
    }
    for (unsigned i = 0; i < 0x1000; i++)
        EQ(m.ram[0x5000 + i], expect[i]);
    int64_t moved = down ? -(int64_t)(elems * size) : (int64_t)(elems * size);
    EQ(reg(SVMX_RSI), hi | (uint64_t)(SRC + moved));
    EQ(reg(SVMX_RDI), hi | (uint64_t)(DST + moved));
    EQ(reg(SVMX_RCX), count < 0 ? 0x77 : hi);
    EQ(rip(), 0x7c00 + n);
}

static void test_movs_sizes_directions_counts(void **state)
{
    (void)state;
    static const int counts[] = { -1, 0, 1, 37 };
    for (int b = 0; b < BOOT_COUNT; b++)
        for (unsigned s = 0; s < sizes_count(b); s++)
            for (int down = 0; down < 2; down++)
                for (unsigned c = 0; c < 4; c++)
                    movs_case(b, sizes[s], down, counts[c], 0xf3);
}

/* F2 repeats MOVS/LODS/STOS like F3 (SDM Vol. 2B REP: only CMPS/SCAS
 * tell them apart). */
static void test_f2_repeats_movs(void **state)
{
    (void)state;
    movs_case(LONG, 1, false, 5, 0xf2);
    movs_case(PROT, 4, true, 3, 0xf2);
}

/* Overlapping MOVS: each element reads what the previous ones wrote, as
 * the CPU does, checked against an element-by-element reference. */
static void overlap_case(unsigned size, bool down, int64_t delta, unsigned count)
{
    uint8_t code[8];
    size_t n = encode(LONG, size, 0xf3, 0xa4, code);
    code[n++] = 0xf4;
    snprintf(what, sizeof what, "overlap size %u %s delta %lld count %u", size,
             down ? "down" : "up", (long long)delta, count);
    boot(LONG, code, n);
    uint8_t ref[0x1000];
    for (unsigned i = 0; i < 0x1000; i++)
        m.ram[0x40000 + i] = ref[i] = (uint8_t)(i * 13 + 1);
    uint64_t s = 0x40800, d = s + (uint64_t)delta;
    for (unsigned j = 0; j < count; j++) {
        int64_t o = elem_off(size, down, j);
        uint8_t t[8];
        memcpy(t, ref + (s - 0x40000) + o, size);
        memcpy(ref + (d - 0x40000) + o, t, size);
    }
    set_reg(SVMX_RSI, s);
    set_reg(SVMX_RDI, d);
    set_reg(SVMX_RCX, count);
    set_flags(down ? SVMX_RFLAGS_DF : 0, down ? 0 : SVMX_RFLAGS_DF);
    run_to_hlt();
    for (unsigned i = 0; i < 0x1000; i++)
        EQ(m.ram[0x40000 + i], ref[i]);
}

static void test_movs_overlap(void **state)
{
    (void)state;
    overlap_case(1, false, 1, 64);    /* byte fill: [s] propagates */
    overlap_case(1, true, -1, 64);    /* the same downwards */
    overlap_case(4, false, 1, 40);    /* elements overlapping by 3 bytes */
    overlap_case(4, true, -3, 40);
    overlap_case(8, false, 8, 40);    /* 8-byte pattern repeat */
    overlap_case(2, false, -1, 50);   /* no hazard: a memmove */
    overlap_case(2, true, 1, 50);
    overlap_case(8, false, 0, 10);    /* onto itself */
}

/* ---- STOS and LODS ----------------------------------------------------------- */

static void stos_case(int b, unsigned size, bool down, int count)
{
    uint8_t code[8];
    size_t n = encode(b, size, count >= 0 ? 0xf3 : 0, 0xaa, code);
    code[n++] = 0xf4;
    snprintf(what, sizeof what, "stos %s size %u %s count %d", boot_names[b],
             size, down ? "down" : "up", count);
    boot(b, code, n);
    memset(m.ram + 0x5000, 0xee, 0x1000);
    uint64_t hi = b == REAL ? 0x12340000ull : 0;
    uint64_t rax = b == LONG ? 0x8877665544332211ull : 0x44332211ull;
    set_reg(SVMX_RAX, rax);
    set_reg(SVMX_RDI, hi | DST);
    set_reg(SVMX_RSI, 0x5151);
    set_reg(SVMX_RCX, count >= 0 ? hi | (unsigned)count : 0x77);
    set_flags(down ? SVMX_RFLAGS_DF : 0, down ? 0 : SVMX_RFLAGS_DF);
    run_to_hlt();

    unsigned elems = count < 0 ? 1 : (unsigned)count;
    uint8_t expect[0x1000];
    memset(expect, 0xee, sizeof expect);
    for (unsigned j = 0; j < elems; j++)
        for (unsigned i = 0; i < size; i++)
            expect[0x800 + elem_off(size, down, j) + i] = (uint8_t)(rax >> (8 * i));
    for (unsigned i = 0; i < 0x1000; i++)
        EQ(m.ram[0x5000 + i], expect[i]);
    int64_t moved = down ? -(int64_t)(elems * size) : (int64_t)(elems * size);
    EQ(reg(SVMX_RDI), hi | (uint64_t)(DST + moved));
    EQ(reg(SVMX_RSI), 0x5151);
    EQ(reg(SVMX_RAX), rax);
    EQ(reg(SVMX_RCX), count < 0 ? 0x77 : hi);
}

static void test_stos(void **state)
{
    (void)state;
    static const int counts[] = { -1, 0, 1, 200 };
    for (int b = 0; b < BOOT_COUNT; b++)
        for (unsigned s = 0; s < sizes_count(b); s++)
            for (int down = 0; down < 2; down++)
                for (unsigned c = 0; c < 4; c++)
                    stos_case(b, sizes[s], down, counts[c]);
}

/* LODS: rAX takes the last element, merged into AL/AX, zero-extended
 * from EAX (SDM Vol. 2A LODS, Vol. 1 3.4.1.1). */
static void lods_case(int b, unsigned size, bool down, int count)
{
    uint8_t code[8];
    size_t n = encode(b, size, count >= 0 ? 0xf3 : 0, 0xac, code);
    code[n++] = 0xf4;
    snprintf(what, sizeof what, "lods %s size %u %s count %d", boot_names[b],
             size, down ? "down" : "up", count);
    boot(b, code, n);
    for (unsigned i = 0; i < 0x1000; i++)
        m.ram[0x4000 + i] = (uint8_t)(i * 5 + 11);
    uint64_t rax = b == LONG ? 0x1122334455667788ull : 0x55667788ull;
    set_reg(SVMX_RAX, rax);
    set_reg(SVMX_RSI, SRC);
    set_reg(SVMX_RCX, count >= 0 ? (unsigned)count : 0x77);
    set_flags(down ? SVMX_RFLAGS_DF : 0, down ? 0 : SVMX_RFLAGS_DF);
    run_to_hlt();

    unsigned elems = count < 0 ? 1 : (unsigned)count;
    uint64_t expect = rax;
    if (elems) {
        uint64_t v = get(SRC + elem_off(size, down, elems - 1), size);
        expect = size >= 4 ? v : (rax & ~mask_of(size)) | v;
    }
    EQ(reg(SVMX_RAX), expect);
    int64_t moved = down ? -(int64_t)(elems * size) : (int64_t)(elems * size);
    EQ(reg(SVMX_RSI), (uint64_t)(SRC + moved));
    EQ(reg(SVMX_RCX), count < 0 ? 0x77 : 0);
}

static void test_lods(void **state)
{
    (void)state;
    static const int counts[] = { -1, 0, 1, 45 };
    for (int b = 0; b < BOOT_COUNT; b++)
        for (unsigned s = 0; s < sizes_count(b); s++)
            for (int down = 0; down < 2; down++)
                for (unsigned c = 0; c < 4; c++)
                    lods_case(b, sizes[s], down, counts[c]);
}

/* ---- CMPS and SCAS ------------------------------------------------------------ */

enum { NOREP, REPE, REPNE };

/*
 * CMPS (scas false) or SCAS with `count` elements under `rep`; the
 * element at index `key` is the one that ends REPE (a mismatch) or REPNE
 * (a match), every other element continues it. Checks how many elements
 * ran, rSI/rDI/rCX and the exact flags of CMP on the last element.
 */
static void compare_case(int b, bool scas, unsigned size, bool down, int rep,
                         unsigned count, unsigned key)
{
    uint8_t code[8];
    uint8_t pfx = rep == REPE ? 0xf3 : rep == REPNE ? 0xf2 : 0;
    size_t n = encode(b, size, pfx, scas ? 0xae : 0xa6, code);
    code[n++] = 0xf4;
    snprintf(what, sizeof what, "%s %s size %u %s rep %d count %u key %u",
             scas ? "scas" : "cmps", boot_names[b], size, down ? "down" : "up",
             rep, count, key);
    boot(b, code, n);
    uint64_t rax = (b == LONG ? 0xa1b2c3d4e5f60718ull : 0xe5f60718ull);
    unsigned room = count > key ? count : key + 1;
    for (unsigned j = 0; j < room; j++) {
        uint64_t a = scas ? rax : pattern(j, size);
        uint64_t d = a;
        bool special = j == key;
        if (rep == REPNE ? !special : special)
            d = (a ^ (0x80ull << (8 * (j % size)))) + 1 + j;
        if (!scas)
            put(SRC + (uint64_t)elem_off(size, down, j), size, a);
        put(DST + (uint64_t)elem_off(size, down, j), size, d);
    }
    set_reg(SVMX_RAX, rax);
    set_reg(SVMX_RSI, SRC);
    set_reg(SVMX_RDI, DST);
    set_reg(SVMX_RCX, rep == NOREP ? 0x77 : count);
    set_flags((down ? SVMX_RFLAGS_DF : 0) | ARITH, down ? 0 : SVMX_RFLAGS_DF);
    uint64_t before = rflags();
    run_to_hlt();

    unsigned done = rep == NOREP ? 1 : key < count ? key + 1 : count;
    uint64_t fl = before;
    if (done) {
        int64_t o = elem_off(size, down, done - 1);
        uint64_t a = scas ? rax : get(SRC + (uint64_t)o, size);
        fl = (before & ~ARITH) | cmp_flags(size, a, get(DST + (uint64_t)o, size));
    }
    EQ(rflags(), fl);
    int64_t moved = down ? -(int64_t)(done * size) : (int64_t)(done * size);
    EQ(reg(SVMX_RSI), scas ? SRC : (uint64_t)(SRC + moved));
    EQ(reg(SVMX_RDI), (uint64_t)(DST + moved));
    EQ(reg(SVMX_RCX), rep == NOREP ? 0x77 : count - done);
    EQ(reg(SVMX_RAX), rax);
}

static void test_cmps_scas(void **state)
{
    (void)state;
    for (int b = 0; b < BOOT_COUNT; b++)
        for (unsigned s = 0; s < sizes_count(b); s++)
            for (int down = 0; down < 2; down++)
                for (int scas = 0; scas < 2; scas++) {
                    compare_case(b, scas, sizes[s], down, NOREP, 1, 0);
                    compare_case(b, scas, sizes[s], down, REPE, 37, 20);
                    compare_case(b, scas, sizes[s], down, REPNE, 37, 20);
                    /* the count ends it: ZF never does */
                    compare_case(b, scas, sizes[s], down, REPE, 10, 20);
                    compare_case(b, scas, sizes[s], down, REPNE, 10, 20);
                    /* ends on the first and on the last element */
                    compare_case(b, scas, sizes[s], down, REPE, 5, 0);
                    compare_case(b, scas, sizes[s], down, REPNE, 5, 4);
                    /* rCX = 0: nothing, flags kept */
                    compare_case(b, scas, sizes[s], down, REPE, 0, 0);
                    compare_case(b, scas, sizes[s], down, REPNE, 0, 0);
                }
}

/* REPE with ZF = 0 on entry still runs: ZF is tested after an element,
 * never before the first (SDM Vol. 2B REP, Operation). */
static void test_repe_ignores_incoming_zf(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0xa6, 0xf4 }; /* repe cmpsb; hlt */
    boot(LONG, code, sizeof code);
    memset(m.ram + SRC, 0x41, 8);
    memset(m.ram + DST, 0x41, 8);
    set_reg(SVMX_RSI, SRC);
    set_reg(SVMX_RDI, DST);
    set_reg(SVMX_RCX, 8);
    set_flags(0, SVMX_RFLAGS_ZF);
    strcpy(what, "repe zf=0");
    run_to_hlt();
    EQ(reg(SVMX_RCX), 0);
    EQ(reg(SVMX_RSI), SRC + 8);
    assert_true(rflags() & SVMX_RFLAGS_ZF);
}

/* CMPS/SCAS flags equal CMP's for edge values, on both personalities. */
static void test_compare_flags_edges(void **state)
{
    (void)state;
    static const uint64_t vals[] = { 0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000,
                                     0xffff, 0x7fffffff, 0x80000000,
                                     0xffffffff, 0x10, 0x0f };
    for (int v = 0; v < 2; v++) {
        svmx_vendor vendor = v ? SVMX_VENDOR_INTEL : SVMX_VENDOR_AMD;
        for (unsigned s = 0; s < 3; s++) {
            uint8_t code[8];
            size_t n = encode(REAL, sizes[s], 0, 0xa6, code);
            code[n++] = 0xf4;
            for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++)
                for (unsigned j = 0; j < sizeof vals / sizeof vals[0]; j++) {
                    snprintf(what, sizeof what, "cmps vendor %d size %u %#llx-%#llx",
                             v, sizes[s], (unsigned long long)vals[i],
                             (unsigned long long)vals[j]);
                    boot_real(vendor, code, n);
                    put(SRC, sizes[s], vals[i]);
                    put(DST, sizes[s], vals[j]);
                    set_reg(SVMX_RSI, SRC);
                    set_reg(SVMX_RDI, DST);
                    run_to_hlt();
                    EQ(rflags() & ARITH, cmp_flags(sizes[s], vals[i], vals[j]));
                }
        }
    }
}

/* ---- address size, wrap, segments -------------------------------------------- */

/* 16-bit addressing wraps SI/DI at 64 KiB (SDM Vol. 2B MOVS: "(E)SI"). */
static void test_real_mode_si_di_wrap(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0xa4, 0xf4 };
    boot(REAL, code, sizeof code);
    svmx_sregs s = sregs();
    s.seg[SVMX_ES].selector = 0x2000; /* ES base 0x20000 */
    s.seg[SVMX_ES].base = 0x20000;
    set_sregs(&s);
    m.ram[0xfffe] = 0xa1;
    m.ram[0xffff] = 0xa2;
    m.ram[0x0000] = 0xa3;
    set_reg(SVMX_RSI, 0xfffe);
    set_reg(SVMX_RDI, 0xfffe);
    set_reg(SVMX_RCX, 3);
    strcpy(what, "si wrap");
    run_to_hlt();
    EQ(m.ram[0x2fffe], 0xa1);
    EQ(m.ram[0x2ffff], 0xa2);
    EQ(m.ram[0x20000], 0xa3);
    EQ(reg(SVMX_RSI), 1);
    EQ(reg(SVMX_RDI), 1);
    EQ(reg(SVMX_RCX), 0);
}

/* A word at DS:FFFF crosses the 64 KiB limit: #GP in real mode before
 * anything moves (SDM Vol. 2B MOVS, Real-Address Mode Exceptions). */
static void test_real_mode_limit_fault(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0xa5, 0xf4 }; /* rep movsw */
    boot(REAL, code, sizeof code);
    m.ram[13 * 4 + 0] = 0x00; /* IVT[13] = 0000:9000 */
    m.ram[13 * 4 + 1] = 0x90;
    m.ram[0x9000] = 0xf4;
    set_reg(SVMX_RSI, 0xfffb);
    set_reg(SVMX_RDI, 0x5000);
    set_reg(SVMX_RCX, 4);
    strcpy(what, "real limit");
    svmx_stop st = run_to_hlt();
    EQ(st.rip, 0x9001);
    /* Two words moved (FFFB, FFFD), the third at FFFF faulted. */
    EQ(reg(SVMX_RCX), 2);
    EQ(reg(SVMX_RSI), 0xffff);
    EQ(reg(SVMX_RDI), 0x5004);
    EQ(get(0x7000 - 6, 2), 0x7c00); /* IP of the REP MOVSW */
}

/* 67 in 32-bit code: SI/DI/CX, the upper halves kept; 67 in 64-bit code:
 * ESI/EDI/ECX, written as 32-bit registers (zero-extended). */
static void test_address_size_override(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x67, 0xf3, 0xa4, 0xf4 };
    boot(PROT, code, sizeof code);
    memcpy(m.ram + SRC, "abc", 3);
    set_reg(SVMX_RSI, 0x10000 | SRC);
    set_reg(SVMX_RDI, 0x70000 | DST);
    set_reg(SVMX_RCX, 0x10003);
    strcpy(what, "67 in prot");
    run_to_hlt();
    EQ(get(DST, 3), 0x636261);
    EQ(reg(SVMX_RSI), 0x10000 | (SRC + 3));
    EQ(reg(SVMX_RDI), 0x70000 | (DST + 3));
    EQ(reg(SVMX_RCX), 0x10000);

    boot(LONG, code, sizeof code);
    memcpy(m.ram + SRC, "xyz", 3);
    set_reg(SVMX_RSI, 0xffffffff00000000ull | SRC);
    set_reg(SVMX_RDI, 0x0000000500000000ull | DST);
    set_reg(SVMX_RCX, 0x100000003ull);
    strcpy(what, "67 in long");
    run_to_hlt();
    EQ(get(DST, 3), 0x7a7978);
    EQ(reg(SVMX_RSI), SRC + 3);
    EQ(reg(SVMX_RDI), DST + 3);
    EQ(reg(SVMX_RCX), 0);
}

/* ESI = FFFFFFFF wraps to 0 with a 32-bit address size. */
static void test_32bit_wrap(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xa4, 0xf4 };
    boot(PROT, code, sizeof code);
    set_reg(SVMX_RSI, 0xffffffff);
    set_reg(SVMX_RDI, DST);
    strcpy(what, "32-bit wrap");
    run_to_hlt();
    EQ(m.ram[DST], 0xff); /* nothing answers above RAM */
    EQ(reg(SVMX_RSI), 0);
    EQ(reg(SVMX_RDI), DST + 1);
}

/* The source segment can be overridden, ES:rDI never (SDM Vol. 2B MOVS,
 * STOS, SCAS; Vol. 2A CMPS, LODS). */
static void test_segment_override_real(void **state)
{
    (void)state;
    const uint8_t code[] = {
        0x64, 0xa4,       /* movsb fs:[si] -> es:[di]      */
        0x64, 0xaa,       /* stosb: es:[di], override moot */
        0x2e, 0xac,       /* lodsb cs:[si]                 */
        0x64, 0xa6,       /* cmpsb fs:[si], es:[di]        */
        0x0f, 0x94, 0xc3, /* sete bl                       */
        0x64, 0xae,       /* scasb es:[di]                 */
        0x0f, 0x94, 0xc7, /* sete bh                       */
        0xf4,
    };
    boot(REAL, code, sizeof code);
    svmx_sregs s = sregs();
    s.seg[SVMX_DS].selector = 0x1000;
    s.seg[SVMX_DS].base = 0x10000;
    s.seg[SVMX_FS].selector = 0x2000;
    s.seg[SVMX_FS].base = 0x20000;
    s.seg[SVMX_ES].selector = 0x3000;
    s.seg[SVMX_ES].base = 0x30000;
    set_sregs(&s);
    m.ram[0x10100] = 0x11; /* DS:100, must not be read     */
    m.ram[0x20100] = 0x22; /* FS:100 -> ES:200             */
    m.ram[0x00101] = 0x55; /* CS:101 -> AL                 */
    m.ram[0x20102] = 0x66; /* FS:102 vs ES:202: equal      */
    m.ram[0x30202] = 0x66;
    m.ram[0x20203] = 0x55; /* FS:203 = AL, ES:203 is not   */
    m.ram[0x30203] = 0x54;
    set_reg(SVMX_RAX, 0x77);
    set_reg(SVMX_RBX, 0xffff);
    set_reg(SVMX_RSI, 0x100);
    set_reg(SVMX_RDI, 0x200);
    strcpy(what, "override real");
    run_to_hlt();
    EQ(m.ram[0x30200], 0x22);
    EQ(m.ram[0x30201], 0x77); /* STOSB to ES:201 ...          */
    EQ(m.ram[0x20201], 0);    /* ... not FS:201               */
    EQ(reg(SVMX_RAX) & 0xff, 0x55);
    EQ(reg(SVMX_RBX) & 0xff, 1); /* CMPSB compared FS:102      */
    EQ(reg(SVMX_RBX) >> 8 & 0xff, 0); /* SCASB read ES:203     */
    EQ(reg(SVMX_RSI), 0x103);
    EQ(reg(SVMX_RDI), 0x204);
}

/* 64-bit mode: DS/ES bases are ignored, an FS override adds FS.base
 * (SDM Vol. 3A 3.4.4). */
static void test_segment_override_long(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x64, 0xa4, 0xa4, 0xf4 }; /* fs movsb; movsb */
    boot(LONG, code, sizeof code);
    svmx_sregs s = sregs();
    s.seg[SVMX_DS].base = 0x1000;
    s.seg[SVMX_ES].base = 0x2000;
    s.seg[SVMX_FS].base = 0x40000;
    set_sregs(&s);
    m.ram[0x40000 + SRC] = 0xf5;
    m.ram[SRC + 1] = 0xd5;
    set_reg(SVMX_RSI, SRC);
    set_reg(SVMX_RDI, DST);
    strcpy(what, "override long");
    run_to_hlt();
    EQ(m.ram[DST], 0xf5);
    EQ(m.ram[DST + 1], 0xd5);
    EQ(m.ram[0x2000 + DST], 0);
}

/* Protected mode: DS limit 0x40ff. A REP MOVSD from 0x4000 runs 64
 * elements, the 65th at 0x4100 is #GP(0): ECX/ESI/EDI of 64 completed
 * elements, EIP at the instruction (SDM Vol. 2B REP). */
static void test_segment_limit_mid_rep(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0xa5, 0xf4 };
    boot(PROT, code, sizeof code);
    prot_handlers();
    svmx_sregs s = sregs();
    s.seg[SVMX_DS].limit = 0x40ff;
    s.seg[SVMX_DS].attr = 0x493; /* byte granular */
    set_sregs(&s);
    for (unsigned i = 0; i < 0x200; i++)
        m.ram[0x4000 + i] = (uint8_t)(i + 1);
    set_reg(SVMX_RSI, 0x4000);
    set_reg(SVMX_RDI, 0x6000);
    set_reg(SVMX_RCX, 0x80);
    strcpy(what, "limit mid rep");
    svmx_stop st = run_to_hlt();
    EQ(st.rip, 0x8001);
    EQ(reg(SVMX_RCX), 0x40);
    EQ(reg(SVMX_RSI), 0x4100);
    EQ(reg(SVMX_RDI), 0x6100);
    EQ(get(0x7000 - 16, 4), 0);      /* error code */
    EQ(get(0x7000 - 12, 4), 0x7c00); /* EIP of the REP MOVSD */
    assert_memory_equal(m.ram + 0x6000, m.ram + 0x4000, 0x100);
    EQ(m.ram[0x6100], 0);

    /* With the limit raised, the restart finishes exactly. */
    s = sregs();
    s.seg[SVMX_DS].limit = 0xffff;
    set_sregs(&s);
    set_rip(0x7c00);
    run_to_hlt();
    EQ(reg(SVMX_RCX), 0);
    EQ(reg(SVMX_RSI), 0x4200);
    assert_memory_equal(m.ram + 0x6000, m.ram + 0x4000, 0x200);
}

/* ---- page faults in the middle of a REP, and the restart ---------------- */

static void test_pf_mid_rep_movs(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0xa4, 0xf4 }; /* rep movsb; hlt */
    boot(LONG, code, sizeof code);
    map_4k();
    long_handlers();
    set_pte(0x31, 0); /* the destination's second page is not present */
    for (unsigned i = 0; i < 0x300; i++)
        m.ram[0x20e00 + i] = (uint8_t)(i * 3 + 1);
    set_reg(SVMX_RSI, 0x20e00);
    set_reg(SVMX_RDI, 0x30e00);
    set_reg(SVMX_RCX, 0x300);
    strcpy(what, "pf mid rep");
    svmx_stop st = run_to_hlt();
    EQ(st.rip, 0x8101);
    EQ(reg(SVMX_RCX), 0x100);
    EQ(reg(SVMX_RSI), 0x21000);
    EQ(reg(SVMX_RDI), 0x31000);
    EQ(sregs().cr2, 0x31000);
    EQ(get(0x7000 - 48, 8), 0x2);    /* write, not present, supervisor */
    EQ(get(0x7000 - 40, 8), 0x7c00); /* RIP of the REP MOVSB */
    assert_memory_equal(m.ram + 0x30e00, m.ram + 0x20e00, 0x200);
    EQ(m.ram[0x31000], 0);

    set_pte(0x31, 7);
    set_rip(0x7c00);
    st = run_to_hlt();
    EQ(st.rip, 0x7c03);
    EQ(reg(SVMX_RCX), 0);
    EQ(reg(SVMX_RSI), 0x21100);
    EQ(reg(SVMX_RDI), 0x31100);
    assert_memory_equal(m.ram + 0x30e00, m.ram + 0x20e00, 0x300);
    EQ(m.ram[0x31100], 0);
}

/* Downwards, the source page below is missing: a read fault (error 0). */
static void test_pf_mid_rep_movs_down(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0x48, 0xa5, 0xf4 }; /* rep movsq */
    boot(LONG, code, sizeof code);
    map_4k();
    long_handlers();
    set_pte(0x20, 0);
    for (unsigned i = 0; i < 0x100; i++)
        m.ram[0x21000 + i] = (uint8_t)(i ^ 0x5a);
    set_reg(SVMX_RSI, 0x210f8);
    set_reg(SVMX_RDI, 0x310f8);
    set_reg(SVMX_RCX, 0x40);
    set_flags(SVMX_RFLAGS_DF, 0);
    strcpy(what, "pf down");
    svmx_stop st = run_to_hlt();
    EQ(st.rip, 0x8101);
    EQ(reg(SVMX_RCX), 0x40 - 0x20);
    EQ(reg(SVMX_RSI), 0x20ff8);
    EQ(reg(SVMX_RDI), 0x30ff8);
    EQ(sregs().cr2, 0x20ff8);
    EQ(get(0x7000 - 48, 8), 0x0); /* read, not present */
    assert_memory_equal(m.ram + 0x31000, m.ram + 0x21000, 0x100);
}

/* An element that straddles into a missing page moves nothing: the
 * write is translated whole first (SDM Vol. 3A 4.7). */
static void test_pf_straddling_element(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0x66, 0xa5, 0xf4 }; /* rep movsw */
    boot(LONG, code, sizeof code);
    map_4k();
    long_handlers();
    set_pte(0x31, 0);
    m.ram[0x20000] = 0x12;
    m.ram[0x20001] = 0x34;
    set_reg(SVMX_RSI, 0x20000);
    set_reg(SVMX_RDI, 0x30fff);
    set_reg(SVMX_RCX, 4);
    strcpy(what, "straddle");
    svmx_stop st = run_to_hlt();
    EQ(st.rip, 0x8101);
    EQ(reg(SVMX_RCX), 4);
    EQ(reg(SVMX_RSI), 0x20000);
    EQ(reg(SVMX_RDI), 0x30fff);
    EQ(m.ram[0x30fff], 0);
    EQ(sregs().cr2, 0x31000);
}

/* CPL 3 writing a supervisor page: #PF with U, W and P (error 7). */
static void test_pf_user_rep_stos(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0xab, 0xf4 }; /* rep stosd */
    boot_long(code, sizeof code, true);
    map_4k();
    long_handlers();
    set_pte(0x31, 3); /* present, writable, supervisor only */
    set_reg(SVMX_RAX, 0xcafef00d);
    set_reg(SVMX_RDI, 0x30ff0);
    set_reg(SVMX_RCX, 8);
    strcpy(what, "user stos");
    svmx_stop st = run_to_hlt();
    EQ(st.rip, 0x8101);
    EQ(reg(SVMX_RCX), 4);
    EQ(reg(SVMX_RDI), 0x31000);
    EQ(get(0x9000 - 48, 8), 0x7);
    EQ(get(0x30ffc, 4), 0xcafef00d);
}

/* REP with rCX = 0 touches nothing and cannot fault (SDM Vol. 2B REP):
 * a non-canonical rSI and a missing page. */
static void test_rep_count_zero_no_access(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0xa4, 0xf3, 0xa6, 0xf3, 0xab, 0xf4 };
    boot(LONG, code, sizeof code);
    map_4k();
    long_handlers();
    set_pte(0x30, 0);
    set_reg(SVMX_RSI, 0x8000000000000000ull);
    set_reg(SVMX_RDI, 0x30000);
    set_reg(SVMX_RCX, 0);
    set_flags(ARITH, 0);
    strcpy(what, "count 0");
    svmx_stop st = run_to_hlt();
    EQ(st.rip, 0x7c07);
    EQ(reg(SVMX_RSI), 0x8000000000000000ull);
    EQ(reg(SVMX_RDI), 0x30000);
    EQ(rflags() & ARITH, ARITH);
}

/* Code rewritten by a REP STOSB (through the RAM fast path) is what the
 * next fetch executes, even where a decode of the old bytes was cached. */
static void test_rep_stos_rewrites_code(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0xaa, 0xf4, 0xf4, 0xf4, 0xf4 };
    boot(LONG, code, sizeof code);
    strcpy(what, "self-modifying");
    set_rip(0x7c02);
    EQ(run_to_hlt().rip, 0x7c03); /* the old HLT, decoded and cached */
    set_rip(0x7c00);
    set_reg(SVMX_RAX, 0x90);      /* NOP */
    set_reg(SVMX_RDI, 0x7c02);
    set_reg(SVMX_RCX, 3);
    svmx_stop st = run_to_hlt();
    EQ(st.rip, 0x7c06);
    EQ(st.insns, 5); /* REP STOSB, three NOPs, HLT */
}

/* ---- REP chunks: the budget and stop requests are honoured ------------- */

static void test_rep_budget_and_resume(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0xa4, 0xf4 };
    boot(LONG, code, sizeof code);
    const uint32_t len = 0x40000;
    for (uint32_t i = 0; i < len; i++)
        m.ram[0x40000 + i] = (uint8_t)(i * 11 + (i >> 8));
    set_reg(SVMX_RSI, 0x40000);
    set_reg(SVMX_RDI, 0x80000);
    set_reg(SVMX_RCX, len);
    strcpy(what, "budget");
    svmx_stop st = run(1);
    EQ(st.reason, SVMX_STOP_BUDGET);
    EQ(st.rip, 0x7c00); /* still at the REP MOVSB */
    uint64_t left = reg(SVMX_RCX);
    assert_true(left > 0 && left < len);
    uint64_t done = len - left;
    EQ(reg(SVMX_RSI), 0x40000 + done);
    EQ(reg(SVMX_RDI), 0x80000 + done);
    assert_memory_equal(m.ram + 0x80000, m.ram + 0x40000, done);
    EQ(m.ram[0x80000 + done], 0);
    /* svmx_cpu_step does one chunk, too. */
    assert_int_equal(svmx_cpu_step(m.cpu, &st), SVMX_OK);
    EQ(st.reason, SVMX_STOP_DEBUG);
    assert_true(reg(SVMX_RCX) < left);
    st = run_to_hlt();
    EQ(st.rip, 0x7c03);
    EQ(reg(SVMX_RCX), 0);
    assert_memory_equal(m.ram + 0x80000, m.ram + 0x40000, len);
}

/* A slow (MMIO) REP is cut into chunks as well. */
static unsigned mmio_writes;
static uint64_t mmio_last_gpa;

static svmx_status count_mmio_write(void *ctx, uint64_t gpa, unsigned size,
                                    uint64_t value)
{
    (void)ctx, (void)value;
    if (size == 4 && gpa == 0x100000 + 4ull * mmio_writes)
        mmio_writes++;
    mmio_last_gpa = gpa;
    return SVMX_OK;
}

static svmx_status addr_mmio_read(void *ctx, uint64_t gpa, unsigned size,
                                  uint64_t *value)
{
    (void)ctx, (void)size;
    *value = gpa ^ 0x5a5a5a5a5a5a5a5aull;
    return SVMX_OK;
}

static void test_rep_mmio(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0xab, 0xf3, 0xa4, 0xf4 }; /* stosd; movsb */
    boot(LONG, code, sizeof code);
    m.io.mmio_write = count_mmio_write;
    m.io.mmio_read = addr_mmio_read;
    mmio_writes = 0;
    set_reg(SVMX_RDI, 0x100000); /* above RAM: each element to the handler */
    set_reg(SVMX_RCX, 5);
    set_reg(SVMX_RAX, 1);
    strcpy(what, "mmio");
    svmx_stop st = run(1);
    EQ(st.reason, SVMX_STOP_BUDGET);
    EQ(mmio_writes, 5);
    EQ(mmio_last_gpa, 0x100010);
    /* MOVSB from MMIO into RAM, element by element. */
    set_reg(SVMX_RSI, 0x100040);
    set_reg(SVMX_RDI, DST);
    set_reg(SVMX_RCX, 6);
    run_to_hlt();
    for (unsigned i = 0; i < 6; i++)
        EQ(m.ram[DST + i], (uint8_t)((0x100040 + i) ^ 0x5a));
}

/* ---- INS and OUTS: the handlers, once per element ---------------------- */

static unsigned in_calls, out_calls, fail_at;
static uint16_t io_port_seen[64];
static uint32_t out_vals[64];
static unsigned io_size_seen;

static svmx_status count_in(void *ctx, uint16_t port, unsigned size,
                            uint32_t *value)
{
    (void)ctx;
    unsigned k = in_calls++;
    io_port_seen[k % 64] = port;
    io_size_seen = size;
    if (fail_at && in_calls == fail_at)
        return SVMX_E_UNSUPPORTED;
    *value = 0x11223344u + k * 0x01010101u;
    return SVMX_OK;
}

static svmx_status count_out(void *ctx, uint16_t port, unsigned size,
                             uint32_t value)
{
    (void)ctx;
    unsigned k = out_calls++;
    io_port_seen[k % 64] = port;
    io_size_seen = size;
    if (fail_at && out_calls == fail_at)
        return SVMX_E_UNSUPPORTED;
    out_vals[k % 64] = value;
    return SVMX_OK;
}

static void io_counters(void)
{
    m.io.pio_in = count_in;
    m.io.pio_out = count_out;
    in_calls = out_calls = fail_at = 0;
    io_size_seen = 0;
}

static void test_rep_outs(void **state)
{
    (void)state;
    for (int b = 0; b < BOOT_COUNT; b++)
        for (unsigned s = 0; s < 3; s++)
            for (int down = 0; down < 2; down++) {
                uint8_t code[8];
                size_t n = encode(b, sizes[s], 0xf3, 0x6e, code);
                code[n++] = 0xf4;
                snprintf(what, sizeof what, "outs %s size %u %s", boot_names[b],
                         sizes[s], down ? "down" : "up");
                boot(b, code, n);
                io_counters();
                for (unsigned i = 0; i < 0x100; i++)
                    m.ram[SRC - 0x80 + i] = (uint8_t)(i * 9 + 4);
                set_reg(SVMX_RSI, SRC);
                set_reg(SVMX_RDX, 0x3f8);
                set_reg(SVMX_RCX, 7);
                set_flags(down ? SVMX_RFLAGS_DF : 0, down ? 0 : SVMX_RFLAGS_DF);
                run_to_hlt();
                EQ(out_calls, 7);
                EQ(io_size_seen, sizes[s]);
                for (unsigned j = 0; j < 7; j++) {
                    EQ(io_port_seen[j], 0x3f8);
                    EQ(out_vals[j], get(SRC + elem_off(sizes[s], down, j), sizes[s]));
                }
                EQ(reg(SVMX_RSI), (uint64_t)(SRC + elem_off(sizes[s], down, 7)));
                EQ(reg(SVMX_RCX), 0);
            }
}

static void test_rep_ins(void **state)
{
    (void)state;
    for (int b = 0; b < BOOT_COUNT; b++)
        for (unsigned s = 0; s < 3; s++)
            for (int down = 0; down < 2; down++) {
                uint8_t code[8];
                size_t n = encode(b, sizes[s], 0xf3, 0x6c, code);
                code[n++] = 0xf4;
                snprintf(what, sizeof what, "ins %s size %u %s", boot_names[b],
                         sizes[s], down ? "down" : "up");
                boot(b, code, n);
                io_counters();
                memset(m.ram + 0x5000, 0xcc, 0x1000);
                set_reg(SVMX_RDI, DST);
                set_reg(SVMX_RDX, 0x1f0);
                set_reg(SVMX_RCX, 5);
                set_flags(down ? SVMX_RFLAGS_DF : 0, down ? 0 : SVMX_RFLAGS_DF);
                run_to_hlt();
                EQ(in_calls, 5);
                EQ(io_size_seen, sizes[s]);
                for (unsigned j = 0; j < 5; j++) {
                    EQ(io_port_seen[j], 0x1f0);
                    EQ(get(DST + elem_off(sizes[s], down, j), sizes[s]),
                       (0x11223344u + j * 0x01010101u) & mask_of(sizes[s]));
                }
                /* the bytes around the string are untouched */
                uint64_t lo = down ? DST - 4 * sizes[s] : DST;
                EQ(m.ram[lo - 1], 0xcc);
                EQ(m.ram[lo + 5 * sizes[s]], 0xcc);
                EQ(reg(SVMX_RDI), (uint64_t)(DST + elem_off(sizes[s], down, 5)));
                EQ(reg(SVMX_RCX), 0);
            }
}

/* INS/OUTS ignore REX.W: 4 bytes at most (SDM Vol. 2A INS). */
static void test_ins_rex_w(void **state)
{
    (void)state;
    const uint8_t code[] = { 0x48, 0x6d, 0xf4 };
    boot(LONG, code, sizeof code);
    io_counters();
    memset(m.ram + DST, 0xcc, 16);
    set_reg(SVMX_RDI, DST);
    strcpy(what, "ins rex.w");
    run_to_hlt();
    EQ(io_size_seen, 4);
    EQ(get(DST, 8), 0xcccccccc11223344ull);
    EQ(reg(SVMX_RDI), DST + 4);
}

/* A failing handler stops the run IO; the elements before it stay done
 * and the instruction resumes from the failed element. */
static void test_outs_handler_failure_mid_rep(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0x6e, 0xf4 };
    boot(LONG, code, sizeof code);
    io_counters();
    fail_at = 3;
    memcpy(m.ram + SRC, "ABCDE", 5);
    set_reg(SVMX_RSI, SRC);
    set_reg(SVMX_RDX, 0x2e8);
    set_reg(SVMX_RCX, 5);
    strcpy(what, "outs failure");
    svmx_stop st = run(1000);
    EQ(st.reason, SVMX_STOP_IO);
    EQ(st.rip, 0x7c00);
    EQ(st.addr, 0x2e8);
    EQ(st.size, 1);
    assert_true(st.write);
    EQ(st.handler_status, SVMX_E_UNSUPPORTED);
    EQ(reg(SVMX_RCX), 3);
    EQ(reg(SVMX_RSI), SRC + 2);
    fail_at = 0;
    run_to_hlt();
    EQ(out_calls, 6);
    EQ(out_vals[0], 'A');
    EQ(out_vals[1], 'B');
    EQ(out_vals[3], 'C');
    EQ(out_vals[5], 'E');
    EQ(reg(SVMX_RCX), 0);
}

static void test_ins_handler_failure_mid_rep(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0x66, 0x6d, 0xf4 }; /* rep insw */
    boot(PROT, code, sizeof code);
    io_counters();
    fail_at = 2;
    memset(m.ram + DST, 0xcc, 8);
    set_reg(SVMX_RDI, DST);
    set_reg(SVMX_RDX, 0x170);
    set_reg(SVMX_RCX, 3);
    strcpy(what, "ins failure");
    svmx_stop st = run(1000);
    EQ(st.reason, SVMX_STOP_IO);
    EQ(st.rip, 0x7c00);
    EQ(st.addr, 0x170);
    EQ(st.size, 2);
    assert_false(st.write);
    EQ(reg(SVMX_RCX), 2);
    EQ(reg(SVMX_RDI), DST + 2);
    EQ(get(DST, 2), 0x3344);
    EQ(get(DST + 2, 2), 0xcccc);
}

/* A port handler may ask for a stop in the middle of a REP OUTS: the
 * run stops after that element with RIP at the instruction. */
static void test_rep_outs_request_stop(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0x6e, 0xf4 };
    boot(REAL, code, sizeof code);
    m.stop_port = 0xf4;
    memcpy(m.ram + SRC, "xyz", 3);
    set_reg(SVMX_RSI, SRC);
    set_reg(SVMX_RDX, 0xf4);
    set_reg(SVMX_RCX, 3);
    strcpy(what, "request stop");
    svmx_stop st = run(1000);
    EQ(st.reason, SVMX_STOP_REQUESTED);
    EQ(st.rip, 0x7c00);
    EQ(m.outs, 1);
    EQ(reg(SVMX_RCX), 2);
    st = run(1000);
    EQ(st.reason, SVMX_STOP_REQUESTED);
    EQ(m.outs, 2);
    st = run(1000);
    EQ(st.reason, SVMX_STOP_REQUESTED); /* the last element retires it */
    EQ(st.rip, 0x7c02);
    EQ(m.outs, 3);
    EQ(m.out_value[2], 'z');
    EQ(reg(SVMX_RCX), 0);
}

/* INS translates its destination before it reads the port: a missing
 * page costs no port data (the model's choice, docs/interpreter.md). */
static void test_ins_fault_reads_no_port(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf3, 0x6c, 0xf4 };
    boot(LONG, code, sizeof code);
    map_4k();
    long_handlers();
    io_counters();
    set_pte(0x31, 0);
    set_reg(SVMX_RDI, 0x30ff0);
    set_reg(SVMX_RDX, 0x60);
    set_reg(SVMX_RCX, 0x20);
    strcpy(what, "ins fault");
    svmx_stop st = run_to_hlt();
    EQ(st.rip, 0x8101);
    EQ(in_calls, 0x10);
    EQ(reg(SVMX_RCX), 0x10);
    EQ(reg(SVMX_RDI), 0x31000);
    EQ(sregs().cr2, 0x31000);
}

/* ---- the I/O permission bitmap ------------------------------------------ */

typedef struct io_case {
    const char *name;
    uint16_t port;
    uint8_t  size;
    uint32_t limit;     /* TR.limit                                   */
    uint16_t base;      /* I/O map base at TSS + 0x66                  */
    int32_t  deny[2];   /* ports whose bit is set; -1: none            */
    int16_t  last;      /* the byte after the 8 KiB map; -1: 0xff      */
    uint8_t  iopl;
    bool     user;      /* CPL 3 (else CPL 0)                          */
    uint16_t tr_attr;   /* 0: the fixture's busy 32-bit TSS            */
    bool     allowed;
} io_case;

#define MAP 0x68u
#define FULL (MAP + 0x2000u) /* limit covering the map and its last byte */

static const io_case io_cases[] = {
    { "clear bit",               0x80, 1, FULL, MAP, { -1, -1 }, -1, 0, true, 0, true },
    { "set bit",                 0x80, 1, FULL, MAP, { 0x80, -1 }, -1, 0, true, 0, false },
    { "neighbour bit only",      0x80, 1, FULL, MAP, { 0x81, 0x7f }, -1, 0, true, 0, true },
    { "word, second port set",   0x80, 2, FULL, MAP, { 0x81, -1 }, -1, 0, true, 0, false },
    { "dword, fourth port set",  0x80, 4, FULL, MAP, { 0x83, -1 }, -1, 0, true, 0, false },
    { "dword, fifth port set",   0x80, 4, FULL, MAP, { 0x84, -1 }, -1, 0, true, 0, true },
    { "word across bytes, set",  0x87, 2, FULL, MAP, { 0x88, -1 }, -1, 0, true, 0, false },
    { "word across bytes, clear",0x87, 2, FULL, MAP, { 0x89, 0x86 }, -1, 0, true, 0, true },
    { "ffff dword, last byte 01",0xffff, 4, FULL, MAP, { -1, -1 }, 0x01, 0, true, 0, false },
    { "ffff dword, last byte f8",0xffff, 4, FULL, MAP, { -1, -1 }, 0xf8, 0, true, 0, true },
    { "ffff byte, last byte ff", 0xffff, 1, FULL, MAP, { -1, -1 }, -1, 0, true, 0, true },
    { "ffff byte, bit set",      0xffff, 1, FULL, MAP, { 0xffff, -1 }, 0, 0, true, 0, false },
    { "second byte over limit",  0xffff, 1, FULL - 1, MAP, { -1, -1 }, 0, 0, true, 0, false },
    { "map byte last in limit",  0x80, 1, MAP + 0x10, MAP, { -1, -1 }, -1, 0, true, 0, false },
    { "map word within limit",   0x80, 1, MAP + 0x11, MAP, { -1, -1 }, -1, 0, true, 0, true },
    { "map base beyond limit",   0x00, 1, 0x67, 0x2000, { -1, -1 }, -1, 0, true, 0, false },
    { "limit below the base",    0x80, 1, 0x66, MAP, { -1, -1 }, -1, 0, true, 0, false },
    { "iopl 3 bypasses",         0x80, 1, FULL, MAP, { 0x80, -1 }, -1, 3, true, 0, true },
    { "iopl 2 at cpl 3 checks",  0x80, 1, FULL, MAP, { 0x80, -1 }, -1, 2, true, 0, false },
    { "cpl 0 bypasses",          0x80, 1, 0x20, MAP, { 0x80, -1 }, -1, 0, false, 0x83, true },
    { "16-bit tss",              0x80, 1, FULL, MAP, { -1, -1 }, -1, 0, true, 0x83, false },
    { "available 32-bit tss",    0x80, 1, FULL, MAP, { -1, -1 }, -1, 0, true, 0x89, true },
};

static void bit_set(uint16_t base, uint32_t port)
{
    m.ram[TSS + base + port / 8] |= (uint8_t)(1u << (port % 8));
}

/* Runs `out dx, al|ax|eax; hlt` under the case; returns whether the OUT
 * happened (the #GP handler tells a denied OUT from the CPL-3 HLT). */
static void io_bitmap_case(const io_case *c, bool in)
{
    static const uint8_t op[2][3] = { { 0xee, 0x66, 0xef }, { 0xec, 0x66, 0xed } };
    uint8_t code[4];
    size_t n = 0;
    if (c->size == 1) {
        code[n++] = op[in][0];
    } else {
        if (c->size == 2)
            code[n++] = 0x66;
        code[n++] = op[in][2];
    }
    code[n++] = 0xf4;
    snprintf(what, sizeof what, "io bitmap: %s (%s)", c->name, in ? "in" : "out");
    boot_protected(code, n, c->user);
    prot_handlers();
    io_counters();
    memset(m.ram + TSS + MAP, 0, 0x2000);
    m.ram[TSS + MAP + 0x2000] = c->last < 0 ? 0xff : (uint8_t)c->last;
    for (int i = 0; i < 2; i++)
        if (c->deny[i] >= 0)
            bit_set(c->base, (uint32_t)c->deny[i]);
    put(TSS + 0x66, 2, c->base);
    svmx_sregs s = sregs();
    s.seg[SVMX_TR].limit = c->limit;
    if (c->tr_attr)
        s.seg[SVMX_TR].attr = c->tr_attr;
    set_sregs(&s);
    if (SVMX_SEG_ATTR_TYPE(s.seg[SVMX_TR].attr) == 3) {
        put(TSS + 2, 2, 0x9000); /* a 16-bit TSS: SP0, SS0 for the #GP */
        put(TSS + 4, 2, 0x10);
    }
    set_iopl(c->iopl);
    set_reg(SVMX_RDX, c->port);
    set_reg(SVMX_RAX, 0x89abcdef);
    svmx_stop st = run(1000);
    unsigned calls = in ? in_calls : out_calls;
    if (c->allowed) {
        EQ(calls, 1);
        EQ(io_port_seen[0], c->port);
        EQ(io_size_seen, c->size);
        if (c->user) { /* then HLT at CPL 3 is #GP, pushed with its EIP */
            EQ(st.rip, 0x8001);
            EQ(get(0x9000 - 20, 4), 0x7c00 + n - 1);
        } else {
            EQ(st.rip, 0x7c00 + n);
        }
    } else {
        EQ(calls, 0);
        EQ(st.rip, 0x8001);
        EQ(get(0x9000 - 24, 4), 0);      /* #GP(0) */
        EQ(get(0x9000 - 20, 4), 0x7c00); /* at the IN/OUT */
        EQ(reg(SVMX_RAX), 0x89abcdef);
    }
}

static void test_io_bitmap(void **state)
{
    (void)state;
    for (unsigned i = 0; i < sizeof io_cases / sizeof io_cases[0]; i++) {
        io_bitmap_case(&io_cases[i], false);
        io_bitmap_case(&io_cases[i], true);
    }
}

/* Long mode at CPL 3 with the I/O map at TSS + `base`, the page table of
 * 4 KiB pages and the fault handlers; port 0x300 denied. */
static void long_io_boot(const uint8_t *code, size_t n, uint16_t base,
                         uint32_t limit)
{
    boot_long(code, n, true);
    map_4k();
    long_handlers();
    io_counters();
    memset(m.ram + TSS + base, 0, 0x2000);
    m.ram[TSS + base + 0x2000] = 0xff;
    put(TSS + 0x66, 2, base);
    bit_set(base, 0x300);
    svmx_sregs s = sregs();
    s.seg[SVMX_TR].limit = limit;
    set_sregs(&s);
}

/*
 * REP OUTSB at CPL 3 from a missing page: the I/O permission comes
 * before the memory access, per element (SDM Vol. 2B OUTS, Operation),
 * so a denied port is #GP(0), an allowed one #PF; with rCX = 0 neither
 * the bitmap nor memory is looked at.
 */
static void outs_order_case(uint16_t port, uint64_t count, uint64_t handler,
                            uint64_t error, uint64_t fault_rip)
{
    const uint8_t code[] = { 0xf3, 0x6e, 0xf4 }; /* rep outsb */
    snprintf(what, sizeof what, "outs order port %#x count %llu", port,
             (unsigned long long)count);
    long_io_boot(code, sizeof code, MAP, FULL);
    set_pte(0x30, 0);
    set_reg(SVMX_RSI, 0x30000);
    set_reg(SVMX_RDX, port);
    set_reg(SVMX_RCX, count);
    svmx_stop st = run(1000);
    EQ(st.rip, handler + 1);
    EQ(get(0x9000 - 48, 8), error);
    EQ(get(0x9000 - 40, 8), fault_rip);
    EQ(out_calls, 0);
    EQ(reg(SVMX_RCX), count);
}

static void test_io_bitmap_strings(void **state)
{
    (void)state;
    outs_order_case(0x300, 4, 0x8000, 0, 0x7c00); /* #GP(0), not #PF */
    outs_order_case(0x301, 4, 0x8100, 4, 0x7c00); /* #PF: user read, P=0 */
    outs_order_case(0x300, 0, 0x8000, 0, 0x7c02); /* nothing; then the
                                                     CPL-3 HLT faults */
}

/* The bitmap is read as an implicit supervisor access: a supervisor-only
 * page serves CPL 3, a missing one is #PF with U clear (SDM Vol. 3A 4.6). */
static void test_io_bitmap_paging(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xe6, 0x80, 0xf4 }; /* out 0x80, al; hlt */
    /* the map at TSS + 0x1000 = 0x4000, a page of its own */
    long_io_boot(code, sizeof code, 0x1000, 0x3001);
    set_pte(0x4, 3); /* supervisor only */
    strcpy(what, "bitmap supervisor page");
    svmx_stop st = run(1000);
    EQ(out_calls, 1);
    EQ(st.rip, 0x8001);
    EQ(get(0x9000 - 40, 8), 0x7c02); /* the CPL-3 HLT */

    long_io_boot(code, sizeof code, 0x1000, 0x3001);
    set_pte(0x4, 0);
    strcpy(what, "bitmap missing page");
    st = run(1000);
    EQ(st.rip, 0x8101);
    EQ(out_calls, 0);
    EQ(sregs().cr2, 0x4010);
    EQ(get(0x9000 - 48, 8), 0x0); /* supervisor read, not present */
    EQ(get(0x9000 - 40, 8), 0x7c00);
}

/* Virtual-8086 mode consults the bitmap whatever IOPL is (SDM Vol. 3A,
 * "I/O-Port-Mapped I/O" in virtual-8086 mode). The #GP goes to the ring-0
 * handler with the nine-word virtual-8086 frame plus the error code. */
static void v86_case(unsigned iopl, bool deny)
{
    const uint8_t code[] = { 0xe6, 0x80, 0xf4 }; /* out 0x80, al; hlt */
    snprintf(what, sizeof what, "v86 iopl %u deny %d", iopl, deny);
    boot_protected(code, sizeof code, false);
    prot_handlers();
    io_counters();
    memset(m.ram + TSS + MAP, 0, 0x2001);
    put(TSS + 0x66, 2, MAP);
    if (deny)
        bit_set(MAP, 0x80);
    svmx_sregs s = sregs();
    s.seg[SVMX_TR].limit = FULL;
    for (int i = SVMX_ES; i <= SVMX_GS; i++)
        s.seg[i] = (svmx_segment){ .base = 0, .limit = 0xffff, .selector = 0,
                                   .attr = 0xf3 };
    set_sregs(&s);
    svmx_regs r;
    svmx_cpu_get_regs(m.cpu, &r);
    r.rflags = SVMX_RFLAGS_FIXED | SVMX_RFLAGS_VM | (uint64_t)iopl << 12;
    svmx_cpu_set_regs(m.cpu, &r);
    assert_int_equal(svmx_cpu_mode(m.cpu), SVMX_MODE_V86);
    svmx_stop st = run(1000);
    EQ(out_calls, deny ? 0 : 1);
    EQ(st.rip, 0x8001);
    EQ(get(0x9000 - 40, 4), 0);                     /* #GP(0) */
    EQ(get(0x9000 - 36, 4), deny ? 0x7c00 : 0x7c02); /* the faulting IP */
}

static void test_io_bitmap_v86(void **state)
{
    (void)state;
    v86_case(0, false);
    v86_case(3, true);
    v86_case(0, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_movs_sizes_directions_counts),
        cmocka_unit_test(test_f2_repeats_movs),
        cmocka_unit_test(test_movs_overlap),
        cmocka_unit_test(test_stos),
        cmocka_unit_test(test_lods),
        cmocka_unit_test(test_cmps_scas),
        cmocka_unit_test(test_repe_ignores_incoming_zf),
        cmocka_unit_test(test_compare_flags_edges),
        cmocka_unit_test(test_real_mode_si_di_wrap),
        cmocka_unit_test(test_real_mode_limit_fault),
        cmocka_unit_test(test_address_size_override),
        cmocka_unit_test(test_32bit_wrap),
        cmocka_unit_test(test_segment_override_real),
        cmocka_unit_test(test_segment_override_long),
        cmocka_unit_test(test_segment_limit_mid_rep),
        cmocka_unit_test(test_pf_mid_rep_movs),
        cmocka_unit_test(test_pf_mid_rep_movs_down),
        cmocka_unit_test(test_pf_straddling_element),
        cmocka_unit_test(test_pf_user_rep_stos),
        cmocka_unit_test(test_rep_count_zero_no_access),
        cmocka_unit_test(test_rep_stos_rewrites_code),
        cmocka_unit_test(test_rep_budget_and_resume),
        cmocka_unit_test(test_rep_mmio),
        cmocka_unit_test(test_rep_outs),
        cmocka_unit_test(test_rep_ins),
        cmocka_unit_test(test_ins_rex_w),
        cmocka_unit_test(test_outs_handler_failure_mid_rep),
        cmocka_unit_test(test_ins_handler_failure_mid_rep),
        cmocka_unit_test(test_rep_outs_request_stop),
        cmocka_unit_test(test_ins_fault_reads_no_port),
        cmocka_unit_test(test_io_bitmap),
        cmocka_unit_test(test_io_bitmap_strings),
        cmocka_unit_test(test_io_bitmap_paging),
        cmocka_unit_test(test_io_bitmap_v86),
    };
    return cmocka_run_group_tests(tests, NULL, fixture_teardown);
}
