/*
 * bench/interp.c - instructions per second of the interpreter on a
 * compute loop in 64-bit mode: integer arithmetic, loads and stores to
 * an array, taken and not-taken branches, calls and returns, pushes and
 * pops. The loop is assembled into this program (GNU as, below), copied
 * into guest RAM at GUEST_CODE and run with svmx_cpu_run() until its HLT.
 *
 * The baseline is what a naive interpreter pays before doing any work:
 * raw ZydisDecoderDecodeFull of the same dynamic instruction stream (the
 * RIPs of one loop iteration, recorded by single-stepping it). The
 * headline:
 *   interp: V Minsns/s; baseline: B Minsns/s; ratio: V/B
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <Zydis/Zydis.h>

#include "svmx/svmx.h"

#include "bench_machine.h"
#include "bench_util.h"

/*
 * The guest: ITER iterations over a 64-entry array at GUEST_DATA; only
 * relative branches, so it runs wherever it is copied. R8D holds the
 * iteration count on entry.
 */
__asm__(
    "    .pushsection .rodata\n"
    "    .globl guest_loop, guest_loop_end\n"
    "guest_loop:\n"
    "    mov $0x20000, %edi\n"
    "    xor %eax, %eax\n"
    "1:  mov %r8d, %ecx\n"
    "    and $63, %ecx\n"
    "    mov (%rdi,%rcx,8), %rdx\n"
    "    add %r8, %rdx\n"
    "    lea (%rdx,%rdx,2), %rdx\n"
    "    mov %rdx, (%rdi,%rcx,8)\n"
    "    call 2f\n"
    "    test $1, %dl\n"
    "    jz 3f\n"
    "    inc %rax\n"
    "3:  cmp %rax, %rdx\n"
    "    cmovb %rdx, %rax\n"
    "    dec %r8d\n"
    "    jnz 1b\n"
    "    hlt\n"
    "2:  push %rbx\n"
    "    lea 1(%rdx), %rbx\n"
    "    xor %rbx, %rax\n"
    "    shr $1, %rbx\n"
    "    sub %rbx, %rax\n"
    "    pop %rbx\n"
    "    ret\n"
    "guest_loop_end:\n"
    "    .popsection\n");

extern const uint8_t guest_loop[], guest_loop_end[];

#define RAM_SIZE   (4u << 20)
#define GUEST_PT   0x10000u
#define GUEST_DATA 0x20000u
#define GUEST_CODE 0x30000u
#define GUEST_STACK 0x80000u
#ifndef ITER
#define ITER       200000u
#endif
#define MAX_TRACE  64


/* 64-bit mode, flat segments, an identity map of 2 MiB, RIP at the loop
 * and R8 = iterations. */
static int boot(svmx_cpu *cpu, uint8_t *ram, uint32_t iterations)
{
    memset(ram, 0, RAM_SIZE);
    memcpy(ram + GUEST_CODE, guest_loop, (size_t)(guest_loop_end - guest_loop));
    if (bench_long_mode(cpu, ram, GUEST_PT, GUEST_CODE, GUEST_STACK))
        return -1;
    return bench_set_gpr(cpu, SVMX_R8, iterations);
}

/* The RIPs of one loop iteration, by single-stepping. */
static size_t trace_iteration(svmx_cpu *cpu, uint8_t *ram, uint64_t *rips)
{
    size_t n = 0;
    if (boot(cpu, ram, 2) != 0)
        return 0;
    svmx_stop st;
    svmx_regs r;
    bool looped = false;
    while (n < MAX_TRACE) {
        svmx_cpu_get_regs(cpu, &r);
        if (n > 0 && r.rip == rips[2]) { /* back at the loop head */
            looped = true;
            break;
        }
        rips[n++] = r.rip;
        if (svmx_cpu_step(cpu, &st) != SVMX_OK || st.reason != SVMX_STOP_DEBUG)
            break;
    }
    return looped ? n - 2 : 0; /* the two set-up instructions do not repeat */
}

int main(void)
{
    uint8_t *ram = calloc(1, RAM_SIZE);
    svmx_cpu *cpu = NULL;
    svmx_config cfg = { .vendor = SVMX_VENDOR_AMD, .ram = ram,
                        .ram_size = RAM_SIZE };
    ZydisDecoder dec;
    uint64_t rips[MAX_TRACE];
    double per[BENCH_ROUNDS], base[BENCH_ROUNDS];
    unsigned sink = 0;

    if (!ram || svmx_cpu_create(&cfg, &cpu) != SVMX_OK ||
        !ZYAN_SUCCESS(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64,
                                       ZYDIS_STACK_WIDTH_64))) {
        fprintf(stderr, "bench_interp: set-up failed\n");
        return 1;
    }
    size_t body = trace_iteration(cpu, ram, rips);
    if (body == 0) {
        fprintf(stderr, "bench_interp: the loop does not run on svmx\n");
        return 1;
    }

    uint64_t insns = 0;
    for (int k = 0; k < BENCH_ROUNDS; k++) {
        svmx_stop st;
        if (boot(cpu, ram, ITER) != 0)
            return 1;
        double t0 = bench_now_ns();
        svmx_cpu_run(cpu, 0, &st);
        double t = bench_now_ns() - t0;
        if (st.reason != SVMX_STOP_HLT) {
            fprintf(stderr, "bench_interp: the loop stopped with %s (%s) at %#llx\n",
                    svmx_stop_reason_name(st.reason), st.what ? st.what : "",
                    (unsigned long long)st.rip);
            return 1;
        }
        insns = st.insns;
        per[k] = (double)st.insns / t * 1e3; /* Minsns/s */
        sink += (unsigned)ram[GUEST_DATA];
    }
    for (int k = 0; k < BENCH_ROUNDS; k++) {
        ZydisDecodedInstruction zi;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        double t0 = bench_now_ns();
        for (unsigned it = 0; it < ITER; it++)
            for (size_t i = 0; i < body; i++)
                if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, ram + rips[i + 2],
                                                        15, &zi, ops)))
                    sink += zi.length;
        base[k] = (double)ITER * (double)body / (bench_now_ns() - t0) * 1e3;
    }
    double v = bench_median(per, BENCH_ROUNDS);
    double b = bench_median(base, BENCH_ROUNDS);
    printf("guest loop: %zu instructions per iteration, %u iterations, "
           "%llu instructions per run\n", body, ITER, (unsigned long long)insns);
    printf("svmx_cpu_run             %8.1f Minsns/s  (%.2f ns/insn)\n", v, 1e3 / v);
    printf("raw Zydis decode only    %8.1f Minsns/s  (%.2f ns/insn)\n", b, 1e3 / b);
    printf("interp: %.1f Minsns/s; baseline: %.1f Minsns/s; ratio: %.2f\n",
           v, b, v / b);
    svmx_cpu_destroy(cpu);
    free(ram);
    return sink == 0xdeadbeef;
}
