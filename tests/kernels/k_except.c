/*
 * tests/kernels/k_except.c - exceptions in 64-bit mode: vectors, error
 * codes (with the EXT and IDT bits), the saved RIP of faults and traps,
 * INT n against the gate's DPL, double faults and the IST stack.
 *
 * SDM Vol. 3A chapter 6 (6.3.1 sources, 6.5 faults and traps, 6.12.1
 * gates, 6.13 error code, 6.14 64-bit mode: IST, stack alignment, 6.15
 * the exception reference and Table 6-5 for double faults); APM Vol. 2
 * chapter 8. The error code of a selector fault is the selector with the
 * RPL bits replaced by IDT (bit 1) and EXT (bit 0): EXT = 1 when the fault
 * happened while delivering an event external to the program (an
 * exception or interrupt, not INT n/INT3/INTO).
 */
#include "rt.h"

#define SEL_NP     (RT_GDT_FREE + 0x00) /* data, not present           */
#define SEL_XONLY  (RT_GDT_FREE + 0x08) /* code, execute-only          */
#define SEL_DATA3  (RT_GDT_FREE + 0x10) /* data, DPL 3                 */

static volatile uint64_t at_ip __attribute__((used));
static volatile uint64_t at_next __attribute__((used));

/* Wraps one instruction: at_ip = its address, at_next = the next one. */
#define AT(insn)                                                              \
    "leaq 1f(%%rip), %%r11\n\tmovq %%r11, at_ip(%%rip)\n\t"                   \
    "leaq 2f(%%rip), %%r11\n\tmovq %%r11, at_next(%%rip)\n1:\t" insn "\n2:\n"

/*
 * CHECK_EXC, except that on QEMU TCG (only) a known deviation from the
 * manuals, tcg_vec(tcg_err), is accepted with a note. QEMU 7.2 computes
 * IDT error codes in 64-bit mode as vector * 16 + 2 (the SDM's is vector
 * * 8 + 2: the index of the gate, 6.13), never sets EXT for them, and
 * raises #GP instead of #SS for non-canonical stack references.
 */
#define CHECK_EXC_Q(c, vec, err, rip, tcg_vec, tcg_err, note)                 \
    do {                                                                      \
        int q_ = (c);                                                         \
        if (rt_cpuinfo.tcg && q_ == (tcg_vec) + 1 &&                          \
            rt_last.error == (uint64_t)(tcg_err) &&                           \
            !(q_ == (vec) + 1 && rt_last.error == (uint64_t)(err))) {         \
            rt_checks++;                                                      \
            rt_tcg_excuse(1, 0, 1, note);                                     \
        } else {                                                              \
            CHECK_EXC(q_, vec, err, rip);                                     \
        }                                                                     \
    } while (0)
static const char idt_note[] = "IDT error codes are vector * 16 + 2 without "
                               "EXT (SDM Vol. 3A 6.13: vector * 8 + 2 + EXT)";
static const char ext_note[] = "#GP(EXT) for a null gate selector lacks EXT "
                               "(SDM Vol. 2A INT n: #GP(EXT))";
static const char ss_note[] = "non-canonical stack reference raises #GP, "
                              "not #SS (SDM Vol. 3A 6.15 #SS)";

static void setup_gdt(void)
{
    rt_gdt_set(SEL_NP, RT_DESC_DATA(0) & ~(1ull << 47));
    rt_gdt_set(SEL_XONLY, (RT_DESC_CODE64(0) & ~(0xfull << 40)) | 0x9ull << 40);
    rt_gdt_set(SEL_DATA3, RT_DESC_DATA(3));
}

static void t_de(void)
{
    int c = RT_FAULT(__asm__ volatile(AT("divl %%ecx")
                                      : : "a"(1), "d"(0), "c"(0)
                                      : "r11", "memory"));
    CHECK_EXC(c, RT_DE, RT_NOERR, at_ip); /* a fault: RIP of the DIV */
}

static void t_ud(void)
{
    int c = RT_FAULT(__asm__ volatile(AT("ud2") : : : "r11", "memory"));
    CHECK_EXC(c, RT_UD, RT_NOERR, at_ip);
    /* PUSH ES (06) is invalid in 64-bit mode */
    c = RT_FAULT(__asm__ volatile(AT(".byte 0x06") : : : "r11", "memory"));
    CHECK_EXC(c, RT_UD, RT_NOERR, at_ip);
    /* INTO (CE) too */
    c = RT_FAULT(__asm__ volatile(AT(".byte 0xce") : : : "r11", "memory"));
    CHECK_EXC(c, RT_UD, RT_NOERR, at_ip);
    /* LOCK on an instruction that cannot be locked (SDM Vol. 2A LOCK) */
    c = RT_FAULT(__asm__ volatile(AT(".byte 0xf0; addl %%eax, %%eax")
                                  : : : "r11", "memory", "eax"));
    CHECK_EXC(c, RT_UD, RT_NOERR, at_ip);
}

