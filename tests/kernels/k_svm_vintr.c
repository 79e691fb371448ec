/*
 * tests/kernels/k_svm_vintr.c - virtual interrupts without any device:
 * V_IRQ with V_INTR_VECTOR/V_INTR_PRIO against V_TPR, V_INTR_MASKING = 1,
 * with the VINTR intercept set (#VMEXIT 64h) and clear (delivery through
 * the guest's IDT), the priority rule, V_IGN_TPR, and GIF.
 *
 * APM Vol. 2:
 *  - 15.21.4: the processor takes a virtual interrupt if V_IRQ is set and
 *    V_INTR_PRIO is greater than V_TPR (the comparison is omitted with
 *    V_IGN_TPR), EFLAGS.IF = 1, GIF = 1 and there is no interrupt shadow;
 *    the vector is V_INTR_VECTOR. V_IRQ is cleared after the check for the
 *    VINTR intercept and before the IDT is accessed, and written back to
 *    the VMCB at #VMEXIT.
 *  - 15.21.1/15.21.2: with V_INTR_MASKING = 1 the guest's IF controls
 *    virtual interrupts only, and the guest's CR8 is V_TPR (written back
 *    at #VMEXIT).
 *  - 15.21.5: the instruction after an STI that sets IF is in a shadow.
 *  - 15.21.6 and Table C-1: the VINTR intercept, exit code 64h, "just
 *    before the guest takes a virtual interrupt".
 *  - 15.17, Table 15-10: with GIF = 0, "INTR and vINTR" are "held pending
 *    until GIF==1". A guest's own CLGI/STGI (not intercepted) change GIF.
 */
#include "svm.h"

#define V (&svm_vmcb_a)

/* The V_INTR word at VMCB 0x060 (Table B-1). */
#define VI_TPR(t)    ((uint64_t)(t) & 0xf)         /* 0x060 [3:0]  */
#define VI_IRQ       (UINT64_C(1) << 8)            /* 0x061 [0]    */
#define VI_PRIO(p)   ((uint64_t)((p) & 0xf) << 16) /* 0x062 [3:0]  */
#define VI_IGN_TPR   (UINT64_C(1) << 20)           /* 0x062 [4]    */
#define VI_MASKING   (UINT64_C(1) << 24)           /* 0x063 [0]    */
#define VI_VECTOR(v) ((uint64_t)(v) << 32)         /* 0x064        */

#define VEC    0x50u
#define IF_BIT UINT64_C(0x200)

/* Guests. */
SVM_SNIPPET(g_nop, "nop\ng_nop_end: vmmcall");
SVM_SNIPPET(g_sti, "nop\n\tsti\n"
                   "g_sti_shadow: nop\n"
                   "g_sti_after: nop\n"
                   "g_sti_end: vmmcall");
SVM_SNIPPET(g_cr8, "xorl %eax, %eax\n\tmovq %rax, %cr8\n"
                   "g_cr8_after: nop\n"
                   "g_cr8_end: vmmcall");
SVM_SNIPPET(g_gif, "clgi\n\tsti\n\tnop\n"
                   "g_gif_held: nop\n\tnop\n\tstgi\n"
                   "g_gif_after: nop\n"
                   "g_gif_end: vmmcall");
SVM_LABEL(g_nop); SVM_LABEL(g_nop_end);
SVM_LABEL(g_sti); SVM_LABEL(g_sti_shadow); SVM_LABEL(g_sti_after);
SVM_LABEL(g_sti_end);
SVM_LABEL(g_cr8); SVM_LABEL(g_cr8_after); SVM_LABEL(g_cr8_end);
SVM_LABEL(g_gif); SVM_LABEL(g_gif_held); SVM_LABEL(g_gif_after);
SVM_LABEL(g_gif_end);

/* A guest at `start` with a virtual interrupt pending (V_INTR_MASKING =
   1, vector VEC), RFLAGS.IF = `ifl`, the VINTR intercept as given. The
   guest's handler for VEC records the frame and returns. */
static void guest(const uint8_t *start, bool ifl, uint64_t vintr, bool icpt)
{
    svm_vmcb_init(V, SVM_ADDR(start));
    V->rflags = ifl ? 0x202 : 0x2;
    V->vintr = vintr | VI_IRQ | VI_MASKING | VI_VECTOR(VEC);
    svm_intercept(V, SVM_EXIT_VINTR, icpt);
    svm_guest_resume[VEC] = 1;
}

/* The guest took VEC once through its IDT, interrupted at `rip` with IF =
   1; V_IRQ is clear in the VMCB (15.21.4). */
static void check_taken(const uint8_t *rip)
{
    CHECK_EQ(svm_guest_exc.count, 1);
    CHECK_EQ(svm_guest_exc.vector, VEC);
    CHECK_EQ(svm_guest_exc.error, 0);
    CHECK_EQ(svm_guest_exc.rip, SVM_ADDR(rip));
    CHECK_EQ(svm_guest_exc.cs, RT_KCODE64);
    CHECK_EQ(svm_guest_exc.rflags & IF_BIT, IF_BIT);
    CHECK_EQ(V->vintr & VI_IRQ, 0);
}

/* Nothing was taken and V_IRQ is still set. */
static void check_held(void)
{
    CHECK_EQ(svm_guest_exc.count, 0);
    CHECK_EQ(V->vintr & VI_IRQ, VI_IRQ);
}

