/*
 * tests/kernels/k_paging.c - 4-level paging: #PF error codes and CR2 for
 * each cause, accessed and dirty bits, CR0.WP, SMEP and SMAP (when CPUID
 * has them), INVLPG and CR3/CR4 effects, and 4 KiB, 2 MiB and 1 GiB pages.
 *
 * SDM Vol. 3A chapter 5 (5.4.1 the #PF error code, 5.5 4-level paging,
 * 5.6 access rights, 5.8 A/D flags, 5.10 TLB invalidation); APM Vol. 2
 * chapter 5 and 8.4.2. The #PF error code: bit 0 P (a protection
 * violation, not a not-present page), 1 W/R, 2 U/S, 3 RSVD, 4 I/D (an
 * instruction fetch, reported with EFER.NXE or CR4.SMEP set).
 *
 * Only what the manuals guarantee is checked: a translation changed
 * without INVLPG may or may not be used, so a stale read is never
 * expected, only the new one after an invalidation.
 */
#include "rt.h"

#define E_P    0x01u
#define E_W    0x02u
#define E_U    0x04u
#define E_RSVD 0x08u
#define E_ID   0x10u

/* Test areas: each its own 2 MiB region of the free virtual space. */
#define VA4K   (RT_FREE_VA + 0x200000)  /* 4 KiB pages          */
#define VA2M   (RT_FREE_VA + 0x400000)  /* one 2 MiB page       */
#define VA1G   0x80000000ull            /* one 1 GiB page (PDPT[2]) */
#define VAFRESH 0x10000000000ull        /* PML4[2]: new tables  */
#define PA4K   (RT_SCRATCH + 0x200000)
#define PA2M   (RT_SCRATCH + 0x400000)  /* 2 MiB aligned        */

#define RW  (RT_PTE_P | RT_PTE_W)
#define URW (RT_PTE_P | RT_PTE_W | RT_PTE_U)

static uint64_t va(unsigned page)
{
    return VA4K + 0x1000ull * page;
}
static uint64_t pa(unsigned page)
{
    return PA4K + 0x1000ull * page;
}

/* Ring-3 accessors; each touches exactly one address. */
static RT_USER_FN uint64_t user_read(uint64_t a)
{
    return *(volatile uint64_t *)a;
}
static RT_USER_FN uint64_t user_write(uint64_t a)
{
    *(volatile uint64_t *)a = 0x5555;
    return 0;
}
static RT_USER_FN uint64_t user_exec(uint64_t a)
{
    return ((uint64_t(*)(void))a)();
}
static RT_USER_FN uint64_t user_nop(uint64_t x)
{
    return x + 1;
}

static void put_ret(unsigned page)
{
    /* MOV EAX, 42; RET at the start of the page's frame */
    uint8_t *p = (uint8_t *)(uintptr_t)pa(page);
    p[0] = 0xb8;
    p[1] = 42;
    p[2] = p[3] = p[4] = 0;
    p[5] = 0xc3;
}

/* Checks a #PF with error code err and CR2 = addr. */
#define CHECK_PF(caught, err, addr)                                           \
    do {                                                                      \
        CHECK_EXC(caught, RT_PF, err, 0);                                     \
        CHECK_EQ(rt_last.cr2, addr);                                          \
    } while (0)

/*
 * A reserved-bit #PF has P = 1: "bit 3 of the error code can be set only
 * if bit 0 is also set" (SDM Vol. 3A 5.7; APM Vol. 2 8.4.2 likewise).
 * QEMU 7.2's TCG reports it with P = 0, excused there only.
 */
static const char rsvd_note[] = "reserved-bit #PF with P = 0 in the error "
                                "code (SDM Vol. 3A 5.7: RSVD implies P)";
/* CHECK_PF, with QEMU TCG's error code `tcg_err` accepted there only
 * (rt_tcg_excuse prints `note` once). */
