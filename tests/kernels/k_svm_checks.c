/*
 * tests/kernels/k_svm_checks.c - VMRUN's consistency checks, each from
 * both sides: the value at the boundary passes (the guest runs and leaves
 * through VMMCALL), one bit over fails with #VMEXIT(VMEXIT_INVALID), EXITCODE
 * -1; and the faults of VMRUN and its sibling instructions themselves.
 *
 * APM Vol. 2: 15.5.1 (the list of illegal guest states), 15.20 (illegal
 * EVENTINJ), 15.10.1/15.11 (IOPM/MSRPM beyond the physical address space),
 * 15.4 and Vol. 3 VMRUN/VMLOAD/VMSAVE/STGI/CLGI (#UD with EFER.SVME = 0,
 * #GP(0) at CPL > 0 and for an illegal or misaligned RAX).
 */
#include "svm.h"

#define V (&svm_vmcb_a)

SVM_SNIPPET(g_vmmcall, "vmmcall\n\tud2");
SVM_LABEL(g_vmmcall);

static uint64_t bit(unsigned n)
{
    return UINT64_C(1) << n;
}

/* Runs V; a check that passes lets the guest reach its VMMCALL. */
static void expect(bool pass, const char *what)
{
    rt_printf("# %s: %s\n", pass ? "passes" : "fails", what);
    svm_run(V);
    if (pass)
        CHECK(V->exitcode == SVM_EXIT_VMMCALL, "%s: EXITCODE %#lx, expected "
              "81h (VMMCALL): the state is legal", what, V->exitcode);
    else
        CHECK(svm_exit_invalid(V), "%s: EXITCODE %#lx, expected "
              "-1 (VMEXIT_INVALID)", what, V->exitcode);
}

/* A fresh VMMCALL guest, one change, and the verdict. */
#define TRY(pass, what, stmt)                                                 \
    do {                                                                      \
        svm_vmcb_init(V, SVM_ADDR(g_vmmcall));                                \
        stmt;                                                                 \
        expect((pass), (what));                                               \
    } while (0)

/* ------------------------------------------------------------- checks -- */

static void t_efer_svme(void)
{
    TRY(true, "EFER.SVME = 1", (void)0);
    TRY(false, "EFER.SVME = 0", V->efer &= ~(uint64_t)RT_EFER_SVME);
}

static void t_cr0(void)
{
    TRY(true, "CR0.CD = 1, NW = 1", V->cr0 |= bit(30) | bit(29));
    TRY(true, "CR0.CD = 1, NW = 0", V->cr0 = (V->cr0 | bit(30)) & ~bit(29));
    TRY(false, "CR0.CD = 0, NW = 1", V->cr0 = (V->cr0 & ~bit(30)) | bit(29));
    TRY(true, "CR0[31] (PG) set, [63:32] clear", (void)0);
    TRY(false, "CR0[32] set", V->cr0 |= bit(32));
    TRY(false, "CR0[63] set", V->cr0 |= bit(63));
}

/* A guest whose CR3 points where no memory is still passes the checks:
   its first fetch faults or shuts down, which we intercept. */
static void expect_not_invalid(const char *what)
{
    rt_printf("# passes: %s\n", what);
    V->icpt[2] = 0xffffffffu; /* every exception */
    svm_run(V);
    CHECK(V->exitcode != SVM_EXIT_INVALID &&
              V->exitcode != 0xffffffffu, /* QEMU's VMEXIT_INVALID */
          "%s: VMEXIT_INVALID, but the state is legal", what);
}

static void t_cr3(void)
{
    unsigned m = rt_cpuinfo.maxphyaddr;
    TRY(true, "long-mode CR3 with PWT and PCD", V->cr3 |= 0x18);
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    V->cr3 |= bit(m - 1);
    expect_not_invalid("long-mode CR3[MAXPHYADDR-1] set");
    if (m < 52)
        TRY(false, "long-mode CR3[MAXPHYADDR] set", V->cr3 |= bit(m));
    TRY(false, "long-mode CR3[52] set", V->cr3 |= bit(52));
    TRY(false, "long-mode CR3[63] set", V->cr3 |= bit(63));
}

static void t_cr4(void)
{
    if (rt_cpuinfo.f1_edx & (1u << 13))
        TRY(true, "CR4.PGE set (CPUID 1 EDX[13])", V->cr4 |= RT_CR4_PGE);
    TRY(true, "CR4.TSD set", V->cr4 |= bit(2));
    TRY(false, "CR4[15] (reserved) set", V->cr4 |= bit(15));
    TRY(false, "CR4[32] set", V->cr4 |= bit(32));
    TRY(false, "CR4[63] set", V->cr4 |= bit(63));
}

