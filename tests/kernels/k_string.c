/*
 * tests/kernels/k_string.c - MOVS, CMPS, SCAS, LODS, STOS with and
 * without REP/REPE/REPNE, both directions, overlapping copies, rCX = 0,
 * and page faults in the middle of a repeated instruction.
 *
 * SDM Vol. 2B MOVS/CMPS/SCAS/LODS/STOS and REP/REPE/REPZ/REPNE/REPNZ;
 * APM Vol. 3 the same. The rule that matters most here (SDM Vol. 2B REP):
 * a repeated string instruction interrupted by an exception leaves rSI
 * and rDI at the next element, rCX at its value after the last completed
 * iteration and RIP at the instruction (prefixes included), so returning
 * from the handler resumes it.
 */
#include "rt.h"

#define BUF 256
static uint8_t src[BUF] __attribute__((aligned(16)));
static uint8_t dst[BUF + 64] __attribute__((aligned(16)));

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

/* ------------------------------------------------------------- MOVS -- */

typedef struct regs3 {
    uint64_t si, di, cx, fl;
} regs3;

/* REP MOVS of the given element size; flags preloaded from r->fl. */
static void rep_movs(unsigned size, regs3 *r)
{
    uint64_t f = r->fl;
    switch (size) {
    case 1:
        __asm__ volatile("pushq %3; popfq; rep movsb; pushfq; popq %3; cld"
                         : "+S"(r->si), "+D"(r->di), "+c"(r->cx), "+r"(f)
                         : : "memory", "cc");
        break;
    case 2:
        __asm__ volatile("pushq %3; popfq; rep movsw; pushfq; popq %3; cld"
                         : "+S"(r->si), "+D"(r->di), "+c"(r->cx), "+r"(f)
                         : : "memory", "cc");
        break;
    case 4:
        __asm__ volatile("pushq %3; popfq; rep movsl; pushfq; popq %3; cld"
                         : "+S"(r->si), "+D"(r->di), "+c"(r->cx), "+r"(f)
                         : : "memory", "cc");
        break;
    default:
        __asm__ volatile("pushq %3; popfq; rep movsq; pushfq; popq %3; cld"
                         : "+S"(r->si), "+D"(r->di), "+c"(r->cx), "+r"(f)
                         : : "memory", "cc");
        break;
    }
    r->fl = f;
}

static void t_movs_forward(void)
{
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    for (unsigned k = 0; k < 4; k++) {
        unsigned sz = sizes[k], n = 20;
        fill(src, BUF, 1);
        memset(dst, 0xee, sizeof dst);
        regs3 r = { (uint64_t)(uintptr_t)src, (uint64_t)(uintptr_t)dst + 8,
                    n, 0x2 | RT_FL_CF | RT_FL_ZF };
        rep_movs(sz, &r);
        CHECK_EQ(r.cx, 0);
        CHECK_EQ(r.si, (uint64_t)(uintptr_t)src + n * sz);
        CHECK_EQ(r.di, (uint64_t)(uintptr_t)dst + 8 + n * sz);
        CHECK(!memcmp(dst + 8, src, n * sz), "movs%u copied wrong bytes", sz);
        CHECK(dst[7] == 0xee && dst[8 + n * sz] == 0xee,
              "movs%u wrote outside the destination", sz);
        /* MOVS changes no flag */
        CHECK_EQ(r.fl & RT_FL_STATUS, RT_FL_CF | RT_FL_ZF);
    }
}

static void t_movs_backward(void)
{
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    for (unsigned k = 0; k < 4; k++) {
        unsigned sz = sizes[k], n = 17;
        fill(src, BUF, 3);
        memset(dst, 0xee, sizeof dst);
        /* DF = 1: rSI and rDI start at the last element and go down */
        regs3 r = { (uint64_t)(uintptr_t)src + (n - 1) * sz,
                    (uint64_t)(uintptr_t)dst + 8 + (n - 1) * sz, n,
                    0x2 | RT_FL_DF };
        rep_movs(sz, &r);
        CHECK_EQ(r.cx, 0);
        CHECK_EQ(r.si, (uint64_t)(uintptr_t)src - sz);
        CHECK_EQ(r.di, (uint64_t)(uintptr_t)dst + 8 - sz);
        CHECK(!memcmp(dst + 8, src, n * sz), "std; movs%u copied wrong", sz);
        CHECK(dst[7] == 0xee && dst[8 + n * sz] == 0xee,
              "std; movs%u wrote outside the destination", sz);
        CHECK(r.fl & RT_FL_DF, "DF changed");
    }
}