static void t_gp0(void)
{
    /* a non-canonical address: #GP(0) (6.15, #GP) */
    int c = RT_FAULT(__asm__ volatile(AT("movq (%%rax), %%rax")
                                      : : "a"(0x0000800000000000ull)
                                      : "r11", "memory"));
    CHECK_EXC(c, RT_GP, 0, at_ip);
    /* a reserved CR4 bit: #GP(0) (SDM Vol. 2B MOV CR) */
    if (rt_tcg_cannot("MOV to CR4 with a reserved bit (QEMU 7.2 hangs)"))
        return;
    uint64_t cr4 = rt_read_cr4();
    c = RT_FAULT(__asm__ volatile(AT("movq %%rax, %%cr4")
                                  : : "a"(cr4 | 1ull << 40)
                                  : "r11", "memory"));
    CHECK_EXC(c, RT_GP, 0, at_ip);
    CHECK_EQ(rt_read_cr4(), cr4);
}

static RT_USER_FN uint64_t user_hlt(uint64_t x)
{
    __asm__ volatile("hlt");
    return x;
}

static RT_USER_FN uint64_t user_read_cr0(uint64_t x)
{
    uint64_t v;
    __asm__ volatile("movq %%cr0, %0" : "=r"(v));
    return v + x;
}

static void t_gp_ring3(void)
{
    /* privileged instructions at CPL 3: #GP(0), taken on the RSP0 stack */
    CHECK_EXC(RT_FAULT(rt_user_call(user_hlt, 0, 0)), RT_GP, 0, 0);
    CHECK_EQ(rt_last.cs, RT_UCODE64 | 3);
    uint64_t lo = (uint64_t)(uintptr_t)rt_rsp0_stack;
    CHECK(rt_last.frame >= lo && rt_last.frame < lo + RT_STACK_SIZE,
          "the frame at %#lx is not on the TSS.RSP0 stack", rt_last.frame);
    CHECK_EQ(rt_last.ss, RT_UDATA | 3);
    CHECK_EXC(RT_FAULT(rt_user_call(user_read_cr0, 0, 0)), RT_GP, 0, 0);
}

static void t_gp_selector(void)
{
    setup_gdt();
    /* past the GDT limit (SDM Vol. 2A MOV: #GP(selector)) */
    uint16_t sel = RT_GDT_SLOTS * 8;
    int c = RT_FAULT(__asm__ volatile(AT("movw %%ax, %%ds")
                                      : : "a"(sel | 3) : "r11", "memory"));
    CHECK_EXC(c, RT_GP, sel, at_ip);
    /* an execute-only code segment into DS */
    c = RT_FAULT(__asm__ volatile(AT("movw %%ax, %%es")
                                  : : "a"(SEL_XONLY) : "r11", "memory"));
    CHECK_EXC(c, RT_GP, SEL_XONLY, at_ip);
    /* SS with DPL 3 at CPL 0 */
    c = RT_FAULT(__asm__ volatile(AT("movw %%ax, %%ss")
                                  : : "a"(SEL_DATA3) : "r11", "memory"));
    CHECK_EXC(c, RT_GP, SEL_DATA3, at_ip);
    /* TI = 1 with a null LDTR (SDM Vol. 2A LLDT: references #GP) */
    __asm__ volatile("lldt %w0" : : "r"(0));
    c = RT_FAULT(__asm__ volatile(AT("movw %%ax, %%fs")
                                  : : "a"(0x0c) : "r11", "memory"));
    CHECK_EXC(c, RT_GP, 0x0c, at_ip);
    /* a null selector into SS at CPL 0 in 64-bit mode is allowed ... */
    /* ... into CS it is not: far jump to selector 0 is #GP(0) */
    static const struct __attribute__((packed)) {
        uint32_t off;
        uint16_t sel;
    } far0 = { 0, 0 };
    c = RT_FAULT(__asm__ volatile(AT("ljmp *(%%rax)")
                                  : : "a"(&far0) : "r11", "memory"));
    CHECK_EXC(c, RT_GP, 0, at_ip);
}

static void t_np_ss(void)
{
    setup_gdt();
    /* not present: DS -> #NP(sel), SS -> #SS(sel) */
    int c = RT_FAULT(__asm__ volatile(AT("movw %%ax, %%ds")
                                      : : "a"(SEL_NP) : "r11", "memory"));
    CHECK_EXC(c, RT_NP, SEL_NP, at_ip);
    c = RT_FAULT(__asm__ volatile(AT("movw %%ax, %%ss")
                                  : : "a"(SEL_NP) : "r11", "memory"));
    CHECK_EXC(c, RT_SS, SEL_NP, at_ip);
    /* a non-canonical address through SS (RBP base): #SS(0) */
    uint64_t nc = 0xffff700000000000ull;
    c = RT_FAULT(__asm__ volatile("pushq %%rbp\n\tmovq %0, %%rbp\n\t"
                                  AT("movq 8(%%rbp), %%rax")
                                  "popq %%rbp"
                                  : : "r"(nc) : "rax", "r11", "memory"));
    CHECK_EXC_Q(c, RT_SS, 0, at_ip, RT_GP, 0, ss_note);
}

