/*
 * bench/route.c - routing decisions per second: svmx_route() over a mix
 * of SVM exits an L2 raises, decided against vmcb12's cached controls.
 *
 * The CPU is put in guest mode for real (L1 runs `vmrun`, L2 spins), with
 * a VMCB that intercepts CPUID, VMMCALL, CR3/CR4 writes, the selective
 * CR0 write, #PF and #UD, and MSR and I/O accesses through an MSRPM
 * (EFER writes, APIC_BASE) and an IOPM (ports 0x60-0x64, 0x3F8-0x3FF).
 * The mix is 16 exits - CPUID, MSR reads and writes inside and outside
 * the map's ranges, IN/OUT of 1, 2 and 4 bytes, exceptions, VMMCALL, CR
 * writes - half of them reflected to L1, half not; each decision is
 * checked once before timing.
 *
 * The baseline is the loop that only loads each exit's code, so the ratio
 * (baseline ns / route ns, below 1) is what the decision costs beyond
 * reading the event. The headline:
 *   route: V ns/decision; baseline: B ns/decision; ratio: B/V
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svmx/svmx.h"

#include "bench_svm.h"
#include "bench_util.h"

#define RAM_SIZE  (4u << 20)
#define L1_CODE   0x30000u
#define L2_CODE   0x31000u
#define MSRPM     0x50000u
#define IOPM      0x54000u
#ifndef DECISIONS
#define DECISIONS 20000000u
#endif

typedef struct mix_row {
    svmx_exit exit;
    uint8_t   route;     /* svmx_route_kind expected */
} mix_row;

/* IOIO EXITINFO1 (APM Vol. 2 15.10.2): port << 16, the one-hot size
 * (bit 4: 1 byte, 5: 2, 6: 4), TYPE (bit 0) = IN. */
static const mix_row mix[16] = {
    { { .code = SVMX_SVM_EXIT_CPUID }, SVMX_ROUTE_REFLECT },
    { { .code = SVMX_SVM_EXIT_MSR, .index = 0xc0000080u }, SVMX_ROUTE_ARCH },
    { { .code = SVMX_SVM_EXIT_MSR, .info1 = 1, .index = 0xc0000080u },
      SVMX_ROUTE_REFLECT },
    { { .code = SVMX_SVM_EXIT_MSR, .index = 0x1b }, SVMX_ROUTE_REFLECT },
    { { .code = SVMX_SVM_EXIT_MSR, .index = 0x10 }, SVMX_ROUTE_ARCH },
    { { .code = SVMX_SVM_EXIT_MSR, .info1 = 1, .index = 0x40000000u },
      SVMX_ROUTE_REFLECT },
    { { .code = SVMX_SVM_EXIT_IOIO, .info1 = 0x60u << 16 | 0x10 | 1,
        .index = 0x60, .size = 1 }, SVMX_ROUTE_REFLECT },
    { { .code = SVMX_SVM_EXIT_IOIO, .info1 = 0x3feu << 16 | 0x20,
        .index = 0x3fe, .size = 2 }, SVMX_ROUTE_REFLECT },
    { { .code = SVMX_SVM_EXIT_IOIO, .info1 = 0x80u << 16 | 0x10,
        .index = 0x80, .size = 1 }, SVMX_ROUTE_ARCH },
    { { .code = SVMX_SVM_EXIT_IOIO, .info1 = 0x70u << 16 | 0x40 | 1,
        .index = 0x70, .size = 4 }, SVMX_ROUTE_ARCH },
    { { .code = SVMX_SVM_EXIT_EXCP(14), .info1 = 2, .info2 = 0x1000 },
      SVMX_ROUTE_REFLECT },
    { { .code = SVMX_SVM_EXIT_EXCP(13) }, SVMX_ROUTE_ARCH },
    { { .code = SVMX_SVM_EXIT_VMMCALL }, SVMX_ROUTE_REFLECT },
    { { .code = SVMX_SVM_EXIT_CR3_WRITE }, SVMX_ROUTE_REFLECT },
    { { .code = SVMX_SVM_EXIT_CR0_WRITE, .value = 0x80000019 },
      SVMX_ROUTE_ARCH },                       /* TS only: not selective */
    { { .code = SVMX_SVM_EXIT_CR8_WRITE }, SVMX_ROUTE_ARCH },
};

/* The order the timed loop visits the mix in: a fixed shuffle of 1,024,
 * rather than a period of 16. A recurring mix, as a hypervisor's exits
 * are: Zen 3's branch predictor learns even this order (with a
 * non-repeating one the figure doubles, docs/performance.md). */
static uint8_t order[1024];

static int fail(const char *what)
{
    fprintf(stderr, "bench_route: %s\n", what);
    return 1;
}

/* Sets the MSRPM read (rw bit 0) and write (bit 1) bits of `msr`. */
static void msrpm(uint8_t *ram, uint32_t msr, unsigned rw)
{
    uint32_t byte;
    unsigned bit;
    if (svmx_svm_msrpm_locate(msr, &byte, &bit))
        ram[MSRPM + byte] |= (uint8_t)(rw << bit);
}

static void iopm(uint8_t *ram, unsigned first, unsigned last)
{
    for (unsigned p = first; p <= last; p++)
        ram[IOPM + p / 8] |= (uint8_t)(1u << (p % 8));
}

