/*
 * tests/kernels/k_svm_intercepts.c - each instruction and exception
 * intercept, set and clear. Set: #VMEXIT with the exit code, RIP at the
 * intercepted instruction, nRIP after it when NRIP save is advertised, and
 * EXITINFO1 where the APM defines it (with decode assists for MOV CR/DR,
 * INTn and INVLPG). Clear: the instruction does what it does outside a
 * guest, and the guest goes on to its VMMCALL (or takes its exception
 * through its own IDT).
 *
 * APM Vol. 2: 15.7.1 (nRIP: instruction intercepts and the exceptions of
 * INT3, INTO and BOUND), 15.8.1 (the instruction intercepts are checked
 * after simple exceptions, before operand-value exceptions; RSM before its
 * #UD), 15.9 and Table B-1 (the intercept words), 15.9.1/15.9.2 (CR and DR),
 * 15.12 (exceptions: EXITINFO1 = error code), 15.14.3 (SHUTDOWN on a triple
 * fault), 15.33 (decode assists: EXITINFO1 of MOV CR/DR, INTn, INVLPG);
 * appendix C (exit codes). The IOIO/MSR maps, ICEBP and the CR0 selective
 * write are in k_svm_basic.
 */
#include "svm.h"

/*
 * (RDPMC of counter 0 is checked too: the four legacy counters exist on
 * every AMD64 CPU, so the intercept is reached.)
 */

#define V (&svm_vmcb_a)

/* exit codes svm.h does not name (Table C-1) */
#define EXIT_CR0_SEL   0x065u
#define EXIT_IDTR_RD   0x066u
#define EXIT_GDTR_RD   0x067u
#define EXIT_LDTR_RD   0x068u
#define EXIT_TR_RD     0x069u
#define EXIT_IDTR_WR   0x06au
#define EXIT_GDTR_WR   0x06bu
#define EXIT_LDTR_WR   0x06cu
#define EXIT_TR_WR     0x06du
#define EXIT_RDPMC     0x06fu
#define EXIT_POPF      0x071u
#define EXIT_RSM       0x073u
#define EXIT_INVD      0x076u
#define EXIT_PAUSE     0x077u
#define EXIT_INVLPGA   0x07au
#define EXIT_RDTSCP    0x087u
#define EXIT_WBINVD    0x089u
#define EXIT_XSETBV    0x08du

static uint64_t bit(unsigned n)
{
    return UINT64_C(1) << n;
}

/* Runs the guest at `start` with `code` intercepted: exit at `insn`, nRIP
   = insn + len (len 0: not checked). */
static void set_case(const uint8_t *start, unsigned code, const uint8_t *insn,
                     unsigned len)
{
    svm_intercept(V, code, true);
    V->nrip = 0x5a5a5a5a;
    svm_run(V);
    SVM_CHECK_EXIT(V, code, SVM_ADDR(insn), len);
    (void)start;
}

/* set_case, but on QEMU TCG a run that reached `end` without the exit is
   excused with `note` (an intercept TCG ignores). */
static void set_case_tcg(const uint8_t *start, unsigned code,
                         const uint8_t *insn, unsigned len,
                         const uint8_t *end, const char *note)
{
    svm_intercept(V, code, true);
    V->nrip = 0x5a5a5a5a;
    svm_run(V);
    if (V->exitcode == SVM_EXIT_VMMCALL && V->rip == SVM_ADDR(end) &&
        rt_tcg_excuse(1, 0, 1, note))
        return;
    SVM_CHECK_EXIT(V, code, SVM_ADDR(insn), len);
    (void)start;
}

/* Runs the guest, nothing else intercepted: it reaches VMMCALL at end. */
static void clear_case(const uint8_t *end)
{
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(end), 3);
}

/* The guest took exception vec at rip through its own IDT and halted. */
static void check_guest_exc(unsigned vec, uint64_t err, const uint8_t *rip)
{
    CHECK(V->exitcode == SVM_EXIT_HLT && svm_rip_in_guest_stubs(V->rip),
          "EXITCODE %#lx RIP %#lx: the guest did not halt in its handler",
          V->exitcode, V->rip);
    CHECK_EQ(svm_guest_exc.vector, vec);
    CHECK_EQ(svm_guest_exc.error, err);
    CHECK_EQ(svm_guest_exc.rip, SVM_ADDR(rip));
}

static void check_info1_da(uint64_t want)
{
    if (svm_cpu.decode_assists)
        CHECK_EQ(V->exitinfo1, want);
}

/* ---------------------------------------------------------- CR and DR -- */

