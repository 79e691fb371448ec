/*
 * tests/kernels/k_svm_inject.c - event injection through EVENTINJ into the
 * guest's own IDT, EXITINTINFO when delivering an injected event faults
 * into an intercept, and the VMLOAD/VMSAVE round trip.
 *
 * APM Vol. 2: 15.20 (event injection: TYPE, EV, the error code, injected
 * regardless of RFLAGS.IF), 15.7.2 (EXITINTINFO: the event whose delivery
 * was interrupted by the #VMEXIT), 15.12 (#GP/#PF intercepts: EXITINFO1
 * error code, EXITINFO2 fault address), 8.4.1-8.4.2 (error codes), 15.5.2
 * and Vol. 3 VMLOAD/VMSAVE (FS, GS, TR, LDTR with their hidden state,
 * KernelGSbase, STAR, LSTAR, CSTAR, SFMASK, SYSENTER_CS/ESP/EIP).
 */
#include "svm.h"

#define V (&svm_vmcb_a)

SVM_SNIPPET(g_vmmcall, "vmmcall\n\tud2");
SVM_SNIPPET(g_int80, "int $0x80\ng_int80_next: vmmcall");
SVM_LABEL(g_vmmcall);
SVM_LABEL(g_int80);
SVM_LABEL(g_int80_next);

/* The frame the guest's handler saw (RT_NOERR-free: 0 when no code). */
static void check_frame(unsigned vector, uint64_t error, uint64_t rip)
{
    CHECK_EQ(svm_guest_exc.count, 1);
    CHECK_EQ(svm_guest_exc.vector, vector);
    CHECK_EQ(svm_guest_exc.error, error);
    CHECK_EQ(svm_guest_exc.rip, rip);
    CHECK_EQ(svm_guest_exc.cs, RT_KCODE64);
    CHECK_EQ(svm_guest_exc.rflags, 2); /* the guest's RFLAGS, IF = 0 */
    CHECK_EQ(svm_guest_exc.rsp, svm_guest_stack_top);
    CHECK_EQ(svm_guest_exc.ss, RT_KDATA);
}

/* ------------------------------------------------------------ EVENTINJ -- */

/* An exception with an error code: the guest's #GP handler gets it. */
static void t_inject_exception(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    V->eventinj = SVM_EVENT_ERR(SVM_EV_EXC, RT_GP, 0x1234);
    svm_guest_resume[RT_GP] = 1;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_vmmcall), 3);
    check_frame(RT_GP, 0x1234, SVM_ADDR(g_vmmcall));

    /* without an error code (EV = 0) */
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    V->eventinj = SVM_EVENT(SVM_EV_EXC, RT_UD);
    svm_guest_resume[RT_UD] = 1;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_vmmcall), 3);
    check_frame(RT_UD, 0, SVM_ADDR(g_vmmcall));

    /* an injected exception is not checked against the exception
       intercepts (15.20): it is delivered to the guest */
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    V->eventinj = SVM_EVENT(SVM_EV_EXC, RT_UD);
    svm_intercept(V, SVM_EXIT_EXC(RT_UD), true);
    svm_guest_resume[RT_UD] = 1;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_vmmcall), 3);
    check_frame(RT_UD, 0, SVM_ADDR(g_vmmcall));
}

static void t_inject_nmi_intr(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    V->eventinj = SVM_EVENT(SVM_EV_NMI, RT_NMI);
    svm_guest_resume[RT_NMI] = 1;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_vmmcall), 3);
    check_frame(RT_NMI, 0, SVM_ADDR(g_vmmcall));

    /* an external interrupt, injected although RFLAGS.IF = 0 */
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    V->eventinj = SVM_EVENT(SVM_EV_INTR, 0x40);
    svm_guest_resume[0x40] = 1;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_vmmcall), 3);
    check_frame(0x40, 0, SVM_ADDR(g_vmmcall));
}

