/*
 * tests/fuzz/fuzz_run.c - libFuzzer entry point for the interpreter: the
 * input is a machine (vendor, mode, a few register and control bits) and
 * guest code. The code runs for a bounded number of instructions on a
 * small RAM with a GDT, an IDT of handlers that HLT, page tables for the
 * paged modes, and MMIO and port handlers that answer and sometimes
 * fail. Whatever the guest does must end in a stop reason — never a
 * crash, an abort, or an access outside RAM (ASan and UBSan watch). The
 * same input run twice must give the same result (determinism), a run
 * stepped one instruction at a time must agree with one run, and so must
 * a run with the embedder's debug hooks armed and resumed at each of
 * their stops (the guest never sees them).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svmx/svmx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM  (256u * 1024u)
#define GDT  0x1000u
#define IDT  0x2000u
#define TSS  0x3000u
#define PT   0x10000u
#define CODE 0x20000u
#define MAX_INSNS 2000u

static uint8_t ram[RAM];

static svmx_status pio_in(void *ctx, uint16_t port, unsigned size, uint32_t *v)
{
    (void)ctx, (void)size;
    *v = port * 0x01010101u;
    return port == 0xbad ? SVMX_E_UNSUPPORTED : SVMX_OK;
}

static svmx_status pio_out(void *ctx, uint16_t port, unsigned size, uint32_t v)
{
    (void)ctx, (void)size, (void)v;
    return port == 0xbad ? SVMX_E_UNSUPPORTED : SVMX_OK;
}

static svmx_status mmio_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *v)
{
    (void)ctx, (void)size;
    *v = gpa;
    return (gpa & 0xfff) == 0xbad ? SVMX_E_UNSUPPORTED : SVMX_OK;
}

static svmx_status mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t v)
{
    (void)ctx, (void)size, (void)v;
    return (gpa & 0xfff) == 0xbad ? SVMX_E_UNSUPPORTED : SVMX_OK;
}

static void put64(uint32_t a, uint64_t v)
{
    memcpy(ram + a, &v, 8);
}

static svmx_segment seg(uint16_t sel, uint16_t attr)
{
    return (svmx_segment){ .base = 0, .limit = 0xffffffff, .selector = sel,
                           .attr = attr };
}

/* The machine of one input; false if the state API refused it (a valid
 * answer, nothing to run). */