SVM_SNIPPET(g_rcr0, "movq %cr0, %rbx\ng_rcr0_e: vmmcall");
SVM_SNIPPET(g_rcr2, "movq %cr2, %rbx\ng_rcr2_e: vmmcall");
SVM_SNIPPET(g_rcr3, "movq %cr3, %rbx\ng_rcr3_e: vmmcall");
SVM_SNIPPET(g_rcr4, "movq %cr4, %rbx\ng_rcr4_e: vmmcall");
SVM_SNIPPET(g_rcr8, "movq %cr8, %rbx\ng_rcr8_e: vmmcall");
SVM_SNIPPET(g_wcr0, "movq %rbx, %cr0\ng_wcr0_e: vmmcall");
SVM_SNIPPET(g_wcr2, "movq %rbx, %cr2\ng_wcr2_e: vmmcall");
SVM_SNIPPET(g_wcr3, "movq %rbx, %cr3\ng_wcr3_e: vmmcall");
SVM_SNIPPET(g_wcr4, "movq %rbx, %cr4\ng_wcr4_e: vmmcall");
SVM_SNIPPET(g_wcr8, "movq %rbx, %cr8\ng_wcr8_e: vmmcall");
#define L2(n) SVM_LABEL(n); SVM_LABEL(n##_e)
L2(g_rcr0); L2(g_rcr2); L2(g_rcr3); L2(g_rcr4); L2(g_rcr8);
L2(g_wcr0); L2(g_wcr2); L2(g_wcr3); L2(g_wcr4); L2(g_wcr8);

static inline uint64_t read_cr8(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr8, %0" : "=r"(v));
    return v;
}

/* 15.9.1: a read and a write intercept per CR; the intercepted MOV does
   nothing, EXITINFO1 = bit 63 | the GPR (RBX = 3) with decode assists. */
static void t_cr(void)
{
    static const struct {
        unsigned n, len;
        const uint8_t *r, *re, *w, *we;
    } t[] = {
        { 0, 3, g_rcr0, g_rcr0_e, g_wcr0, g_wcr0_e },
        { 2, 3, g_rcr2, g_rcr2_e, g_wcr2, g_wcr2_e },
        { 3, 3, g_rcr3, g_rcr3_e, g_wcr3, g_wcr3_e },
        { 4, 3, g_rcr4, g_rcr4_e, g_wcr4, g_wcr4_e },
        { 8, 4, g_rcr8, g_rcr8_e, g_wcr8, g_wcr8_e },
    };
    for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++) {
        unsigned n = t[i].n;
        rt_printf("# CR%u read\n", n);
        svm_vmcb_init(V, SVM_ADDR(t[i].r));
        V->cr2 = 0x123000;
        uint64_t want = n == 0 ? V->cr0 : n == 2 ? 0x123000
                      : n == 3 ? V->cr3 : n == 4 ? V->cr4 : read_cr8();
        set_case(t[i].r, SVM_EXIT_CR_READ(n), t[i].r, t[i].len);
        check_info1_da(bit(63) | 3);
        svm_vmcb_init(V, SVM_ADDR(t[i].r));
        V->cr2 = 0x123000;
        svm_intercept(V, SVM_EXIT_CR_WRITE(n), true); /* not a read */
        clear_case(t[i].re);
        CHECK_EQ(svm_guest_regs.rbx, want);

        /* writes: CR2 a new value, CR4 with TSD flipped, the others
           their own value */
        rt_printf("# CR%u write\n", n);
        svm_vmcb_init(V, SVM_ADDR(t[i].w));
        uint64_t old = n == 0 ? V->cr0 : n == 3 ? V->cr3 : V->cr4;
        uint64_t val = n == 2 ? 0x456000 : n == 4 ? V->cr4 ^ 4
                     : n == 8 ? read_cr8() : old;
        svm_guest_regs.rbx = val;
        set_case(t[i].w, SVM_EXIT_CR_WRITE(n), t[i].w, t[i].len);
        check_info1_da(bit(63) | 3);
        if (n == 2)
            CHECK_EQ(V->cr2, 0);
        if (n == 4)
            CHECK_EQ(V->cr4, old);
        svm_vmcb_init(V, SVM_ADDR(t[i].w));
        svm_guest_regs.rbx = val;
        svm_intercept(V, SVM_EXIT_CR_READ(n), true); /* not a write */
        clear_case(t[i].we);
        if (n == 2)
            CHECK_EQ(V->cr2, 0x456000);
        if (n == 4)
            CHECK_EQ(V->cr4, val);
    }
}

