/*
 * tests/kernels/k_nested_r2b.c - DESIGN.md rule R2 with MSR_PROT clear:
 * the twin of k_nested_r2.c (R2 ends the run, so each kernel holds one
 * R2 case).
 *
 * APM Vol. 2 15.11: with MSR_PROT clear no RDMSR or WRMSR exits, whatever
 * the MSRPM holds. So L2 reads and writes EFER freely; 15.4: turning off
 * EFER.SVME while a guest runs is undefined, and svmx's answer is R2:
 * leave guest mode without writing a #VMEXIT and shut L1 down.
 */
#include "svm.h"

#define V (&svm_vmcb_a)

/* Reads EFER and writes it back, SCE toggled (SVME kept). */
SVM_SNIPPET(g_rw, "movl $0xc0000080, %ecx\n\trdmsr\n\t"
                  "xorl $1, %eax\n\twrmsr\n"
                  "g_rw_end: vmmcall");
/* Clears EFER.SVME (bit 12); if L2 goes on, HLT (intercepted). */
SVM_SNIPPET(g_clear, "movl $0xc0000080, %ecx\n\trdmsr\n\t"
                     "btrl $12, %eax\n"
                     "g_clear_w: wrmsr\n"
                     "g_clear_end: hlt\n\tud2");
SVM_LABEL(g_rw); SVM_LABEL(g_rw_end);
SVM_LABEL(g_clear); SVM_LABEL(g_clear_w); SVM_LABEL(g_clear_end);

/* A guest at rip with MSR_PROT clear and both EFER bits set in the map:
   the map must not be consulted. */
static void guest(const uint8_t *rip)
{
    svm_maps_clear();
    svm_msrpm_set(RT_MSR_EFER, false, true);
    svm_msrpm_set(RT_MSR_EFER, true, true);
    svm_vmcb_init(V, SVM_ADDR(rip));
    CHECK(!svm_intercepted(V, SVM_ICPT_MSR_PROT), "MSR_PROT clear");
}

/* MSR_PROT clear: RDMSR and WRMSR of EFER do not exit; SVME kept, L2
   goes on to its VMMCALL with the EFER it wrote in the VMCB. */
static void t_msr_prot_clear(void)
{
    uint64_t l1_efer = rt_rdmsr(RT_MSR_EFER);
    guest(g_rw);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_rw_end), 3);
    CHECK_EQ(V->efer, l1_efer ^ RT_EFER_SCE);
    CHECK_EQ(rt_rdmsr(RT_MSR_EFER), l1_efer);
}

void kmain(void)
{
    rt_printf("k_nested_r2b: on %s\n", rt_cpuinfo.vendor);
    if (!svm_init())
        return;
    RT_RUN(t_msr_prot_clear);

    /* Last: MSR_PROT clear, L2 clears SVME: rule R2. */
    rt_case_name = "t_r2_clear_svme_msr_prot_clear";
    guest(g_clear);
    svm_expect_shutdown(V, "rule R2", SVM_EXIT_HLT,
                        "L2 cleared EFER.SVME and went on running (APM "
                        "15.4: undefined; svmx's rule R2 shuts L1 down)");
}