/*
 * A software interrupt: the frame's return address. VMCB.RIP and nRIP are
 * both set to the instruction after a real INT 80h, so the frame RIP is
 * that address whether a CPU takes it from RIP or (NRIP save) from nRIP.
 */
static void t_inject_soft(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_int80_next));
    V->nrip = SVM_ADDR(g_int80_next);
    V->eventinj = SVM_EVENT(SVM_EV_SOFT, 0x80);
    svm_guest_resume[0x80] = 1;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_int80_next), 3);
    check_frame(0x80, 0, SVM_ADDR(g_int80_next));

    /* the guest's own INT 80h goes the same way, not intercepted */
    svm_vmcb_init(V, SVM_ADDR(g_int80));
    svm_guest_resume[0x80] = 1;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_int80_next), 3);
    check_frame(0x80, 0, SVM_ADDR(g_int80_next));
}

/* ---------------------------------------------------------- EXITINTINFO -- */

/*
 * The IDT limit does not cover the injected vector: #GP with the IDT
 * selector error code (vector * 8 + IDT (2) + EXT (1), APM 8.4.1: an
 * external interrupt sets EXT), intercepted; EXITINTINFO holds the event
 * that was being delivered.
 */
static void t_exitintinfo_gp(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    V->idtr.limit = 0x40 * 16 - 1;
    V->eventinj = SVM_EVENT(SVM_EV_INTR, 0x41);
    svm_intercept(V, SVM_EXIT_EXC(RT_GP), true);
    svm_run(V);
    CHECK_EQ(V->exitcode, SVM_EXIT_EXC(RT_GP));
    CHECK_EQ(V->rip, SVM_ADDR(g_vmmcall));
    CHECK(rt_tcg_excuse(V->exitinfo1, 0x41 * 8 + 3, 0x41 * 16 + 2,
                        "IDT error codes in 64-bit mode are vector x 16 + 2 "
                        "without EXT (APM 8.4.1: vector x 8 + IDT + EXT)"),
          "#GP error code %#lx, expected %#x", V->exitinfo1, 0x41 * 8 + 3);
    CHECK_EQ(V->exitintinfo, SVM_EVENT(SVM_EV_INTR, 0x41));
    CHECK_EQ(svm_guest_exc.count, 0);

    /* an exception with its error code in EXITINTINFO[63:32] */
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    V->idtr.limit = 0x0c * 16 - 1; /* vectors 0-11 */
    V->eventinj = SVM_EVENT_ERR(SVM_EV_EXC, RT_SS, 0x5678);
    svm_intercept(V, SVM_EXIT_EXC(RT_GP), true);
    svm_run(V);
    CHECK_EQ(V->exitcode, SVM_EXIT_EXC(RT_GP));
    CHECK(rt_tcg_excuse(V->exitinfo1, RT_SS * 8 + 3, RT_SS * 16 + 2,
                        "IDT error codes in 64-bit mode are vector x 16 + 2 "
                        "without EXT (APM 8.4.1: vector x 8 + IDT + EXT)"),
          "#GP error code %#lx, expected %#x", V->exitinfo1, RT_SS * 8 + 3);
    CHECK_EQ(V->exitintinfo, SVM_EVENT_ERR(SVM_EV_EXC, RT_SS, 0x5678));
}