SVM_SNIPPET(g_rdr0, "movq %dr0, %rbx\ng_rdr0_e: vmmcall");
SVM_SNIPPET(g_rdr1, "movq %dr1, %rbx\ng_rdr1_e: vmmcall");
SVM_SNIPPET(g_rdr2, "movq %dr2, %rbx\ng_rdr2_e: vmmcall");
SVM_SNIPPET(g_rdr3, "movq %dr3, %rbx\ng_rdr3_e: vmmcall");
SVM_SNIPPET(g_rdr6, "movq %dr6, %rbx\ng_rdr6_e: vmmcall");
SVM_SNIPPET(g_rdr7, "movq %dr7, %rbx\ng_rdr7_e: vmmcall");
SVM_SNIPPET(g_wdr0, "movq %rbx, %dr0\ng_wdr0_e: vmmcall");
SVM_SNIPPET(g_wdr1, "movq %rbx, %dr1\ng_wdr1_e: vmmcall");
SVM_SNIPPET(g_wdr2, "movq %rbx, %dr2\ng_wdr2_e: vmmcall");
SVM_SNIPPET(g_wdr3, "movq %rbx, %dr3\ng_wdr3_e: vmmcall");
SVM_SNIPPET(g_wdr6, "movq %rbx, %dr6\ng_wdr6_e: vmmcall");
SVM_SNIPPET(g_wdr7, "movq %rbx, %dr7\ng_wdr7_e: vmmcall");
L2(g_rdr0); L2(g_rdr1); L2(g_rdr2); L2(g_rdr3); L2(g_rdr6); L2(g_rdr7);
L2(g_wdr0); L2(g_wdr1); L2(g_wdr2); L2(g_wdr3); L2(g_wdr6); L2(g_wdr7);

static uint64_t read_dr(unsigned n)
{
    uint64_t v = 0;
    switch (n) {
    case 0: __asm__ volatile("mov %%dr0, %0" : "=r"(v)); break;
    case 1: __asm__ volatile("mov %%dr1, %0" : "=r"(v)); break;
    case 2: __asm__ volatile("mov %%dr2, %0" : "=r"(v)); break;
    case 3: __asm__ volatile("mov %%dr3, %0" : "=r"(v)); break;
    }
    return v;
}

static void write_dr(unsigned n, uint64_t v)
{
    switch (n) {
    case 0: __asm__ volatile("mov %0, %%dr0" : : "r"(v)); break;
    case 1: __asm__ volatile("mov %0, %%dr1" : : "r"(v)); break;
    case 2: __asm__ volatile("mov %0, %%dr2" : : "r"(v)); break;
    case 3: __asm__ volatile("mov %0, %%dr3" : : "r"(v)); break;
    }
}

/* 15.9.2: DR0-DR3 are not switched by VMRUN (the guest sees L1's), DR6
   and DR7 come from the VMCB. EXITINFO1 = the GPR with decode assists
   (bit 63 is for MOV CR only, 15.33.1). */
static void t_dr(void)
{
    static const struct {
        unsigned n;
        const uint8_t *r, *re, *w, *we;
    } t[] = {
        { 0, g_rdr0, g_rdr0_e, g_wdr0, g_wdr0_e },
        { 1, g_rdr1, g_rdr1_e, g_wdr1, g_wdr1_e },
        { 2, g_rdr2, g_rdr2_e, g_wdr2, g_wdr2_e },
        { 3, g_rdr3, g_rdr3_e, g_wdr3, g_wdr3_e },
        { 6, g_rdr6, g_rdr6_e, g_wdr6, g_wdr6_e },
        { 7, g_rdr7, g_rdr7_e, g_wdr7, g_wdr7_e },
    };
    for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++) {
        unsigned n = t[i].n;
        rt_printf("# DR%u read\n", n);
        if (n < 4)
            write_dr(n, 0x1000 * (n + 1));
        svm_vmcb_init(V, SVM_ADDR(t[i].r));
        set_case(t[i].r, SVM_EXIT_DR_READ(n), t[i].r, 3);
        check_info1_da(3);
        svm_vmcb_init(V, SVM_ADDR(t[i].r));
        svm_intercept(V, SVM_EXIT_DR_WRITE(n), true);
        clear_case(t[i].re);
        uint64_t want = n < 4 ? 0x1000 * (n + 1) : n == 6 ? 0xffff0ff0 : 0x400;
        CHECK_EQ(svm_guest_regs.rbx, want);

        rt_printf("# DR%u write\n", n);
        /* DR6: B0 set; DR7: RW0/LEN0 set, nothing enabled */
        uint64_t val = n < 4 ? 0x2000 * (n + 1) : n == 6 ? 0xffff0ff1
                                                         : 0xf0400;
        svm_vmcb_init(V, SVM_ADDR(t[i].w));
        svm_guest_regs.rbx = val;
        set_case(t[i].w, SVM_EXIT_DR_WRITE(n), t[i].w, 3);
        check_info1_da(3);
        if (n < 4)
            CHECK_EQ(read_dr(n), 0x1000 * (n + 1));
        if (n == 6)
            CHECK_EQ(V->dr6, 0xffff0ff0);
        if (n == 7)
            CHECK_EQ(V->dr7, 0x400);
        svm_vmcb_init(V, SVM_ADDR(t[i].w));
        svm_guest_regs.rbx = val;
        svm_intercept(V, SVM_EXIT_DR_READ(n), true);
        clear_case(t[i].we);
        if (n < 4) {
            CHECK_EQ(read_dr(n), val); /* not switched back either */
            write_dr(n, 0);
        }
        if (n == 6)
            CHECK_EQ(V->dr6, val);
        if (n == 7)
            CHECK_EQ(V->dr7, val);
    }
}

