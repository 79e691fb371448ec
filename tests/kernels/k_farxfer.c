/*
 * tests/kernels/k_farxfer.c - far transfers: far JMP/CALL/RET, IRETQ to
 * ring 3 and back through INT, a call gate to ring 0 with a stack switch,
 * SYSCALL/SYSRET, SYSENTER/SYSEXIT (Intel; #UD in long mode on AMD),
 * compatibility-mode round trips, and IRET in 32-bit protected mode (run
 * by rt_pm32_hook before long mode, checked here).
 *
 * SDM Vol. 2A CALL, IRET, JMP, Vol. 2B RET, SYSCALL, SYSENTER, SYSEXIT,
 * SYSRET; SDM Vol. 3A 5.8 (call gates, 5.8.6 in IA-32e mode), 6.12.1, 6.14;
 * APM Vol. 2 4.8-4.11 and 6.1; APM Vol. 3 the same instructions. The
 * assembly half is k_farxfer32.S.
 */
#include "rt.h"

#define SEL_GATE3 (RT_GDT_FREE + 0x00) /* 64-bit call gate, DPL 3 (16 bytes) */
#define SEL_GATE0 (RT_GDT_FREE + 0x10) /* the same with DPL 0              */

typedef struct __attribute__((packed)) far32 {
    uint32_t off;
    uint16_t sel;
} far32;

/* from k_farxfer32.S */
extern uint32_t pm32_cr0, pm32_flags, pm32_esp, pm32_esp_after, pm32_done;
extern uint32_t pm32_user_cs, pm32_user_ss, pm32_user_ds, pm32_user_esp;
extern uint32_t pm32_frame[5], pm32_frame_at, pm32_kernel_ss;
extern uint32_t pm32_after_int_addr[3];
extern uint8_t cg_target[], sc_entry64[], sc_entry32[], se_entry[];
extern uint64_t cg_frame[4], cg_rsp;
extern uint16_t cg_ss, cg_cs;
extern volatile uint64_t sc_rcx, sc_r11, sc_rsp, sc_flags, sc_count;
extern volatile uint16_t sc_cs, sc_ss;
extern volatile uint64_t se_rsp, se_flags, se_count;
extern volatile uint16_t se_cs, se_ss;
uint32_t farjmp_compat(void);
uint64_t lretq_same(void);
uint64_t iretq_same(uint64_t flags);
uint32_t iretq_compat(void);
uint32_t compat_calls64(void);
uint32_t user32_syscall(void);
uint64_t user_flags(uint64_t);

static uint16_t read_cs(void)
{
    uint16_t v;
    __asm__ volatile("mov %%cs, %0" : "=r"(v));
    return v;
}

/* -------------------------------------------- 32-bit protected mode -- */

static void t_pm32_iret(void)
{
    CHECK_EQ(pm32_done, 1);
    /* the hook ran with protection on and paging off */
    CHECK_EQ(pm32_cr0 & (RT_CR0_PE | RT_CR0_PG), RT_CR0_PE);
    /* IRETD, same privilege: EFLAGS from the frame, 12 bytes popped */
    CHECK_EQ(pm32_flags & 0x3fffff, 0x883);
    CHECK_EQ(pm32_esp_after, pm32_esp);
    /* IRETD to ring 3: CS, SS from the frame; DS (DPL 0) nulled */
    CHECK_EQ(pm32_user_cs, RT_UCODE32 | 3);
    CHECK_EQ(pm32_user_ss, RT_UDATA | 3);
    CHECK_EQ(pm32_user_ds & 0xffff, 0);
    CHECK_EQ(pm32_user_esp, pm32_after_int_addr[2]);
    /* INT 80h from ring 3: SS0:ESP0 from the TSS, 5 dwords pushed */
    CHECK_EQ(pm32_frame_at, pm32_after_int_addr[1] - 20);
    CHECK_EQ(pm32_frame[0], pm32_after_int_addr[0]); /* EIP after INT */
    CHECK_EQ(pm32_frame[1] & 0xffff, RT_UCODE32 | 3);
    CHECK_EQ(pm32_frame[2] & 0x3fffff, 0x3);
    CHECK_EQ(pm32_frame[3], pm32_after_int_addr[2]);
    CHECK_EQ(pm32_frame[4] & 0xffff, RT_UDATA | 3);
    CHECK_EQ(pm32_kernel_ss & 0xffff, RT_KDATA);
}

/* -------------------------------------------------- JMP, CALL, RET -- */

