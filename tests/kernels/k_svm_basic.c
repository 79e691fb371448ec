/*
 * tests/kernels/k_svm_basic.c - VMRUN and #VMEXIT round trips from L1:
 * instruction intercepts (CPUID, HLT, RDTSC, ICEBP, VMMCALL), MSRs
 * through the MSRPM, ports through the IOPM with EXITINFO1's encoding,
 * exception intercepts with their error code and CR2, next RIP, GIF after
 * #VMEXIT, and the state L1 gets back.
 *
 * APM Vol. 2: 15.5 (VMRUN), 15.6 (#VMEXIT), 15.7 (state saved on exit,
 * nRIP), 15.9 (instruction intercepts), 15.10 (IOIO, Figure 15-2), 15.11
 * (MSRPM, Table 15-8), 15.12 (exception intercepts), 15.17 (GIF), 15.30.4
 * (TSC offset), 15.33 (decode assists); appendix C (exit codes).
 */
#include "svm.h"

#define V (&svm_vmcb_a)

/* ----------------------------------------------------- guest snippets -- */

SVM_SNIPPET(g_vmmcall, "vmmcall\n\tud2");
SVM_SNIPPET(g_regs, "addq %rcx, %rbx\n\tmovq $0x5151, %rsi\n\t"
                    "movq $0x1515, %r15\n\tmovq $0xabc, %rax\n\tvmmcall");
SVM_SNIPPET(g_cpuid, "cpuid\ng_cpuid_end: vmmcall");
SVM_SNIPPET(g_hlt, "hlt\n\tvmmcall");
SVM_SNIPPET(g_rdtsc, "rdtsc\n\tvmmcall");
SVM_SNIPPET(g_icebp, ".byte 0xf1\n\tvmmcall");
SVM_SNIPPET(g_rdmsr, "rdmsr\n\tvmmcall");
SVM_SNIPPET(g_wrmsr, "wrmsr\n\tvmmcall");
SVM_SNIPPET(g_ud2, "ud2");
SVM_SNIPPET(g_load, "movq (%rax), %rax\n\tvmmcall");
SVM_SNIPPET(g_store, "movq %rax, (%rbx)\n\tvmmcall");
SVM_SNIPPET(g_jmp, "jmp *%rax");
SVM_SNIPPET(g_load_ds, "movl %ecx, %ds\n\tvmmcall");
SVM_SNIPPET(g_int3, "int3\n\tvmmcall");
SVM_SNIPPET(g_tf, "pushfq\n\torq $0x100, (%rsp)\n\tpopfq\n\tnop\n"
                  "g_tf_after: vmmcall");
SVM_LABEL(g_vmmcall);
SVM_LABEL(g_regs);
SVM_LABEL(g_cpuid);
SVM_LABEL(g_cpuid_end);
SVM_LABEL(g_hlt);
SVM_LABEL(g_rdtsc);
SVM_LABEL(g_icebp);
SVM_LABEL(g_rdmsr);
SVM_LABEL(g_wrmsr);
SVM_LABEL(g_ud2);
SVM_LABEL(g_load);
SVM_LABEL(g_store);
SVM_LABEL(g_jmp);
SVM_LABEL(g_load_ds);
SVM_LABEL(g_int3);
SVM_LABEL(g_tf);
SVM_LABEL(g_tf_after);

/* Port I/O, each instruction followed by its end label (EXITINFO2). */
SVM_SNIPPET(g_outb_imm, "outb %al, $0x80\ng_outb_imm_end: vmmcall");
SVM_SNIPPET(g_inb_imm, "inb $0x80, %al\ng_inb_imm_end: vmmcall");
SVM_SNIPPET(g_outb, "outb %al, %dx\ng_outb_end: vmmcall");
SVM_SNIPPET(g_inb, "inb %dx, %al\ng_inb_end: vmmcall");
SVM_SNIPPET(g_outw, "outw %ax, %dx\ng_outw_end: vmmcall");
SVM_SNIPPET(g_inw, "inw %dx, %ax\ng_inw_end: vmmcall");
SVM_SNIPPET(g_outl, "outl %eax, %dx\ng_outl_end: vmmcall");
SVM_SNIPPET(g_inl, "inl %dx, %eax\ng_inl_end: vmmcall");
SVM_SNIPPET(g_outsb, "outsb\ng_outsb_end: vmmcall");
SVM_SNIPPET(g_rep_outsb, "rep outsb\ng_rep_outsb_end: vmmcall");
SVM_SNIPPET(g_rep_insw, "rep insw\ng_rep_insw_end: vmmcall");
SVM_SNIPPET(g_a32_rep_insl, "addr32 rep insl\ng_a32_rep_insl_end: vmmcall");
SVM_SNIPPET(g_rep_outsl_fs, "rep outsl %fs:(%rsi), (%dx)\n"
                            "g_rep_outsl_fs_end: vmmcall");
#define IO_SNIPPET(n) SVM_LABEL(n); SVM_LABEL(n##_end)
IO_SNIPPET(g_outb_imm);
IO_SNIPPET(g_inb_imm);
IO_SNIPPET(g_outb);
IO_SNIPPET(g_inb);
IO_SNIPPET(g_outw);
IO_SNIPPET(g_inw);
IO_SNIPPET(g_outl);
IO_SNIPPET(g_inl);
IO_SNIPPET(g_outsb);
IO_SNIPPET(g_rep_outsb);
IO_SNIPPET(g_rep_insw);
IO_SNIPPET(g_a32_rep_insl);
IO_SNIPPET(g_rep_outsl_fs);

