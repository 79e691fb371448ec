/*
 * tests/kernels/k_bench_roundtrip.c - the peer benchmark's kernel: N nested
 * round trips L2 -> #VMEXIT(CPUID) -> L1 -> VMRUN -> L2, the same image on
 * svmx, QEMU TCG and Bochs (tools/diff/peer-bench.py, docs/performance.md
 * "Peer benchmark"). It is bench/roundtrip.c's measurement as a bare-metal
 * kernel, so that implementations without an embedding API can run it.
 *
 *   L2: 1: cpuid; jmp 1b            (CPUID intercepted, 15.9)
 *   L1: vmrun; EXITCODE == 72h?; advance the guest's RIP; count; loop
 *
 * L1 advances RIP to nRIP when CPUID 8000_000A EDX[3] advertises NRIP
 * save (15.7.1), else by CPUID's two bytes. The loop is assembly, ten
 * instructions per round trip (nine with RIP + 2), as in bench/roundtrip.c.
 *
 * N comes from the multiboot command line, `n=NUMBER` (svmx run --append,
 * QEMU -append). Without one it is k_bench_default_n below, 1,000,000: a
 * boot path that passes no command line (tests/kernels/boot/, Bochs) gets
 * another N by rewriting that string's digits in the image, which
 * peer-bench.py does. With n=0 the kernel boots, sets up SVM and exits:
 * the time to subtract. It ends with
 *   # bench roundtrip: n=N done=N advance=nrip|rip+2
 *   PASS
 * and exits through port 0xF4 like every kernel.
 */
#include "svm.h"

#define V (&svm_vmcb_a)

/* The default N as a string that peer-bench.py can find and rewrite in
   the image file: the marker, then up to 20 digits, NUL-padded. volatile,
   so that the compiler reads the bytes the image holds. */
#define BENCH_MARK "svmx-bench-default:n="
volatile const char k_bench_default_n[sizeof BENCH_MARK - 1 + 21]
    __attribute__((used)) = BENCH_MARK "1000000";

SVM_SNIPPET(g_loop, "cpuid\ng_loop_jmp: jmp g_loop");
SVM_LABEL(g_loop);
SVM_LABEL(g_loop_jmp);

/*
 * uint64_t bench_loop_nrip(svm_vmcb *v = rdi, uint64_t n = rsi), and
 * bench_loop_rip2 the same with RIP + 2: VMRUN n times while every exit
 * is CPUID; returns the round trips made (fewer than n: the last exit was
 * something else). n > 0. The guest runs only JMP (CPUID exits before it
 * executes, 15.7.1), which changes no register, and VMRUN/#VMEXIT switch
 * RAX, RSP and RIP, so L1's registers survive; the clobber list says what
 * a CPUID that did execute would change.
 */
__asm__(".pushsection .text\n"
        "    .balign 16\n"
        "bench_loop_nrip:\n"
        "    movq %rdi, %rax\n"
        "    movq %rsi, %r8\n"
        "    xorl %r9d, %r9d\n"
        "1:  vmrun %rax\n"
        "    cmpq $0x72, 0x70(%rax)\n"    /* EXITCODE: CPUID          */
        "    jne 2f\n"
        "    movq 0xc8(%rax), %rdx\n"      /* nRIP                     */
        "    movq %rdx, 0x578(%rax)\n"     /* the guest's RIP          */
        "    incq %r9\n"
        "    decq %r8\n"
        "    jnz 1b\n"
        "2:  movq %r9, %rax\n"
        "    ret\n"
        "    .balign 16\n"
        "bench_loop_rip2:\n"
        "    movq %rdi, %rax\n"
        "    movq %rsi, %r8\n"
        "    xorl %r9d, %r9d\n"
        "1:  vmrun %rax\n"
        "    cmpq $0x72, 0x70(%rax)\n"
        "    jne 2f\n"
        "    addq $2, 0x578(%rax)\n"       /* CPUID is 0F A2           */
        "    incq %r9\n"
        "    decq %r8\n"
        "    jnz 1b\n"
        "2:  movq %r9, %rax\n"
        "    ret\n"
        ".popsection\n");

static uint64_t bench_loop(svm_vmcb *v, uint64_t n, bool nrip)
{
    uint64_t done;
    if (nrip)
        __asm__ volatile("call bench_loop_nrip"
                         : "=a"(done), "+D"(v), "+S"(n)
                         :
                         : "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11",
                           "memory", "cc");
    else
        __asm__ volatile("call bench_loop_rip2"
                         : "=a"(done), "+D"(v), "+S"(n)
                         :
                         : "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11",
                           "memory", "cc");
    return done;
}

/* The default N: the digits after the marker (at most 20, which may not
   overflow: 2^64 - 1 has 20 digits, so the image holds a value that fits). */
static uint64_t default_n(void)
{
    uint64_t n = 0;
    for (size_t i = sizeof BENCH_MARK - 1; i < sizeof k_bench_default_n; i++) {
        char c = k_bench_default_n[i];
        if (c < '0' || c > '9')
            break;
        n = n * 10 + (uint64_t)(c - '0');
    }
    return n;
}

static uint64_t n_trips;

static void t_roundtrip(void)
{
    bool nrip = svm_cpu.nrips;
    svm_vmcb_init(V, SVM_ADDR(g_loop));
    svm_intercept(V, SVM_EXIT_CPUID, true);
    V->tlb_control = 0; /* ASID 1 never ran and no mapping changes (15.16.1) */
    uint64_t done = n_trips ? bench_loop(V, n_trips, nrip) : 0;
    svm_stgi(); /* #VMEXIT cleared GIF (15.17) */
    rt_printf("# bench roundtrip: n=%lu done=%lu advance=%s\n", n_trips,
              done, nrip ? "nrip" : "rip+2");
    CHECK_EQ(done, n_trips);
    if (!n_trips)
        return;
    if (done != n_trips)
        svm_print_exit(V);
    /* The last exit: CPUID at L2's CPUID, nRIP (when saved) its JMP; L1
       then moved RIP to the JMP; no event was being delivered. */
    CHECK_EQ(V->exitcode, SVM_EXIT_CPUID);
    CHECK_EQ(V->rip, SVM_ADDR(g_loop_jmp));
    if (nrip)
        CHECK_EQ(V->nrip, SVM_ADDR(g_loop_jmp));
    CHECK_EQ(V->exitintinfo >> 31 & 1, 0);
    CHECK_EQ(svm_guest_exc.count, 0);
}

void kmain(void)
{
    rt_printf("k_bench_roundtrip: on %s\n", rt_cpuinfo.vendor);
    if (!rt_cmdline_u64("n", &n_trips))
        n_trips = default_n();
    if (!svm_init())
        return;
    RT_RUN(t_roundtrip);
}