static bool setup(svmx_cpu *cpu, uint8_t sel, const uint8_t *code, size_t n)
{
    memset(ram, 0, sizeof ram);
    memcpy(ram + CODE, code, n < RAM - CODE ? n : RAM - CODE);
    put64(GDT + 0x08, 0x00cf9a000000ffffull); /* code32 DPL0 */
    put64(GDT + 0x10, 0x00cf92000000ffffull); /* data DPL0 */
    put64(GDT + 0x18, 0x00af9a000000ffffull); /* code64 DPL0 */
    put64(GDT + 0x20, 0x00cffa000000ffffull); /* code32 DPL3 */
    put64(GDT + 0x28, 0x00cff2000000ffffull); /* data DPL3 */
    put64(GDT + 0x30, 0x0000890030000067ull); /* TSS */
    put64(GDT + 0x38, 0x00affa000000ffffull); /* code64 DPL3 */
    for (unsigned v = 0; v < 256; v++) {      /* every vector: HLT at 0x8000 */
        put64(IDT + v * 16, 0x8000 | 0x18ull << 16 | 0x8eull << 40);
        put64(IDT + v * 16 + 8, 0);
        if (v < 0x100)                        /* real mode IVT at 0 */
            memcpy(ram + v * 4, &(uint32_t){ 0x08000000u }, 4);
    }
    ram[0x8000] = 0xf4;
    put64(TSS + 4, 0x7000);
    put64(PT, (PT + 0x1000) | 7);
    put64(PT + 0x1000, (PT + 0x2000) | 7);
    put64(PT + 0x2000, 0x87);                 /* 2 MiB: RAM, then MMIO */

    svmx_sregs s;
    svmx_regs r;
    if (svmx_cpu_get_sregs(cpu, &s) != SVMX_OK)
        return false;
    memset(&r, 0, sizeof r);
    r.rip = CODE;
    r.rflags = 2 | ((sel & 0x10) ? SVMX_RFLAGS_IF : 0) |
               ((sel & 0x20) ? SVMX_RFLAGS_TF : 0) |
               ((sel & 0x40) ? SVMX_RFLAGS_DF : 0);
    r.gpr[SVMX_RSP] = 0x7000;
    for (unsigned i = 0; i < 8; i++)
        r.gpr[i == SVMX_RSP ? SVMX_RAX : i] ^= (uint64_t)sel << (i * 3);
    bool user = sel & 0x80;
    s.gdt = (svmx_dtable){ GDT, 0x3f };
    s.idt = (svmx_dtable){ IDT, 0xfff };
    s.seg[SVMX_TR] = (svmx_segment){ .base = TSS, .limit = 0x67,
                                     .selector = 0x30, .attr = 0x8b };
    switch (sel & 3) {
    case 0: /* real mode at 0000:CODE-relative segment */
        s.seg[SVMX_CS].selector = (uint16_t)(CODE >> 4);
        s.seg[SVMX_CS].base = CODE;
        r.rip = 0;
        s.idt = (svmx_dtable){ 0, 0x3ff };
        break;
    case 1: /* 32-bit protected mode, flat */
        s.cr0 = 0x11;
        for (int i = SVMX_ES; i <= SVMX_GS; i++)
            s.seg[i] = seg(user ? 0x2b : 0x10, user ? 0xcf3 : 0xc93);
        s.seg[SVMX_CS] = seg(user ? 0x23 : 0x08, user ? 0xcfb : 0xc9b);
        s.idt.limit = 0x7ff;
        for (unsigned v = 0; v < 256; v++) /* 8-byte gates */
            put64(IDT + v * 8, 0x8000 | 0x08ull << 16 | 0x8eull << 40);
        break;
    default: /* 64-bit mode with 4-level paging */
        s.cr0 = 0x80000011;
        s.cr3 = PT;
        s.cr4 = 0x20 | ((sel & 4) ? 0x300000 : 0); /* PAE, maybe SMEP/SMAP */
        s.efer = 0x500 | ((sel & 8) ? 0x800 : 0);
        for (int i = SVMX_ES; i <= SVMX_GS; i++)
            s.seg[i] = seg(user ? 0x2b : 0x10, user ? 0xcf3 : 0xc93);
        s.seg[SVMX_CS] = seg(user ? 0x3b : 0x18, user ? 0xafb : 0xa9b);
        s.seg[SVMX_TR].attr = 0x8b;
        break;
    }
    return svmx_cpu_set_sregs(cpu, &s) == SVMX_OK &&
           svmx_cpu_set_regs(cpu, &r) == SVMX_OK;
}

static svmx_cpu *make_cpu(svmx_vendor v, const svmx_io_ops *io)
{
    svmx_config cfg = { .vendor = v, .ram = ram, .ram_size = RAM, .io = io };
    svmx_cpu *cpu;
    if (svmx_cpu_create(&cfg, &cpu) != SVMX_OK)
        abort();
    return cpu;
}

typedef enum how { RUN, STEPPED, HOOKED } how;

/* The hooks of a HOOKED run: INT3 at both levels and two breakpoints in
 * the code, at offsets the code's first and last bytes pick. */
static void arm(svmx_cpu *cpu, const uint8_t *code, size_t n)
{
    svmx_debug d = { .nbreakpoints = 2,
                     .int3 = SVMX_DEBUG_L1 | SVMX_DEBUG_L2 };
    uint8_t both = SVMX_DEBUG_L1 | SVMX_DEBUG_L2;
    d.breakpoints[0] = (svmx_breakpoint){ CODE + code[0] % n, both };
    d.breakpoints[1] = (svmx_breakpoint){ CODE + code[n - 1] % n, both };
    if (svmx_cpu_set_debug(cpu, &d) != SVMX_OK)
        abort();
}

/* Runs the input; returns the final state in *regs and the stop, with
 * st->insns the instructions of the whole run. */