static uint64_t guest_add1(uint64_t x)
{
    return x + 1;
}

/* ------------------------------------------------------------- cases -- */

/* VMRUN a C function and come back through the VMMCALL intercept. */
static void t_roundtrip(void)
{
    svm_vmcb_call(V, guest_add1, 41);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, 0, 0);
    CHECK_EQ(V->rax, 42);
    CHECK_EQ(V->cs.sel, RT_KCODE64);
    CHECK_EQ(V->rsp, svm_guest_stack_top);
    /* twice through the same VMCB */
    V->rip = SVM_ADDR(g_vmmcall);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_vmmcall), 3);

    /* GPRs: VMRUN neither loads nor saves them (15.5.1) */
    svm_vmcb_init(V, SVM_ADDR(g_regs));
    svm_guest_regs.rbx = 0x1000;
    svm_guest_regs.rcx = 0x0234;
    svm_guest_regs.r15 = 0x9999;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, 0, 0);
    CHECK_EQ(svm_guest_regs.rbx, 0x1234);
    CHECK_EQ(svm_guest_regs.rsi, 0x5151);
    CHECK_EQ(svm_guest_regs.r15, 0x1515);
    CHECK_EQ(V->rax, 0xabc); /* RAX is saved in the VMCB */
}

static void t_cpuid(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_cpuid));
    svm_intercept(V, SVM_EXIT_CPUID, true);
    V->rax = 0;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_CPUID, SVM_ADDR(g_cpuid), 2);

    /* not intercepted: the guest runs CPUID itself */
    uint32_t r[4];
    rt_cpuid(0, 0, r);
    svm_vmcb_init(V, SVM_ADDR(g_cpuid));
    V->rax = 0;
    svm_guest_regs.rcx = 0;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_cpuid_end), 3);
    CHECK_EQ(V->rax & 0xffffffff, r[0]);
    CHECK_EQ(svm_guest_regs.rbx & 0xffffffff, r[1]);
    CHECK_EQ(svm_guest_regs.rcx & 0xffffffff, r[2]);
    CHECK_EQ(svm_guest_regs.rdx & 0xffffffff, r[3]);
}

static void t_hlt_icebp(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_hlt));
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_HLT, SVM_ADDR(g_hlt), 1);

    svm_vmcb_init(V, SVM_ADDR(g_icebp));
    svm_intercept(V, SVM_EXIT_ICEBP, true);
    svm_run(V);
    if (V->exitcode == SVM_EXIT_HLT && svm_guest_exc.vector == RT_UD &&
        svm_guest_exc.rip == SVM_ADDR(g_icebp) &&
        rt_tcg_excuse(1, 0, 1, "ICEBP (F1) is #UD, not intercepted by the "
                               "ICEBP intercept (APM 15.9, Table C-1 88h)"))
        return;
    SVM_CHECK_EXIT(V, SVM_EXIT_ICEBP, SVM_ADDR(g_icebp), 1);
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static void t_rdtsc(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_rdtsc));
    svm_intercept(V, SVM_EXIT_RDTSC, true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_RDTSC, SVM_ADDR(g_rdtsc), 2);

    /* 15.30.4: the guest reads TSC + TSC_OFFSET */
    const uint64_t off = UINT64_C(1) << 50;
    svm_vmcb_init(V, SVM_ADDR(g_rdtsc));
    V->tsc_offset = off;
    uint64_t before = rdtsc();
    svm_run(V);
    uint64_t after = rdtsc();
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_rdtsc) + 2, 3);
    uint64_t g = (svm_guest_regs.rdx & 0xffffffff) << 32 |
                 (V->rax & 0xffffffff);
    CHECK(g >= before + off && g <= after + off,
          "guest TSC %#lx not in [%#lx, %#lx] + offset", g, before, after);
}

/* ---------------------------------------------------------------- MSR -- */

/* Runs RDMSR (write = false) or WRMSR of msr; true if it exited with an
   MSR intercept (checked: EXITINFO1 = 0 read / 1 write, 15.11). */
static bool msr_exit(uint32_t msr, bool write, uint64_t value)
{
    svm_vmcb_init(V, write ? SVM_ADDR(g_wrmsr) : SVM_ADDR(g_rdmsr));
    svm_intercept(V, SVM_ICPT_MSR_PROT, true);
    svm_guest_regs.rcx = msr;
    V->rax = (uint32_t)value;
    svm_guest_regs.rdx = value >> 32;
    svm_run(V);
    if (V->exitcode == SVM_EXIT_MSR) {
        SVM_CHECK_EXIT(V, SVM_EXIT_MSR, write ? SVM_ADDR(g_wrmsr)
                                              : SVM_ADDR(g_rdmsr), 2);
        CHECK_EQ(V->exitinfo1, write ? 1 : 0);
        return true;
    }
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, 0, 0);
    return false;
}

