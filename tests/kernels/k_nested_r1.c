/*
 * tests/kernels/k_nested_r1.c - DESIGN.md rule R1 (VMMCALL), checked from
 * inside L1: where a VMMCALL in L2 goes, that VMCALL is not VMMCALL on an
 * AMD CPU, and that VMMCALL in L1 is #UD.
 *
 * APM Vol. 2 15.18 and Vol. 3 VMMCALL: VMMCALL with its intercept set is
 * #VMEXIT(VMMCALL) (Table C-1, 81h; nRIP per 15.7.1); not intercepted it
 * raises #UD - in the guest, where the guest's own VMM may intercept it as
 * exception 6 (15.12, exit 46h, no error code), or, outside guest mode,
 * in L1 (no L0 policy exists by default: DESIGN.md "The three levels").
 * With EFER.SVME = 0 VMMCALL is #UD whatever the mode. VMCALL (0F 01 C1)
 * is Intel's: an AMD CPU has no VMX (CPUID 1 ECX[5] = 0) and raises #UD.
 */
#include "svm.h"

#define V (&svm_vmcb_a)

/* ----------------------------------------------------- guest snippets -- */

/* The instruction under test, then CPUID (intercepted where a case wants
   to see that L2 went on past it). */
SVM_SNIPPET(g_vmmcall, "vmmcall\ng_vmmcall_next: cpuid\n\tud2");
SVM_SNIPPET(g_vmcall, ".byte 0x0f, 0x01, 0xc1 /* VMCALL */\n"
                      "g_vmcall_next: cpuid\n\tud2");
SVM_LABEL(g_vmmcall);
SVM_LABEL(g_vmmcall_next);
SVM_LABEL(g_vmcall);
SVM_LABEL(g_vmcall_next);

/*
 * L2's own #UD handler, on gate 6 of l2_idt (every other gate goes to the
 * runtime's guest stubs, which record the event and halt: a HLT exit with
 * RIP in the stubs). It records the vector and the faulting RIP from its
 * frame, skips the 3-byte instruction (VMMCALL and VMCALL are both
 * 0F 01 xx) and returns.
 */
volatile uint64_t l2_ud_count, l2_ud_vector, l2_ud_rip;
SVM_SNIPPET(l2_ud_skip, "incq l2_ud_count(%rip)\n\t"
                        "movq $6, l2_ud_vector(%rip)\n\t"
                        "pushq %rax\n\t"
                        "movq 8(%rsp), %rax\n\t" /* the frame's RIP */
                        "movq %rax, l2_ud_rip(%rip)\n\t"
                        "addq $3, 8(%rsp)\n\t"
                        "popq %rax\n\t"
                        "iretq");
SVM_LABEL(l2_ud_skip);

static rt_gate l2_idt[256] __attribute__((aligned(16)));

/* A guest at rip whose IDT is l2_idt, with nothing of it recorded yet. */
static void guest_with_ud_handler(uint64_t rip)
{
    svm_vmcb_init(V, rip);
    memcpy(l2_idt, svm_guest_idt, sizeof l2_idt);
    uint64_t off = SVM_ADDR(l2_ud_skip);
    l2_idt[RT_UD].off0 = (uint16_t)off;
    l2_idt[RT_UD].off1 = (uint16_t)(off >> 16);
    l2_idt[RT_UD].off2 = (uint32_t)(off >> 32);
    V->idtr.base = svm_pa(l2_idt);
    V->idtr.limit = sizeof l2_idt - 1;
    l2_ud_count = l2_ud_vector = l2_ud_rip = 0;
}

/* L2 took #UD at rip through its own handler and then exited with the
   CPUID intercept at next. */
static void check_ud_in_l2(const uint8_t *rip, const uint8_t *next)
{
    SVM_CHECK_EXIT(V, SVM_EXIT_CPUID, SVM_ADDR(next), 2);
    CHECK_EQ(l2_ud_count, 1);
    CHECK_EQ(l2_ud_vector, RT_UD);
    CHECK_EQ(l2_ud_rip, SVM_ADDR(rip));
    CHECK_EQ(svm_guest_exc.count, 0); /* no other vector */
}

/* ------------------------------------------------------- VMMCALL in L2 -- */

/*
 * Intercept set: #VMEXIT 81h at the VMMCALL, nRIP = the next instruction
 * (15.7.1: instruction intercepts), no event being delivered. The APM
 * defines no EXITINFO1/2 for VMMCALL; the VMCB starts zeroed and they must
 * stay 0 (nothing is written into them).
 */
static void t_vmmcall_intercepted(void)
{
    guest_with_ud_handler(SVM_ADDR(g_vmmcall));
    CHECK(svm_intercepted(V, SVM_EXIT_VMMCALL), "VMMCALL intercept");
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_vmmcall), 3);
    CHECK_EQ(V->exitinfo1, 0);
    CHECK_EQ(V->exitinfo2, 0);
    CHECK_EQ(l2_ud_count, 0);
    CHECK_EQ(svm_guest_exc.count, 0);
}

/*
 * Intercept clear, #UD intercepted (15.12): the #UD that VMMCALL raises
 * in L2 becomes #VMEXIT 46h with RIP = the VMMCALL (a fault), EXITINFO1 =
 * 0 (#UD has no error code), EXITINTINFO.V = 0; L2's handler never runs.
 * L1 then skips the 3 bytes and L2 goes on to its CPUID.
 */
