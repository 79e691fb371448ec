/*
 * tests/kernels/rt/paging.c - the runtime's page tables and the helpers
 * tests use to change them (4-level paging: SDM Vol. 3A 5.5, APM Vol. 2
 * 5.3).
 *
 * boot.S identity-maps the first GiB with 2 MiB pages; rt_paging_init()
 * puts the first 2 MiB on a page table so that page 0 faults (NULL) and
 * only the kernel's user sections are user pages. Intermediate entries are
 * always P | W | U, so the leaf alone decides (the checks AND R/W and U/S
 * and OR XD over all levels).
 */
#include "rt.h"

void rt_paging_init(void);

extern uint64_t rt_pd0[512];
extern uint8_t __user_start[], __user_end[];
extern uint8_t __user_bss_start[], __user_bss_end[];

static uint64_t pt0[512] __attribute__((aligned(4096)));

#define POOL_PAGES 48
static uint64_t pool[POOL_PAGES][512] __attribute__((aligned(4096)));
static unsigned pool_used;

#define TABLE_FLAGS (RT_PTE_P | RT_PTE_W | RT_PTE_U)

static bool in(uint64_t a, const uint8_t *lo, const uint8_t *hi)
{
    return a >= (uint64_t)(uintptr_t)lo && a < (uint64_t)(uintptr_t)hi;
}

void rt_paging_init(void)
{
    for (uint64_t i = 1; i < 512; i++) {
        uint64_t pa = i << 12;
        pt0[i] = pa | RT_PTE_P | RT_PTE_W;
        if (in(pa, __user_start, __user_end) ||
            in(pa, __user_bss_start, __user_bss_end))
            pt0[i] |= RT_PTE_U;
    }
    pt0[0] = 0; /* NULL faults */
    rt_pd0[0] = (uint64_t)(uintptr_t)pt0 | TABLE_FLAGS;
    rt_flush_tlb();
}

static uint64_t *table_alloc(void)
{
    if (pool_used == POOL_PAGES)
        rt_panic("the runtime ran out of page-table pages (%d)", POOL_PAGES);
    uint64_t *t = pool[pool_used++];
    memset(t, 0, 4096);
    return t;
}

static unsigned index_at(uint64_t va, int level)
{
    return (unsigned)(va >> (12 + 9 * (level - 1))) & 511;
}

/* Replaces the large page *e at `level` (3: 1 GiB, 2: 2 MiB) by a table
   of the next smaller pages with the same attributes. */
static void split(uint64_t *e, int level)
{
    uint64_t *t = table_alloc();
    uint64_t size = 1ull << (12 + 9 * (level - 2));
    uint64_t base = *e & RT_PTE_ADDR & ~(size * 512 - 1);
    uint64_t attr = *e & (RT_PTE_P | RT_PTE_W | RT_PTE_U | RT_PTE_PWT |
                          RT_PTE_PCD | RT_PTE_A | RT_PTE_D | RT_PTE_G |
                          RT_PTE_NX);
    if (level - 1 > 1)
        attr |= RT_PTE_PS;
    for (uint64_t k = 0; k < 512; k++)
        t[k] = (base + k * size) | attr;
    *e = (uint64_t)(uintptr_t)t | TABLE_FLAGS;
    rt_flush_tlb();
}

uint64_t *rt_pte(uint64_t va, int level)
{
    uint64_t *table = rt_pml4;
    for (int l = 4; l > level; l--) {
        uint64_t *e = &table[index_at(va, l)];
        if (!(*e & RT_PTE_P))
            *e = (uint64_t)(uintptr_t)table_alloc() | TABLE_FLAGS;
        else if (l < 4 && (*e & RT_PTE_PS))
            split(e, l);
        table = (uint64_t *)(uintptr_t)(*e & RT_PTE_ADDR);
    }
    return &table[index_at(va, level)];
}

void rt_map(uint64_t va, uint64_t pa, uint64_t flags, int level)
{
    uint64_t *e = rt_pte(va, level);
    *e = pa | flags | (level > 1 ? RT_PTE_PS : 0);
    rt_invlpg(va);
}

uint64_t *rt_walk(uint64_t va, int *level)
{
    uint64_t *table = rt_pml4;
    for (int l = 4; l >= 1; l--) {
        uint64_t *e = &table[index_at(va, l)];
        if (!(*e & RT_PTE_P) || l == 1 || (l < 4 && (*e & RT_PTE_PS))) {
            *level = l;
            return e;
        }
        table = (uint64_t *)(uintptr_t)(*e & RT_PTE_ADDR);
    }
    return NULL;
}