static void t_msrpm(void)
{
    /* range 0000_0000-0000_1FFF: SYSENTER_CS, read and write bits apart */
    uint64_t sysenter_cs = rt_rdmsr(RT_MSR_SYSENTER_CS);
    svm_maps_clear();
    svm_msrpm_set(RT_MSR_SYSENTER_CS, false, true);
    CHECK(msr_exit(RT_MSR_SYSENTER_CS, false, 0), "RDMSR 174h not intercepted");
    CHECK(!msr_exit(RT_MSR_SYSENTER_CS, true, 0x1234),
          "WRMSR 174h intercepted by its read bit");
    CHECK_EQ(rt_rdmsr(RT_MSR_SYSENTER_CS), 0x1234);
    svm_maps_clear();
    svm_msrpm_set(RT_MSR_SYSENTER_CS, true, true);
    CHECK(msr_exit(RT_MSR_SYSENTER_CS, true, 0x5678),
          "WRMSR 174h not intercepted");
    CHECK_EQ(rt_rdmsr(RT_MSR_SYSENTER_CS), 0x1234); /* it did not happen */
    CHECK(!msr_exit(RT_MSR_SYSENTER_CS, false, 0),
          "RDMSR 174h intercepted by its write bit");
    CHECK_EQ(svm_guest_regs.rdx << 32 | (V->rax & 0xffffffff), 0x1234);
    rt_wrmsr(RT_MSR_SYSENTER_CS, sysenter_cs);

    /* range C000_0000-C000_1FFF: STAR */
    uint64_t star = rt_rdmsr(RT_MSR_STAR);
    svm_maps_clear();
    svm_msrpm_set(RT_MSR_STAR, true, true);
    CHECK(!msr_exit(RT_MSR_STAR, false, 0), "RDMSR STAR intercepted");
    CHECK_EQ(svm_guest_regs.rdx << 32 | (V->rax & 0xffffffff), star);
    CHECK(msr_exit(RT_MSR_STAR, true, 0), "WRMSR STAR not intercepted");
    CHECK_EQ(rt_rdmsr(RT_MSR_STAR), star);

    /* range C001_0000-C001_1FFF: VM_HSAVE_PA */
    svm_maps_clear();
    svm_msrpm_set(SVM_MSR_VM_HSAVE, false, true);
    CHECK(msr_exit(SVM_MSR_VM_HSAVE, false, 0), "RDMSR VM_HSAVE_PA not "
          "intercepted");
    CHECK(!msr_exit(SVM_MSR_VM_HSAVE, true, svm_pa(svm_hsave)),
          "WRMSR VM_HSAVE_PA intercepted by its read bit");
    svm_msrpm_set(SVM_MSR_VM_HSAVE, true, true);
    CHECK(msr_exit(SVM_MSR_VM_HSAVE, true, 0), "WRMSR VM_HSAVE_PA not "
          "intercepted");
    CHECK_EQ(rt_rdmsr(SVM_MSR_VM_HSAVE), svm_pa(svm_hsave));

    /* the first and last MSR of each range: the bit is found, the
       intercept comes before any #GP for an MSR that does not exist */
    static const uint32_t edges[] = {
        0x00000000, 0x00001fff, 0xc0000000, 0xc0001fff,
        0xc0010000, 0xc0011fff,
    };
    for (unsigned i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        svm_maps_clear();
        svm_msrpm_set(edges[i], i & 1, true);
        CHECK(msr_exit(edges[i], i & 1, 0), "MSR %#x %s not intercepted",
              edges[i], i & 1 ? "write" : "read");
    }

    /* outside the three ranges: always intercepted (15.11) */
    static const uint32_t outside[] = {
        0x00002000, 0x40000000, 0xc0002000, 0xc0012000, 0xffffffff,
    };
    svm_maps_clear();
    for (unsigned i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        CHECK(msr_exit(outside[i], false, 0), "RDMSR %#x (outside the MSRPM) "
              "not intercepted", outside[i]);
        CHECK(msr_exit(outside[i], true, 0), "WRMSR %#x (outside the MSRPM) "
              "not intercepted", outside[i]);
    }

    /* MSR_PROT clear: the map is not consulted */
    svm_msrpm_set(RT_MSR_STAR, false, true);
    svm_vmcb_init(V, SVM_ADDR(g_rdmsr));
    svm_guest_regs.rcx = RT_MSR_STAR;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_rdmsr) + 2, 3);
    CHECK_EQ(svm_guest_regs.rdx << 32 | (V->rax & 0xffffffff), star);
    svm_maps_clear();
}

/* --------------------------------------------------------------- IOIO -- */

/*
 * Runs an I/O snippet with IOIO_PROT set and DX = port (RAX = 0, RSI/RDI
 * at a buffer, RCX = 3). Returns true if it exited with IOIO; then checks
 * EXITINFO1 (Figure 15-2) against want (the SEG field only when decode
 * assists are advertised), EXITINFO2 = the next instruction (15.10.2), and
 * that no string iteration happened.
 */
static uint8_t io_buf[64];