/* Element by element (the Operation section), so a forward copy onto
   itself one element up replicates the first element, and a backward one
   down replicates the last. */
static void t_movs_overlap(void)
{
    fill(src, BUF, 5);
    uint8_t first = src[0];
    regs3 r = { (uint64_t)(uintptr_t)src, (uint64_t)(uintptr_t)src + 1, 40,
                2 };
    rep_movs(1, &r);
    bool same = true;
    for (unsigned i = 0; i <= 40; i++)
        same &= src[i] == first;
    CHECK(same, "forward overlapping movsb did not replicate byte 0");

    fill(src, BUF, 9);
    uint16_t last = (uint16_t)(src[2 * 30] | src[2 * 30 + 1] << 8);
    r = (regs3){ (uint64_t)(uintptr_t)src + 2 * 30,
                 (uint64_t)(uintptr_t)src + 2 * 29, 30, 2 | RT_FL_DF };
    /* dst = src - 2, backward: each word moves down onto the previous one,
       which was already read, so the last word replicates downward */
    rep_movs(2, &r);
    same = true;
    for (unsigned i = 0; i < 30; i++)
        same &= (uint16_t)(src[2 * i] | src[2 * i + 1] << 8) == last;
    CHECK(same, "backward overlapping movsw did not replicate the last word");

    /* memmove-safe directions copy exactly */
    fill(src, BUF, 11);
    uint8_t ref[64];
    memcpy(ref, src + 8, 64);
    r = (regs3){ (uint64_t)(uintptr_t)src + 8, (uint64_t)(uintptr_t)src, 8,
                 2 };
    rep_movs(8, &r);
    CHECK(!memcmp(src, ref, 64), "forward movsq to a lower overlap");
}

static void t_rcx_zero(void)
{
    fill(src, BUF, 1);
    memset(dst, 0xee, sizeof dst);
    regs3 r = { (uint64_t)(uintptr_t)src, (uint64_t)(uintptr_t)dst, 0,
                2 | RT_FL_STATUS };
    rep_movs(8, &r);
    CHECK_EQ(r.cx, 0);
    CHECK_EQ(r.si, (uint64_t)(uintptr_t)src);
    CHECK_EQ(r.di, (uint64_t)(uintptr_t)dst);
    CHECK_EQ(dst[0], 0xee);

    /* REPE CMPS with rCX = 0 compares nothing: flags unchanged */
    uint64_t si = (uint64_t)(uintptr_t)src, di = (uint64_t)(uintptr_t)dst;
    uint64_t cx = 0, f = 2 | RT_FL_CF | RT_FL_OF;
    __asm__ volatile("pushq %3; popfq; repe cmpsb; pushfq; popq %3"
                     : "+S"(si), "+D"(di), "+c"(cx), "+r"(f) : : "memory", "cc");
    CHECK_EQ(f & RT_FL_STATUS, RT_FL_CF | RT_FL_OF);
    CHECK_EQ(si, (uint64_t)(uintptr_t)src);

    /* REPNE SCAS with rCX = 0 */
    cx = 0;
    di = (uint64_t)(uintptr_t)dst;
    f = 2 | RT_FL_ZF;
    __asm__ volatile("pushq %2; popfq; repne scasb; pushfq; popq %2"
                     : "+D"(di), "+c"(cx), "+r"(f) : "a"(0xee) : "memory", "cc");
    CHECK_EQ(f & RT_FL_STATUS, RT_FL_ZF);
    CHECK_EQ(di, (uint64_t)(uintptr_t)dst);
}