static void t_vmmcall_ud_intercepted(void)
{
    guest_with_ud_handler(SVM_ADDR(g_vmmcall));
    svm_intercept(V, SVM_EXIT_VMMCALL, false);
    svm_intercept(V, SVM_EXIT_EXC(RT_UD), true);
    svm_intercept(V, SVM_EXIT_CPUID, true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_EXC(RT_UD), SVM_ADDR(g_vmmcall), 0);
    CHECK_EQ(V->exitinfo1, 0);
    CHECK_EQ(l2_ud_count, 0);
    CHECK_EQ(svm_guest_exc.count, 0);

    V->rip += 3;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_CPUID, SVM_ADDR(g_vmmcall_next), 2);
    CHECK_EQ(l2_ud_count, 0);
}

/* Intercept clear, #UD not intercepted: #UD is delivered in L2, through
   L2's IDT, with the VMMCALL's RIP in the frame (R1: never a hypercall). */
static void t_vmmcall_ud_in_l2(void)
{
    guest_with_ud_handler(SVM_ADDR(g_vmmcall));
    svm_intercept(V, SVM_EXIT_VMMCALL, false);
    svm_intercept(V, SVM_EXIT_CPUID, true);
    svm_run(V);
    check_ud_in_l2(g_vmmcall, g_vmmcall_next);
}

/* ------------------------------------------------------- VMCALL in L2 -- */

/*
 * VMCALL on AMD: no VMX (CPUID 1 ECX[5] = 0), so 0F 01 C1 is #UD in L2
 * like any undefined opcode. L1's VMMCALL intercept is set and must not
 * catch it (Table C-1 81h is VMMCALL's, 0F 01 D9). With #UD intercepted,
 * exit 46h at the VMCALL.
 */
static void t_vmcall(void)
{
    uint32_t r[4];
    rt_cpuid(1, 0, r);
    CHECK_EQ(r[2] >> 5 & 1, 0); /* CPUID 1 ECX[5]: VMX */

    guest_with_ud_handler(SVM_ADDR(g_vmcall));
    svm_intercept(V, SVM_EXIT_CPUID, true);
    CHECK(svm_intercepted(V, SVM_EXIT_VMMCALL), "VMMCALL intercept");
    svm_run(V);
    check_ud_in_l2(g_vmcall, g_vmcall_next);

    guest_with_ud_handler(SVM_ADDR(g_vmcall));
    svm_intercept(V, SVM_EXIT_EXC(RT_UD), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_EXC(RT_UD), SVM_ADDR(g_vmcall), 0);
    CHECK_EQ(V->exitinfo1, 0);
    CHECK_EQ(l2_ud_count, 0);
}

/* ------------------------------------------------------- VMMCALL in L1 -- */

/* Executes VMMCALL in L1 with RAX = 0x5356 ("SV", a hypercall number no
   L0 knows); returns what RT_FAULT would (vector + 1, or 0), the
   instruction's address in *at and RAX after it in *rax. */
static int l1_vmmcall(uint64_t *at, uint64_t *rax)
{
    uint64_t before = rt_last.count, rip, a = 0x5356;
    __asm__ volatile("leaq 1f(%%rip), %0\n\t" RT_ARM("2f")
                     "1: vmmcall\n"
                     "2:\n\t" RT_DISARM
                     : "=&r"(rip), "+a"(a)
                     :
                     : RT_ARM_CLOBBER);
    *at = rip;
    *rax = a;
    return rt_last.count != before ? (int)rt_last.vector + 1 : 0;
}

/*
 * Outside guest mode VMMCALL has no intercept to consult; with no L0
 * hypercall policy (svmx's default) it is #UD in L1, as on bare metal (15.18,
 * Vol. 3 VMMCALL). With EFER.SVME = 0 it is #UD too (Vol. 3 VMMCALL).
 *
 * With "l0=hypercall" on the command line the kernel runs under an L0
 * that takes L1's hypercalls (`svmx run --l0 hypercall`, which answers
 * RAX = 0): VMMCALL then returns, RAX 0, with SVME set or clear - L0 is
 * the hypervisor L1 itself runs on (DESIGN.md "The three levels"). The
 * L2 cases above run the same either way: R1, never L0's hypercall.
 */
static void t_vmmcall_in_l1(void)
{
    bool l0 = rt_cmdline_has("l0=hypercall");
    CHECK(rt_rdmsr(RT_MSR_EFER) & RT_EFER_SVME, "EFER.SVME set by svm_init");
    for (int svme = 1; svme >= 0; svme--) {
        uint64_t at, rax;
        svm_set_svme(svme);
        int caught = l1_vmmcall(&at, &rax);
        svm_set_svme(true);
        if (l0) {
            CHECK_EQ(caught, 0);
            CHECK_EQ(rax, 0);
        } else {
            CHECK_EXC(caught, RT_UD, RT_NOERR, at);
        }
    }
    rt_printf("L1 VMMCALL: %s\n", l0 ? "L0 hypercall, RAX = 0" : "#UD");
}

void kmain(void)
{
    rt_printf("k_nested_r1: on %s\n", rt_cpuinfo.vendor);
    if (!svm_init())
        return;
    RT_RUN(t_vmmcall_intercepted);
    RT_RUN(t_vmmcall_ud_intercepted);
    RT_RUN(t_vmmcall_ud_in_l2);
    RT_RUN(t_vmcall);
    RT_RUN(t_vmmcall_in_l1);
}