static void t_dr6_dr7(void)
{
    TRY(true, "DR6 = 0xFFFFFFFF", V->dr6 = 0xffffffffu);
    TRY(false, "DR6[32] set", V->dr6 |= bit(32));
    TRY(false, "DR6[63] set", V->dr6 |= bit(63));
    TRY(true, "DR7 = 0x80000400 (LEN3 set, nothing enabled)",
        V->dr7 = 0x80000400u);
    TRY(false, "DR7[32] set", V->dr7 |= bit(32));
    TRY(false, "DR7[63] set", V->dr7 |= bit(63));
}

static void t_efer(void)
{
    TRY(true, "EFER.SCE set", V->efer |= RT_EFER_SCE);
    TRY(false, "EFER[9] (reserved) set", V->efer |= bit(9));
    TRY(false, "EFER[63] set", V->efer |= bit(63));
}

static void t_long_mode(void)
{
    TRY(true, "EFER.LME, CR0.PG, CR4.PAE, CR0.PE", (void)0);
    TRY(false, "EFER.LME and CR0.PG without CR4.PAE",
        V->cr4 &= ~(uint64_t)RT_CR4_PAE);
    TRY(false, "EFER.LME and CR0.PG without CR0.PE",
        V->cr0 &= ~(uint64_t)RT_CR0_PE);
    TRY(true, "long mode, CS.L = 1, CS.D = 0", (void)0);
    /* compatibility mode: VMMCALL has the same bytes there */
    TRY(true, "long mode, CS.L = 0, CS.D = 1",
        (V->cs.sel = RT_KCODE32, V->cs.attrib = SVM_ATTR_CODE32));
    TRY(false, "long mode, CS.L = 1, CS.D = 1", V->cs.attrib |= SVM_ATTR_D);
}

static void t_controls(void)
{
    TRY(true, "VMRUN intercepted", (void)0);
    TRY(false, "VMRUN intercept clear",
        svm_intercept(V, SVM_EXIT_VMRUN, false));
    TRY(true, "ASID 1", (void)0);
    if (svm_cpu.nasid > 1)
        TRY(true, "the highest ASID (CPUID 8000_000A EBX - 1)",
            V->asid = svm_cpu.nasid - 1);
    TRY(false, "ASID 0", V->asid = 0);
    /* the maps lie beyond the physical address space: only the clear
       cases (15.10.1, 15.11); the maps are not read (no *_PROT) */
    uint64_t top = bit(rt_cpuinfo.maxphyaddr);
    TRY(true, "MSRPM ends 8 KiB below 2^MAXPHYADDR",
        V->msrpm_base = top - 0x4000);
    TRY(false, "MSRPM at 2^MAXPHYADDR", V->msrpm_base = top);
    TRY(true, "IOPM ends 8 KiB below 2^MAXPHYADDR",
        V->iopm_base = top - 0x5000);
    TRY(false, "IOPM at 2^MAXPHYADDR", V->iopm_base = top);
}

/* 15.20: TYPE 1, 5, 6, 7 are illegal, and so is an exception (TYPE 3)
   with vector 2. The legal injections reach the guest's handlers, which
   return to the VMMCALL. */
static void t_eventinj(void)
{
    TRY(true, "EVENTINJ TYPE 0 (INTR) vector 40h",
        (V->eventinj = SVM_EVENT(SVM_EV_INTR, 0x40),
         svm_guest_resume[0x40] = 1));
    TRY(true, "EVENTINJ TYPE 2 (NMI)",
        (V->eventinj = SVM_EVENT(SVM_EV_NMI, 2), svm_guest_resume[2] = 1));
    TRY(true, "EVENTINJ TYPE 3 (exception) vector 6",
        (V->eventinj = SVM_EVENT(SVM_EV_EXC, 6), svm_guest_resume[6] = 1));
    /* A software interrupt returns to NRIP on a CPU with NRIP save
       (15.20): point it at the guest's first instruction, as RIP is. */
    TRY(true, "EVENTINJ TYPE 4 (software interrupt) vector 80h",
        (V->eventinj = SVM_EVENT(SVM_EV_SOFT, 0x80), V->nrip = V->rip,
         svm_guest_resume[0x80] = 1));
    TRY(true, "EVENTINJ V = 0 with TYPE 7", V->eventinj = SVM_EV_TYPE(7) | 6);
    for (unsigned t = 1; t <= 7; t++) {
        if (t >= 2 && t <= 4)
            continue;
        char what[48];
        rt_snprintf(what, sizeof what, "EVENTINJ TYPE %u vector 40h", t);
        TRY(false, what, (V->eventinj = SVM_EVENT(t, 0x40),
                          svm_guest_resume[0x40] = 1));
    }
    TRY(false, "EVENTINJ TYPE 3 (exception) vector 2 (NMI)",
        (V->eventinj = SVM_EVENT(SVM_EV_EXC, 2), svm_guest_resume[2] = 1));
}