/* --------------------------------------------------- CMPS and SCAS -- */

static void t_cmps(void)
{
    fill(src, BUF, 1);
    memcpy(dst, src, BUF);
    dst[37] = (uint8_t)(src[37] + 1); /* src - dst = -1 at element 37 */
    uint64_t si = (uint64_t)(uintptr_t)src, di = (uint64_t)(uintptr_t)dst;
    uint64_t cx = 100, f = 2;
    __asm__ volatile("pushq %3; popfq; repe cmpsb; pushfq; popq %3"
                     : "+S"(si), "+D"(di), "+c"(cx), "+r"(f) : : "memory", "cc");
    /* stops after the unequal element: 38 compared */
    CHECK_EQ(cx, 100 - 38);
    CHECK_EQ(si, (uint64_t)(uintptr_t)src + 38);
    CHECK_EQ(di, (uint64_t)(uintptr_t)dst + 38);
    /* the flags of CMP [rSI], [rDI]: x - (x + 1) borrows */
    CHECK(!(f & RT_FL_ZF) && (f & RT_FL_CF) && (f & RT_FL_SF),
          "repe cmpsb flags %#lx", f);

    /* REPNE CMPSW stops at the first equal word */
    for (unsigned i = 0; i < 64; i++) {
        src[i] = (uint8_t)i;
        dst[i] = (uint8_t)(i + 100);
    }
    dst[20] = src[20];
    dst[21] = src[21]; /* word 10 equal */
    si = (uint64_t)(uintptr_t)src;
    di = (uint64_t)(uintptr_t)dst;
    cx = 30;
    f = 2;
    __asm__ volatile("pushq %3; popfq; repne cmpsw; pushfq; popq %3"
                     : "+S"(si), "+D"(di), "+c"(cx), "+r"(f) : : "memory", "cc");
    CHECK_EQ(cx, 30 - 11);
    CHECK_EQ(si, (uint64_t)(uintptr_t)src + 22);
    CHECK(f & RT_FL_ZF, "repne cmpsw ended without ZF");

    /* a full run of equal elements: rCX reaches 0 with ZF = 1 */
    memcpy(dst, src, 64);
    si = (uint64_t)(uintptr_t)src;
    di = (uint64_t)(uintptr_t)dst;
    cx = 8;
    f = 2;
    __asm__ volatile("pushq %3; popfq; repe cmpsq; pushfq; popq %3"
                     : "+S"(si), "+D"(di), "+c"(cx), "+r"(f) : : "memory", "cc");
    CHECK_EQ(cx, 0);
    CHECK_EQ(si, (uint64_t)(uintptr_t)src + 64);
    CHECK((f & RT_FL_STATUS) == (RT_FL_ZF | RT_FL_PF), "flags %#lx", f);
}

static void t_scas(void)
{
    /* strlen with REPNE SCASB */
    static const char s[] = "hello, string instructions";
    uint64_t di = (uint64_t)(uintptr_t)s, cx = ~0ull, f = 2;
    __asm__ volatile("pushq %2; popfq; repne scasb; pushfq; popq %2"
                     : "+D"(di), "+c"(cx), "+r"(f) : "a"(0) : "memory", "cc");
    CHECK_EQ(~cx - 1, sizeof s - 1);
    CHECK_EQ(di, (uint64_t)(uintptr_t)s + sizeof s);
    CHECK(f & RT_FL_ZF);

    /* REPE SCASD skips equal dwords; the compare is EAX - [rDI] */
    uint32_t words[8] = { 5, 5, 5, 9, 5, 5, 5, 5 };
    di = (uint64_t)(uintptr_t)words;
    cx = 8;
    f = 2;
    __asm__ volatile("pushq %2; popfq; repe scasl; pushfq; popq %2"
                     : "+D"(di), "+c"(cx), "+r"(f)
                     : "a"(0xffffffff00000005ull) : "memory", "cc");
    CHECK_EQ(cx, 4);
    CHECK_EQ(di, (uint64_t)(uintptr_t)&words[4]);
    CHECK(!(f & RT_FL_ZF) && (f & RT_FL_CF), "5 - 9: flags %#lx", f);

    /* SCASQ backwards */
    uint64_t q[4] = { 1, 2, 3, 4 };
    di = (uint64_t)(uintptr_t)&q[3];
    cx = 4;
    f = 2 | RT_FL_DF;
    __asm__ volatile("pushq %2; popfq; repne scasq; pushfq; popq %2; cld"
                     : "+D"(di), "+c"(cx), "+r"(f) : "a"(2ull) : "memory", "cc");
    CHECK_EQ(cx, 1);
    CHECK_EQ(di, (uint64_t)(uintptr_t)&q[0]);
}