static volatile uint64_t fc_slot0, fc_slot1, fc_rsp_in;
static uint64_t fc_rsp_out;

/* Target of a far CALL with 32-bit operand size: the CPU pushed CS then
   EIP, 4 bytes each (SDM Vol. 2A CALL, "far call ... same privilege"). */
__attribute__((naked)) static void far_callee(void)
{
    __asm__ volatile("movq %rsp, fc_rsp_in(%rip)\n\t"
                     "movl (%rsp), %eax\n\t"
                     "movq %rax, fc_slot0(%rip)\n\t"
                     "movl 4(%rsp), %eax\n\t"
                     "movq %rax, fc_slot1(%rip)\n\t"
                     "lretl");
}

static void t_far_jmp_call_ret(void)
{
    /* far JMP m16:32 to 64-bit code and to compatibility mode and back */
    CHECK_EQ(farjmp_compat(), 0x12345677);
    CHECK_EQ(read_cs(), RT_KCODE64);
    /* far CALL m16:32, far RET (32-bit operand size) */
    far32 to = { (uint32_t)(uintptr_t)far_callee, RT_KCODE64 };
    uint64_t ret_ip;
    __asm__ volatile("movq %%rsp, %1\n\t"
                     "leaq 1f(%%rip), %0\n\t"
                     "lcall *%2\n"
                     "1:"
                     : "=&r"(ret_ip), "=&r"(fc_rsp_out)
                     : "m"(to)
                     : "rax", "memory");
    CHECK_EQ(fc_slot0, ret_ip);
    CHECK_EQ(fc_slot1 & 0xffff, RT_KCODE64);
    CHECK_EQ(fc_rsp_out - fc_rsp_in, 8);
    /* LRETQ pops 8-byte RIP and CS */
    CHECK_EQ(lretq_same(), RT_KCODE64);
    /* far JMP to a null selector: #GP(0); to a data segment: #GP(sel) */
    far32 bad = { 0, 0 };
    CHECK_EXC(RT_FAULT(__asm__ volatile("ljmp *%0" : : "m"(bad))), RT_GP, 0,
              0);
    bad.sel = RT_KDATA;
    CHECK_EXC(RT_FAULT(__asm__ volatile("ljmp *%0" : : "m"(bad))), RT_GP,
              RT_KDATA, 0);
}

/* ------------------------------------------------------------- IRET -- */

static RT_USER_FN uint64_t user_state(uint64_t which)
{
    uint64_t v = 0;
    if (which == 0)
        __asm__ volatile("mov %%cs, %0" : "=r"(v));
    else if (which == 1)
        __asm__ volatile("mov %%ss, %0" : "=r"(v));
    else
        __asm__ volatile("movq %%rsp, %0" : "=r"(v));
    return v;
}

static RT_USER_FN uint64_t user_iret_to_ring0(uint64_t x)
{
    /* IRETQ to a more privileged CS: #GP(selector) (SDM Vol. 2A IRET) */
    __asm__ volatile("movq %%rsp, %%rax\n\t"
                     "pushq $0x10\n\t"
                     "pushq %%rax\n\t"
                     "pushq $2\n\t"
                     "pushq $0x08\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "iretq\n1:"
                     : : : "rax", "memory");
    return x;
}

static void t_iret(void)
{
    /* same privilege: RFLAGS from the frame, RSP popped */
    uint64_t f = iretq_same(RT_FL_CF | RT_FL_ZF | RT_FL_OF);
    CHECK(f != ~0ull, "IRETQ did not restore RSP from the frame");
    CHECK_EQ(f & RT_FL_STATUS, RT_FL_CF | RT_FL_ZF | RT_FL_OF);
    /* into compatibility mode */
    CHECK_EQ(iretq_compat(), 0x00c0ffed);
    /* to ring 3 (rt_user_call is IRETQ) and back through INT 81h */
    CHECK_EQ(rt_user_call(user_state, 0, 0), RT_UCODE64 | 3);
    CHECK_EQ(rt_user_call(user_state, 1, 0), RT_UDATA | 3);
    uint64_t fl = rt_user_call(user_flags, 0, RT_FL_CF | RT_FL_IOPL(3));
    CHECK_EQ(fl & (RT_FL_STATUS | RT_FL_IOPL(3) | RT_FL_IF), RT_FL_CF |
             RT_FL_IOPL(3));
    uint64_t sp = rt_user_call(user_state, 3, 0);
    uint64_t top = (uint64_t)(uintptr_t)rt_user_stack_top;
    CHECK(sp < top && sp > top - 256, "ring-3 RSP %#lx", sp);
    CHECK_EQ(read_cs(), RT_KCODE64);
    CHECK_EXC(RT_FAULT(rt_user_call(user_iret_to_ring0, 0, 0)), RT_GP,
              RT_KCODE64, 0);
}

