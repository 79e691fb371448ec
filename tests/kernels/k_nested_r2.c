/*
 * tests/kernels/k_nested_r2.c - EFER written by L2, and DESIGN.md rule R2
 * (EFER.SVME cleared by L2 without L1 intercepting the write), checked
 * from inside L1 with MSR_PROT set. k_nested_r2b.c is the MSR_PROT-clear
 * twin: R2 ends the run, so one kernel holds one R2 case.
 *
 * APM Vol. 2 15.11 (MSR intercepts): with MSR_PROT set, RDMSR/WRMSR of an
 * MSR exit when its read/write bit in the MSRPM is set; EFER (C000_0080h)
 * is in the second 2 KiB vector (Table 15-8), bits 2*80h and 2*80h+1.
 * #VMEXIT 7Ch, EXITINFO1 = 0 for RDMSR, 1 for WRMSR; nRIP (15.7.1). An
 * intercepted WRMSR does not happen. A write that keeps SVME is L2's own
 * EFER: saved into the VMCB at #VMEXIT (15.6), L1's comes back from the
 * host save area. 15.4: "The effect of turning off EFER.SVME while a
 * guest is running is undefined"; svmx's answer is R2: leave guest mode
 * without writing a #VMEXIT and shut L1 down - the last case here.
 */
#include "svm.h"

#define V (&svm_vmcb_a)

/* ----------------------------------------------------- guest snippets -- */

/* Writes EFER back unchanged, then with SCE toggled: SVME stays set. */
SVM_SNIPPET(g_keep, "movl $0xc0000080, %ecx\n\trdmsr\n"
                    "g_keep_w1: wrmsr\n\t"
                    "xorl $1, %eax\n"
                    "g_keep_w2: wrmsr\n"
                    "g_keep_end: vmmcall");
/* Reads EFER, then writes the value read back. */
SVM_SNIPPET(g_read, "movl $0xc0000080, %ecx\n"
                    "g_read_r: rdmsr\n"
                    "g_read_w: wrmsr\n"
                    "g_read_end: vmmcall");
/* Clears EFER.SVME (bit 12); if L2 goes on, HLT (intercepted). */
SVM_SNIPPET(g_clear, "movl $0xc0000080, %ecx\n\trdmsr\n\t"
                     "btrl $12, %eax\n"
                     "g_clear_w: wrmsr\n"
                     "g_clear_end: hlt\n\tud2");
SVM_LABEL(g_keep); SVM_LABEL(g_keep_end);
SVM_LABEL(g_read); SVM_LABEL(g_read_r); SVM_LABEL(g_read_w);
SVM_LABEL(g_read_end);
SVM_LABEL(g_clear); SVM_LABEL(g_clear_w); SVM_LABEL(g_clear_end);

static uint64_t l1_efer;

/* A guest at rip with MSR_PROT set and an empty MSRPM. */
static void guest(const uint8_t *rip)
{
    svm_maps_clear();
    svm_vmcb_init(V, SVM_ADDR(rip));
    svm_intercept(V, SVM_ICPT_MSR_PROT, true);
    CHECK(V->efer & RT_EFER_SVME, "guest EFER.SVME");
}

/* 15.5.1, 15.6: whatever L2 did, L1 has its own EFER back. */
static void check_l1_efer(void)
{
    CHECK_EQ(rt_rdmsr(RT_MSR_EFER), l1_efer);
}

/* ---------------------------------------------------------------- cases -- */

/*
 * EFER bits clear: L2 rewrites EFER with SVME kept (the same value, then
 * SCE toggled): nothing special, L2 goes on to its VMMCALL, and the VMCB
 * holds the EFER L2 wrote.
 */
static void t_write_keeps_svme(void)
{
    guest(g_keep);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_keep_end), 3);
    CHECK_EQ(V->efer, l1_efer ^ RT_EFER_SCE);
    check_l1_efer();
}

/*
 * EFER write bit set: the WRMSR that clears SVME exits 7Ch with EXITINFO1
 * = 1 at the WRMSR, and does not happen (SVME still set in the VMCB).
 * L1 may then skip it: L2 goes on to its HLT.
 */
static void t_write_intercepted(void)
{
    guest(g_clear);
    CHECK(svm_msrpm_set(RT_MSR_EFER, true, true), "MSRPM EFER write bit");
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_MSR, SVM_ADDR(g_clear_w), 2);
    CHECK_EQ(V->exitinfo1, 1);
    CHECK_EQ(svm_guest_regs.rcx & 0xffffffff, RT_MSR_EFER);
    CHECK_EQ(V->rax & RT_EFER_SVME, 0); /* what L2 wanted to write */
    CHECK_EQ(V->efer, l1_efer);         /* what it has */
    check_l1_efer();

    V->rip = SVM_ADDR(g_clear_end);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_HLT, SVM_ADDR(g_clear_end), 1);
    CHECK_EQ(V->efer, l1_efer);
}

/*
 * EFER read bit set, write bit clear: RDMSR exits 7Ch with EXITINFO1 = 0;
 * L1 supplies the value and resumes at the WRMSR, which writes it back
 * (SVME kept) without an exit.
 */
static void t_read_intercepted(void)
{
    guest(g_read);
    CHECK(svm_msrpm_set(RT_MSR_EFER, false, true), "MSRPM EFER read bit");
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_MSR, SVM_ADDR(g_read_r), 2);
    CHECK_EQ(V->exitinfo1, 0);

    uint64_t supplied = V->efer ^ RT_EFER_SCE;
    V->rax = (uint32_t)supplied;
    svm_guest_regs.rdx = supplied >> 32;
    V->rip = SVM_ADDR(g_read_w);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_read_end), 3);
    CHECK_EQ(V->efer, supplied);
    check_l1_efer();
}

void kmain(void)
{
    rt_printf("k_nested_r2: on %s\n", rt_cpuinfo.vendor);
    if (!svm_init())
        return;
    l1_efer = rt_rdmsr(RT_MSR_EFER);
    RT_RUN(t_write_keeps_svme);
    RT_RUN(t_write_intercepted);
    RT_RUN(t_read_intercepted);

    /* Last: MSR_PROT set, EFER bits clear, L2 clears SVME: rule R2. */
    rt_case_name = "t_r2_clear_svme";
    guest(g_clear);
    svm_expect_shutdown(V, "rule R2", SVM_EXIT_HLT,
                        "L2 cleared EFER.SVME and went on running (APM "
                        "15.4: undefined; svmx's rule R2 shuts L1 down)");
}
