/*
 * tools/demo/demo.c - the kernel `svmx run` runs when no KERNEL is given.
 *
 * A first look at nested virtualization for someone meeting svmx: this
 * kernel is a tiny L1 hypervisor. It intercepts CPUID, EFER reads through
 * its MSR permission map and #UD, and runs a tiny L2 guest that executes
 * CPUID, RDMSR, VMMCALL and finally clears EFER.SVME. Before each step it
 * says what L2 is about to do and what the rule says must happen; svmx's
 * exit trace (on by default for the demo) shows the CPU deciding it. The
 * last step is DESIGN.md's rule R2, which shuts L1 down: the demo ends in
 * a shutdown, not with PASS (run-kernel.sh --expect-shutdown, which is
 * how `make run` judges it).
 *
 * It is built on the test-kernel runtimes (tests/kernels/rt and svm,
 * docs/kernels.md), so it runs unchanged on svmx, on QEMU and on an AMD
 * machine, and its checks make it a test too. On a CPU without SVM (svmx
 * --cpu intel) it says so and ends with PASS.
 */
#include "svm.h"

#define V (&svm_vmcb_a)

#define MSR_EFER 0xc0000080u

/*
 * L2: four steps, each ending in an exit to L1 that resumes it. Between
 * them it keeps what it learned in registers L1 can look at: the CPUID
 * answer in R8-R10, EFER in R11.
 */
SVM_SNIPPET(demo_l2,
            "xorl %eax, %eax\n\txorl %ecx, %ecx\n"
            "demo_l2_cpuid: cpuid\n\t"                /* step 1 */
            "movl %ebx, %r8d\n\tmovl %edx, %r9d\n\tmovl %ecx, %r10d\n\t"
            "movl $0xc0000080, %ecx\n"
            "demo_l2_rdmsr: rdmsr\n\t"                /* step 2 */
            "movl %edx, %r11d\n\tshlq $32, %r11\n\torq %rax, %r11\n"
            "demo_l2_vmmcall: vmmcall\n\t"            /* step 3 */
            "movl $0xc0000080, %ecx\n\t"
            "movl %r11d, %eax\n\tbtrl $12, %eax\n\t" /* EFER.SVME = 0 */
            "movq %r11, %rdx\n\tshrq $32, %rdx\n"
            "demo_l2_wrmsr: wrmsr\n"                  /* step 4 */
            "demo_l2_after: hlt\n\tud2");
SVM_LABEL(demo_l2);
SVM_LABEL(demo_l2_cpuid);
SVM_LABEL(demo_l2_rdmsr);
SVM_LABEL(demo_l2_vmmcall);
SVM_LABEL(demo_l2_wrmsr);
SVM_LABEL(demo_l2_after);

/* What L1 answers to CPUID leaf 0 in EBX, EDX, ECX: 12 characters. */
static const char l1_vendor[13] = "svmx-demo-L1";

/* Each step is a case of its own: a failed check names the step. */
static void step(unsigned n, const char *title)
{
    static const char *const names[] = {
        "step0_vmcb", "step1_cpuid", "step2_rdmsr", "step3_vmmcall_r1",
        "step4_clear_svme_r2",
    };
    rt_case_name = n < sizeof names / sizeof names[0] ? names[n] : "step";
    rt_printf("\n== Step %u: %s ==\n", n, title);
}

/* Resumes L2 after an instruction intercept: at nRIP when the CPU saves
   it (CPUID 8000_000A EDX[3], APM 15.7.1), else past the len bytes. */
static void skip(unsigned len)
{
    uint64_t next = svm_cpu.nrips ? V->nrip : V->rip + len;
    rt_printf("L1: resume L2 at %#lx (%s)\n", next,
              svm_cpu.nrips ? "nRIP, saved by the CPU" : "RIP + length");
    V->rip = next;
}

/* The exit L1 expects (code, at RIP `at`, nRIP = at + len when saved);
   anything else ends the demo with FAIL. */
static void exited(uint64_t code, const char *name, const uint8_t *at,
                   unsigned len)
{
    rt_printf("L1: #VMEXIT %#lx (%s) at RIP %#lx\n", V->exitcode, name,
              V->rip);
    SVM_CHECK_EXIT(V, code, SVM_ADDR(at), len);
    if (rt_failures)
        rt_report();
}

static void intro(void)
{
    rt_printf(
        "Hello from the svmx demo: a tiny hypervisor running a tiny guest.\n"
        "\n"
        "  L0  svmx, the CPU. For every event in L2 it decides where it "
        "goes:\n"
        "      to L1 (a #VMEXIT), or to the architectural effect.\n"
        "  L1  this kernel, a hypervisor. Its VMCB says which events it "
        "wants\n"
        "      to see (the intercepts); VMRUN starts L2.\n"
        "  L2  a guest of a dozen instructions.\n"
        "\n"
        "Lines starting with \"L1:\" are this kernel's; svmx's exit trace "
        "shows\nthe CPU's side of each step.\n");
}

/* ------------------------------------------------------------- steps -- */

