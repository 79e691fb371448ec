/*
 * tests/kernels/k_nested_shutdown.c - a triple fault in L2, with and
 * without vmcb12's SHUTDOWN intercept (DESIGN.md, "Triple faults in
 * general"; routing-rules.md section 5, trap 9).
 *
 * APM Vol. 2 15.14.3 and Table C-1 (7Fh): with the SHUTDOWN intercept set
 * (intercept word 3, bit 31) a shutdown condition in the guest - a triple
 * fault - is #VMEXIT(SHUTDOWN), and L1 goes on. Without it the processor
 * enters the shutdown state: the whole vCPU stops, L1 included, so that
 * case comes last and the run ends in a shutdown (svm_expect_shutdown).
 * The triple faults: 8.2.9 (#DF) and 8.8 (Table 8-8: a fault while
 * delivering #DF is a shutdown).
 */
#include "svm.h"

#define V (&svm_vmcb_a)

SVM_SNIPPET(g_ud2, "ud2\n\tud2");
SVM_SNIPPET(g_vmmcall, "vmmcall\n\tud2");
SVM_LABEL(g_ud2);
SVM_LABEL(g_vmmcall);

static rt_gate l2_idt[256] __attribute__((aligned(16)));

/* UD2 in L2 whose IDT has limit 0: #UD cannot be delivered (#GP), nor can
   #GP (#DF), nor #DF: a triple fault (8.2.9, 8.8). */
static void guest_idt_limit0(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_ud2));
    V->idtr.limit = 0;
}

/*
 * Intercept set (svm_vmcb_init sets it): #VMEXIT 7Fh and L2's handlers
 * never ran. The APM defines no EXITINFO and no nRIP for a shutdown, so
 * only the code is checked. L1 goes on: the next guest runs as usual.
 */
static void t_idt_limit0_intercepted(void)
{
    guest_idt_limit0();
    CHECK(svm_intercepted(V, SVM_EXIT_SHUTDOWN), "SHUTDOWN intercept");
    svm_run(V);
    CHECK_EQ(V->exitcode, SVM_EXIT_SHUTDOWN);
    CHECK_EQ(svm_guest_exc.count, 0);

    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_vmmcall), 3);
}

/*
 * The same through not-present gates (8.4.1, 8.2.9): #UD's gate 6 is not
 * present (#NP, error code 6*8+2), #NP's gate 11 is not present (#NP
 * during #NP: contributory twice, #DF), #DF's gate 8 is not present: a
 * triple fault. Intercepted: #VMEXIT 7Fh.
 */
static void t_not_present_gates_intercepted(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_ud2));
    memcpy(l2_idt, svm_guest_idt, sizeof l2_idt);
    l2_idt[RT_UD].attr &= 0x7f;
    l2_idt[RT_NP].attr &= 0x7f;
    l2_idt[RT_DF].attr &= 0x7f;
    V->idtr.base = svm_pa(l2_idt);
    V->idtr.limit = sizeof l2_idt - 1;
    svm_run(V);
    CHECK_EQ(V->exitcode, SVM_EXIT_SHUTDOWN);
    CHECK_EQ(svm_guest_exc.count, 0);
}

void kmain(void)
{
    rt_printf("k_nested_shutdown: on %s\n", rt_cpuinfo.vendor);
    if (!svm_init())
        return;
    RT_RUN(t_idt_limit0_intercepted);
    RT_RUN(t_not_present_gates_intercepted);

    /* Last: the SHUTDOWN intercept clear, the whole vCPU shuts down. */
    rt_case_name = "t_idt_limit0_not_intercepted";
    guest_idt_limit0();
    svm_intercept(V, SVM_EXIT_SHUTDOWN, false);
    svm_expect_shutdown(V, "L2 triple fault, SHUTDOWN not intercepted",
                        SVM_EXIT_SHUTDOWN,
                        "a triple fault in the guest is #VMEXIT(SHUTDOWN) "
                        "even with the SHUTDOWN intercept clear (APM "
                        "15.14.3: only when intercepted)");
}