#define CHECK_PF_TCG(caught, err, tcg_err, note, addr)                        \
    do {                                                                      \
        int c_ = (caught);                                                    \
        CHECK(c_ == RT_PF + 1 &&                                              \
                  rt_tcg_excuse(rt_last.error, (err), (tcg_err), (note)),     \
              "expected #PF(%#x), got %s(%#lx)", (unsigned)(err),             \
              c_ ? rt_vector_name(c_ - 1) : "nothing", rt_last.error);        \
        CHECK_EQ(rt_last.cr2, addr);                                          \
    } while (0)
#define CHECK_PF_RSVD(caught, err, addr)                                      \
    CHECK_PF_TCG(caught, err, (err) & ~E_P, rsvd_note, addr)

static void t_not_present(void)
{
    rt_map(va(0), pa(0), 0, 1);
    CHECK_PF(RT_FAULT(rt_peek64(va(0) + 8)), 0, va(0) + 8);
    CHECK_PF(RT_FAULT(rt_poke64(va(0) + 0x10, 1)), E_W, va(0) + 0x10);
    /* a fetch: I/D is reported because EFER.NXE = 1 */
    if (rt_rdmsr(RT_MSR_EFER) & RT_EFER_NXE)
        CHECK_PF(RT_FAULT(((void (*)(void))va(0))()), E_ID, va(0));
    /* from ring 3 */
    CHECK_PF(RT_FAULT(rt_user_call(user_read, va(0) + 0x18, 0)), E_U,
             va(0) + 0x18);
    CHECK_PF(RT_FAULT(rt_user_call(user_write, va(0), 0)), E_U | E_W, va(0));
    /* any level not present: the PDE of another 2 MiB region */
    uint64_t *pde = rt_pte(VA4K + 0x1000000, 2);
    *pde = 0;
    rt_invlpg(VA4K + 0x1000000);
    CHECK_PF(RT_FAULT(rt_peek64(VA4K + 0x1000040)), 0, VA4K + 0x1000040);
    /* P from 0 to 1 needs no invalidation (SDM Vol. 3A 5.10.4.3: nothing
       is cached from a not-present entry) */
    rt_poke64(pa(0), 0x1234);
    *rt_pte(va(0), 1) = pa(0) | RW;
    CHECK_EQ(rt_peek64(va(0)), 0x1234);
}

static void t_protection(void)
{
    rt_map(va(1), pa(1), RT_PTE_P, 1);                  /* read-only     */
    rt_map(va(2), pa(2), RW, 1);                        /* supervisor    */
    rt_map(va(3), pa(3), RT_PTE_P | RT_PTE_U, 1);        /* user, RO      */
    put_ret(2);
    /* supervisor write to read-only with CR0.WP = 1 */
    CHECK_PF(RT_FAULT(rt_poke64(va(1), 1)), E_P | E_W, va(1));
    /* user accesses to a supervisor page */
    CHECK_PF(RT_FAULT(rt_user_call(user_read, va(2) + 0x20, 0)), E_P | E_U,
             va(2) + 0x20);
    CHECK_PF(RT_FAULT(rt_user_call(user_write, va(2), 0)),
             E_P | E_U | E_W, va(2));
    if (rt_rdmsr(RT_MSR_EFER) & RT_EFER_NXE)
        CHECK_PF(RT_FAULT(rt_user_call(user_exec, va(2), 0)),
                 E_P | E_U | E_ID, va(2));
    /* user write to a user read-only page */
    CHECK_PF(RT_FAULT(rt_user_call(user_write, va(3) + 8, 0)),
             E_P | E_U | E_W, va(3) + 8);
    /* user read of a user page works */
    rt_poke64(pa(3), 0x77);
    CHECK_EQ(rt_user_call(user_read, va(3), 0), 0x77);
    /* U/S is ANDed over the levels: a user PTE under a supervisor PDE */
    rt_map(va(4), pa(4), URW, 1);
    uint64_t *pde = rt_pte(va(4), 2);
    uint64_t saved = *pde;
    *pde &= ~RT_PTE_U;
    rt_invlpg(va(4));
    CHECK_PF(RT_FAULT(rt_user_call(user_read, va(4), 0)), E_P | E_U, va(4));
    /* and R/W too: a writable PTE under a read-only PDE */
    *pde = saved & ~RT_PTE_W;
    rt_invlpg(va(4));
    CHECK_PF(RT_FAULT(rt_user_call(user_write, va(4), 0)), E_P | E_U | E_W,
             va(4));
    *pde = saved;
    rt_invlpg(va(4));
    CHECK_EQ(rt_user_call(user_write, va(4), 0), 0);
    CHECK_EQ(rt_peek64(pa(4)), 0x5555);
}