/* #PF while delivering: the IDT, or the stack, is not mapped. */
static void t_exitintinfo_pf(void)
{
    const uint64_t idt = RT_FREE_VA + 0x10000;
    /* reading the gate: a supervisor read (error 0), CR2 at the gate */
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    V->idtr.base = idt;
    V->eventinj = SVM_EVENT(SVM_EV_EXC, RT_UD);
    svm_intercept(V, SVM_EXIT_EXC(RT_PF), true);
    svm_run(V);
    CHECK_EQ(V->exitcode, SVM_EXIT_EXC(RT_PF));
    CHECK_EQ(V->exitinfo1, 0);
    CHECK_EQ(V->exitinfo2, idt + RT_UD * 16);
    CHECK_EQ(V->exitintinfo, SVM_EVENT(SVM_EV_EXC, RT_UD));

    svm_vmcb_init(V, SVM_ADDR(g_int80_next));
    V->nrip = SVM_ADDR(g_int80_next);
    V->idtr.base = idt;
    V->eventinj = SVM_EVENT(SVM_EV_SOFT, 0x80);
    svm_intercept(V, SVM_EXIT_EXC(RT_PF), true);
    svm_run(V);
    CHECK_EQ(V->exitcode, SVM_EXIT_EXC(RT_PF));
    CHECK_EQ(V->exitinfo1, 0);
    CHECK_EQ(V->exitinfo2, idt + 0x80 * 16);
    CHECK_EQ(V->exitintinfo, SVM_EVENT(SVM_EV_SOFT, 0x80));

    /* pushing the frame: a supervisor write (error 2) below RSP */
    const uint64_t rsp = RT_FREE_VA + 0x20000;
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    V->rsp = rsp;
    V->eventinj = SVM_EVENT_ERR(SVM_EV_EXC, RT_GP, 0x5678);
    svm_intercept(V, SVM_EXIT_EXC(RT_PF), true);
    svm_run(V);
    CHECK_EQ(V->exitcode, SVM_EXIT_EXC(RT_PF));
    CHECK_EQ(V->exitinfo1, 2);
    CHECK(V->exitinfo2 >= rsp - 48 && V->exitinfo2 < rsp,
          "#PF address %#lx not in the frame below RSP %#lx", V->exitinfo2,
          rsp);
    CHECK_EQ(V->exitintinfo, SVM_EVENT_ERR(SVM_EV_EXC, RT_GP, 0x5678));
    CHECK_EQ(V->rsp, rsp);
    CHECK_EQ(svm_guest_exc.count, 0);
}

/* ---------------------------------------------------- VMLOAD / VMSAVE -- */

#define MSR_FS_BASE        0xc0000100u
#define MSR_GS_BASE        0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u

static void check_seg(const char *what, const svm_seg *got,
                      const svm_seg *want)
{
    CHECK(got->sel == want->sel && got->attrib == want->attrib &&
              got->limit == want->limit && got->base == want->base,
          "VMSAVE %s: %#x/%#x/%#x/%#lx, expected %#x/%#x/%#x/%#lx", what,
          got->sel, got->attrib, got->limit, got->base, want->sel,
          want->attrib, want->limit, want->base);
}