/*
 * (a) VINTR intercepted: #VMEXIT(VINTR) at once when IF = 1 at VMRUN (RIP
 * at the first instruction), V_IRQ still set; with IF = 0 at VMRUN, held
 * until STI and the instruction in its shadow, then the exit with RIP
 * after them. Running again with the intercept clear delivers it.
 */
static void t_intercept(void)
{
    guest(g_nop, true, VI_PRIO(2), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VINTR, SVM_ADDR(g_nop), 0);
    check_held();
    CHECK_EQ(V->rflags & IF_BIT, IF_BIT);

    svm_intercept(V, SVM_EXIT_VINTR, false);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_nop_end), 3);
    check_taken(g_nop);

    guest(g_sti, false, VI_PRIO(2), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VINTR, SVM_ADDR(g_sti_after), 0);
    check_held();
    CHECK_EQ(V->rflags & IF_BIT, IF_BIT);
    CHECK_EQ(V->int_state & 1, 0); /* the shadow is over */
}

/* (b) not intercepted: delivered through the guest's IDT at vector
   V_INTR_VECTOR; V_IRQ is clear at the next #VMEXIT. */
static void t_deliver(void)
{
    guest(g_nop, true, VI_PRIO(2), false);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_nop_end), 3);
    check_taken(g_nop);

    guest(g_sti, false, VI_PRIO(2), false);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_sti_end), 3);
    check_taken(g_sti_after);

    /* IF = 0 throughout: held, V_IRQ stays set */
    guest(g_nop, false, VI_PRIO(2), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_nop_end), 3);
    check_held();
}

/*
 * (c) priority: taken only when V_INTR_PRIO > V_TPR; equal or below holds
 * it (with the VINTR intercept set too: no exit). V_IGN_TPR drops the
 * comparison. A guest MOV to CR8 that lowers V_TPR releases it after that
 * instruction, and #VMEXIT writes the guest's CR8 back to V_TPR.
 */
static void t_priority(void)
{
    static const struct { unsigned prio, tpr; bool ign, taken; } c[] = {
        { 3, 2, false, true },  { 2, 2, false, false },
        { 1, 2, false, false }, { 15, 14, false, true },
        { 15, 15, false, false }, { 0, 15, true, true },
        { 2, 2, true, true },
    };
    for (unsigned i = 0; i < sizeof c / sizeof c[0]; i++) {
        for (int icpt = 0; icpt < 2; icpt++) {
            guest(g_nop, true, VI_PRIO(c[i].prio) | VI_TPR(c[i].tpr) |
                               (c[i].ign ? VI_IGN_TPR : 0), icpt);
            svm_run(V);
            rt_printf("# prio %u tpr %u ign %u icpt %d\n", c[i].prio,
                      c[i].tpr, c[i].ign, icpt);
            bool took = icpt ? V->exitcode == SVM_EXIT_VINTR
                             : svm_guest_exc.count == 1;
            if (!c[i].taken && c[i].prio == c[i].tpr && took &&
                rt_tcg_excuse(1, 0, 1, "a virtual interrupt with "
                              "V_INTR_PRIO = V_TPR is taken")) {
                rt_checks++;
            } else if (!c[i].taken) {
                SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_nop_end), 3);
                check_held();
            } else if (icpt) {
                SVM_CHECK_EXIT(V, SVM_EXIT_VINTR, SVM_ADDR(g_nop), 0);
                check_held();
            } else {
                SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_nop_end), 3);
                check_taken(g_nop);
            }
            CHECK_EQ(V->vintr & 0xf, c[i].tpr);
        }
    }

    /* V_TPR 5 holds priority 3 until the guest writes CR8 = 0 */
    if (rt_tcg_cannot("a guest MOV to CR8 with V_INTR_MASKING (QEMU 7.2 "
                      "aborts: tcg_handle_interrupt asserts the iothread "
                      "lock)"))
        return;
    guest(g_cr8, true, VI_PRIO(3) | VI_TPR(5), false);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_cr8_end), 3);
    check_taken(g_cr8_after);
    CHECK_EQ(V->vintr & 0xf, 0);

    guest(g_cr8, true, VI_PRIO(3) | VI_TPR(5), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VINTR, SVM_ADDR(g_cr8_after), 0);
    check_held();
    CHECK_EQ(V->vintr & 0xf, 0);
}

/*
 * (d) GIF (Table 15-10: vINTR held pending until GIF==1; 15.21.4: taken
 * only if "interrupts are enabled using GIF"). The guest executes CLGI
 * (not intercepted), STI and two instructions: held; after its STGI the
 * interrupt is taken (or the VINTR intercept exits) at the next boundary.
 */
static void t_gif(void)
{
    guest(g_gif, false, VI_PRIO(2), false);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_gif_end), 3);
    check_taken(g_gif_after);

    guest(g_gif, false, VI_PRIO(2), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VINTR, SVM_ADDR(g_gif_after), 0);
    check_held();
    (void)g_gif_held;
}

void kmain(void)
{
    rt_printf("k_svm_vintr: on %s\n", rt_cpuinfo.vendor);
    if (!svm_init())
        return;
    RT_RUN(t_intercept);
    RT_RUN(t_deliver);
    RT_RUN(t_priority);
    RT_RUN(t_gif);
}
