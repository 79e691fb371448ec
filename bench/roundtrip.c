/*
 * bench/roundtrip.c - nested round trips per second: L2 -> #VMEXIT -> L1
 * handler -> VMRUN -> L2, all through the interpreter (svmx_cpu_run).
 *
 * L1 is a 64-bit hypervisor loop, L2 a 64-bit guest sharing L1's page
 * tables; both are assembled into this program (GNU as, below) and copied
 * into guest RAM:
 *
 *   L1: vmrun; EXITCODE == 0x72 (CPUID)?; RIP := NRIP; count; loop; hlt
 *   L2: cpuid; jmp back to it
 *
 * The VMCB intercepts CPUID (and VMRUN, as it must), so each round trip is
 * ten guest instructions: L2's JMP and intercepted CPUID, then L1's VMRUN,
 * CMP, JNE, two MOVs (NRIP, APM Vol. 2 15.7.1, copied to the save-area
 * RIP), INC, DEC, JNZ. A round trip is two world switches.
 *
 * The baseline is the same ten instructions in one loop without any world
 * switch: L1 alone runs JMP, CPUID, CPUID (not intercepted: outside guest
 * mode nothing intercepts), the same CMP, JNE and MOVs against a page laid
 * out like the VMCB, INC, DEC, JNZ. VMRUN and the intercepted CPUID are
 * both replaced by a CPUID executed for real, so that the loop leaves the
 * interpreter's fast loop as often as the round trip does. The ratio
 * (round trips per second / baseline iterations per second, below 1) is
 * what the two world switches cost over plain interpretation.
 *
 * Before any timing, a stepped run checks every exit of a few hundred
 * round trips (EXITCODE 0x72, NRIP the JMP after L2's CPUID, L2's RIP the
 * CPUID); after each timed run the count and the HLT reached are checked.
 * The headline:
 *   roundtrip: V Mtrips/s; baseline: B Miters/s; ratio: V/B
 */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svmx/svmx.h"

#include "bench_svm.h"
#include "bench_util.h"

/* RAX: the VMCB (VMRUN's operand; #VMEXIT gives the host RAX back),
 * R8D: round trips to make, R9: the count of exits handled. */
__asm__(
    "    .pushsection .rodata\n"
    "    .globl rt_l1, rt_l1_vmrun, rt_l1_ok, rt_l1_end\n"
    "rt_l1:\n"
    "    xor %r9d, %r9d\n"
    "rt_l1_vmrun:\n"
    "1:  vmrun %rax\n"
    "    cmpq $0x72, 0x70(%rax)\n"          /* EXITCODE: CPUID           */
    "    jne 9f\n"
    "    mov 0xc8(%rax), %rdx\n"            /* NRIP                      */
    "    mov %rdx, 0x578(%rax)\n"           /* save-area RIP             */
    "    inc %r9\n"
    "    dec %r8d\n"
    "    jnz 1b\n"
    "rt_l1_ok:\n"
    "    hlt\n"
    "9:  hlt\n"
    "rt_l1_end:\n"
    "    .globl rt_l2, rt_l2_end\n"
    "rt_l2:\n"
    "1:  cpuid\n"
    "    jmp 1b\n"
    "rt_l2_end:\n"
    "    .globl rt_base, rt_base_ok, rt_base_end\n"
    /* RSI: a page shaped like the VMCB, R8D: iterations, R9: count. */
    "rt_base:\n"
    "    xor %r9d, %r9d\n"
    "1:  jmp 2f\n"
    "2:  cpuid\n"
    "    cpuid\n"
    "    cmpq $0x72, 0x70(%rsi)\n"
    "    jne 9f\n"
    "    mov 0xc8(%rsi), %rdx\n"
    "    mov %rdx, 0x578(%rsi)\n"
    "    inc %r9\n"
    "    dec %r8d\n"
    "    jnz 1b\n"
    "rt_base_ok:\n"
    "    hlt\n"
    "9:  hlt\n"
    "rt_base_end:\n"
    "    .popsection\n");

extern const uint8_t rt_l1[], rt_l1_vmrun[], rt_l1_ok[], rt_l1_end[];
extern const uint8_t rt_l2[], rt_l2_end[];
extern const uint8_t rt_base[], rt_base_ok[], rt_base_end[];

#define RAM_SIZE    (4u << 20)
#define L1_CODE     0x30000u
#ifndef L2_CODE
#define L2_CODE     0x31100u     /* see below                              */
#endif
#define BASE_CODE   0x32000u
#define VMCB        BSVM_VMCB
#define FAKE_VMCB   0x42000u     /* the baseline's data page               */
#ifndef TRIPS
#define TRIPS       200000u
#endif
#define CHECK_TRIPS 300u
#define INSNS_PER_TRIP 10u