static bool io_exit(const uint8_t *insn, const uint8_t *end, uint32_t port,
                    uint64_t want)
{
    svm_vmcb_init(V, SVM_ADDR(insn));
    svm_intercept(V, SVM_ICPT_IOIO_PROT, true);
    svm_guest_regs.rdx = port;
    svm_guest_regs.rsi = svm_pa(io_buf);
    svm_guest_regs.rdi = svm_pa(io_buf + 16);
    svm_guest_regs.rcx = 3;
    V->rax = 0;
    svm_run(V);
    if (V->exitcode != SVM_EXIT_IOIO) {
        SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(end), 3);
        return false;
    }
    SVM_CHECK_EXIT(V, SVM_EXIT_IOIO, SVM_ADDR(insn),
                   (unsigned)(SVM_ADDR(end) - SVM_ADDR(insn)));
    uint64_t mask = svm_cpu.decode_assists ? ~UINT64_C(0)
                                           : ~(uint64_t)SVM_IO_SEG(7);
    const uint64_t asz = SVM_IO_A16 | SVM_IO_A32 | SVM_IO_A64;
    CHECK(rt_tcg_excuse(V->exitinfo1 & mask, want & mask, want & mask & ~asz,
                        "IOIO EXITINFO1 has no address-size bit A16/A32/A64 "
                        "(APM 15.10.2 Figure 15-2)"),
          "IOIO EXITINFO1 is %#lx, expected %#lx", V->exitinfo1, want);
    CHECK_EQ(V->exitinfo2, SVM_ADDR(end));
    CHECK_EQ(svm_guest_regs.rcx, 3);
    CHECK_EQ(svm_guest_regs.rsi, svm_pa(io_buf));
    CHECK_EQ(svm_guest_regs.rdi, svm_pa(io_buf + 16));
    return true;
}
#define IO(n, port, want) io_exit(n, n##_end, (port), (want))

static void t_iopm_sizes(void)
{
    const uint64_t a64 = SVM_IO_A64;
    svm_maps_clear();
    svm_iopm_set(0x80, true);
    CHECK(IO(g_outb_imm, 0, SVM_IO_PORT(0x80) | SVM_IO_SZ8 | a64),
          "OUT imm8 80h not intercepted");
    CHECK(IO(g_inb_imm, 0, SVM_IO_PORT(0x80) | SVM_IO_IN | SVM_IO_SZ8 | a64),
          "IN imm8 80h not intercepted");
    CHECK(IO(g_outb, 0x80, SVM_IO_PORT(0x80) | SVM_IO_SZ8 | a64), "OUT DX");
    CHECK(IO(g_inb, 0x80, SVM_IO_PORT(0x80) | SVM_IO_IN | SVM_IO_SZ8 | a64),
          "IN DX");
    CHECK(IO(g_outw, 0x80, SVM_IO_PORT(0x80) | SVM_IO_SZ16 | a64), "OUT 16");
    CHECK(IO(g_inw, 0x80, SVM_IO_PORT(0x80) | SVM_IO_IN | SVM_IO_SZ16 | a64),
          "IN 16");
    CHECK(IO(g_outl, 0x80, SVM_IO_PORT(0x80) | SVM_IO_SZ32 | a64), "OUT 32");
    CHECK(IO(g_inl, 0x80, SVM_IO_PORT(0x80) | SVM_IO_IN | SVM_IO_SZ32 | a64),
          "IN 32");
    /* the neighbours are not intercepted */
    CHECK(!IO(g_outb, 0x81, 0), "OUT 81h intercepted by bit 80h");
    CHECK(!IO(g_outb, 0x7f, 0), "OUT 7Fh intercepted by bit 80h");
    /* IOIO_PROT clear: the map is not consulted */
    svm_vmcb_init(V, SVM_ADDR(g_outb));
    svm_guest_regs.rdx = 0x80;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_outb_end), 3);
    svm_maps_clear();
}

/* 15.10.2: every bit from port to port + size - 1 is checked. */
static void t_iopm_span(void)
{
    svm_maps_clear();
    svm_iopm_set(0x108, true); /* byte 0x21 bit 0 */
    CHECK(!IO(g_outb, 0x107, 0), "OUT8 107h intercepted by bit 108h");
    CHECK(IO(g_outw, 0x107, SVM_IO_PORT(0x107) | SVM_IO_SZ16 | SVM_IO_A64),
          "OUT16 107h (bits 107h-108h, two bytes) not intercepted");
    CHECK(IO(g_inl, 0x105, SVM_IO_PORT(0x105) | SVM_IO_IN | SVM_IO_SZ32 |
                               SVM_IO_A64),
          "IN32 105h (bits 105h-108h) not intercepted");
    CHECK(!IO(g_inl, 0x104, 0), "IN32 104h intercepted by bit 108h");
    CHECK(!IO(g_inw, 0x109, 0), "IN16 109h intercepted by bit 108h");

    /* port FFFFh: the third IOPM page holds bits 10000h-10002h */
    svm_maps_clear();
    svm_iopm_set(0xffff, true);
    CHECK(IO(g_inb, 0xffff, SVM_IO_PORT(0xffff) | SVM_IO_IN | SVM_IO_SZ8 |
                                SVM_IO_A64),
          "IN8 FFFFh not intercepted");
    svm_maps_clear();
    svm_iopm_set(0x10000, true);
    CHECK(IO(g_outw, 0xffff, SVM_IO_PORT(0xffff) | SVM_IO_SZ16 | SVM_IO_A64),
          "OUT16 FFFFh not intercepted by bit 10000h");
    svm_maps_clear();
    svm_iopm_set(0x10002, true);
    CHECK(IO(g_inl, 0xffff, SVM_IO_PORT(0xffff) | SVM_IO_IN | SVM_IO_SZ32 |
                                SVM_IO_A64),
          "IN32 FFFFh not intercepted by bit 10002h");
    CHECK(!IO(g_outl, 0xfffe, 0),
          "OUT32 FFFEh (bits FFFEh-10001h) intercepted by bit 10002h");
    CHECK(!IO(g_outb, 0xffff, 0), "OUT8 FFFFh intercepted by bit 10002h");
    svm_maps_clear();
}