static void t_vmload_vmsave(void)
{
    svm_vmcb *host = &svm_vmcb_b, *c = &svm_vmcb_c, *a = &svm_vmcb_a;
    const uint64_t fs_base = RT_SCRATCH + 0x234000;
    memset(host, 0, sizeof *host);
    svm_vmsave(host); /* L1's own, to put back at the end */

    memcpy(c, host, sizeof *c);
    c->fs = (svm_seg){ RT_KDATA, SVM_ATTR_DATA, 0xffffffffu, fs_base };
    c->gs = (svm_seg){ RT_KDATA, SVM_ATTR_DATA, 0xffffffffu, fs_base + 8 };
    c->kernel_gs_base = UINT64_C(0xffff800012345000);
    c->star = UINT64_C(0x0023001000000000);
    c->lstar = UINT64_C(0xffff800000401000);
    c->cstar = UINT64_C(0x0000000000402000);
    c->sfmask = 0x47700;
    c->sysenter_cs = RT_KCODE64;
    c->sysenter_esp = RT_SCRATCH + 0x100000;
    c->sysenter_eip = RT_SCRATCH + 0x200000;
    rt_poke64(fs_base, 0x1111222233334444);
    rt_poke64(fs_base + 8, 0x5555666677778888);

    svm_vmload(c);
    uint64_t fs_base_got = rt_rdmsr(MSR_FS_BASE);
    uint64_t gs_base_got = rt_rdmsr(MSR_GS_BASE);
    uint64_t fs0, gs0;
    __asm__ volatile("movq %%fs:0, %0; movq %%gs:0, %1"
                     : "=r"(fs0), "=r"(gs0));
    uint64_t kgs = rt_rdmsr(MSR_KERNEL_GS_BASE), star = rt_rdmsr(RT_MSR_STAR);
    uint64_t lstar = rt_rdmsr(RT_MSR_LSTAR), cstar = rt_rdmsr(RT_MSR_CSTAR);
    uint64_t sfmask = rt_rdmsr(RT_MSR_FMASK);
    uint64_t se_cs = rt_rdmsr(RT_MSR_SYSENTER_CS);
    uint64_t se_esp = rt_rdmsr(RT_MSR_SYSENTER_ESP);
    uint64_t se_eip = rt_rdmsr(RT_MSR_SYSENTER_EIP);
    memset(a, 0xcc, sizeof *a);
    svm_vmsave(a);
    svm_vmload(host);
    CHECK_EQ(rt_rdmsr(MSR_FS_BASE), host->fs.base);

    CHECK_EQ(fs_base_got, fs_base);
    CHECK_EQ(gs_base_got, fs_base + 8);
    CHECK_EQ(fs0, 0x1111222233334444);
    CHECK_EQ(gs0, 0x5555666677778888);
    CHECK_EQ(kgs, c->kernel_gs_base);
    CHECK_EQ(star, c->star);
    CHECK_EQ(lstar, c->lstar);
    CHECK_EQ(cstar, c->cstar);
    CHECK_EQ(sfmask, c->sfmask);
    CHECK_EQ(se_cs, c->sysenter_cs);
    CHECK_EQ(se_esp, c->sysenter_esp);
    CHECK_EQ(se_eip, c->sysenter_eip);

    check_seg("FS", &a->fs, &c->fs);
    check_seg("GS", &a->gs, &c->gs);
    check_seg("TR", &a->tr, &c->tr);
    check_seg("LDTR", &a->ldtr, &c->ldtr);
    CHECK_EQ(a->kernel_gs_base, c->kernel_gs_base);
    CHECK_EQ(a->star, c->star);
    CHECK_EQ(a->lstar, c->lstar);
    CHECK_EQ(a->cstar, c->cstar);
    CHECK_EQ(a->sfmask, c->sfmask);
    CHECK_EQ(a->sysenter_cs, c->sysenter_cs);
    CHECK_EQ(a->sysenter_esp, c->sysenter_esp);
    CHECK_EQ(a->sysenter_eip, c->sysenter_eip);
    /* VMSAVE writes only its own fields */
    CHECK_EQ(a->cs.base, 0xcccccccccccccccc);
    CHECK_EQ(a->rax, 0xcccccccccccccccc);
    CHECK_EQ(a->cr0, 0xcccccccccccccccc);
    CHECK_EQ(a->exitcode, 0xcccccccccccccccc);
    /* TR as the runtime set it up: a present 64-bit TSS (available or
       busy: the cached type after LTR is not SVM's business) */
    CHECK_EQ(host->tr.sel, RT_TSS_SEL);
    CHECK_EQ(host->tr.base, svm_pa(&rt_tss64));
    CHECK_EQ(host->tr.limit, RT_TSS_LIMIT);
    CHECK_EQ(host->tr.attrib & 0x9d, 0x89);
}

void kmain(void)
{
    rt_printf("k_svm_inject: on %s\n", rt_cpuinfo.vendor);
    if (!svm_init())
        return;
    RT_RUN(t_inject_exception);
    RT_RUN(t_inject_nmi_intr);
    RT_RUN(t_inject_soft);
    RT_RUN(t_exitintinfo_gp);
    RT_RUN(t_exitintinfo_pf);
    RT_RUN(t_vmload_vmsave);
}