static void t_nx(void)
{
    if (!(rt_rdmsr(RT_MSR_EFER) & RT_EFER_NXE)) {
        rt_skip("t_nx", "no NX (CPUID 8000_0001 EDX[20])");
        return;
    }
    rt_map(va(5), pa(5), RW | RT_PTE_NX, 1);
    put_ret(5);
    CHECK_PF(RT_FAULT(((void (*)(void))va(5))()), E_P | E_ID, va(5));
    /* data reads of an NX page are fine */
    CHECK_EQ(rt_peek8(va(5)), 0xb8);
    /* XD in the PDE applies to every page below it */
    rt_map(va(5), pa(5), RW, 1);
    uint64_t *pde = rt_pte(va(5), 2);
    *pde |= RT_PTE_NX;
    rt_flush_tlb();
    CHECK_PF(RT_FAULT(((void (*)(void))va(5))()), E_P | E_ID, va(5));
    *pde &= ~RT_PTE_NX;
    rt_flush_tlb();
    uint64_t r = ((uint64_t(*)(void))va(5))();
    CHECK_EQ(r & 0xffffffff, 42);
}

static void t_rsvd(void)
{
    unsigned m = rt_cpuinfo.maxphyaddr;
    /* a PTE address bit at or above MAXPHYADDR is reserved (5.5.2) */
    if (m < 52) {
        rt_map(va(6), pa(6) | 1ull << m, RW, 1);
        CHECK_PF_RSVD(RT_FAULT(rt_peek64(va(6))), E_P | E_RSVD, va(6));
        CHECK_PF_RSVD(RT_FAULT(rt_poke64(va(6), 0)), E_P | E_RSVD | E_W, va(6));
        CHECK_PF_RSVD(RT_FAULT(rt_user_call(user_read, va(6), 0)),
                 E_P | E_RSVD | E_U, va(6));
    } else {
        rt_skip("t_rsvd (address bits)", "MAXPHYADDR is 52");
    }
    /* bit 63 (XD) is reserved while EFER.NXE = 0 */
    uint64_t efer = rt_rdmsr(RT_MSR_EFER);
    if (efer & RT_EFER_NXE) {
        rt_map(va(7), pa(7), RW | RT_PTE_NX, 1);
        rt_wrmsr(RT_MSR_EFER, efer & ~(uint64_t)RT_EFER_NXE);
        rt_invlpg(va(7));
        int caught = RT_FAULT(rt_peek64(va(7)));
        rt_wrmsr(RT_MSR_EFER, efer);
        CHECK_PF_RSVD(caught, E_P | E_RSVD, va(7));
    }
    /* a 2 MiB PDE's bits 20:13 are reserved (Table 5-18) */
    uint64_t *pde = rt_pte(VA2M, 2);
    *pde = PA2M | 1ull << 13 | RW | RT_PTE_PS;
    rt_invlpg(VA2M);
    CHECK_PF_RSVD(RT_FAULT(rt_peek64(VA2M + 0x1000)), E_P | E_RSVD, VA2M + 0x1000);
    /* PS in a PML4E is reserved (Table 5-15; APM: MBZ) */
    rt_map(VAFRESH + 0x8000000000ull, pa(8), RW, 1); /* PML4[3] */
    uint64_t *pml4e = rt_pte(VAFRESH + 0x8000000000ull, 4);
    *pml4e |= RT_PTE_PS;
    rt_flush_tlb();
    CHECK_PF_RSVD(RT_FAULT(rt_peek64(VAFRESH + 0x8000000000ull)), E_P | E_RSVD,
             VAFRESH + 0x8000000000ull);
    *pml4e &= ~RT_PTE_PS;
    rt_flush_tlb();
}