/* --------------------------------------------------------- exceptions -- */

SVM_SNIPPET(g_de, "xorl %ecx, %ecx\ng_de_i: divl %ecx\n\tvmmcall");
SVM_SNIPPET(g_bp, "int3\n\tvmmcall");
SVM_SNIPPET(g_ud, "ud2\n\tvmmcall");
SVM_SNIPPET(g_nm, "fnop\n\tvmmcall");
SVM_SNIPPET(g_ss, "movq (%rbp), %rax\n\tvmmcall");
SVM_SNIPPET(g_gp, "movq (%rbx), %rax\n\tvmmcall");
SVM_SNIPPET(g_pf, "movq (%rbx), %rax\n\tvmmcall");
/* compatibility mode (CS = RT_KCODE32): INTO with OF = 1, BOUND out of
   range; the bytes are the 32-bit encodings */
SVM_SNIPPET(g_of, ".byte 0xb0, 0x7f, 0x04, 0x01\n" /* mov $0x7f,%al; add $1,%al */
                  "g_of_i: .byte 0xce\n"          /* into */
                  "g_of_e: vmmcall");
SVM_SNIPPET(g_br, "g_br_i: .byte 0x62, 0x03\n"    /* bound %eax, (%ebx) */
                  "g_br_e: vmmcall");
SVM_LABEL(g_de); SVM_LABEL(g_de_i); SVM_LABEL(g_bp); SVM_LABEL(g_ud);
SVM_LABEL(g_nm); SVM_LABEL(g_ss); SVM_LABEL(g_gp); SVM_LABEL(g_pf);
SVM_LABEL(g_of); SVM_LABEL(g_of_i); SVM_LABEL(g_of_e);
SVM_LABEL(g_br); SVM_LABEL(g_br_i); SVM_LABEL(g_br_e);

static uint32_t bounds[2] = { 0, 4 };

static void setup_exc(unsigned v, const uint8_t *start)
{
    svm_vmcb_init(V, SVM_ADDR(start));
    switch (v) {
    case RT_NM: V->cr0 |= 8; break; /* CR0.TS: x87 instructions #NM */
    case RT_SS: svm_guest_regs.rbp = bit(63); break; /* non-canonical */
    case RT_GP: svm_guest_regs.rbx = bit(63); break;
    case RT_PF: svm_guest_regs.rbx = 0x7ffffffff000; break; /* unmapped */
    case RT_OF:
    case RT_BR:
        V->cs.sel = RT_KCODE32;
        V->cs.attrib = SVM_ATTR_CODE32;
        V->rax = 5;
        svm_guest_regs.rbx = svm_pa(bounds);
        break;
    }
}

/*
 * 15.12: each exception, intercepted, exits with RIP at the instruction
 * and EXITINFO1 = the error code (#SS(0), #GP(0), #PF's); #BP, #OF, #BR
 * from INT3, INTO, BOUND also get nRIP (15.7.1). Not intercepted, the
 * guest takes it through its IDT: the faults with the instruction's RIP,
 * the traps #BP and #OF with the next one.
 */