/* --------------------------------------------------- LODS and STOS -- */

static void t_lods(void)
{
    uint64_t data[2] = { 0x8877665544332211ull, 0xffeeddccbbaa9988ull };
    uint64_t si = (uint64_t)(uintptr_t)data, a = 0xdeadbeefcafef00dull;
    __asm__ volatile("lodsb" : "+S"(si), "+a"(a) : : "memory");
    CHECK_EQ(a, 0xdeadbeefcafef011ull); /* AL only */
    __asm__ volatile("lodsw" : "+S"(si), "+a"(a) : : "memory");
    CHECK_EQ(a, 0xdeadbeefcafe3322ull); /* AX only */
    __asm__ volatile("lodsl" : "+S"(si), "+a"(a) : : "memory");
    CHECK_EQ(a, 0x0000000077665544ull); /* EAX zero-extends */
    CHECK_EQ(si, (uint64_t)(uintptr_t)data + 7);
    si = (uint64_t)(uintptr_t)data + 8;
    __asm__ volatile("std; lodsq; cld" : "+S"(si), "+a"(a) : : "memory");
    CHECK_EQ(a, 0xffeeddccbbaa9988ull);
    CHECK_EQ(si, (uint64_t)(uintptr_t)data);
    /* REP LODS: the last element wins */
    uint64_t cx = 3;
    si = (uint64_t)(uintptr_t)src;
    fill(src, 16, 40);
    __asm__ volatile("rep lodsb" : "+S"(si), "+a"(a), "+c"(cx) : : "memory");
    CHECK_EQ(a & 0xff, src[2]);
    CHECK_EQ(cx, 0);
}

static void t_stos(void)
{
    memset(dst, 0, sizeof dst);
    uint64_t di = (uint64_t)(uintptr_t)dst + 1, cx = 10;
    __asm__ volatile("rep stosb" : "+D"(di), "+c"(cx) : "a"(0x1234ab) : "memory");
    CHECK(dst[0] == 0 && dst[1] == 0xab && dst[10] == 0xab && dst[11] == 0,
          "rep stosb");
    CHECK_EQ(di, (uint64_t)(uintptr_t)dst + 11);
    di = (uint64_t)(uintptr_t)dst + 64;
    cx = 4;
    __asm__ volatile("rep stosq" : "+D"(di), "+c"(cx)
                     : "a"(0x0102030405060708ull) : "memory");
    uint64_t q;
    memcpy(&q, dst + 64 + 24, 8);
    CHECK_EQ(q, 0x0102030405060708ull);
    /* STOSW backwards */
    di = (uint64_t)(uintptr_t)dst + 200;
    cx = 3;
    __asm__ volatile("std; rep stosw; cld" : "+D"(di), "+c"(cx)
                     : "a"(0xbeef) : "memory");
    CHECK_EQ(di, (uint64_t)(uintptr_t)dst + 194);
    CHECK(dst[196] == 0xef && dst[197] == 0xbe && dst[201] == 0xbe &&
          dst[195] == 0, "std; rep stosw");
    /* STOSD writes 4 bytes */
    di = (uint64_t)(uintptr_t)dst + 240;
    memset(dst + 240, 0x55, 8);
    __asm__ volatile("stosl" : "+D"(di) : "a"(0xffffffff11223344ull) : "memory");
    CHECK(dst[240] == 0x44 && dst[243] == 0x11 && dst[244] == 0x55, "stosl");
}