static void t_wp(void)
{
    rt_map(va(9), pa(9), RT_PTE_P | RT_PTE_U, 1); /* user, read-only */
    rt_map(va(10), pa(10), RT_PTE_P, 1);           /* supervisor, RO */
    uint64_t cr0 = rt_read_cr0();
    rt_write_cr0(cr0 & ~(uint64_t)RT_CR0_WP);
    rt_invlpg(va(9));
    rt_invlpg(va(10));
    /* WP = 0: supervisor writes ignore R/W (5.6) ... */
    int c1 = RT_FAULT(rt_poke64(va(9), 0x99));
    int c2 = RT_FAULT(rt_poke64(va(10), 0x98));
    /* ... user writes do not */
    int c3 = RT_FAULT(rt_user_call(user_write, va(9), 0));
    uint64_t cr2 = rt_last.cr2, err = rt_last.error;
    rt_write_cr0(cr0);
    CHECK(!c1, "WP = 0: supervisor write to a user read-only page faulted");
    CHECK(!c2, "WP = 0: supervisor write to a read-only page faulted");
    CHECK_EQ(rt_peek64(pa(9)), 0x99);
    CHECK_EQ(rt_peek64(pa(10)), 0x98);
    CHECK(c3 == RT_PF + 1 && err == (E_P | E_U | E_W) && cr2 == va(9),
          "WP = 0: user write got vector %d error %#lx", c3 - 1, err);
    rt_invlpg(va(10));
    CHECK_PF(RT_FAULT(rt_poke64(va(10), 1)), E_P | E_W, va(10));
}

static void t_accessed_dirty(void)
{
    /* a new PML4 slot: every level's entry starts with A = D = 0 */
    rt_map(VAFRESH, pa(11), RW, 1);
    uint64_t *e4 = rt_pte(VAFRESH, 4), *e3 = rt_pte(VAFRESH, 3);
    uint64_t *e2 = rt_pte(VAFRESH, 2), *e1 = rt_pte(VAFRESH, 1);
    *e4 &= ~RT_PTE_A;
    *e3 &= ~RT_PTE_A;
    *e2 &= ~RT_PTE_A;
    *e1 &= ~(RT_PTE_A | RT_PTE_D);
    rt_flush_tlb();
    (void)rt_peek64(VAFRESH + 0x10);
    /* 5.8: A set in every entry used, D only in the leaf and on writes */
    CHECK(*e4 & RT_PTE_A, "PML4E.A not set by a read");
    CHECK(*e3 & RT_PTE_A, "PDPTE.A not set by a read");
    CHECK(*e2 & RT_PTE_A, "PDE.A not set by a read");
    CHECK(*e1 & RT_PTE_A, "PTE.A not set by a read");
    CHECK(!(*e1 & RT_PTE_D), "PTE.D set by a read");
    rt_poke64(VAFRESH + 0x18, 5);
    CHECK(*e1 & RT_PTE_D, "PTE.D not set by a write");
    /* a 2 MiB page: A and D in the PDE */
    rt_map(VA2M, PA2M, RW, 2);
    uint64_t *pde = rt_pte(VA2M, 2);
    CHECK_EQ(*pde & (RT_PTE_A | RT_PTE_D), 0);
    (void)rt_peek64(VA2M + 0x123000);
    CHECK(*pde & RT_PTE_A, "2 MiB PDE.A not set");
    CHECK(!(*pde & RT_PTE_D), "2 MiB PDE.D set by a read");
    rt_poke64(VA2M + 0x1ff000, 1);
    CHECK(*pde & RT_PTE_D, "2 MiB PDE.D not set by a write");
    /* a faulting write sets no D (5.8: only a write that completes) */
    rt_map(va(12), pa(12), RT_PTE_P, 1);
    (void)RT_FAULT(rt_poke64(va(12), 1));
    CHECK(!(*rt_pte(va(12), 1) & RT_PTE_D), "D set by a faulting write");
}