static void t_exceptions(void)
{
    static const struct {
        unsigned v;
        const uint8_t *start, *insn;
        unsigned nrip_len; /* INT3, INTO, BOUND */
        bool trap, has_err;
        uint64_t err;
    } t[] = {
        { RT_DE, g_de, g_de_i, 0, false, false, 0 },
        { RT_BP, g_bp, g_bp, 1, true, false, 0 },
        { RT_OF, g_of, g_of_i, 1, true, false, 0 },
        { RT_BR, g_br, g_br_i, 2, false, false, 0 },
        { RT_UD, g_ud, g_ud, 0, false, false, 0 },
        { RT_NM, g_nm, g_nm, 0, false, false, 0 },
        { RT_SS, g_ss, g_ss, 0, false, true, 0 },
        { RT_GP, g_gp, g_gp, 0, false, true, 0 },
        { RT_PF, g_pf, g_pf, 0, false, true, 0 }, /* P = 0, read, CPL 0 */
    };
    for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++) {
        unsigned v = t[i].v;
        if (v == RT_NM && !(rt_cpuinfo.f1_edx & 1)) {
            /* #NM from CR0.TS needs an x87 (CPUID 1 EDX[0]) */
            rt_skip("#NM", "no x87 (CPUID 1 EDX[0] clear)");
            continue;
        }
        rt_printf("# exception %u intercepted\n", v);
        setup_exc(v, t[i].start);
        svm_intercept(V, SVM_EXIT_EXC(v), true);
        svm_run(V);
        if (v == RT_BP && V->exitcode == SVM_EXIT_HLT &&
            svm_guest_exc.vector == RT_BP &&
            rt_tcg_excuse(1, 0, 1, "INT3 does not check the #BP exception "
                                   "intercept (APM 15.12, 15.7.1)")) {
            /* excused */
        } else if (v == RT_OF && V->exitcode == SVM_EXIT_HLT &&
                   svm_guest_exc.vector == RT_OF &&
                   rt_tcg_excuse(1, 0, 1, "INTO does not check the #OF "
                                 "exception intercept (APM 15.12, 15.7.1)")) {
            /* excused */
        } else if (v == RT_SS && V->exitcode == SVM_EXIT_HLT &&
                   svm_guest_exc.vector == RT_GP &&
                   rt_tcg_excuse(1, 0, 1, "a non-canonical stack reference "
                                 "raises #GP instead of #SS (APM Vol. 2 "
                                 "8.2.13)")) {
            /* excused */
        } else {
            SVM_CHECK_EXIT(V, SVM_EXIT_EXC(v), SVM_ADDR(t[i].insn),
                           t[i].nrip_len);
            if (t[i].has_err)
                CHECK_EQ(V->exitinfo1, t[i].err);
            if (v == RT_PF)
                CHECK_EQ(V->exitinfo2, 0x7ffffffff000);
            CHECK_EQ(svm_guest_exc.count, 0);
        }

        rt_printf("# exception %u not intercepted\n", v);
        setup_exc(v, t[i].start);
        svm_run(V);
        if (v == RT_SS && svm_guest_exc.vector == RT_GP &&
            rt_tcg_excuse(1, 0, 1, "a non-canonical stack reference raises "
                                   "#GP instead of #SS (APM Vol. 2 8.2.13)"))
            continue;
        const uint8_t *rip = t[i].insn + (t[i].trap ? t[i].nrip_len : 0);
        check_guest_exc(v, t[i].err, rip);
        if (v == RT_PF)
            CHECK_EQ(V->cr2, 0x7ffffffff000);
    }
}

/* ------------------------------------------------ other instructions -- */

SVM_SNIPPET(g_rdtsc, "rdtsc\ng_rdtsc_e: vmmcall");
SVM_SNIPPET(g_rdtscp, "rdtscp\ng_rdtscp_e: vmmcall");
SVM_SNIPPET(g_rdpmc, "rdpmc\ng_rdpmc_e: vmmcall");
SVM_SNIPPET(g_pushf, "pushfq\ng_popf: popfq\ng_pushf_e: vmmcall");
SVM_SNIPPET(g_cpuid, "cpuid\ng_cpuid_e: vmmcall");
SVM_SNIPPET(g_iret, "movq %rsp, %rax\n\tmovl %ss, %ecx\n\tpushq %rcx\n\t"
                    "pushq %rax\n\tpushfq\n\tmovl %cs, %ecx\n\tpushq %rcx\n\t"
                    "leaq g_iret_e(%rip), %rcx\n\tpushq %rcx\n"
                    "g_iret_i: iretq\ng_iret_e: vmmcall");
SVM_SNIPPET(g_intn, "int $0x41\ng_intn_e: vmmcall");
SVM_SNIPPET(g_invd, "invd\ng_invd_e: vmmcall");
SVM_SNIPPET(g_pause, "pause\ng_pause_e: vmmcall");
SVM_SNIPPET(g_invlpg, "invlpg (%rbx)\ng_invlpg_e: vmmcall");
SVM_SNIPPET(g_invlpga, "invlpga %rax, %ecx\ng_invlpga_e: vmmcall");
SVM_SNIPPET(g_wbinvd, "wbinvd\ng_wbinvd_e: vmmcall");
SVM_SNIPPET(g_xsetbv, "xorl %ecx, %ecx\n\txgetbv\n"
                      "g_xsetbv_i: xsetbv\ng_xsetbv_e: vmmcall");
SVM_SNIPPET(g_rsm, "rsm\ng_rsm_e: vmmcall");
L2(g_rdtsc); L2(g_rdtscp); L2(g_rdpmc); L2(g_pushf); L2(g_cpuid);
L2(g_iret); L2(g_intn); L2(g_invd); L2(g_pause); L2(g_invlpg);
L2(g_invlpga); L2(g_wbinvd); L2(g_xsetbv); L2(g_rsm);
SVM_LABEL(g_popf); SVM_LABEL(g_iret_i); SVM_LABEL(g_xsetbv_i);