/* ---------------------------------------------- instruction faults -- */

static RT_USER_FN uint64_t user_vmrun(uint64_t pa)
{
    __asm__ volatile("vmrun %%rax" : : "a"(pa) : "memory");
    return 0;
}
static RT_USER_FN uint64_t user_vmload(uint64_t pa)
{
    __asm__ volatile("vmload %%rax" : : "a"(pa) : "memory");
    return 0;
}
static RT_USER_FN uint64_t user_vmsave(uint64_t pa)
{
    __asm__ volatile("vmsave %%rax" : : "a"(pa) : "memory");
    return 0;
}
static RT_USER_FN uint64_t user_stgi(uint64_t x)
{
    __asm__ volatile("stgi" ::: "memory");
    return x;
}
static RT_USER_FN uint64_t user_clgi(uint64_t x)
{
    __asm__ volatile("clgi" ::: "memory");
    return x;
}

static void vmrun_at(uint64_t pa)
{
    __asm__ volatile("vmrun %%rax" : : "a"(pa) : "memory");
}

/* APM Vol. 3 VMRUN: #UD if EFER.SVME = 0; #GP(0) if CPL != 0, if rAX is
   not 4 KiB aligned or beyond the physical address space. The same for
   VMLOAD and VMSAVE; STGI/CLGI #GP(0) at CPL > 0. */
static void t_instruction_faults(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    uint64_t pa = svm_pa(V);

    svm_set_svme(false);
    int c1 = RT_FAULT(vmrun_at(pa));
    int c2 = RT_FAULT(svm_vmload(svm_hsave));
    int c3 = RT_FAULT(svm_vmsave(svm_hsave));
    svm_set_svme(true);
    CHECK_EXC(c1, RT_UD, RT_NOERR, 0);
    CHECK_EXC(c2, RT_UD, RT_NOERR, 0);
    CHECK_EXC(c3, RT_UD, RT_NOERR, 0);

    CHECK_EXC(RT_FAULT(rt_user_call(user_vmrun, pa, 0)), RT_GP, 0, 0);
    CHECK_EXC(RT_FAULT(rt_user_call(user_vmload, pa, 0)), RT_GP, 0, 0);
    CHECK_EXC(RT_FAULT(rt_user_call(user_vmsave, pa, 0)), RT_GP, 0, 0);
    CHECK_EXC(RT_FAULT(rt_user_call(user_stgi, 0, 0)), RT_GP, 0, 0);
    CHECK_EXC(RT_FAULT(rt_user_call(user_clgi, 0, 0)), RT_GP, 0, 0);

    CHECK_EXC(RT_FAULT(vmrun_at(pa + 0x10)), RT_GP, 0, 0);
    CHECK_EXC(RT_FAULT(vmrun_at(pa + 0x800)), RT_GP, 0, 0);
    CHECK_EXC(RT_FAULT(svm_vmload((uint8_t *)svm_hsave + 8)), RT_GP, 0, 0);
    CHECK_EXC(RT_FAULT(svm_vmsave((uint8_t *)svm_hsave + 8)), RT_GP, 0, 0);
    uint64_t beyond = bit(rt_cpuinfo.maxphyaddr);
    CHECK_EXC(RT_FAULT(vmrun_at(beyond)), RT_GP, 0, 0);
    CHECK_EXC(RT_FAULT(vmrun_at(bit(63))), RT_GP, 0, 0);

    /* and after all that, VMRUN still works */
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_vmmcall), 3);
}

void kmain(void)
{
    rt_printf("k_svm_checks: on %s, MAXPHYADDR %u\n", rt_cpuinfo.vendor,
              rt_cpuinfo.maxphyaddr);
    if (!svm_init())
        return;
    RT_RUN(t_efer_svme);
    RT_RUN(t_cr0);
    RT_RUN(t_cr3);
    RT_RUN(t_cr4);
    RT_RUN(t_dr6_dr7);
    RT_RUN(t_efer);
    RT_RUN(t_long_mode);
    RT_RUN(t_controls);
    RT_RUN(t_eventinj);
    RT_RUN(t_instruction_faults);
}