/*
 * The destination of a read-modify-write instruction is read for writing:
 * the segment and the page are checked for the write before the first
 * byte is read, so a page not present, read-only (CR0.WP = 1) or
 * supervisor-only at CPL 3 gives its #PF with W/R = 1 - the error code
 * describes "the access causing the page-fault exception" (SDM Vol. 3A
 * 5.7), here a write - and nothing is written. CMP, TEST and BT only read
 * (W/R = 0). CMPXCHG writes its destination back when the comparison
 * fails (SDM Vol. 2A CMPXCHG), so it is checked for the write either way.
 * Bochs agrees; QEMU 7.2's TCG reads an unlocked destination with a plain
 * load first (W/R = 0), excused there only.
 */
static const char rmw_note[] = "read-modify-write destination faults as a "
                               "read, W/R = 0 (SDM Vol. 3A 5.7: the access "
                               "is a write)";
#define CHECK_PF_RMW(caught, err, addr)                                       \
    CHECK_PF_TCG(caught, err, (err) & ~E_W, rmw_note, addr)
#define RMW_1(insn, a)                                                        \
    __asm__ volatile(insn " %0" : "+m"(*(volatile uint64_t *)(a)) : : "cc")
#define RMW_2(insn, a, r)                                                     \
    __asm__ volatile(insn " %1, %0"                                           \
                     : "+m"(*(volatile uint64_t *)(a)), "+r"(r) : : "cc")

static RT_USER_FN uint64_t user_inc(uint64_t a)
{
    RMW_1("incq", a);
    return 0;
}

static void t_rmw(void)
{
    volatile uint64_t r = 1, rax = 7, lo = 0, hi = 0;
    rt_map(va(13), pa(13), 0, 1);                       /* not present   */
    rt_map(va(14), pa(14), RT_PTE_P, 1);                /* read-only     */
    rt_map(va(15), pa(15), RW, 1);                      /* supervisor    */
    rt_poke64(pa(14), 0x1111);
    uint64_t a = va(13) + 0x40;
    CHECK_PF_RMW(RT_FAULT(RMW_2("addq", a, r)), E_W, a);
    CHECK_PF_RMW(RT_FAULT(RMW_1("incq", a)), E_W, a);
    CHECK_PF_RMW(RT_FAULT(RMW_1("notq", a)), E_W, a);
    CHECK_PF_RMW(RT_FAULT(__asm__ volatile("shlq %%cl, %0"
                                       : "+m"(*(volatile uint64_t *)a)
                                       : "c"(0) : "cc")), E_W, a);
    CHECK_PF_RMW(RT_FAULT(RMW_2("btsq", a, r)), E_W, a);
    CHECK_PF_RMW(RT_FAULT(RMW_2("xchgq", a, r)), E_W, a);
    CHECK_PF_RMW(RT_FAULT(RMW_2("xaddq", a, r)), E_W, a);
    CHECK_PF_RMW(RT_FAULT(__asm__ volatile("cmpxchgq %2, %0"
                                       : "+m"(*(volatile uint64_t *)a),
                                         "+a"(rax) : "r"(r) : "cc")), E_W, a);
    CHECK_PF_RMW(RT_FAULT(__asm__ volatile("cmpxchg8b %0"
                                       : "+m"(*(volatile uint64_t *)a),
                                         "+a"(lo), "+d"(hi)
                                       : "b"(0), "c"(0) : "cc")), E_W, a);
    CHECK_PF_RMW(RT_FAULT(__asm__ volatile("lock addq %1, %0"
                                       : "+m"(*(volatile uint64_t *)a)
                                       : "r"(r) : "cc")), E_W, a);
    /* reads only: W/R = 0 */
    CHECK_PF(RT_FAULT(__asm__ volatile("cmpq %1, %0" : : "m"(*(volatile
                                       uint64_t *)a), "r"(r) : "cc")), 0, a);
    CHECK_PF(RT_FAULT(__asm__ volatile("testq %1, %0" : : "m"(*(volatile
                                       uint64_t *)a), "r"(r) : "cc")), 0, a);
    CHECK_PF(RT_FAULT(__asm__ volatile("btq %1, %0" : : "m"(*(volatile
                                       uint64_t *)a), "r"(r) : "cc")), 0, a);
    /* read-only: P and W, and the value is kept; CMPXCHG fails the
       comparison (RAX = 7) and still faults */
    a = va(14) + 8;
    rt_poke64(pa(14) + 8, 0x2222);
    CHECK_PF_RMW(RT_FAULT(RMW_2("subq", a, r)), E_P | E_W, a);
    rax = 7;
    CHECK_PF_RMW(RT_FAULT(__asm__ volatile("cmpxchgq %2, %0"
                                       : "+m"(*(volatile uint64_t *)a),
                                         "+a"(rax) : "r"(r) : "cc")),
             E_P | E_W, a);
    CHECK_EQ(rax, 7);
    CHECK_EQ(rt_peek64(pa(14) + 8), 0x2222);
    CHECK(!(*rt_pte(va(14), 1) & RT_PTE_D), "D set by a faulting RMW");
    CHECK_EQ(rt_peek64(va(14) + 8), 0x2222);          /* CMP of it works */
    /* ring 3 on a supervisor page */
    CHECK_PF_RMW(RT_FAULT(rt_user_call(user_inc, va(15) + 0x10, 0)),
             E_P | E_U | E_W, va(15) + 0x10);
}