/* String forms: STR, REP, address size, segment (Figure 15-2). The
   intercept comes before the first iteration: RCX, RSI, RDI unchanged. */
static void t_iopm_string(void)
{
    svm_maps_clear();
    svm_iopm_set(0x80, true);
    const uint32_t p = SVM_IO_PORT(0x80);
    CHECK(IO(g_outsb, 0x80, p | SVM_IO_STR | SVM_IO_SZ8 | SVM_IO_A64 |
                                SVM_IO_SEG(3)),
          "OUTSB not intercepted");
    CHECK(IO(g_rep_outsb, 0x80, p | SVM_IO_STR | SVM_IO_REP | SVM_IO_SZ8 |
                                    SVM_IO_A64 | SVM_IO_SEG(3)),
          "REP OUTSB not intercepted");
    CHECK(IO(g_rep_insw, 0x80, p | SVM_IO_IN | SVM_IO_STR | SVM_IO_REP |
                                   SVM_IO_SZ16 | SVM_IO_A64 | SVM_IO_SEG(0)),
          "REP INSW not intercepted");
    CHECK(IO(g_a32_rep_insl, 0x80, p | SVM_IO_IN | SVM_IO_STR | SVM_IO_REP |
                                       SVM_IO_SZ32 | SVM_IO_A32 |
                                       SVM_IO_SEG(0)),
          "ADDR32 REP INSD not intercepted");
    CHECK(IO(g_rep_outsl_fs, 0x80, p | SVM_IO_STR | SVM_IO_REP |
                                       SVM_IO_SZ32 | SVM_IO_A64 |
                                       SVM_IO_SEG(4)),
          "REP OUTSD FS: not intercepted");
    if (!svm_cpu.decode_assists)
        rt_printf("# EXITINFO1.SEG not checked: no decode assists\n");
    svm_maps_clear();
}

/* --------------------------------------------------------- exceptions -- */

static void t_exc_ud_gp(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_ud2));
    svm_intercept(V, SVM_EXIT_EXC(RT_UD), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_EXC(RT_UD), SVM_ADDR(g_ud2), 0);

    /* #GP(0): a non-canonical address; EXITINFO1 = the error code */
    svm_vmcb_init(V, SVM_ADDR(g_load));
    svm_intercept(V, SVM_EXIT_EXC(RT_GP), true);
    V->rax = UINT64_C(0x8000000000000000);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_EXC(RT_GP), SVM_ADDR(g_load), 0);
    CHECK_EQ(V->exitinfo1, 0);

    /* #GP(selector): DS <- a selector whose descriptor is not data */
    svm_vmcb_init(V, SVM_ADDR(g_load_ds));
    svm_intercept(V, SVM_EXIT_EXC(RT_GP), true);
    rt_gdt_set(RT_GDT_FREE, 0);
    svm_guest_regs.rcx = RT_GDT_FREE;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_EXC(RT_GP), SVM_ADDR(g_load_ds), 0);
    CHECK_EQ(V->exitinfo1, RT_GDT_FREE);
    CHECK_EQ(svm_guest_exc.count, 0); /* the guest did not see it */
}

/* Decode assists (15.33.2): the bytes of the faulting instruction. */
static void check_insn_bytes(uint64_t rip)
{
    if (!svm_cpu.decode_assists)
        return;
    unsigned n = V->insn_len & 0xf;
    CHECK(n > 0 && n <= 15, "decode assists: %u instruction bytes", n);
    for (unsigned i = 0; i < n && i < 15; i++)
        CHECK_EQ(V->insn_bytes[i], rt_peek8(rip + i));
}

static void t_exc_pf(void)
{
    const uint64_t va = RT_FREE_VA + 0x1238;
    /* read: P = 0, W = 0, U = 0 (APM 8.4.2); EXITINFO2 = CR2 (15.12) */
    svm_vmcb_init(V, SVM_ADDR(g_load));
    svm_intercept(V, SVM_EXIT_EXC(RT_PF), true);
    V->rax = va;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_EXC(RT_PF), SVM_ADDR(g_load), 0);
    CHECK_EQ(V->exitinfo1, 0);
    CHECK_EQ(V->exitinfo2, va);
    check_insn_bytes(SVM_ADDR(g_load));

    svm_vmcb_init(V, SVM_ADDR(g_store));
    svm_intercept(V, SVM_EXIT_EXC(RT_PF), true);
    svm_guest_regs.rbx = va + 0x1000;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_EXC(RT_PF), SVM_ADDR(g_store), 0);
    CHECK_EQ(V->exitinfo1, 2);
    CHECK_EQ(V->exitinfo2, va + 0x1000);
    check_insn_bytes(SVM_ADDR(g_store));

    /* a fetch: I/D = 1 when EFER.NXE = 1 (8.4.2); RIP is the target */
    svm_vmcb_init(V, SVM_ADDR(g_jmp));
    svm_intercept(V, SVM_EXIT_EXC(RT_PF), true);
    V->rax = va + 0x2000;
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_EXC(RT_PF), va + 0x2000, 0);
    CHECK_EQ(V->exitinfo1, (V->efer & RT_EFER_NXE) ? 0x10 : 0);
    CHECK_EQ(V->exitinfo2, va + 0x2000);
    CHECK_EQ(svm_guest_exc.count, 0);
}