#define OFF(sym, base) ((uint64_t)((sym) - (base)))
#define L1_AT(sym)   (L1_CODE + OFF(sym, rt_l1))
#define BASE_AT(sym) (BASE_CODE + OFF(sym, rt_base))
#define L2_NRIP      (L2_CODE + 2u)   /* after the two-byte CPUID */

/*
 * L2 sits 0x100 into its page: at 0x31000 its JMP and L1's VMRUN (0x30003)
 * fall into one slot of the direct-mapped decode cache (its key folds the
 * page number into the low bits: 0x002 ^ 0x31 == 0x003 ^ 0x30) and evict
 * each other on every round trip, which costs two decodes per trip; real
 * hypervisor and guest code seldom line up like that.
 */

static uint64_t get64(const uint8_t *ram, uint64_t addr)
{
    uint64_t v;
    memcpy(&v, ram + addr, 8);
    return v;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_roundtrip: %s\n", what);
    return -1;
}

/* The guest: 64-bit, CPL 0, L1's segments and page tables, RIP at its
 * CPUID; CPUID and VMRUN intercepted (15.5.1 requires the latter). */
static void build_vmcb(uint8_t *ram)
{
    svmx_vmcb v;
    bsvm_vmcb(&v, L2_CODE);
    svmx_svm_intercept_set(&v, SVMX_SVM_INTERCEPT_CPUID, true);
    memcpy(ram + VMCB, v.bytes, sizeof v.bytes);
}

/* L1 on bench_svm.h's machine: RIP at `entry`, RAX the VMCB, RSI the
 * baseline's page, R8 the number of round trips (or iterations). */
static int boot(svmx_cpu *cpu, uint8_t *ram, uint64_t entry, uint32_t n)
{
    memset(ram, 0, RAM_SIZE);
    memcpy(ram + L1_CODE, rt_l1, (size_t)(rt_l1_end - rt_l1));
    memcpy(ram + L2_CODE, rt_l2, (size_t)(rt_l2_end - rt_l2));
    memcpy(ram + BASE_CODE, rt_base, (size_t)(rt_base_end - rt_base));
    bench_put64(ram, FAKE_VMCB + 0x70, 0x72);
    bench_put64(ram, FAKE_VMCB + 0xc8, L2_NRIP);
    build_vmcb(ram);
    if (bsvm_boot(cpu, ram, entry) || bench_set_gpr(cpu, SVMX_RSI, FAKE_VMCB))
        return -1;
    return bench_set_gpr(cpu, SVMX_R8, n);
}

/* Whether a run ended at `ok` (a HLT) with R9 = `count`. */
static int ended_well(svmx_cpu *cpu, const svmx_stop *st, uint64_t ok,
                      uint64_t count, const char *who)
{
    svmx_regs r;
    svmx_cpu_get_regs(cpu, &r);
    if (st->reason != SVMX_STOP_HLT || st->rip != ok + 1 ||
        r.gpr[SVMX_R9] != count) {
        fprintf(stderr, "bench_roundtrip: %s stopped with %s (%s) at %#llx, "
                "count %llu of %llu\n", who, svmx_stop_reason_name(st->reason),
                st->what ? st->what : "", (unsigned long long)st->rip,
                (unsigned long long)r.gpr[SVMX_R9], (unsigned long long)count);
        return -1;
    }
    return 0;
}

/*
 * CHECK_TRIPS round trips one instruction at a time: every time L1 is
 * back after VMRUN, the VMCB in RAM must show #VMEXIT(CPUID) with NRIP
 * the JMP after L2's CPUID and the guest RIP on that CPUID (the
 * intercepted instruction did not execute, 15.7.1), and L1 must not be in
 * guest mode; every time L2 runs, RIP is one of its two instructions.
 */