/* --------------------------------------------------------- call gate -- */

static uint64_t call_gate(uint64_t target, uint16_t sel, unsigned dpl)
{
    /* SDM Vol. 3A Figure 5-9: a 16-byte gate, type 0Ch, upper type 0 */
    uint64_t lo = (target & 0xffff) | (uint64_t)sel << 16 |
                  (uint64_t)(0x80 | dpl << 5 | 0xc) << 40 |
                  (target >> 16 & 0xffff) << 48;
    return lo;
}

static RT_USER_FN uint64_t user_lcall(uint64_t sel)
{
    far32 p = { 0, (uint16_t)sel };
    __asm__ volatile("lcall *%0" : : "m"(p) : "rax", "memory");
    return 1;
}

static RT_USER_DATA volatile uint64_t user_rsp_at_call;

static RT_USER_FN uint64_t user_lcall_rsp(uint64_t sel)
{
    far32 p = { 0, (uint16_t)sel };
    __asm__ volatile("movq %%rsp, user_rsp_at_call(%%rip)\n\t"
                     "lcall *%0" : : "m"(p) : "rax", "memory");
    return 1;
}

static void t_call_gate(void)
{
    uint64_t t = (uint64_t)(uintptr_t)cg_target;
    rt_gdt_set(SEL_GATE3, call_gate(t, RT_KCODE64, 3));
    rt_gdt_set(SEL_GATE3 + 8, t >> 32);
    rt_gdt_set(SEL_GATE0, call_gate(t, RT_KCODE64, 0));
    rt_gdt_set(SEL_GATE0 + 8, t >> 32);
    memset(cg_frame, 0, sizeof(uint64_t) * 4);
    CHECK_EQ(rt_user_call(user_lcall_rsp, SEL_GATE3 | 3, 0), 1);
    /* ring 0 on TSS.RSP0 with SS = NULL (5.8.6), 4 quadwords pushed */
    CHECK_EQ(cg_cs, RT_KCODE64);
    CHECK_EQ(cg_ss & ~3u, 0);
    CHECK_EQ(cg_rsp, rt_tss64.rsp[0] - 32);
    CHECK_EQ(cg_frame[1] & 0xffff, RT_UCODE64 | 3);
    CHECK_EQ(cg_frame[2], user_rsp_at_call);
    CHECK_EQ(cg_frame[3] & 0xffff, RT_UDATA | 3);
    CHECK(cg_frame[0] > (uint64_t)(uintptr_t)user_lcall_rsp &&
              cg_frame[0] < (uint64_t)(uintptr_t)user_lcall_rsp + 64,
          "return RIP %#lx", cg_frame[0]);
    /* a gate with DPL 0 from CPL 3: #GP(gate selector) */
    CHECK_EXC(RT_FAULT(rt_user_call(user_lcall, SEL_GATE0 | 3, 0)), RT_GP,
              SEL_GATE0, 0);
    /* a gate whose upper half has a nonzero type: #GP(gate selector) */
    rt_gdt_set(SEL_GATE3 + 8, (t >> 32) | 0xcull << 40);
    CHECK_EXC(RT_FAULT(rt_user_call(user_lcall, SEL_GATE3 | 3, 0)), RT_GP,
              SEL_GATE3, 0);
    rt_gdt_set(SEL_GATE3 + 8, t >> 32);
}

/* ---------------------------------------------------- SYSCALL/SYSRET -- */

static RT_USER_DATA volatile uint64_t user_after_syscall;

static RT_USER_FN uint64_t user_syscall(uint64_t x)
{
    uint64_t fl;
    /* DF and CF set going in: FMASK clears DF in the kernel, SYSRET puts
       R11 back */
    __asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
                     "movq %%rax, user_after_syscall(%%rip)\n\t"
                     "pushfq\n\t"
                     "orq $0x401, (%%rsp)\n\t"
                     "popfq\n\t"
                     "syscall\n"
                     "1:\tpushfq\n\t"
                     "popq %0\n\t"
                     "cld"
                     : "=r"(fl) : : "rax", "rcx", "r11", "memory", "cc");
    return fl + x;
}