static void t_invalidation(void)
{
    rt_poke64(pa(13), 0x1313);
    rt_poke64(pa(14), 0x1414);
    rt_map(va(13), pa(13), RW, 1);
    CHECK_EQ(rt_peek64(va(13)), 0x1313);
    uint64_t *pte = rt_pte(va(13), 1);
    /* retarget; INVLPG makes the new frame visible (5.10.4.1) */
    *pte = pa(14) | RW;
    rt_invlpg(va(13));
    CHECK_EQ(rt_peek64(va(13)), 0x1414);
    /* and a CR3 write too */
    *pte = pa(13) | RW;
    rt_write_cr3(rt_read_cr3());
    CHECK_EQ(rt_peek64(va(13)), 0x1313);
    /* INVLPG of a non-canonical address is a no-op, not a fault (SDM Vol.
       2A INVLPG) */
    CHECK(!RT_FAULT(rt_invlpg(0x8000000000000000ull)),
          "INVLPG of a non-canonical address faulted");
    /* global pages: a CR4.PGE change flushes them too */
    if (!(rt_cpuinfo.f1_edx & (1u << 13))) {
        rt_skip("t_invalidation (global pages)", "no PGE (CPUID 1 EDX[13])");
        return;
    }
    uint64_t cr4 = rt_read_cr4();
    rt_write_cr4(cr4 | RT_CR4_PGE);
    *pte = pa(13) | RW | RT_PTE_G;
    rt_invlpg(va(13));
    CHECK_EQ(rt_peek64(va(13)), 0x1313);
    *pte = pa(14) | RW | RT_PTE_G;
    rt_invlpg(va(13)); /* INVLPG drops global entries as well */
    CHECK_EQ(rt_peek64(va(13)), 0x1414);
    *pte = pa(13) | RW | RT_PTE_G;
    rt_write_cr4(cr4 & ~(uint64_t)RT_CR4_PGE);
    CHECK_EQ(rt_peek64(va(13)), 0x1313);
    *pte = pa(13) | RW;
    rt_invlpg(va(13));
}

static void t_page_sizes(void)
{
    /* 4 KiB */
    rt_poke64(pa(15) + 0x7f8, 0x4444);
    rt_map(va(15), pa(15), RW, 1);
    CHECK_EQ(rt_peek64(va(15) + 0x7f8), 0x4444);
    /* 2 MiB: the offset is 21 bits */
    rt_poke64(PA2M + 0x1ab008, 0x2222);
    rt_map(VA2M, PA2M, RW, 2);
    CHECK_EQ(rt_peek64(VA2M + 0x1ab008), 0x2222);
    int level;
    CHECK(rt_walk(VA2M + 0x1ab008, &level) && level == 2, "not a 2 MiB leaf");
    /* 1 GiB: CPUID 8000_0001 EDX[26] (Page1GB) */
    if (!(rt_cpuinfo.x1_edx & (1u << 26))) {
        rt_skip("t_page_sizes (1 GiB)", "no 1 GiB pages (CPUID 8000_0001 "
                "EDX[26])");
        return;
    }
    rt_poke64(RT_SCRATCH + 0x345678, 0x1111);
    rt_map(VA1G, 0, RW, 3);
    CHECK_EQ(rt_peek64(VA1G + RT_SCRATCH + 0x345678), 0x1111);
    CHECK(rt_walk(VA1G + 0x100, &level) && level == 3, "not a 1 GiB leaf");
    /* its bits 29:13 are reserved */
    *rt_pte(VA1G, 3) = 1ull << 21 | RW | RT_PTE_PS;
    rt_invlpg(VA1G);
    CHECK_PF_RSVD(RT_FAULT(rt_peek64(VA1G)), E_P | E_RSVD, VA1G);
    *rt_pte(VA1G, 3) = 0;
    rt_invlpg(VA1G);
}