static int verify(svmx_cpu *cpu, uint8_t *ram)
{
    svmx_stop st;
    svmx_regs r;
    uint64_t exits = 0, steps = 0;
    if (boot(cpu, ram, L1_CODE, CHECK_TRIPS) != 0)
        return fail("set-up failed");
    for (;;) {
        if (svmx_cpu_step(cpu, &st) != SVMX_OK)
            return fail("svmx_cpu_step failed");
        steps += st.insns;
        if (st.reason == SVMX_STOP_HLT)
            break;
        if (st.reason != SVMX_STOP_DEBUG)
            return fail("stepped run stopped early");
        svmx_cpu_get_regs(cpu, &r);
        if (r.rip == L1_AT(rt_l1_vmrun) + 3) { /* back from VMRUN */
            exits++;
            if (get64(ram, VMCB + 0x70) != 0x72)
                return fail("an exit is not CPUID (0x72)");
            if (get64(ram, VMCB + 0xc8) != L2_NRIP)
                return fail("NRIP is not the instruction after CPUID");
            if (get64(ram, VMCB + 0x578) != L2_CODE)
                return fail("the saved guest RIP is not the CPUID");
            if (r.gpr[SVMX_RAX] != VMCB)
                return fail("#VMEXIT did not give L1 its RAX back");
        } else if (r.rip >= L2_CODE && r.rip < L2_CODE + 0x1000 &&
                   r.rip != L2_CODE && r.rip != L2_NRIP) {
            return fail("L2 ran outside its loop");
        }
    }
    if (exits != CHECK_TRIPS)
        return fail("wrong number of exits in the stepped run");
    /* XOR and HLT, and 10 per trip but the first (no JMP before it). */
    if (steps != 2 + CHECK_TRIPS * INSNS_PER_TRIP - 1)
        return fail("wrong number of instructions in the stepped run");
    if (ended_well(cpu, &st, L1_AT(rt_l1_ok), CHECK_TRIPS, "stepped run"))
        return -1;
    /* The same, run at full speed, must end the same way. */
    if (boot(cpu, ram, L1_CODE, CHECK_TRIPS) != 0 ||
        svmx_cpu_run(cpu, 0, &st) != SVMX_OK ||
        ended_well(cpu, &st, L1_AT(rt_l1_ok), CHECK_TRIPS, "run") != 0)
        return -1;
    if (st.insns != steps)
        return fail("run and stepped run differ in instructions");
    return 0;
}

/* One timed run of `n` round trips (or baseline iterations from
 * `entry`): per second, and the instructions it took. */
static int timed(svmx_cpu *cpu, uint8_t *ram, uint64_t entry, uint64_t ok,
                 uint32_t n, double *per_s, uint64_t *insns)
{
    svmx_stop st;
    if (boot(cpu, ram, entry, n) != 0)
        return fail("set-up failed");
    double t0 = bench_now_ns();
    svmx_cpu_run(cpu, 0, &st);
    double t = bench_now_ns() - t0;
    if (ended_well(cpu, &st, ok, n, entry == L1_CODE ? "roundtrip" : "baseline"))
        return -1;
    *per_s = (double)n / t * 1e9;
    *insns = st.insns;
    return 0;
}

int main(int argc, char **argv)
{
    uint8_t *ram = calloc(1, RAM_SIZE);
    svmx_cpu *cpu = NULL;
    svmx_config cfg = { .vendor = SVMX_VENDOR_AMD, .ram = ram,
                        .ram_size = RAM_SIZE };
    double per[BENCH_ROUNDS], base[BENCH_ROUNDS];
    uint64_t insns = 0, base_insns = 0;
    /* `bench_roundtrip N [base]`: one run of N round trips (or baseline
     * iterations) after the checks and nothing else, for callgrind. */
    uint32_t only = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 0;
    bool only_base = argc > 2 && strcmp(argv[2], "base") == 0;

    if (!ram || svmx_cpu_create(&cfg, &cpu) != SVMX_OK) {
        fprintf(stderr, "bench_roundtrip: set-up failed\n");
        return 1;
    }
    if (verify(cpu, ram) != 0)
        return 1;
    if (only) {
        double v;
        if (timed(cpu, ram, only_base ? BASE_CODE : L1_CODE,
                  only_base ? BASE_AT(rt_base_ok) : L1_AT(rt_l1_ok), only, &v,
                  &insns) != 0)
            return 1;
        printf("%u %s, %llu instructions\n", only,
               only_base ? "baseline iterations" : "round trips",
               (unsigned long long)insns);
        return 0;
    }
    for (int k = 0; k < BENCH_ROUNDS; k++) {
        if (timed(cpu, ram, L1_CODE, L1_AT(rt_l1_ok), TRIPS, &per[k],
                  &insns) != 0 ||
            timed(cpu, ram, BASE_CODE, BASE_AT(rt_base_ok), TRIPS, &base[k],
                  &base_insns) != 0)
            return 1;
    }
    double v = bench_median(per, BENCH_ROUNDS) / 1e6;
    double b = bench_median(base, BENCH_ROUNDS) / 1e6;
    printf("%u round trips (%llu guest instructions) against %u baseline "
           "iterations (%llu)\n", TRIPS, (unsigned long long)insns, TRIPS,
           (unsigned long long)base_insns);
    printf("L2->#VMEXIT->L1->VMRUN->L2  %7.2f M/s  (%.1f ns per round trip)\n",
           v, 1e3 / v);
    printf("same 10 insns, no switch    %7.2f M/s  (%.1f ns per iteration)\n",
           b, 1e3 / b);
    printf("roundtrip: %.2f Mtrips/s; baseline: %.2f Miters/s; ratio: %.2f\n",
           v, b, v / b);
    svmx_cpu_destroy(cpu);
    free(ram);
    return 0;
}