/* ---------------------------------------- faults in the middle of REP -- */

#define VA_A   (RT_FREE_VA + 0x100000) /* mapped              */
#define VA_B   (VA_A + 0x1000)         /* faults, then mapped */
#define VA_D   (VA_A + 0x4000)         /* destination         */
#define PA_A   (RT_SCRATCH + 0x100000)

static volatile unsigned pf_seen;
static volatile uint64_t pf_fix_flags;

/* The #PF handler of the resumable cases: map the page, return. */
static void pf_map(rt_frame *f)
{
    (void)f;
    pf_seen++;
    rt_map(rt_last.cr2 & ~0xfffull, PA_A + 0x1000, pf_fix_flags, 1);
}

static void map_pages(void)
{
    rt_map(VA_A, PA_A, RT_PTE_P | RT_PTE_W, 1);
    rt_map(VA_B, PA_A + 0x1000, 0, 1);            /* not present */
    rt_map(VA_D, PA_A + 0x4000, RT_PTE_P | RT_PTE_W, 1);
    rt_map(VA_D + 0x1000, PA_A + 0x5000, RT_PTE_P | RT_PTE_W, 1);
}

static void t_rep_movsb_pf(void)
{
    map_pages();
    /* source: the last 100 bytes of A, then 200 bytes of B */
    uint8_t *a = (uint8_t *)(uintptr_t)VA_A;
    uint8_t *b = (uint8_t *)(uintptr_t)(PA_A + 0x1000); /* B's frame, via the identity map */
    fill(a + 4096 - 100, 100, 1);
    fill(b, 200, 101);
    memset((void *)(uintptr_t)VA_D, 0, 512);

    pf_seen = 0;
    pf_fix_flags = RT_PTE_P | RT_PTE_W;
    rt_set_handler(RT_PF, pf_map);
    uint64_t si = VA_A + 4096 - 100, di = VA_D, cx = 300, ip;
    __asm__ volatile("leaq 1f(%%rip), %3\n1: rep movsb"
                     : "+S"(si), "+D"(di), "+c"(cx), "=&r"(ip) : : "memory");
    rt_set_handler(RT_PF, NULL);

    CHECK_EQ(pf_seen, 1);
    /* at the fault: 100 bytes done, the next source byte is B's first */
    CHECK_EQ(rt_last.vector, RT_PF);
    CHECK_EQ(rt_last.error, 0); /* read, not present, supervisor */
    CHECK_EQ(rt_last.cr2, VA_B);
    CHECK_EQ(rt_last.rip, ip);  /* the REP prefix, not the MOVSB */
    CHECK_EQ(rt_last.r.rcx, 200);
    CHECK_EQ(rt_last.r.rsi, VA_B);
    CHECK_EQ(rt_last.r.rdi, VA_D + 100);
    /* resumed to the end */
    CHECK_EQ(cx, 0);
    CHECK_EQ(si, VA_A + 4096 + 200);
    CHECK_EQ(di, VA_D + 300);
    uint8_t *d = (uint8_t *)(uintptr_t)VA_D;
    CHECK(!memcmp(d, a + 4096 - 100, 100) && !memcmp(d + 100, b, 200),
          "the bytes copied around the fault are wrong");
}

/* STOS running into a read-only page: #PF(P | W) with rDI on it. */
static void t_rep_stosw_pf(void)
{
    map_pages();
    rt_map(VA_B, PA_A + 0x1000, RT_PTE_P, 1); /* read-only */
    memset((void *)(uintptr_t)(PA_A + 0x1000), 0, 4096);
    pf_seen = 0;
    pf_fix_flags = RT_PTE_P | RT_PTE_W;
    rt_set_handler(RT_PF, pf_map);
    /* 10 words from 8 bytes below A's end: 4 land in A, the 5th faults */
    uint64_t di = VA_A + 4096 - 8, cx = 10, ip;
    __asm__ volatile("leaq 1f(%%rip), %2\n1: rep stosw"
                     : "+D"(di), "+c"(cx), "=&r"(ip) : "a"(0x5a5a) : "memory");
    rt_set_handler(RT_PF, NULL);
    CHECK_EQ(pf_seen, 1);
    CHECK_EQ(rt_last.error, RT_PTE_P | RT_PTE_W); /* present, write */
    CHECK_EQ(rt_last.cr2, VA_B);
    CHECK_EQ(rt_last.rip, ip);
    CHECK_EQ(rt_last.r.rcx, 6);
    CHECK_EQ(rt_last.r.rdi, VA_B);
    CHECK_EQ(cx, 0);
    CHECK_EQ(di, VA_B + 12);
    CHECK_EQ(rt_peek64(VA_B) & 0xffff, 0x5a5a);
}