static void t_simple(void)
{
    static const struct {
        const char *name;
        unsigned code;
        const uint8_t *start, *insn, *end;
        unsigned len;
    } t[] = {
        { "RDTSC", SVM_EXIT_RDTSC, g_rdtsc, g_rdtsc, g_rdtsc_e, 2 },
        { "PUSHF", SVM_EXIT_PUSHF, g_pushf, g_pushf, g_pushf_e, 1 },
        { "POPF", EXIT_POPF, g_pushf, g_popf, g_pushf_e, 1 },
        { "CPUID", SVM_EXIT_CPUID, g_cpuid, g_cpuid, g_cpuid_e, 2 },
        { "IRET", SVM_EXIT_IRET, g_iret, g_iret_i, g_iret_e, 2 },
        { "INVD", EXIT_INVD, g_invd, g_invd, g_invd_e, 2 },
        { "PAUSE", EXIT_PAUSE, g_pause, g_pause, g_pause_e, 2 },
        { "INVLPG", SVM_EXIT_INVLPG, g_invlpg, g_invlpg, g_invlpg_e, 3 },
        { "INVLPGA", EXIT_INVLPGA, g_invlpga, g_invlpga, g_invlpga_e, 3 },
        { "WBINVD", EXIT_WBINVD, g_wbinvd, g_wbinvd, g_wbinvd_e, 2 },
    };
    for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++) {
        rt_printf("# %s intercepted\n", t[i].name);
        svm_vmcb_init(V, SVM_ADDR(t[i].start));
        svm_guest_regs.rbx = 0x5000;
        V->rax = 0x5000;
        set_case_tcg(t[i].start, t[i].code, t[i].insn, t[i].len, t[i].end,
                     "the INVD intercept is not checked (APM 15.9, Table "
                     "C-1 76h)");
        if (t[i].code == SVM_EXIT_INVLPG)
            check_info1_da(0x5000); /* the linear address, 15.33.2 */
        rt_printf("# %s not intercepted\n", t[i].name);
        svm_vmcb_init(V, SVM_ADDR(t[i].start));
        svm_guest_regs.rbx = 0x5000;
        V->rax = 0x5000;
        clear_case(t[i].end);
        CHECK_EQ(V->rsp, svm_guest_stack_top); /* PUSHF/POPF, IRET */
    }

    /* INTn: EXITINFO1 = the vector with decode assists (15.33.3);
       not intercepted, through the guest's gate 41h and back */
    rt_printf("# INTn intercepted\n");
    svm_vmcb_init(V, SVM_ADDR(g_intn));
    set_case(g_intn, SVM_EXIT_INTN, g_intn, 2);
    check_info1_da(0x41);
    CHECK_EQ(svm_guest_exc.count, 0);
    rt_printf("# INTn not intercepted\n");
    svm_vmcb_init(V, SVM_ADDR(g_intn));
    svm_guest_resume[0x41] = 1;
    clear_case(g_intn_e);
    svm_guest_resume[0x41] = 0;
    CHECK_EQ(svm_guest_exc.count, 1);
    CHECK_EQ(svm_guest_exc.vector, 0x41);
    CHECK_EQ(svm_guest_exc.rip, SVM_ADDR(g_intn_e));

    /* RDTSCP (8000_0001 EDX[27]) */
    if (rt_cpuinfo.x1_edx & (1u << 27)) {
        rt_printf("# RDTSCP\n");
        svm_vmcb_init(V, SVM_ADDR(g_rdtscp));
        set_case_tcg(g_rdtscp, EXIT_RDTSCP, g_rdtscp, 3, g_rdtscp_e,
                     "the RDTSCP intercept is not checked (APM 15.9, Table "
                     "C-1 87h)");
        svm_vmcb_init(V, SVM_ADDR(g_rdtscp));
        clear_case(g_rdtscp_e);
    } else {
        rt_skip("RDTSCP", "CPUID 8000_0001 EDX[27] clear");
    }

    /* XSETBV (1 ECX[26]), with the guest's CR4.OSXSAVE */
    if (rt_cpuinfo.f1_ecx & (1u << 26)) {
        rt_printf("# XSETBV\n");
        svm_vmcb_init(V, SVM_ADDR(g_xsetbv));
        V->cr4 |= bit(18);
        set_case_tcg(g_xsetbv, EXIT_XSETBV, g_xsetbv_i, 3, g_xsetbv_e,
                     "the XSETBV intercept is not checked (APM 15.9, Table "
                     "C-1 8Dh)");
        svm_vmcb_init(V, SVM_ADDR(g_xsetbv));
        V->cr4 |= bit(18);
        clear_case(g_xsetbv_e);
    } else {
        rt_skip("XSETBV", "CPUID 1 ECX[26] (XSAVE) clear");
    }

    /*
     * RDPMC of counter 0 at CPL 0 (CR4.PCE clear does not matter at CPL
     * 0): "the AMD64 architecture supports four performance counters:
     * PerfCtr0 through PerfCtr3" (APM Vol. 3 RDPMC), so nothing faults
     * and the intercept is taken (15.9, Table C-1 6Fh). Not intercepted,
     * what it reads is model-specific: only the intercepted side.
     */
    rt_printf("# RDPMC\n");
    svm_vmcb_init(V, SVM_ADDR(g_rdpmc));
    svm_guest_regs.rcx = 0;
    set_case(g_rdpmc, EXIT_RDPMC, g_rdpmc, 2);

    /* RSM: its intercept is checked before its #UD outside SMM (15.8.1
       names RSM); not intercepted, #UD in the guest */
    rt_printf("# RSM\n");
    svm_vmcb_init(V, SVM_ADDR(g_rsm));
    set_case(g_rsm, EXIT_RSM, g_rsm, 2);
    svm_vmcb_init(V, SVM_ADDR(g_rsm));
    svm_run(V);
    check_guest_exc(RT_UD, 0, g_rsm);
}