/* L1 runs VMRUN; L2 spins: afterwards the CPU is in guest mode. */
static int enter_guest(svmx_cpu *cpu, uint8_t *ram)
{
    static const uint8_t l1[] = { 0x0f, 0x01, 0xd8, 0xf4 }; /* vmrun; hlt */
    static const uint8_t l2[] = { 0xeb, 0xfe };             /* jmp $ */
    svmx_vmcb v;
    memset(ram, 0, RAM_SIZE);
    memcpy(ram + L1_CODE, l1, sizeof l1);
    memcpy(ram + L2_CODE, l2, sizeof l2);
    bsvm_vmcb(&v, L2_CODE);
    static const unsigned icpts[] = {
        SVMX_SVM_INTERCEPT_CPUID, SVMX_SVM_INTERCEPT_VMMCALL,
        SVMX_SVM_INTERCEPT_CR_WRITE(3), SVMX_SVM_INTERCEPT_CR_WRITE(4),
        SVMX_SVM_INTERCEPT_CR0_SEL_WRITE, SVMX_SVM_INTERCEPT_EXCEPTION(14),
        SVMX_SVM_INTERCEPT_EXCEPTION(6), SVMX_SVM_INTERCEPT_MSR_PROT,
        SVMX_SVM_INTERCEPT_IOIO_PROT,
    };
    for (size_t i = 0; i < sizeof icpts / sizeof icpts[0]; i++)
        svmx_svm_intercept_set(&v, icpts[i], true);
    svmx_vmcb_set(&v, SVMX_VMCB_MSRPM_BASE_PA, MSRPM);
    svmx_vmcb_set(&v, SVMX_VMCB_IOPM_BASE_PA, IOPM);
    memcpy(ram + BSVM_VMCB, v.bytes, sizeof v.bytes);
    msrpm(ram, BSVM_MSR_EFER, 2);
    msrpm(ram, 0x1b, 3);
    iopm(ram, 0x60, 0x64);
    iopm(ram, 0x3f8, 0x3ff);
    if (bsvm_boot(cpu, ram, L1_CODE))
        return fail("the state API refused the L1 state");
    svmx_stop st;
    svmx_cpu_run(cpu, 50, &st);
    svmx_decision d;
    svmx_exit x = { .code = SVMX_SVM_EXIT_CPUID };
    if (st.reason != SVMX_STOP_BUDGET || svmx_route(cpu, &x, &d) != SVMX_OK ||
        d.exit.level != SVMX_LEVEL_L2)
        return fail("the CPU did not enter guest mode");
    return 0;
}

/* Each row's decision, once, before any timing. */
static int verify(svmx_cpu *cpu)
{
    for (size_t i = 0; i < 16; i++) {
        svmx_decision d;
        if (svmx_route(cpu, &mix[i].exit, &d) != SVMX_OK ||
            d.route != mix[i].route) {
            fprintf(stderr, "bench_route: mix row %zu (%s) routed %s, "
                    "expected %s\n", i,
                    svmx_svm_exit_name(mix[i].exit.code),
                    svmx_route_name((svmx_route_kind)d.route),
                    svmx_route_name((svmx_route_kind)mix[i].route));
            return 1;
        }
    }
    return 0;
}

static double time_route(svmx_cpu *cpu, unsigned *sink)
{
    svmx_decision d;
    unsigned sum = 0;
    double t0 = bench_now_ns();
    for (uint32_t i = 0; i < DECISIONS; i++) {
        svmx_route(cpu, &mix[order[i & 1023]].exit, &d);
        sum += d.route;
    }
    double t1 = bench_now_ns();
    *sink += sum;
    return (t1 - t0) / DECISIONS;
}

static double time_baseline(unsigned *sink)
{
    /* Only the exit code is loaded; volatile keeps the loop honest. */
    volatile uint64_t sum = 0;
    double t0 = bench_now_ns();
    for (uint32_t i = 0; i < DECISIONS; i++)
        sum += mix[order[i & 1023]].exit.code;
    double t1 = bench_now_ns();
    *sink += (unsigned)sum;
    return (t1 - t0) / DECISIONS;
}

int main(void)
{
    uint8_t *ram = aligned_alloc(4096, RAM_SIZE);
    svmx_cpu *cpu = NULL;
    if (!ram)
        return fail("out of memory");
    svmx_config cfg = { .vendor = SVMX_VENDOR_AMD, .ram = ram,
                        .ram_size = RAM_SIZE };
    if (svmx_cpu_create(&cfg, &cpu) != SVMX_OK)
        return fail("svmx_cpu_create failed");
    if (enter_guest(cpu, ram) || verify(cpu))
        return 1;
    uint32_t seed = 12345;
    for (size_t i = 0; i < sizeof order; i++) {
        seed = seed * 1103515245u + 12345u;
        order[i] = (uint8_t)((seed >> 16) % 16);
    }

    double route_ns[BENCH_ROUNDS], base_ns[BENCH_ROUNDS];
    unsigned sink = 0;
    for (int r = 0; r < BENCH_ROUNDS; r++) {
        route_ns[r] = time_route(cpu, &sink);
        base_ns[r] = time_baseline(&sink);
    }
    double rn = bench_median(route_ns, BENCH_ROUNDS);
    double bn = bench_median(base_ns, BENCH_ROUNDS);
    printf("routing decisions: %u per round, median of %d rounds "
           "(sink %u)\n", DECISIONS, BENCH_ROUNDS, sink & 1);
    printf("  route    %.2f ns/decision  (%.1f M decisions/s)\n", rn,
           1e3 / rn);
    printf("  baseline %.2f ns/decision  (load the exit code only)\n", bn);
    printf("route: %.2f ns/decision; baseline: %.2f ns/decision; ratio: %.2f\n",
           rn, bn, bn / rn);
    svmx_cpu_destroy(cpu);
    free(ram);
    return 0;
}