static void t_bp(void)
{
    /* INT3 is a trap: RIP after the instruction (6.5) */
    int c = RT_FAULT(__asm__ volatile(AT("int3") : : : "r11", "memory"));
    CHECK_EXC(c, RT_BP, RT_NOERR, at_next);
    CHECK_EQ(at_next - at_ip, 1);
    c = RT_FAULT(__asm__ volatile(AT(".byte 0xcd, 0x03") /* INT 3, not INT3 */
                                  : : : "r11", "memory"));
    CHECK_EXC(c, RT_BP, RT_NOERR, at_next);
    CHECK_EQ(at_next - at_ip, 2);
    /* INT n of any vector: RIP after, no error code pushed */
    c = RT_FAULT(__asm__ volatile(AT("int $0x42") : : : "r11", "memory"));
    CHECK_EXC(c, 0x42, RT_NOERR, at_next);
}

static RT_USER_FN uint64_t user_int40(uint64_t x)
{
    __asm__ volatile("int $0x40");
    return x;
}

static RT_USER_FN uint64_t user_int3(uint64_t x)
{
    __asm__ volatile("int3");
    return x;
}

static volatile unsigned hits_82;
static void on_82(rt_frame *f)
{
    (void)f;
    hits_82++;
}

static RT_USER_FN uint64_t user_int82(uint64_t x)
{
    __asm__ volatile("int $0x82");
    return x + 1;
}

static void t_int_dpl(void)
{
    /* INT n from CPL 3 through a DPL 0 gate: #GP(n * 8 + 2) (6.12.1.1) */
    CHECK_EXC_Q(RT_FAULT(rt_user_call(user_int40, 0, 0)), RT_GP,
                0x40 * 8 + 2, 0, RT_GP, 0x40 * 16 + 2, idt_note);
    CHECK_EQ(rt_last.cs, RT_UCODE64 | 3);
    /* INT3 through the runtime's DPL 3 gate */
    CHECK_EXC(RT_FAULT(rt_user_call(user_int3, 0, 0)), RT_BP, RT_NOERR, 0);
    /* a DPL 3 gate lets INT n in, and IRETQ goes back to ring 3 */
    rt_idt_set(0x82, RT_GATE_INT, 3, 0, true);
    rt_set_handler(0x82, on_82);
    hits_82 = 0;
    uint64_t r = rt_user_call(user_int82, 7, 0);
    rt_set_handler(0x82, NULL);
    rt_idt_reset(0x82);
    CHECK_EQ(r, 8);
    CHECK_EQ(hits_82, 1);
    CHECK_EQ(rt_last.vector, 0x82);
    CHECK_EQ(rt_last.cs, RT_UCODE64 | 3);
}

/* Not-present gates and the EXT bit. */
static void t_ext(void)
{
    /* #UD (benign) whose gate is not present: the #NP is delivered with
       EXT = 1 and IDT = 1: 6 * 8 + 2 + 1 */
    rt_idt_set(RT_UD, RT_GATE_INT, 0, 0, false);
    int c = RT_FAULT(__asm__ volatile(AT("ud2") : : : "r11", "memory"));
    rt_idt_reset(RT_UD);
    CHECK_EXC_Q(c, RT_NP, RT_UD * 8 + 3, at_ip, RT_NP, RT_UD * 16 + 2,
                idt_note);
    /* INT3 and INT n are software interrupts: EXT = 0 */
    rt_idt_set(RT_BP, RT_GATE_INT, 3, 0, false);
    c = RT_FAULT(__asm__ volatile(AT("int3") : : : "r11", "memory"));
    rt_idt_reset(RT_BP);
    CHECK_EXC_Q(c, RT_NP, RT_BP * 8 + 2, at_ip, RT_NP, RT_BP * 16 + 2,
                idt_note);
    rt_idt_set(0x43, RT_GATE_INT, 0, 0, false);
    c = RT_FAULT(__asm__ volatile(AT("int $0x43") : : : "r11", "memory"));
    rt_idt_reset(0x43);
    CHECK_EXC_Q(c, RT_NP, 0x43 * 8 + 2, at_ip, RT_NP, 0x43 * 16 + 2,
                idt_note);
    /* a gate whose code selector is null: #GP(EXT) (SDM Vol. 2A INT n
       pseudocode) - #GP(1) for #UD, #GP(0) for INT n */
    rt_idt[RT_UD].sel = 0;
    c = RT_FAULT(__asm__ volatile(AT("ud2") : : : "r11", "memory"));
    rt_idt_reset(RT_UD);
    CHECK_EXC_Q(c, RT_GP, 1, at_ip, RT_GP, 0, ext_note);
    rt_idt[0x44].sel = 0;
    c = RT_FAULT(__asm__ volatile(AT("int $0x44") : : : "r11", "memory"));
    rt_idt_reset(0x44);
    CHECK_EXC(c, RT_GP, 0, at_ip);
    /* a vector past the IDT limit: #GP(vector * 8 + 2) */
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } small = { 0x50 * 16 - 1, (uint64_t)(uintptr_t)rt_idt }, full = {
        sizeof rt_idt - 1, (uint64_t)(uintptr_t)rt_idt };
    __asm__ volatile("lidt %0" : : "m"(small));
    c = RT_FAULT(__asm__ volatile(AT("int $0x60") : : : "r11", "memory"));
    __asm__ volatile("lidt %0" : : "m"(full));
    CHECK_EXC_Q(c, RT_GP, 0x60 * 8 + 2, at_ip, RT_GP, 0x60 * 16 + 2,
                idt_note);
}