#define FMASK (RT_FL_DF | RT_FL_TF | RT_FL_IF | RT_FL_AC)

static const char sc_flags_note[] = "SYSCALL clears the status flags that "
    "FMASK leaves alone (SDM Vol. 2B SYSCALL: RFLAGS AND NOT FMASK)";

static void t_syscall(void)
{
    uint64_t efer = rt_rdmsr(RT_MSR_EFER);
    /* EFER.SCE = 0: #UD */
    rt_wrmsr(RT_MSR_EFER, efer & ~(uint64_t)RT_EFER_SCE);
    CHECK_EXC(RT_FAULT(__asm__ volatile("syscall" : : : "rcx", "r11")),
              RT_UD, RT_NOERR, 0);
    rt_wrmsr(RT_MSR_STAR, (uint64_t)RT_UCODE32 << 48 |
                              (uint64_t)RT_KCODE64 << 32);
    rt_wrmsr(RT_MSR_LSTAR, (uint64_t)(uintptr_t)sc_entry64);
    rt_wrmsr(RT_MSR_CSTAR, (uint64_t)(uintptr_t)sc_entry32);
    rt_wrmsr(RT_MSR_FMASK, FMASK);
    rt_wrmsr(RT_MSR_EFER, efer | RT_EFER_SCE);

    sc_count = 0;
    uint64_t fl = rt_user_call(user_syscall, 0, 0);
    CHECK_EQ(sc_count, 1);
    /* SYSCALL: CS from STAR[47:32], SS = +8, RCX = next RIP, R11 = RFLAGS,
       RFLAGS &= ~FMASK, RSP unchanged */
    CHECK_EQ(sc_cs, RT_KCODE64);
    CHECK_EQ(sc_ss, RT_KDATA);
    CHECK_EQ(sc_rcx, user_after_syscall);
    CHECK_EQ(sc_r11 & (RT_FL_DF | RT_FL_CF), RT_FL_DF | RT_FL_CF);
    CHECK_EQ(sc_flags & FMASK, 0);
    CHECK(rt_tcg_excuse(sc_flags & RT_FL_CF, RT_FL_CF, 0, sc_flags_note),
          "SYSCALL changed CF (FMASK does not name it)");
    uint64_t top = (uint64_t)(uintptr_t)rt_user_stack_top;
    CHECK(sc_rsp < top && sc_rsp > top - 256, "kernel RSP %#lx", sc_rsp);
    /* SYSRETQ: back at CPL 3 with R11's flags */
    CHECK_EQ(fl & (RT_FL_DF | RT_FL_CF), RT_FL_DF | RT_FL_CF);
    rt_wrmsr(RT_MSR_EFER, efer);
}

/* SYSRET at CPL 3: #GP(0) */
static RT_USER_FN uint64_t user_sysret(uint64_t x)
{
    __asm__ volatile("sysretq" : : : "rcx", "r11", "memory");
    return x;
}

static void t_sysret_cpl3(void)
{
    uint64_t efer = rt_rdmsr(RT_MSR_EFER);
    rt_wrmsr(RT_MSR_EFER, efer | RT_EFER_SCE);
    int c = RT_FAULT(rt_user_call(user_sysret, 0, 0));
    rt_wrmsr(RT_MSR_EFER, efer);
    CHECK_EXC(c, RT_GP, 0, 0);
}

static const char syscall32_note[] = "SYSCALL in compatibility mode on an "
    "Intel CPU goes to CSTAR (SDM Vol. 2B SYSCALL: #UD unless CS.L = 1)";

static void t_syscall_compat(void)
{
    uint64_t efer = rt_rdmsr(RT_MSR_EFER);
    rt_wrmsr(RT_MSR_STAR, (uint64_t)RT_UCODE32 << 48 |
                              (uint64_t)RT_KCODE64 << 32);
    rt_wrmsr(RT_MSR_CSTAR, (uint64_t)(uintptr_t)sc_entry32);
    rt_wrmsr(RT_MSR_FMASK, FMASK);
    rt_wrmsr(RT_MSR_EFER, efer | RT_EFER_SCE);
    sc_count = 0;
    volatile uint32_t r = 0;
    int c = RT_FAULT(r = rt_user_call32(user32_syscall, 41, 0));
    rt_wrmsr(RT_MSR_EFER, efer);
    if (rt_cpuinfo.intel) {
        /* Intel: #UD outside 64-bit mode */
        if (!(c == 0 && rt_tcg_excuse(1, 0, 1, syscall32_note)))
            CHECK_EXC(c, RT_UD, RT_NOERR, 0);
        return;
    }
    /* AMD: CSTAR, 64-bit CS; SYSRETL back to CS = STAR[63:48] | 3 */
    CHECK_EQ(c, 0);
    CHECK_EQ(r, 42);
    CHECK_EQ(sc_count, 1);
    CHECK_EQ(sc_cs, RT_KCODE64);
    CHECK_EQ(sc_ss, RT_KDATA);
}