static void setup(void)
{
    step(0, "L1 prepares the VMCB");
    svm_vmcb_init(V, SVM_ADDR(demo_l2));
    svm_intercept(V, SVM_EXIT_CPUID, true);
    svm_intercept(V, SVM_ICPT_MSR_PROT, true);
    svm_msrpm_set(MSR_EFER, false, true);
    svm_intercept(V, SVM_EXIT_EXC(RT_UD), true);
    svm_intercept(V, SVM_EXIT_VMMCALL, false);
    rt_printf(
        "L1 intercepts:\n"
        "  - CPUID                  (VMCB intercept word 3, bit 18)\n"
        "  - RDMSR of EFER          (MSR_PROT, and the read bit of "
        "C000_0080h\n"
        "                            in the MSR permission map, APM "
        "15.11)\n"
        "  - #UD, exception 6       (word 2, bit 6)\n"
        "and leaves clear: VMMCALL (word 4, bit 1) and the EFER write bit.\n"
        "L2 shares L1's page tables; its EFER is L1's: %#lx (SVME set).\n",
        V->efer);
}

static void step_cpuid(void)
{
    step(1, "L2 executes CPUID");
    rt_printf("L2 asks CPUID leaf 0 who the CPU is. L1 intercepts CPUID, so "
              "the CPU does\nnot answer: it exits to L1 (#VMEXIT 72h) and L1 "
              "answers in L2's registers.\n");
    svm_run(V);
    exited(SVM_EXIT_CPUID, "CPUID", demo_l2_cpuid, 2);
    uint32_t w[3];
    memcpy(w, l1_vendor, 12);
    V->rax = 1;
    svm_guest_regs.rbx = w[0];
    svm_guest_regs.rdx = w[1];
    svm_guest_regs.rcx = w[2];
    rt_printf("L1: answer leaf 0 with vendor \"%s\"\n", l1_vendor);
    skip(2);
}

static void step_rdmsr(void)
{
    step(2, "L2 reads EFER");
    rt_printf("L2 reads EFER (MSR C000_0080h) with RDMSR. Its read bit is "
              "set in L1's\npermission map, so RDMSR exits: #VMEXIT 7Ch with "
              "EXITINFO1 = 0 (a read).\n");
    svm_run(V);
    exited(SVM_EXIT_MSR, "MSR", demo_l2_rdmsr, 2);
    CHECK_EQ(V->exitinfo1, 0);
    CHECK_EQ(svm_guest_regs.rcx & 0xffffffff, MSR_EFER);
    char got[13] = { 0 };
    uint32_t w[3] = { (uint32_t)svm_guest_regs.r8, (uint32_t)svm_guest_regs.r9,
                      (uint32_t)svm_guest_regs.r10 };
    memcpy(got, w, 12);
    rt_printf("L1: L2 kept \"%s\" from step 1: it saw L1's answer, not the "
              "CPU's.\n", got);
    CHECK(!memcmp(got, l1_vendor, 12), "L2 saw \"%s\"", got);
    rt_printf("L1: EXITINFO1 = %#lx: a read. Supply L2's own EFER from the "
              "VMCB: %#lx\n", V->exitinfo1, V->efer);
    V->rax = (uint32_t)V->efer;
    svm_guest_regs.rdx = V->efer >> 32;
    skip(2);
}

static void step_vmmcall(void)
{
    step(3, "L2 executes VMMCALL (rule R1)");
    rt_printf("VMMCALL is how a guest calls its hypervisor, but L1 left its "
              "intercept clear.\nRule R1: an L2 VMMCALL that L1 does not "
              "intercept is not a call to anybody,\nnot even to svmx (L0): "
              "it raises #UD in L2, as on bare metal (APM 15.18).\nL1 "
              "intercepts #UD, so that #UD exits to L1: #VMEXIT 46h.\n");
    svm_run(V);
    exited(SVM_EXIT_EXC(RT_UD), "#UD", demo_l2_vmmcall, 0);
    CHECK_EQ(svm_guest_regs.r11, V->efer);
    rt_printf("L1: RIP is the VMMCALL itself (a fault), EXITINFO1 = %#lx "
              "(no error code).\n    R1 held. Skip its 3 bytes (0F 01 D9) "
              "and go on.\n", V->exitinfo1);
    CHECK_EQ(V->exitinfo1, 0);
    V->rip += 3;
}

static void step_clear_svme(void)
{
    step(4, "L2 clears EFER.SVME (rule R2)");
    rt_printf("Last, L2 writes EFER with SVME (bit 12) clear. The EFER write "
              "bit is clear\nin L1's map, so the WRMSR does not exit. The APM "
              "leaves this undefined\n(15.4: \"the VMM should always prevent "
              "guests from writing EFER\").\nRule R2, svmx's answer: the CPU "
              "leaves L2 at once, writes no #VMEXIT into\nL1's VMCB and "
              "triple-faults L1. L1 shuts down, so this kernel prints "
              "nothing\nafter the next line; svmx reports the shutdown.\n");
    svm_expect_shutdown(V, "rule R2", SVM_EXIT_HLT,
                        "L2 cleared EFER.SVME and went on running (APM "
                        "15.4: undefined; svmx's rule R2 shuts L1 down)");
}

void kmain(void)
{
    intro();
    if (!rt_cpuinfo.amd || !(rt_cpuinfo.x1_ecx & (1u << 2))) {
        rt_printf("\nThis CPU (\"%s\") has no AMD SVM, and the demo is an "
                  "SVM hypervisor.\nRun it on the AMD personality: svmx run "
                  "--cpu amd\n", rt_cpuinfo.vendor);
        return;
    }
    if (!svm_init())
        return;
    svm_quiet = true; /* svmx's trace shows the exits */
    setup();
    step_cpuid();
    step_rdmsr();
    step_vmmcall();
    step_clear_svme();
}