static void t_smep(void)
{
    if (!(rt_cpuinfo.f7_ebx & (1u << 7))) {
        rt_skip("t_smep", "no SMEP (CPUID 7 EBX[7])");
        return;
    }
    uint64_t cr4 = rt_read_cr4();
    uint64_t fn = (uint64_t)(uintptr_t)user_nop;
    rt_write_cr4(cr4 | RT_CR4_SMEP);
    /* a supervisor fetch from a user page (5.6): P = 1, I/D = 1 */
    int caught = RT_FAULT(user_nop(1));
    rt_write_cr4(cr4);
    CHECK_PF(caught, E_P | E_ID, fn);
    CHECK_EQ(user_nop(1), 2);
    /* user code still runs under SMEP */
    rt_write_cr4(cr4 | RT_CR4_SMEP);
    uint64_t r = rt_user_call(user_nop, 5, 0);
    rt_write_cr4(cr4);
    CHECK_EQ(r, 6);
}

static RT_USER_DATA volatile uint64_t user_word = 0x5a;

static void t_smap(void)
{
    if (!(rt_cpuinfo.f7_ebx & (1u << 20))) {
        rt_skip("t_smap", "no SMAP (CPUID 7 EBX[20])");
        return;
    }
    uint64_t cr4 = rt_read_cr4(), a = (uint64_t)(uintptr_t)&user_word;
    rt_write_cr4(cr4 | RT_CR4_SMAP);
    /* supervisor data access to a user page with EFLAGS.AC = 0 (5.6) */
    int c1 = RT_FAULT(rt_peek64(a));
    uint64_t e1 = rt_last.error, cr2a = rt_last.cr2;
    int c2 = RT_FAULT(rt_poke64(a, 1));
    uint64_t e2 = rt_last.error;
    /* AC = 1 allows explicit accesses */
    uint64_t v = 0;
    __asm__ volatile("pushfq; orq $0x40000, (%%rsp); popfq\n\t"
                     "movq (%1), %0\n\t"
                     "pushfq; andq $~0x40000, (%%rsp); popfq"
                     : "=r"(v) : "r"(a) : "memory", "cc");
    rt_write_cr4(cr4);
    CHECK(c1 == RT_PF + 1 && e1 == E_P && cr2a == a,
          "SMAP read: vector %d error %#lx", c1 - 1, e1);
    CHECK(c2 == RT_PF + 1 && e2 == (E_P | E_W),
          "SMAP write: vector %d error %#lx", c2 - 1, e2);
    CHECK_EQ(v, 0x5a);
}

void kmain(void)
{
    rt_printf("k_paging: #PF error codes, A/D, WP, SMEP/SMAP, TLB, page sizes "
              "on %s (MAXPHYADDR %u)\n", rt_cpuinfo.vendor,
              rt_cpuinfo.maxphyaddr);
    RT_RUN(t_not_present);
    RT_RUN(t_protection);
    RT_RUN(t_nx);
    RT_RUN(t_rsvd);
    RT_RUN(t_wp);
    RT_RUN(t_accessed_dirty);
    RT_RUN(t_rmw);
    RT_RUN(t_invalidation);
    RT_RUN(t_page_sizes);
    RT_RUN(t_smep);
    RT_RUN(t_smap);
}