/* ------------------------------------------------- SYSENTER/SYSEXIT -- */

static uint8_t se_stack[1024] __attribute__((aligned(16)));
static RT_USER_DATA volatile uint64_t user_se_cs, user_se_ss;

static RT_USER_FN uint64_t user_sysenter(uint64_t x)
{
    __asm__ volatile("movq %%rsp, %%rcx\n\t"
                     "leaq 1f(%%rip), %%rdx\n\t"
                     "stc\n\t"
                     "sysenter\n"
                     "1:\tmovq %%cs, %%rax\n\t"
                     "movq %%rax, user_se_cs(%%rip)\n\t"
                     "movq %%ss, %%rax\n\t"
                     "movq %%rax, user_se_ss(%%rip)"
                     : : : "rax", "rcx", "rdx", "memory");
    return x + 1;
}

static void t_sysenter(void)
{
    rt_wrmsr(RT_MSR_SYSENTER_CS, RT_KCODE64);
    rt_wrmsr(RT_MSR_SYSENTER_ESP, (uint64_t)(uintptr_t)se_stack +
                                      sizeof se_stack);
    rt_wrmsr(RT_MSR_SYSENTER_EIP, (uint64_t)(uintptr_t)se_entry);
    if (!rt_cpuinfo.intel) {
        /* APM Vol. 3 SYSENTER, SYSEXIT: #UD in long mode */
        CHECK_EXC(RT_FAULT(__asm__ volatile("sysenter")), RT_UD, RT_NOERR,
                  0);
        CHECK_EXC(RT_FAULT(__asm__ volatile("sysexitl")), RT_UD, RT_NOERR,
                  0);
        return;
    }
    se_count = 0;
    CHECK_EQ(rt_user_call(user_sysenter, 1, 0), 2);
    CHECK_EQ(se_count, 1);
    /* SYSENTER: CS = SYSENTER_CS, SS = +8, RSP = SYSENTER_ESP; it clears
       only VM, IF and RF, so CF (set by STC) stays */
    CHECK_EQ(se_cs, RT_KCODE64);
    CHECK_EQ(se_ss, RT_KDATA);
    CHECK_EQ(se_rsp, (uint64_t)(uintptr_t)se_stack + sizeof se_stack);
    CHECK_EQ(se_flags & RT_FL_CF, RT_FL_CF);
    /* SYSEXITQ: CS = SYSENTER_CS + 32, SS = + 40, RPL 3 */
    CHECK_EQ(user_se_cs, RT_UCODE64 | 3);
    CHECK_EQ(user_se_ss, RT_UDATA2 | 3);
    /* SYSEXIT at CPL 3: #GP(0); SYSENTER_CS = 0: #GP(0) */
    rt_wrmsr(RT_MSR_SYSENTER_CS, 0);
    CHECK_EXC(RT_FAULT(rt_user_call(user_sysenter, 1, 0)), RT_GP, 0, 0);
    rt_wrmsr(RT_MSR_SYSENTER_CS, RT_KCODE64);
}

/* ------------------------------------------------- compatibility mode -- */

static void t_compat(void)
{
    /* 48h is DEC EAX, PUSH is 4 bytes, far CALL into 64-bit code and a
       32-bit far RET back */
    CHECK_EQ(rt_compat_call(compat_calls64, 100), 104);
    CHECK_EQ(read_cs(), RT_KCODE64);
}

void kmain(void)
{
    rt_printf("k_farxfer: far transfers and mode switches on %s\n",
              rt_cpuinfo.vendor);
    RT_RUN(t_pm32_iret);
    RT_RUN(t_far_jmp_call_ret);
    RT_RUN(t_iret);
    RT_RUN(t_call_gate);
    RT_RUN(t_syscall);
    RT_RUN(t_sysret_cpl3);
    RT_RUN(t_syscall_compat);
    RT_RUN(t_sysenter);
    RT_RUN(t_compat);
}