/* ---------------------------------------------- descriptor tables -- */

SVM_SNIPPET(g_dt, "g_sidt: sidt (%rbx)\ng_sgdt: sgdt 16(%rbx)\n"
                  "g_sldt: sldt %eax\ng_str: str %eax\n"
                  "g_lidt: lidt (%rbx)\ng_lgdt: lgdt 16(%rbx)\n"
                  "g_lldt: lldt %cx\ng_ltr: ltr %cx\n\tvmmcall");
SVM_LABEL(g_dt); SVM_LABEL(g_sidt); SVM_LABEL(g_sgdt); SVM_LABEL(g_sldt);
SVM_LABEL(g_str); SVM_LABEL(g_lidt); SVM_LABEL(g_lgdt); SVM_LABEL(g_lldt);
SVM_LABEL(g_ltr);

static uint8_t dtbuf[32];

/*
 * 15.9 (Table B-1 word 3 bits 6-13): the descriptor-table reads SIDT,
 * SGDT, SLDT, STR and writes LIDT, LGDT, LLDT, LTR. One snippet runs them
 * in turn, so each intercept is met after the others have executed. Not
 * intercepted: SIDT/SGDT store the VMCB's IDTR/GDTR, LIDT/LGDT load them
 * back, LLDT of the null selector is legal and LTR of it is #GP(0).
 */
static void t_dt(void)
{
    static const struct {
        const char *name;
        unsigned code;
        const uint8_t *insn;
    } t[] = {
        { "SIDT", EXIT_IDTR_RD, g_sidt }, { "SGDT", EXIT_GDTR_RD, g_sgdt },
        { "SLDT", EXIT_LDTR_RD, g_sldt }, { "STR", EXIT_TR_RD, g_str },
        { "LIDT", EXIT_IDTR_WR, g_lidt }, { "LGDT", EXIT_GDTR_WR, g_lgdt },
        { "LLDT", EXIT_LDTR_WR, g_lldt }, { "LTR", EXIT_TR_WR, g_ltr },
    };
    for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++) {
        rt_printf("# %s intercepted\n", t[i].name);
        svm_vmcb_init(V, SVM_ADDR(g_dt));
        svm_guest_regs.rbx = svm_pa(dtbuf);
        svm_guest_regs.rcx = 0;
        /* the length from the next label (LTR CX: 0F 00 D9) */
        unsigned len = (unsigned)((i + 1 < 8 ? SVM_ADDR(t[i + 1].insn)
                                             : SVM_ADDR(g_ltr) + 3) -
                                  SVM_ADDR(t[i].insn));
        set_case(g_dt, t[i].code, t[i].insn, len);
    }
    rt_printf("# none intercepted\n");
    memset(dtbuf, 0, sizeof dtbuf);
    svm_vmcb_init(V, SVM_ADDR(g_dt));
    svm_guest_regs.rbx = svm_pa(dtbuf);
    svm_guest_regs.rcx = 0;
    svm_run(V);
    if (!(V->exitcode == SVM_EXIT_VMMCALL &&
          rt_tcg_excuse(1, 0, 1, "LTR of a null selector loads it "
                                 "(APM Vol. 3 LTR: #GP(0))")))
        check_guest_exc(RT_GP, 0, g_ltr);
    uint16_t lim;
    uint64_t base;
    memcpy(&lim, dtbuf, 2);
    memcpy(&base, dtbuf + 2, 8);
    CHECK_EQ(lim, V->idtr.limit);
    CHECK_EQ(base, V->idtr.base);
    memcpy(&lim, dtbuf + 16, 2);
    memcpy(&base, dtbuf + 18, 8);
    CHECK_EQ(lim, V->gdtr.limit);
    CHECK_EQ(base, V->gdtr.base);
}

/* ------------------------------------------ SVM instructions in a guest -- */