static bool run_once(svmx_cpu *cpu, uint8_t sel, const uint8_t *code,
                     size_t n, how how, svmx_regs *regs, svmx_stop *st)
{
    if (svmx_cpu_reset(cpu) != SVMX_OK || svmx_cpu_set_debug(cpu, NULL))
        abort();
    if (!setup(cpu, sel, code, n))
        return false;
    uint64_t total = 0;
    if (how == STEPPED) {
        do {
            if (svmx_cpu_step(cpu, st) != SVMX_OK)
                abort();
            total += st->insns;
        } while (st->reason == SVMX_STOP_DEBUG && total < MAX_INSNS);
    } else {
        if (how == HOOKED && n)
            arm(cpu, code, n);
        /* A hook's stop is resumed: at most two per instruction (a
         * breakpoint, then INT3 on the same one). */
        unsigned stops = 0;
        do {
            if (svmx_cpu_run(cpu, MAX_INSNS - total, st) != SVMX_OK ||
                ++stops > 2 * MAX_INSNS + 2)
                abort();
            total += st->insns;
        } while (st->reason == SVMX_STOP_DEBUG && total < MAX_INSNS);
        if (st->reason == SVMX_STOP_DEBUG) /* the budget ran out there */
            st->reason = SVMX_STOP_BUDGET;
    }
    st->insns = total;
    svmx_cpu_get_regs(cpu, regs);
    return true;
}

/* Two ends that must agree did not: say how (FUZZ_RUN_VERBOSE=1) and
 * crash, so that libFuzzer keeps the input. */
static void mismatch(const char *n1, const svmx_regs *r1, const svmx_stop *s1,
                     const char *n2, const svmx_regs *r2, const svmx_stop *s2)
{
    if (getenv("FUZZ_RUN_VERBOSE"))
        fprintf(stderr, "%s: %s %llu rip %llx; %s: %s %llu rip %llx\n", n1,
                svmx_stop_reason_name(s1->reason), (unsigned long long)s1->insns,
                (unsigned long long)r1->rip, n2, svmx_stop_reason_name(s2->reason),
                (unsigned long long)s2->insns, (unsigned long long)r2->rip);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const svmx_io_ops io = { .pio_in = pio_in, .pio_out = pio_out,
                                    .mmio_read = mmio_read,
                                    .mmio_write = mmio_write };
    static svmx_cpu *cpus[SVMX_VENDOR_COUNT];
    if (size < 2)
        return 0;
    svmx_vendor v = (svmx_vendor)(data[0] & 1);
    uint8_t sel = data[1];
    if (!cpus[v])
        cpus[v] = make_cpu(v, &io);

    svmx_regs a, b, c, d;
    svmx_stop sa, sb, sc, sd;
    if (!run_once(cpus[v], sel, data + 2, size - 2, RUN, &a, &sa))
        return 0;
    /* Deterministic: the same input, the same end. */
    if (!run_once(cpus[v], sel, data + 2, size - 2, RUN, &b, &sb) ||
        memcmp(&a, &b, sizeof a) != 0 || sa.reason != sb.reason ||
        sa.insns != sb.insns)
        mismatch("run 1", &a, &sa, "run 2", &b, &sb);
    /* One instruction at a time (the full per-instruction path) ends
     * where one run (which takes the fast loop) does. */
    if (!run_once(cpus[v], sel, data + 2, size - 2, STEPPED, &c, &sc))
        abort();
    bool same_end = sc.reason == sa.reason ||
                    (sa.reason == SVMX_STOP_BUDGET && sc.reason == SVMX_STOP_DEBUG);
    if (!same_end || memcmp(&a, &c, sizeof a) != 0)
        mismatch("run", &a, &sa, "step", &c, &sc);
    /* The embedder's hooks stop and resume, and change nothing else. */
    if (!run_once(cpus[v], sel, data + 2, size - 2, HOOKED, &d, &sd))
        abort();
    if (sd.reason != sa.reason || sd.insns != sa.insns ||
        memcmp(&a, &d, sizeof a) != 0)
        mismatch("run", &a, &sa, "hooked", &d, &sd);
    return 0;
}