static void t_exc_db_bp(void)
{
    /* #DB from TF set by POPF: a trap after the next instruction */
    svm_vmcb_init(V, SVM_ADDR(g_tf));
    svm_intercept(V, SVM_EXIT_EXC(RT_DB), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_EXC(RT_DB), SVM_ADDR(g_tf_after), 0);
    CHECK(V->rflags & RT_FL_TF, "guest RFLAGS %#lx lost TF", V->rflags);

    /* #BP from INT3: RIP at INT3, nRIP after it (15.7.1) */
    svm_vmcb_init(V, SVM_ADDR(g_int3));
    svm_intercept(V, SVM_EXIT_EXC(RT_BP), true);
    svm_run(V);
    if (V->exitcode == SVM_EXIT_HLT && svm_guest_exc.vector == RT_BP &&
        rt_tcg_excuse(1, 0, 1, "INT3 does not check the #BP exception "
                               "intercept (APM 15.12, 15.7.1)"))
        return;
    SVM_CHECK_EXIT(V, SVM_EXIT_EXC(RT_BP), SVM_ADDR(g_int3), 1);
    CHECK_EQ(svm_guest_exc.count, 0);
}

/* ------------------------------------------------------- CR and DR -- */

SVM_SNIPPET(g_cr3_read, "movq %cr3, %rbx\n\tvmmcall");
SVM_SNIPPET(g_cr3_write, "movq %rbx, %cr3\n\tvmmcall");
SVM_SNIPPET(g_cr0_ts, "movq %cr0, %rax\n\txorq $8, %rax\n"
                      "g_cr0_ts_mov: movq %rax, %cr0\n\t"
                      "xorq $0x10000, %rax\n"
                      "g_cr0_wp_mov: movq %rax, %cr0\n\tvmmcall");
SVM_SNIPPET(g_dr7_read, "movq %dr7, %rcx\n\tvmmcall");
SVM_SNIPPET(g_dr0_write, "movq %rcx, %dr0\n\tvmmcall");
SVM_LABEL(g_cr3_read);
SVM_LABEL(g_cr3_write);
SVM_LABEL(g_cr0_ts);
SVM_LABEL(g_cr0_ts_mov);
SVM_LABEL(g_cr0_wp_mov);
SVM_LABEL(g_dr7_read);
SVM_LABEL(g_dr0_write);

/* Decode assists (15.33.1): EXITINFO1[63] = 1 for MOV CR, [3:0] = the
   GPR (RBX = 3, RCX = 1, RAX = 0). */
static void check_mov_crdr(uint64_t want)
{
    if (svm_cpu.decode_assists)
        CHECK_EQ(V->exitinfo1, want);
}

/* 15.9.1 (CR), 15.9.2 (DR): intercepts by register, read and write. */
static void t_cr_dr(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_cr3_read));
    svm_intercept(V, SVM_EXIT_CR_READ(3), true);
    svm_intercept(V, SVM_EXIT_CR_WRITE(3), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_CR_READ(3), SVM_ADDR(g_cr3_read), 3);
    check_mov_crdr(UINT64_C(1) << 63 | 3);

    svm_vmcb_init(V, SVM_ADDR(g_cr3_write));
    svm_guest_regs.rbx = rt_read_cr3();
    svm_intercept(V, SVM_EXIT_CR_WRITE(3), true);
    svm_intercept(V, SVM_EXIT_CR_READ(0), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_CR_WRITE(3), SVM_ADDR(g_cr3_write), 3);
    check_mov_crdr(UINT64_C(1) << 63 | 3);

    svm_vmcb_init(V, SVM_ADDR(g_cr3_read)); /* other bits: no exit */
    svm_intercept(V, SVM_EXIT_CR_WRITE(3), true);
    svm_intercept(V, SVM_EXIT_CR_READ(4), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_cr3_read) + 3, 3);
    CHECK_EQ(svm_guest_regs.rbx, rt_read_cr3());

    /* the selective CR0 write intercept ignores TS and MP (Table 15-7) */
    svm_vmcb_init(V, SVM_ADDR(g_cr0_ts));
    svm_intercept(V, 0x65, true);
    svm_run(V);
    SVM_CHECK_EXIT(V, 0x65, SVM_ADDR(g_cr0_wp_mov), 3);
    check_mov_crdr(UINT64_C(1) << 63 | 0);
    CHECK_EQ(V->cr0, rt_read_cr0() ^ 8); /* TS flipped, WP not yet */
    svm_vmcb_init(V, SVM_ADDR(g_cr0_ts));
    svm_intercept(V, SVM_EXIT_CR_WRITE(0), true);
    svm_intercept(V, 0x65, true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_CR_WRITE(0), SVM_ADDR(g_cr0_ts_mov), 3);

    svm_vmcb_init(V, SVM_ADDR(g_dr7_read));
    svm_intercept(V, SVM_EXIT_DR_READ(7), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_DR_READ(7), SVM_ADDR(g_dr7_read), 3);
    check_mov_crdr(1);
    svm_vmcb_init(V, SVM_ADDR(g_dr7_read));
    svm_intercept(V, SVM_EXIT_DR_WRITE(7), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_dr7_read) + 3, 3);
    CHECK_EQ(svm_guest_regs.rcx, 0x400);

    svm_vmcb_init(V, SVM_ADDR(g_dr0_write));
    svm_intercept(V, SVM_EXIT_DR_WRITE(0), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_DR_WRITE(0), SVM_ADDR(g_dr0_write), 3);
    check_mov_crdr(1);
    if (!svm_cpu.decode_assists)
        rt_printf("# MOV CR/DR EXITINFO1 not checked: no decode assists\n");
}