/* A fault on a word that straddles the page end: nothing of it is
   written, rCX and rDI still name it. */
static void t_movsq_straddle_pf(void)
{
    map_pages();
    fill(src, 64, 77);
    uint64_t si = (uint64_t)(uintptr_t)src, di = VA_A + 4096 - 20, cx = 4;
    uint8_t before = rt_peek8(VA_A + 4096 - 4);
    int caught = RT_FAULT(__asm__ volatile("rep movsq"
                                           : "+S"(si), "+D"(di), "+c"(cx)
                                           : : "memory"));
    CHECK_EXC(caught, RT_PF, RT_PTE_W, 0); /* write, not present */
    /* CR2 is "the linear address that caused the fault" (SDM Vol. 3A
       6.15 #PF, APM Vol. 2 8.4.2): for a split access not said more
       exactly than somewhere in the faulting quadword */
    CHECK(rt_last.cr2 >= VA_A + 4096 - 4 && rt_last.cr2 <= VA_B,
          "CR2 %#lx", rt_last.cr2);
    CHECK_EQ(rt_last.r.rcx, 2); /* two quadwords fit below the page end */
    CHECK_EQ(rt_last.r.rdi, VA_A + 4096 - 4);
    CHECK_EQ(rt_last.r.rsi, (uint64_t)(uintptr_t)src + 16);
    CHECK_EQ(rt_peek8(VA_A + 4096 - 4), before);
}

/* REPE CMPSB faulting on its first element: nothing compared, so rCX and
   the flags are as before the instruction. */
static void t_cmps_pf_first(void)
{
    map_pages();
    uint64_t f;
    __asm__ volatile(RT_ARM("2f")
                     "movq %1, %%rsi\n\t"
                     "movq %2, %%rdi\n\t"
                     "movq $5, %%rcx\n\t"
                     "pushq $0x8c3\n\t" /* OF SF ZF CF */
                     "popfq\n\t"
                     "repe cmpsb\n"
                     "2:\n\t" RT_DISARM
                     "pushfq\n\t"
                     "popq %0"
                     : "=r"(f)
                     : "r"((uint64_t)VA_B), "r"((uint64_t)VA_A)
                     : "rsi", "rdi", "rcx", "cc", RT_ARM_CLOBBER);
    CHECK_EQ(rt_last.vector, RT_PF);
    CHECK_EQ(rt_last.cr2, VA_B);
    CHECK_EQ(rt_last.r.rcx, 5);
    CHECK_EQ(rt_last.rflags & RT_FL_STATUS, 0x8c3 & RT_FL_STATUS);
    CHECK_EQ(f & RT_FL_STATUS, 0x8c3 & RT_FL_STATUS);
}

void kmain(void)
{
    rt_printf("k_string: string instructions on %s\n", rt_cpuinfo.vendor);
    RT_RUN(t_movs_forward);
    RT_RUN(t_movs_backward);
    RT_RUN(t_movs_overlap);
    RT_RUN(t_rcx_zero);
    RT_RUN(t_cmps);
    RT_RUN(t_scas);
    RT_RUN(t_lods);
    RT_RUN(t_stos);
    RT_RUN(t_rep_movsb_pf);
    RT_RUN(t_rep_stosw_pf);
    RT_RUN(t_movsq_straddle_pf);
    RT_RUN(t_cmps_pf_first);
}