static uint64_t df_stack_lo(void)
{
    return (uint64_t)(uintptr_t)rt_df_stack;
}

/* #DF: a contributory fault while delivering a contributory fault, and a
   contributory fault while delivering #PF (Table 6-5); delivered on IST1. */
static void t_df(void)
{
    /* #GP whose gate is not present: #NP during #GP -> #DF(0) */
    rt_idt_set(RT_GP, RT_GATE_INT, 0, 0, false);
    int c = RT_FAULT(__asm__ volatile(AT("movq (%%rax), %%rax")
                                      : : "a"(0x8000000000000000ull)
                                      : "r11", "memory"));
    rt_idt_reset(RT_GP);
    CHECK_EXC(c, RT_DF, 0, 0);
    CHECK(rt_last.frame >= df_stack_lo() &&
              rt_last.frame < df_stack_lo() + RT_STACK_SIZE,
          "#DF frame at %#lx is not on the IST1 stack", rt_last.frame);
    CHECK_EQ(rt_last.cs, RT_KCODE64);

    /* #PF whose gate is not present: #NP during #PF -> #DF(0) */
    rt_idt_set(RT_PF, RT_GATE_INT, 0, 0, false);
    c = RT_FAULT(__asm__ volatile(AT("movq (%%rax), %%rax")
                                  : : "a"(8ull) : "r11", "memory"));
    rt_idt_reset(RT_PF);
    CHECK_EXC(c, RT_DF, 0, 0);
    CHECK(rt_last.frame >= df_stack_lo() &&
              rt_last.frame < df_stack_lo() + RT_STACK_SIZE,
          "#DF frame at %#lx is not on the IST1 stack", rt_last.frame);

    /* benign then contributory is not a #DF: #BP's gate has a null
       selector -> #GP delivered alone (EXT = 0: INT3 is software) */
    rt_idt[RT_BP].sel = 0;
    c = RT_FAULT(__asm__ volatile(AT("int3") : : : "r11", "memory"));
    rt_idt_reset(RT_BP);
    CHECK_EXC(c, RT_GP, 0, at_ip);
}

/* IST: any gate may name an IST slot; the frame lands on that stack. */
static uint8_t ist2_stack[4096] __attribute__((aligned(16)));

static void t_ist(void)
{
    uint64_t top = (uint64_t)(uintptr_t)ist2_stack + sizeof ist2_stack;
    rt_tss64.ist[1] = top - 8; /* misaligned on purpose: aligned to 16 */
    rt_idt_set(0x45, RT_GATE_INT, 0, 2, true);
    int c = RT_FAULT(__asm__ volatile(AT("int $0x45") : : : "r11", "memory"));
    rt_idt_reset(0x45);
    rt_tss64.ist[1] = 0;
    CHECK_EXC(c, 0x45, RT_NOERR, at_next);
    /* SDM 6.14.2: RSP aligned down to 16, then SS RSP RFLAGS CS RIP */
    CHECK_EQ(rt_last.frame, ((top - 8) & ~15ull) - 40);
}

void kmain(void)
{
    rt_printf("k_except: exceptions, error codes, #DF and IST on %s\n",
              rt_cpuinfo.vendor);
    RT_RUN(t_de);
    RT_RUN(t_ud);
    RT_RUN(t_gp0);
    RT_RUN(t_gp_ring3);
    RT_RUN(t_gp_selector);
    RT_RUN(t_np_ss);
    RT_RUN(t_bp);
    RT_RUN(t_int_dpl);
    RT_RUN(t_ext);
    RT_RUN(t_df);
    RT_RUN(t_ist);
}