/* -------------------------------------------------------------- VMMCALL -- */

static void t_vmmcall(void)
{
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_vmmcall), 3);

    /* not intercepted: #UD in the guest (APM Vol. 3 VMMCALL) */
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    svm_intercept(V, SVM_EXIT_VMMCALL, false);
    svm_run(V);
    CHECK_EQ(V->exitcode, SVM_EXIT_HLT);
    CHECK(svm_rip_in_guest_stubs(V->rip), "the guest did not halt in its "
          "#UD handler (RIP %#lx)", V->rip);
    CHECK_EQ(svm_guest_exc.count, 1);
    CHECK_EQ(svm_guest_exc.vector, RT_UD);
    CHECK_EQ(svm_guest_exc.rip, SVM_ADDR(g_vmmcall));
    CHECK_EQ(svm_guest_exc.cs, RT_KCODE64);

    /* not intercepted, #UD intercepted: exit 46h at the VMMCALL */
    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    svm_intercept(V, SVM_EXIT_VMMCALL, false);
    svm_intercept(V, SVM_EXIT_EXC(RT_UD), true);
    svm_run(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_EXC(RT_UD), SVM_ADDR(g_vmmcall), 0);
    CHECK_EQ(svm_guest_exc.count, 0);
}

/* nRIP for each instruction intercept above, when advertised (15.7.1). */
static void t_nrip(void)
{
    if (!svm_cpu.nrips) {
        rt_skip("t_nrip", "no NRIP save (CPUID 8000_000A EDX[3])");
        return;
    }
    static const struct { const uint8_t *rip; unsigned code, len; } t[] = {
        { g_cpuid, SVM_EXIT_CPUID, 2 },
        { g_hlt, SVM_EXIT_HLT, 1 },
        { g_rdtsc, SVM_EXIT_RDTSC, 2 },
        { g_vmmcall, SVM_EXIT_VMMCALL, 3 },
        { g_icebp, SVM_EXIT_ICEBP, 1 },
        { g_int3, SVM_EXIT_EXC(RT_BP), 1 },
    };
    for (unsigned i = 0; i < sizeof t / sizeof t[0]; i++) {
        svm_vmcb_init(V, SVM_ADDR(t[i].rip));
        svm_intercept(V, t[i].code, true);
        V->nrip = 0x5a5a5a5a; /* must be written */
        svm_run(V);
        SVM_CHECK_EXIT(V, t[i].code, SVM_ADDR(t[i].rip), t[i].len);
    }
}

/* ---------------------------------------------------------------- GIF -- */

static volatile unsigned nmis;
static void on_nmi(rt_frame *f)
{
    (void)f;
    nmis++;
}

static volatile uint32_t *apic;

static void self_nmi(void)
{
    uint32_t id = apic[0x20 / 4] >> 24;
    apic[0x310 / 4] = id << 24;
    apic[0x300 / 4] = 0x4400; /* NMI, physical, assert (SDM 11.6.1) */
}

static void spin(void)
{
    for (volatile unsigned i = 0; i < 20000; i++)
        __asm__ volatile("pause");
}

/*
 * GIF is not readable without vGIF, but it holds NMIs pending (15.17): a
 * self-NMI sent with GIF = 0 arrives only at STGI. #VMEXIT clears GIF
 * (15.6), so an NMI sent after svm_run_raw waits for the STGI.
 */
static void t_gif(void)
{
    if (!(rt_cpuinfo.f1_edx & (1u << 9))) {
        rt_skip("t_gif", "no local APIC (CPUID 1 EDX[9]) to send an NMI");
        return;
    }
    uint64_t base = rt_rdmsr(RT_MSR_APIC_BASE);
    if (!(base & (1u << 11))) {
        rt_skip("t_gif", "the local APIC is disabled (IA32_APIC_BASE[11])");
        return;
    }
    uint64_t pa = base & UINT64_C(0x000ffffffffff000);
    rt_map(pa, pa, RT_PTE_P | RT_PTE_W | RT_PTE_PCD | RT_PTE_PWT, 1);
    apic = (volatile uint32_t *)(uintptr_t)pa;
    apic[0xf0 / 4] = 0x1ff; /* SVR: software-enabled, spurious vector FFh */
    rt_set_handler(RT_NMI, on_nmi);
    nmis = 0;
    self_nmi();
    spin();
    if (nmis != 1) {
        rt_set_handler(RT_NMI, NULL);
        rt_skip("t_gif", "a self-NMI through the local APIC did not arrive");
        return;
    }
    svm_clgi();
    self_nmi();
    spin();
    CHECK_EQ(nmis, 1); /* held by GIF = 0 */
    svm_stgi();
    spin();
    CHECK_EQ(nmis, 2);

    svm_vmcb_init(V, SVM_ADDR(g_vmmcall));
    svm_run_raw(V);
    self_nmi();
    spin();
    CHECK_EQ(nmis, 2); /* #VMEXIT left GIF = 0 */
    svm_stgi();
    spin();
    CHECK_EQ(nmis, 3);
    svm_print_exit(V);
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, SVM_ADDR(g_vmmcall), 3);
    rt_set_handler(RT_NMI, NULL);
}

