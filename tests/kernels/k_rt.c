/*
 * tests/kernels/k_rt.c - the runtime checks itself: formatted output,
 * the exception record, rt_try, RT_ARM, ring 3 and compatibility mode.
 * If this kernel fails, the other kernels' answers mean nothing.
 */
#include "rt.h"

static void t_printf(void)
{
    char b[64];
    rt_snprintf(b, sizeof b, "%d|%5d|%-5d|%05d|%u", -42, 42, 42, -42, 4000000000u);
    CHECK(!strcmp(b, "-42|   42|42   |-0042|4000000000"), "got '%s'", b);
    rt_snprintf(b, sizeof b, "%x|%08x|%#x|%lx|%X", 0xbeefu, 0xbeefu, 0x1fu,
                0x123456789abcdef0ul, 0xabu);
    CHECK(!strcmp(b, "beef|0000beef|0x1f|123456789abcdef0|AB"), "got '%s'", b);
    rt_snprintf(b, sizeof b, "%s|%4s|%-4s|%.2s|%c%c", "ab", "ab", "ab", "abc",
                'x', 'y');
    CHECK(!strcmp(b, "ab|  ab|ab  |ab|xy"), "got '%s'", b);
    rt_snprintf(b, sizeof b, "%ld|%lu|%d", (long)-9223372036854775807L - 1,
                18446744073709551615ul, 0);
    CHECK(!strcmp(b, "-9223372036854775808|18446744073709551615|0"), "got '%s'", b);
    CHECK_EQ(rt_snprintf(b, 4, "%s", "abcdef"), 6);
    CHECK(!strcmp(b, "abc"));
}

static void t_try_ud(void)
{
    uint64_t before = rt_last.count;
    int caught = RT_FAULT(__asm__ volatile("ud2"));
    CHECK_EXC(caught, RT_UD, RT_NOERR, 0);
    CHECK_EQ(caught, RT_UD + 1);
    CHECK_EQ(rt_last.count, before + 1);
    CHECK_EQ(rt_last.cs, RT_KCODE64);
    caught = RT_FAULT((void)0);
    CHECK_EQ(caught, 0);
}

static void t_arm_regs(void)
{
    uint64_t rip;
    /* The registers at the fault come back in rt_last.r and stay live. */
    uint64_t out;
    __asm__ volatile(RT_ARM("2f")
                     "leaq 1f(%%rip), %1\n\t"
                     "movq $0x1234, %%rax\n\t"
                     "movq $0x5678, %%rdx\n"
                     "1: ud2\n"
                     "2:\n\t" RT_DISARM
                     "movq %%rdx, %0\n\t"
                     : "=r"(out), "=&r"(rip)
                     :
                     : "rax", "rdx", RT_ARM_CLOBBER);
    CHECK_EXC(1, RT_UD, RT_NOERR, rip);
    CHECK_EQ(rt_last.r.rax, 0x1234);
    CHECK_EQ(out, 0x5678);
}

static void t_gp_error(void)
{
    /* A non-canonical address: #GP(0) (SDM Vol. 3A 6.15, #GP). */
    int caught = RT_FAULT(rt_peek64(0x8000000000000000ull));
    CHECK_EXC(caught, RT_GP, 0, 0);
}

static void t_null_pf(void)
{
    int caught = RT_FAULT(rt_peek64(8));
    CHECK_EXC(caught, RT_PF, 0, 0);
    CHECK_EQ(rt_last.cr2, 8);
}

static RT_USER_FN uint64_t user_add(uint64_t x)
{
    uint64_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    return x + (cs & 3);
}

static void t_user(void)
{
    CHECK_EQ(rt_user_call(user_add, 100, 0), 103);
    uint16_t ds;
    __asm__ volatile("mov %%ds, %0" : "=r"(ds));
    CHECK_EQ(ds, RT_KDATA);
}

static RT_USER_FN uint64_t user_cli(uint64_t x)
{
    __asm__ volatile("cli");
    return x;
}

static void t_user_fault(void)
{
    /* CLI at CPL 3 with IOPL 0 is #GP(0) (SDM Vol. 2A CLI). */
    int caught = RT_FAULT(rt_user_call(user_cli, 0, 0));
    CHECK_EXC(caught, RT_GP, 0, 0);
    CHECK_EQ(rt_last.cs, RT_UCODE64 | 3);
    /* the kernel still works at CPL 0 after coming back */
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    CHECK_EQ(cs, RT_KCODE64);
    /* with IOPL 3 CLI is allowed */
    CHECK_EQ(rt_user_call(user_cli, 7, RT_FL_IOPL(3)), 7);
}

extern uint32_t k_rt_compat_add(void);
extern uint32_t k_rt_user32(void);

static void t_compat(void)
{
    CHECK_EQ(rt_compat_call(k_rt_compat_add, 41), 42 + (RT_KCODE32 << 8));
    CHECK_EQ(rt_user_call32(k_rt_user32, 5, 0), 6 + ((RT_UCODE32 | 3) << 8));
}

static void t_frame(void)
{
    /* The IST1 stack carries #DF; ordinary faults stay on the kernel stack. */
    int caught = RT_FAULT(__asm__ volatile("ud2"));
    CHECK(caught);
    CHECK_EQ(rt_last.frame & 15, 8);
}

void kmain(void)
{
    rt_printf("k_rt: the test-kernel runtime on a %s CPU, family %#x\n",
              rt_cpuinfo.vendor, rt_cpuinfo.family);
    RT_RUN(t_printf);
    RT_RUN(t_try_ud);
    RT_RUN(t_arm_regs);
    RT_RUN(t_gp_error);
    RT_RUN(t_null_pf);
    RT_RUN(t_user);
    RT_RUN(t_user_fault);
    RT_RUN(t_compat);
    RT_RUN(t_frame);
}
