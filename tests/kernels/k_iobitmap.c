/*
 * tests/kernels/k_iobitmap.c - port I/O from ring 3 through the TSS I/O
 * permission bitmap, and the IOPL bypass.
 *
 * SDM Vol. 1 19.5 (19.5.1 IOPL, 19.5.2 the I/O permission bit map); APM
 * Vol. 2 13.3 (IOPB). With CPL > IOPL every port an access touches must
 * have its bit clear in the bitmap, the bits must lie within the TSS limit,
 * else #GP(0). With CPL <= IOPL the bitmap is not consulted.
 *
 * The ports are harmless on a PC: 80h (POST code), 81h-8Fh (DMA page
 * registers) and E9h (the debug console, read only here: it returns E9h
 * on QEMU and svmx).
 */
#include "rt.h"

static RT_USER_FN uint64_t user_out8(uint64_t port)
{
    __asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"(port));
    return 1;
}
static RT_USER_FN uint64_t user_out16(uint64_t port)
{
    __asm__ volatile("outw %%ax, %%dx" : : "a"(0), "d"(port));
    return 2;
}
static RT_USER_FN uint64_t user_out32(uint64_t port)
{
    __asm__ volatile("outl %%eax, %%dx" : : "a"(0), "d"(port));
    return 4;
}
static RT_USER_FN uint64_t user_in8(uint64_t port)
{
    uint8_t v;
    __asm__ volatile("inb %%dx, %%al" : "=a"(v) : "d"(port));
    return v;
}
static RT_USER_FN uint64_t user_out_imm80(uint64_t x)
{
    __asm__ volatile("outb %%al, $0x80" : : "a"(0));
    return x;
}
static RT_USER_DATA uint8_t user_byte[4];
static RT_USER_FN uint64_t user_outsb(uint64_t port)
{
    uint64_t si = (uint64_t)(uintptr_t)user_byte, cx = 2;
    __asm__ volatile("rep outsb" : "+S"(si), "+c"(cx) : "d"(port) : "memory");
    return cx;
}

static void deny_all(void)
{
    memset(rt_tss64.iomap, 0xff, sizeof rt_tss64.iomap);
}

/* Runs fn(port) at CPL 3 with the given IOPL: true if it raised #GP(0). */
static bool gp(uint64_t (*fn)(uint64_t), uint64_t port, unsigned iopl)
{
    int c = RT_FAULT(rt_user_call(fn, port, RT_FL_IOPL(iopl)));
    if (!c)
        return false;
    CHECK_EXC(c, RT_GP, 0, 0);
    CHECK_EQ(rt_last.cs, RT_UCODE64 | 3);
    return true;
}

static void t_bitmap(void)
{
    deny_all();
    rt_io_allow(0x80, true);
    rt_io_allow(0xe9, true);
    CHECK(!gp(user_out8, 0x80, 0), "OUT 80h allowed by the bitmap faulted");
    CHECK(!gp(user_out_imm80, 0, 0), "OUT imm8 80h allowed faulted");
    CHECK(gp(user_out8, 0x81, 0), "OUT 81h denied by the bitmap passed");
    CHECK(gp(user_in8, 0x81, 0), "IN 81h denied by the bitmap passed");
    CHECK_EQ(rt_user_call(user_in8, 0xe9, 0), 0xe9);
    /* the neighbour bit does not leak */
    rt_io_allow(0x81, true);
    rt_io_allow(0x80, false);
    CHECK(gp(user_out8, 0x80, 0), "OUT 80h denied passed");
    CHECK(!gp(user_out8, 0x81, 0), "OUT 81h allowed faulted");
    deny_all();
}

static void t_wide(void)
{
    deny_all();
    /* a word access checks both ports' bits; 87h and 88h sit in different
       bitmap bytes (bit 7 of byte 10h, bit 0 of byte 11h) */
    rt_io_allow(0x87, true);
    CHECK(gp(user_out16, 0x87, 0), "OUTW 87h with 88h denied passed");
    rt_io_allow(0x88, true);
    CHECK(!gp(user_out16, 0x87, 0), "OUTW 87h-88h allowed faulted");
    rt_io_allow(0x87, false);
    CHECK(gp(user_out16, 0x87, 0), "OUTW 87h with 87h denied passed");
    /* a dword access: four ports */
    deny_all();
    for (uint16_t p = 0x84; p < 0x88; p++)
        rt_io_allow(p, true);
    CHECK(!gp(user_out32, 0x84, 0), "OUTD 84h-87h allowed faulted");
    rt_io_allow(0x86, false);
    CHECK(gp(user_out32, 0x84, 0), "OUTD with 86h denied passed");
    /* OUTS checks the same bitmap */
    deny_all();
    rt_io_allow(0x80, true);
    CHECK(!gp(user_outsb, 0x80, 0), "REP OUTSB to 80h faulted");
    CHECK(gp(user_outsb, 0x81, 0), "REP OUTSB to 81h passed");
    deny_all();
}

static void t_iopl(void)
{
    deny_all();
    /* CPL <= IOPL: the bitmap is not consulted (SDM Vol. 1 19.5.1) */
    CHECK(!gp(user_out8, 0x81, 3), "IOPL 3: OUT 81h faulted");
    CHECK(!gp(user_out32, 0x84, 3), "IOPL 3: OUTD 84h faulted");
    CHECK_EQ(rt_user_call(user_in8, 0xe9, RT_FL_IOPL(3)), 0xe9);
    /* IOPL 1 or 2 is still below CPL 3 */
    CHECK(gp(user_out8, 0x81, 2), "IOPL 2: OUT 81h passed");
    /* CPL 0 with IOPL 0 never looks at the bitmap */
    CHECK(!RT_FAULT(rt_outb(0x81, 0)), "CPL 0: OUT 81h faulted");
}

static void t_limit(void)
{
    deny_all();
    rt_io_allow(0x80, true);
    rt_io_allow(0x400, true);
    /* bits past the TSS limit deny: a limit that ends the bitmap at byte
       40h leaves port 400h (byte 80h) outside */
    uint32_t base = rt_tss64.iomap_base;
    rt_tss_reload(base + 0x40);
    CHECK(gp(user_out8, 0x400, 0), "a port past the TSS limit passed");
    CHECK(!gp(user_out8, 0x80, 0), "a port within the TSS limit faulted");
    /* map base at or past the limit: no bitmap, every port denied */
    rt_tss_reload(base - 1);
    CHECK(gp(user_out8, 0x80, 0), "no bitmap (base >= limit): OUT passed");
    rt_tss_reload(RT_TSS_LIMIT);
    CHECK(!gp(user_out8, 0x80, 0), "full limit again: OUT 80h faulted");
    deny_all();
}

void kmain(void)
{
    rt_printf("k_iobitmap: ring-3 port I/O, the TSS bitmap and IOPL on %s\n",
              rt_cpuinfo.vendor);
    RT_RUN(t_bitmap);
    RT_RUN(t_wide);
    RT_RUN(t_iopl);
    RT_RUN(t_limit);
}