/* ------------------------------------------------------ L1's state back -- */

SVM_SNIPPET(g_scramble, "xorl %eax, %eax\n\tmovl %eax, %ds\n\tmovl %eax, %es\n\t"
                        "movq %cr0, %rax\n\torq $8, %rax\n\tmovq %rax, %cr0\n\t"
                        "movq %cr4, %rax\n\torq $4, %rax\n\tmovq %rax, %cr4\n\t"
                        "lidt (%rbx)\n\tlgdt (%rbx)\n\t"
                        "movq $0x402, %rax\n\tmovq %rax, %dr7\n\t"
                        "vmmcall");
SVM_LABEL(g_scramble);

static inline uint64_t read_dr7(void)
{
    uint64_t v;
    __asm__ volatile("mov %%dr7, %0" : "=r"(v));
    return v;
}
static inline void write_dr7(uint64_t v)
{
    __asm__ volatile("mov %0, %%dr7" : : "r"(v));
}
static inline uint16_t read_ds(void)
{
    uint16_t v;
    __asm__ volatile("mov %%ds, %0" : "=r"(v));
    return v;
}
static inline uint16_t read_es(void)
{
    uint16_t v;
    __asm__ volatile("mov %%es, %0" : "=r"(v));
    return v;
}

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint64_t base;
};

/*
 * 15.6 / 15.7.3: #VMEXIT reloads L1's CR0 (PE forced to 1), CR3, CR4,
 * EFER, RFLAGS, RSP, RIP, RAX, CS/SS/DS/ES, GDTR and IDTR from the host
 * save area, and sets DR7 to 0x400 (every breakpoint off) and CPL 0; the
 * guest's values are saved in the VMCB.
 */
static void t_l1_state(void)
{
    static struct dtr zero_dt = { 0, 0 };
    struct dtr gdtr0, idtr0, gdtr1, idtr1;
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr0), "=m"(idtr0));
    uint64_t cr0 = rt_read_cr0(), cr3 = rt_read_cr3(), cr4 = rt_read_cr4();
    uint64_t efer = rt_rdmsr(RT_MSR_EFER);
    write_dr7(0x401); /* L0 set: a breakpoint at linear 0 (never run) */

    svm_vmcb_init(V, SVM_ADDR(g_scramble));
    svm_guest_regs.rbx = svm_pa(&zero_dt);
    svm_run(V);
    uint64_t dr7 = read_dr7();
    write_dr7(0x400);
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr1), "=m"(idtr1));
    SVM_CHECK_EXIT(V, SVM_EXIT_VMMCALL, 0, 0);
    CHECK(rt_tcg_excuse(dr7, 0x400, 0x401, "#VMEXIT leaves L1's DR7 as it "
                        "was; APM 15.6: all breakpoints disabled (0x400)"),
          "L1 DR7 after #VMEXIT is %#lx, expected 0x400", dr7);
    CHECK_EQ(rt_read_cr0(), cr0);
    CHECK_EQ(rt_read_cr3(), cr3);
    CHECK_EQ(rt_read_cr4(), cr4);
    CHECK_EQ(rt_rdmsr(RT_MSR_EFER), efer);
    CHECK(cr0 & RT_CR0_PE, "L1 CR0 %#lx without PE", cr0);
    CHECK_EQ(read_ds(), RT_KDATA);
    CHECK_EQ(read_es(), RT_KDATA);
    CHECK_EQ(gdtr1.base, gdtr0.base);
    CHECK_EQ(gdtr1.limit, gdtr0.limit);
    CHECK_EQ(idtr1.base, idtr0.base);
    CHECK_EQ(idtr1.limit, idtr0.limit);
    /* and the guest's values went to the VMCB */
    CHECK_EQ(V->ds.sel, 0);
    CHECK_EQ(V->es.sel, 0);
    CHECK_EQ(V->cr0, cr0 | 8);
    CHECK_EQ(V->cr4, cr4 | 4);
    CHECK_EQ(V->idtr.limit, 0);
    CHECK_EQ(V->gdtr.limit, 0);
    CHECK_EQ(V->dr7, 0x402);
    CHECK_EQ(V->cpl, 0);
}

void kmain(void)
{
    rt_printf("k_svm_basic: on %s\n", rt_cpuinfo.vendor);
    if (!svm_init())
        return;
    RT_RUN(t_roundtrip);
    RT_RUN(t_cpuid);
    RT_RUN(t_hlt_icebp);
    RT_RUN(t_rdtsc);
    RT_RUN(t_msrpm);
    RT_RUN(t_iopm_sizes);
    RT_RUN(t_iopm_span);
    RT_RUN(t_iopm_string);
    RT_RUN(t_exc_ud_gp);
    RT_RUN(t_exc_pf);
    RT_RUN(t_exc_db_bp);
    RT_RUN(t_cr_dr);
    RT_RUN(t_vmmcall);
    RT_RUN(t_nrip);
    RT_RUN(t_gif);
    RT_RUN(t_l1_state);
}