SVM_SNIPPET(g_vmsave, "vmsave %rax\ng_vmsave_e: vmmcall");
SVM_SNIPPET(g_vmload, "vmload %rax\ng_vmload_e: vmmcall");
SVM_SNIPPET(g_clgi, "clgi\ng_clgi_e: vmmcall");
SVM_SNIPPET(g_stgi, "stgi\ng_stgi_e: vmmcall");
SVM_SNIPPET(g_vmrun, "vmrun %rax\n\tvmmcall");
L2(g_vmsave); L2(g_vmload); L2(g_clgi); L2(g_stgi); SVM_LABEL(g_vmrun);

static uint8_t save_area[4096] __attribute__((aligned(4096)));

/*
 * 15.9 and Vol. 3: VMSAVE, VMLOAD, CLGI, STGI in a guest exit when
 * intercepted and execute when not; VMRUN always exits (a VMCB without
 * its intercept fails the consistency checks, 15.5.1). Not intercepted,
 * VMSAVE stores the guest's STAR (L1's: VMRUN does not switch it) and
 * VMLOAD loads the one in the area.
 */
static void t_svm_insns(void)
{
    static const struct {
        const char *name;
        unsigned code;
        const uint8_t *insn, *end;
    } t[] = {
        { "VMSAVE", SVM_EXIT_VMSAVE, g_vmsave, g_vmsave_e },
        { "VMLOAD", SVM_EXIT_VMLOAD, g_vmload, g_vmload_e },
        { "CLGI", SVM_EXIT_CLGI, g_clgi, g_clgi_e },
        { "STGI", SVM_EXIT_STGI, g_stgi, g_stgi_e },
    };
    uint64_t star0 = rt_rdmsr(0xc0000081u);
    for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++) {
        rt_printf("# %s intercepted\n", t[i].name);
        svm_vmcb_init(V, SVM_ADDR(t[i].insn));
        V->rax = svm_pa(save_area);
        set_case(t[i].insn, t[i].code, t[i].insn, 3);

        rt_printf("# %s not intercepted\n", t[i].name);
        memset(save_area, 0, sizeof save_area);
        if (t[i].code == SVM_EXIT_VMLOAD) {
            svm_vmsave(save_area); /* L1's state, STAR changed */
            uint64_t star = star0 ^ (UINT64_C(0x10) << 32);
            memcpy(save_area + 0x600, &star, 8);
        }
        svm_vmcb_init(V, SVM_ADDR(t[i].insn));
        V->rax = svm_pa(save_area);
        svm_run(V);
        if ((t[i].code == SVM_EXIT_VMSAVE || t[i].code == SVM_EXIT_VMLOAD) &&
            V->exitcode == t[i].code &&
            rt_tcg_excuse(1, 0, 1, "VMLOAD and VMSAVE in a guest without "
                                   "nested paging always exit (APM 15.9: "
                                   "only when intercepted)"))
            continue;
        SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(t[i].end), 3);
        uint64_t star;
        memcpy(&star, save_area + 0x600, 8);
        if (t[i].code == SVM_EXIT_VMSAVE)
            CHECK_EQ(star, star0);
        if (t[i].code == SVM_EXIT_VMLOAD) {
            CHECK_EQ(rt_rdmsr(0xc0000081u), star0 ^ (UINT64_C(0x10) << 32));
            rt_wrmsr(0xc0000081u, star0);
        }
    }

    rt_printf("# VMRUN in the guest\n");
    svm_vmcb_init(V, SVM_ADDR(g_vmrun));
    V->rax = svm_pa(&svm_vmcb_b);
    set_case(g_vmrun, SVM_EXIT_VMRUN, g_vmrun, 3);
    CHECK_EQ(V->rax, svm_pa(&svm_vmcb_b));
}

/* ----------------------------------------------------------- SHUTDOWN -- */

/*
 * 15.14.3 (Table C-1 7Fh): a triple fault in the guest with the SHUTDOWN
 * intercept set is #VMEXIT(SHUTDOWN). An IDT limit of 0 turns #UD into
 * #GP, #DF and the triple fault. Not intercepted the whole machine shuts
 * down, which a kernel cannot watch: not tested.
 */
static void t_shutdown(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_ud));
    V->idtr.limit = 0;
    svm_run(V);
    CHECK_EQ(V->exitcode, SVM_EXIT_SHUTDOWN);
    CHECK_EQ(svm_guest_exc.count, 0);
}

void kmain(void)
{
    rt_printf("k_svm_intercepts: on %s\n", rt_cpuinfo.vendor);
    if (!svm_init())
        return;
    if (!svm_cpu.decode_assists)
        rt_printf("# EXITINFO1 of MOV CR/DR, INTn, INVLPG not checked: no "
                  "decode assists\n");
    RT_RUN(t_cr);
    RT_RUN(t_dr);
    RT_RUN(t_exceptions);
    RT_RUN(t_simple);
    RT_RUN(t_dt);
    RT_RUN(t_svm_insns);
    RT_RUN(t_shutdown);
}
