/*
 * tests/test_npt.c - SVM nested paging (svm/npt.h): the two-dimensional
 * walk in every guest x host paging-mode combination, NPF EXITINFO1/2,
 * A/D bits in both dimensions, fault order between a guest #PF and an
 * NPF, nested large pages, the TLB and the hostmap under nested paging.
 *
 * The fixture builds both dimensions by hand in one RAM buffer. Guest-
 * physical memory [0, GSPAN) sits at host-physical GPA + HOFF, so a
 * translation that skipped the nested dimension would land HOFF too low,
 * in memory that holds the nested tables. The nested tables live in
 * [0, HOFF). A test puts the CPU in guest mode with nested paging the way
 * VMRUN leaves it (cpu->svm.guest, .np, .host and N_CR3 in the cached
 * VMCB) and asks paging_translate(), as the interpreter does. The fault
 * cases are rows of one table run by one loop that names the failing row.
 * The last tests run guest code through svmx_cpu_run() (exec_fixture.h)
 * to check the hostmap fast path against nested translations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "svmx/svmx.h"
#include "cpu/cpu_internal.h"
#include "cpu/paging.h"
#include "svm/npt.h"
#include "exec_fixture.h"
#include "test_util.h"

/* ------------------------------------------------------------ memory -- */

#define RAM_BYTES 0x800000ull
#define HOFF      0x400000ull   /* GPA g is at HPA g + HOFF                */
#define GSPAN     0x400000ull   /* guest-physical memory is [0, GSPAN)      */
#define DATA_GPA  0x323000ull   /* the data page: nested PDE 1, apart from
                                   the guest tables (nested PDE 0)          */
#define OFFS      0xabcull
#define LIN32     0x92345000ull          /* every index non-zero          */
#define LIN64     0xffffc9a7b2345000ull  /* canonical, every index non-0  */

#define B(n) (1ull << (n))
#define P    B(0)
#define RW   B(1)
#define US   B(2)
#define A    B(5)
#define D    B(6)
#define PS   B(7)
#define XD   B(63)
#define PRWUS (P | RW | US)

#define AR PG_READ
#define AW PG_WRITE
#define AX PG_EXEC
#define AU PG_USER

#define FINAL  NPT_INFO1_FINAL
#define TABLES NPT_INFO1_TABLES

static uint8_t ram[RAM_BYTES];

static void rput(uint64_t pa, unsigned w, uint64_t v)
{
    for (unsigned i = 0; i < w; i++)
        ram[pa + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rget(uint64_t pa, unsigned w)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++)
        v |= (uint64_t)ram[pa + i] << (8 * i);
    return v;
}

/* ---------------------------------------------------- building tables -- */

/* A paging-structure format, as the test writes it. */
typedef struct fmt {
    unsigned levels, w, bits;
    bool     pae;
} fmt;

static const fmt FMT32 = { 2, 4, 10, false };
static const fmt FMTPAE = { 3, 8, 9, true };
static const fmt FMT4L = { 4, 8, 9, false };

/* Tables of one format in one address space: `off` is where address 0 of
 * that space is in the RAM buffer (0 host, HOFF guest). */
typedef struct tables {
    fmt       f;
    uint64_t  off;
    uint64_t  root;
    uint64_t *next;  /* page allocator of the space */
} tables;

static uint64_t host_next, guest_next;

static uint64_t alloc_page(tables *t)
{
    uint64_t p = *t->next;
    *t->next += 0x1000;
    return p;
}

static uint64_t index_of(const fmt *f, uint64_t va, unsigned level)
{
    uint64_t i = (va >> (12 + f->bits * (level - 1))) & ((1ull << f->bits) - 1);
    return f->pae && level == 3 ? i & 3 : i;
}

static uint64_t addr_of(const fmt *f, uint64_t e)
{
    return f->w == 4 ? e & 0xfffff000ull : e & 0x000ffffffffff000ull;
}

static uint64_t page_size(const fmt *f, unsigned level)
{
    return 1ull << (12 + f->bits * (level - 1));
}

/* Address, in the tables' space, of the level-`level` entry for `va`. */
static uint64_t entry_at(const tables *t, uint64_t va, unsigned level)
{
    uint64_t table = t->root;
    for (unsigned l = t->f.levels;; l--) {
        uint64_t ea = table + index_of(&t->f, va, l) * t->f.w;
        if (l == level)
            return ea;
        table = addr_of(&t->f, rget(t->off + ea, t->f.w));
    }
}

static uint64_t tget(const tables *t, uint64_t ea)
{
    return rget(t->off + ea, t->f.w);
}

static void tput(const tables *t, uint64_t ea, uint64_t v)
{
    rput(t->off + ea, t->f.w, v);
}

/* Maps va to pa with a page at level `leaf`, making tables on the way. */
static void map(tables *t, uint64_t va, uint64_t pa, unsigned leaf,
                uint64_t flags)
{
    uint64_t table = t->root;
    for (unsigned l = t->f.levels;; l--) {
        uint64_t ea = table + index_of(&t->f, va, l) * t->f.w;
        if (l == leaf) {
            tput(t, ea, pa | flags | (l > 1 ? PS : 0));
            return;
        }
        uint64_t e = tget(t, ea);
        if (!(e & P)) {
            /* PAE PDPTEs have no R/W or U/S: bits 2:1 are reserved. */
            e = alloc_page(t) | (t->f.pae && l == 3 ? P : PRWUS);
            tput(t, ea, e);
        }
        table = addr_of(&t->f, e);
    }
}

/* ------------------------------------------------------------ worlds -- */

enum gmode { GOFF, G32, GPAE, G4L, GMODE_COUNT };
enum hmode { H32, HPAE, H4L, HMODE_COUNT };

static const char *const gnames[] = { "guest-off", "guest-32", "guest-PAE",
                                      "guest-4L" };
static const char *const hnames[] = { "host-32", "host-PAE", "host-4L" };

#define HNX0  0x1u  /* the host runs with EFER.NXE = 0                     */
#define HPSE0 0x2u  /* a 32-bit host runs with CR4.PSE = 0                 */

/* A CPU in guest mode with nested paging, and its two sets of tables. */
typedef struct world {
    svmx_cpu  *cpu;
    tables     nt, gt;   /* nested (host space), guest (guest space)      */
    enum gmode g;
    enum hmode h;
    uint64_t   lin;      /* lin + OFFS -> DATA_GPA + OFFS                  */
} world;

static const fmt *host_fmt(enum hmode h)
{
    return h == H32 ? &FMT32 : h == HPAE ? &FMTPAE : &FMT4L;
}

static const fmt *guest_fmt(enum gmode g)
{
    return g == G32 ? &FMT32 : g == GPAE ? &FMTPAE : &FMT4L;
}

/* The host state VMRUN saved: the nested tables' format comes from it. */
static void set_host(world *w, enum hmode h, unsigned hfl)
{
    svm_host_state *hs = &w->cpu->svm.host;
    hs->cr0 = CPU_CR0_PE | CPU_CR0_ET | CPU_CR0_PG;
    hs->cr4 = h == H32 ? ((hfl & HPSE0) ? 0 : CPU_CR4_PSE) : CPU_CR4_PAE;
    hs->efer = CPU_EFER_SVME | ((hfl & HNX0) ? 0 : CPU_EFER_NXE) |
               (h == H4L ? CPU_EFER_LME | CPU_EFER_LMA : 0);
}

static void set_guest_regs(world *w)
{
    svmx_sregs sr;
    assert_int_equal(svmx_cpu_get_sregs(w->cpu, &sr), SVMX_OK);
    sr.cr0 = CPU_CR0_PE | CPU_CR0_ET | (w->g != GOFF ? CPU_CR0_PG : 0);
    sr.cr4 = (w->g == GPAE || w->g == G4L) ? CPU_CR4_PAE : 0;
    sr.efer = w->g == G4L ? CPU_EFER_LME | CPU_EFER_LMA | CPU_EFER_NXE
              : w->g == GPAE ? CPU_EFER_NXE : 0;
    sr.cr3 = w->g != GOFF ? w->gt.root : 0;
    assert_int_equal(svmx_cpu_set_sregs(w->cpu, &sr), SVMX_OK);
}

/*
 * Guest mode `g` over nested tables of host mode `h`: the nested tables
 * map all of [0, GSPAN) to +HOFF with pages of level `nleaf`; the guest
 * maps lin to DATA_GPA with a 4 KiB page.
 */
static void world_build(world *w, enum gmode g, enum hmode h, unsigned nleaf,
                        unsigned hfl)
{
    memset(ram, 0, sizeof ram);
    memset(w, 0, sizeof *w);
    host_next = 0x10000;
    guest_next = 0x10000;
    w->g = g;
    w->h = h;
    w->nt = (tables){ *host_fmt(h), 0, 0, &host_next };
    w->nt.root = alloc_page(&w->nt);
    uint64_t step = page_size(&w->nt.f, nleaf);
    for (uint64_t gpa = 0; gpa < GSPAN; gpa += step)
        map(&w->nt, gpa, gpa + HOFF, nleaf, PRWUS);
    w->lin = g == GOFF ? DATA_GPA : g == G4L ? LIN64 : LIN32;
    if (g != GOFF) {
        w->gt = (tables){ *guest_fmt(g), HOFF, 0, &guest_next };
        w->gt.root = alloc_page(&w->gt);
        map(&w->gt, w->lin, DATA_GPA, 1, PRWUS);
    }

    svmx_config cfg = { .vendor = SVMX_VENDOR_AMD, .ram = ram,
                        .ram_size = sizeof ram };
    assert_int_equal(svmx_cpu_create(&cfg, &w->cpu), SVMX_OK);
    set_guest_regs(w);
    /* What VMRUN leaves behind (the world switch's job). */
    set_host(w, h, hfl);
    w->cpu->svm.guest = true;
    w->cpu->svm.np = true;
    assert_int_equal(svmx_vmcb_set(&w->cpu->svm.vmcb, SVMX_VMCB_N_CR3,
                                   w->nt.root), SVMX_OK);
    paging_reset(w->cpu);
}

static void world_free(world *w)
{
    svmx_cpu_destroy(w->cpu);
    w->cpu = NULL;
}

static cpu_res xl_at(world *w, uint64_t lin, unsigned acc, uint64_t *phys,
                     cpu_fault *f)
{
    memset(f, 0, sizeof *f);
    *phys = 0;
    return paging_translate(w->cpu, lin, acc, phys, f);
}

static cpu_res xl(world *w, unsigned acc, uint64_t *phys, cpu_fault *f)
{
    return xl_at(w, w->lin + OFFS, acc, phys, f);
}

/* Guest-physical address of the guest's level-`level` entry for lin. */
static uint64_t guest_entry_gpa(const world *w, unsigned level)
{
    return entry_at(&w->gt, w->lin, level);
}

/* Host address of the nested level-`level` entry that maps `gpa`. */
static uint64_t nested_entry(const world *w, uint64_t gpa, unsigned level)
{
    return entry_at(&w->nt, gpa, level);
}

static void nested_edit(world *w, uint64_t gpa, unsigned level,
                        uint64_t set, uint64_t clr)
{
    uint64_t ea = nested_entry(w, gpa, level);
    tput(&w->nt, ea, (tget(&w->nt, ea) | set) & ~clr);
}

/* Checks that *f is the NPF (EXITINFO1, EXITINFO2). */
static void expect_npf(const cpu_fault *f, uint64_t info1, uint64_t info2,
                       const char *what)
{
    EXPECT(npt_fault_is_npf(f), "%s: vector %u is not an NPF", what,
           f->vector);
    EXPECT(npt_fault_exitinfo1(f) == info1, "%s: EXITINFO1 %#llx, want %#llx",
           what, (unsigned long long)npt_fault_exitinfo1(f),
           (unsigned long long)info1);
    EXPECT(npt_fault_exitinfo2(f) == info2, "%s: EXITINFO2 %#llx, want %#llx",
           what, (unsigned long long)npt_fault_exitinfo2(f),
           (unsigned long long)info2);
}

/* ------------------------------------------- every mode combination -- */

/*
 * For each guest x host combination: a read and a write translate to the
 * host page; A is set in every guest entry (not the PAE PDPTE) and in the
 * nested entries used, D in the guest leaf and the nested data leaf only
 * on the write, and A and D in the nested leaves of the guest's table
 * pages after any access (table accesses are nested writes). Then an NPF
 * on the final address (bit 32) and one on a guest table (bit 33).
 */
static void check_combination(enum gmode g, enum hmode h)
{
    world w;
    world_build(&w, g, h, 1, 0);
    const char *gn = gnames[g], *hn = hnames[h];
    uint64_t phys, want = DATA_GPA + HOFF + OFFS;
    cpu_fault f;

    EXPECT(xl(&w, AR, &phys, &f) == CPU_OK && phys == want,
           "%s/%s read: phys %#llx vector %u", gn, hn,
           (unsigned long long)phys, f.vector);
    unsigned glevels = g == GOFF ? 0 : w.gt.f.levels;
    for (unsigned l = 1; l <= glevels; l++) {
        uint64_t e = tget(&w.gt, guest_entry_gpa(&w, l));
        bool has_a = !(g == GPAE && l == 3);
        EXPECT(((e & A) != 0) == has_a && !(e & D),
               "%s/%s read: guest level %u entry %#llx", gn, hn, l,
               (unsigned long long)e);
        /* The table page holding that entry: nested leaf A and D. */
        uint64_t n = tget(&w.nt, nested_entry(&w, guest_entry_gpa(&w, l), 1));
        EXPECT((n & (A | D)) == (A | D),
               "%s/%s read: nested leaf of guest table %u %#llx", gn, hn, l,
               (unsigned long long)n);
    }
    for (unsigned l = 1; l <= w.nt.f.levels; l++) {
        uint64_t n = tget(&w.nt, nested_entry(&w, DATA_GPA, l));
        bool has_a = !(h == HPAE && l == 3);
        EXPECT(((n & A) != 0) == has_a && !(n & D),
               "%s/%s read: nested level %u of the data page %#llx", gn, hn,
               l, (unsigned long long)n);
    }

    EXPECT(xl(&w, AW, &phys, &f) == CPU_OK && phys == want,
           "%s/%s write: vector %u", gn, hn, f.vector);
    if (g != GOFF)
        EXPECT(tget(&w.gt, guest_entry_gpa(&w, 1)) & D,
               "%s/%s write: guest D", gn, hn);
    EXPECT(tget(&w.nt, nested_entry(&w, DATA_GPA, 1)) & D,
           "%s/%s write: nested D", gn, hn);
    EXPECT(xl(&w, AX, &phys, &f) == CPU_OK && phys == want,
           "%s/%s fetch: vector %u", gn, hn, f.vector);

    /* Not present at the final translation: bit 32, EXITINFO2 the gpa. */
    nested_edit(&w, DATA_GPA, 1, 0, P);
    paging_flush(w.cpu, false);
    EXPECT(xl(&w, AR, &phys, &f) == CPU_FAULT, "%s/%s: no NPF", gn, hn);
    expect_npf(&f, FINAL | PG_ERR_U, DATA_GPA + OFFS, gn);
    nested_edit(&w, DATA_GPA, 1, P, 0);

    /* Not present during the guest walk: bit 33, W and U, the entry. */
    if (g != GOFF) {
        uint64_t pte = guest_entry_gpa(&w, 1);
        nested_edit(&w, pte, 1, 0, P);
        paging_flush(w.cpu, false);
        EXPECT(xl(&w, AR, &phys, &f) == CPU_FAULT, "%s/%s: no walk NPF", gn,
               hn);
        expect_npf(&f, TABLES | PG_ERR_W | PG_ERR_U, pte, hn);
    }
    world_free(&w);
}

static void test_combinations(void **state)
{
    (void)state;
    for (unsigned g = 0; g < GMODE_COUNT; g++)
        for (unsigned h = 0; h < HMODE_COUNT; h++)
            check_combination((enum gmode)g, (enum hmode)h);
}

/* ------------------------------------------------------ fault rows -- */

/* Which entry a row edits. */
enum target {
    T_NONE,
    T_NF,   /* nested, level nl, of the data page's translation            */
    T_NT,   /* nested, level nl, of the page holding guest level-gl entry  */
    T_GE,   /* the guest's level-gl entry                                  */
};

typedef struct edit {
    uint8_t  target, gl, nl;
    uint64_t set, clr;
} edit;

#define NOEDIT            { T_NONE, 0, 0, 0, 0 }
#define NF(nl, s, c)      { T_NF, 0, nl, s, c }
#define NT(gl, nl, s, c)  { T_NT, gl, nl, s, c }
#define GE(gl, s, c)      { T_GE, gl, 0, s, c }

enum expect { X_OK, X_PF, X_NPF_DATA, X_NPF_ENTRY };

typedef struct npt_case {
    enum gmode  g;
    enum hmode  h;
    unsigned    hfl;
    edit        e[2];
    unsigned    acc;
    enum expect x;
    uint64_t    code;   /* #PF error code or EXITINFO1                     */
    unsigned    gl;     /* X_NPF_ENTRY: EXITINFO2 is this guest entry's gpa */
    const char *text;
} npt_case;

#define CASE(g, h, hfl, e1, e2, acc, x, code, gl)                            \
    { g, h, hfl, { e1, e2 }, acc, x, code, gl,                               \
      #g "/" #h " " #e1 " " #e2 " " #acc " -> " #x " " #code },

/* EXITINFO1 values as hardware reports them (kvm-unit-tests svm_tests.c
 * npt_* expectations, "confirmed on bare metal"). */
static const npt_case cases[] = {
    /* 4-level guest over 4-level nested tables. */
    CASE(G4L, H4L, 0, NOEDIT, NOEDIT, AR, X_OK, 0, 0)
    CASE(G4L, H4L, 0, NOEDIT, NOEDIT, AW | AU, X_OK, 0, 0)
    CASE(G4L, H4L, 0, NF(1, 0, P), NOEDIT, AR, X_NPF_DATA, 0x100000004, 0)
    CASE(G4L, H4L, 0, NF(1, 0, P), NOEDIT, AW, X_NPF_DATA, 0x100000006, 0)
    CASE(G4L, H4L, 0, NF(1, 0, P), NOEDIT, AX, X_NPF_DATA, 0x100000014, 0)
    CASE(G4L, H4L, 0, NF(1, 0, P), NOEDIT, AR | AU, X_NPF_DATA, 0x100000004, 0)
    CASE(G4L, H4L, 0, NF(1, 0, RW), NOEDIT, AW, X_NPF_DATA, 0x100000007, 0)
    CASE(G4L, H4L, 0, NF(1, 0, RW), NOEDIT, AR, X_OK, 0, 0)
    CASE(G4L, H4L, 0, NF(2, 0, RW), NOEDIT, AW, X_NPF_DATA, 0x100000007, 0)
    CASE(G4L, H4L, 0, NF(1, XD, 0), NOEDIT, AX, X_NPF_DATA, 0x100000015, 0)
    CASE(G4L, H4L, 0, NF(2, XD, 0), NOEDIT, AX, X_NPF_DATA, 0x100000015, 0)
    CASE(G4L, H4L, 0, NF(1, XD, 0), NOEDIT, AR, X_OK, 0, 0)
    CASE(G4L, H4L, 0, NF(1, 0, US), NOEDIT, AR, X_NPF_DATA, 0x100000005, 0)
    CASE(G4L, H4L, 0, NF(2, 0, US), NOEDIT, AR, X_NPF_DATA, 0x100000005, 0)
    CASE(G4L, H4L, 0, NF(1, B(48), 0), NOEDIT, AR, X_NPF_DATA, 0x10000000d, 0)
    CASE(G4L, H4L, 0, NF(1, B(48), 0), NOEDIT, AX, X_NPF_DATA, 0x10000001d, 0)
    CASE(G4L, H4L, 0, NF(2, PS | B(13), 0), NOEDIT, AX, X_NPF_DATA,
         0x10000001d, 0)
    /* Guest table accesses are nested user writes (bit 33, W and U). */
    CASE(G4L, H4L, 0, NT(1, 1, 0, RW), NOEDIT, AR, X_NPF_ENTRY, 0x200000007, 1)
    CASE(G4L, H4L, 0, NT(4, 1, 0, RW), NOEDIT, AR, X_NPF_ENTRY, 0x200000007, 4)
    CASE(G4L, H4L, 0, NT(2, 1, 0, P), NOEDIT, AR, X_NPF_ENTRY, 0x200000006, 2)
    CASE(G4L, H4L, 0, NT(3, 1, 0, P), NOEDIT, AX, X_NPF_ENTRY, 0x200000006, 3)
    CASE(G4L, H4L, 0, NT(4, 4, B(8), 0), NOEDIT, AR, X_NPF_ENTRY, 0x20000000f,
         4)
    CASE(G4L, H4L, 0, NT(1, 1, 0, US), NOEDIT, AX, X_NPF_ENTRY, 0x200000007, 1)
    CASE(G4L, H4L, 0, NT(1, 1, XD, 0), NOEDIT, AX, X_OK, 0, 0)
    /* The guest's own faults, and which dimension comes first. */
    CASE(G4L, H4L, 0, GE(1, 0, P), NF(1, 0, P), AR, X_PF, 0x0, 0)
    CASE(G4L, H4L, 0, GE(1, 0, RW), NF(1, 0, RW), AW | AU, X_PF, 0x7, 0)
    CASE(G4L, H4L, 0, GE(1, 0, US), NF(1, 0, US), AR | AU, X_PF, 0x5, 0)
    CASE(G4L, H4L, 0, GE(1, XD, 0), NF(1, 0, P), AX, X_PF, 0x11, 0)
    CASE(G4L, H4L, 0, GE(1, B(48), 0), NOEDIT, AR, X_PF, 0x9, 0)
    CASE(G4L, H4L, 0, GE(2, 0, P), NT(1, 1, 0, P), AR, X_PF, 0x0, 0)
    CASE(G4L, H4L, 0, GE(1, 0, P), NT(1, 1, 0, P), AR, X_NPF_ENTRY,
         0x200000006, 1)
    /* PAE guest: the PDPTEs are read, through the nested tables, by the
     * walk; a reserved bit there is a #PF, not a #GP. */
    CASE(GPAE, H4L, 0, NOEDIT, NOEDIT, AW, X_OK, 0, 0)
    CASE(GPAE, H4L, 0, GE(3, B(5), 0), NOEDIT, AR, X_PF, 0x9, 0)
    CASE(GPAE, H4L, 0, GE(3, 0, P), NOEDIT, AR, X_PF, 0x0, 0)
    CASE(GPAE, H4L, 0, NT(3, 1, 0, RW), NOEDIT, AR, X_NPF_ENTRY, 0x200000007,
         3)
    CASE(GPAE, H4L, 0, NF(1, 0, P), NOEDIT, AW, X_NPF_DATA, 0x100000006, 0)
    /* 32-bit guest. */
    CASE(G32, H4L, 0, NOEDIT, NOEDIT, AW, X_OK, 0, 0)
    CASE(G32, H4L, 0, NT(2, 1, 0, P), NOEDIT, AR, X_NPF_ENTRY, 0x200000006, 2)
    CASE(G32, H4L, 0, NF(1, 0, RW), NOEDIT, AW, X_NPF_DATA, 0x100000007, 0)
    CASE(G32, H4L, 0, GE(1, 0, P), NOEDIT, AR, X_PF, 0x0, 0)
    /* Guest paging off: the linear address is the gpa. */
    CASE(GOFF, H4L, 0, NOEDIT, NOEDIT, AW, X_OK, 0, 0)
    CASE(GOFF, H4L, 0, NF(4, 0, P), NOEDIT, AR, X_NPF_DATA, 0x100000004, 0)
    CASE(GOFF, H4L, 0, NF(3, B(48), 0), NOEDIT, AR, X_NPF_DATA, 0x10000000d, 0)
    CASE(GOFF, H4L, 0, NF(4, B(8), 0), NOEDIT, AR, X_NPF_DATA, 0x10000000d, 0)
    CASE(GOFF, H4L, 0, NF(4, PS, 0), NOEDIT, AR, X_NPF_DATA, 0x10000000d, 0)
    /* A host without EFER.NXE: XD is a reserved bit, and no I/D. */
    CASE(GOFF, H4L, HNX0, NF(1, XD, 0), NOEDIT, AX, X_NPF_DATA, 0x10000000d, 0)
    CASE(GOFF, H4L, HNX0, NF(1, 0, P), NOEDIT, AX, X_NPF_DATA, 0x100000004, 0)
    /* Legacy PAE host: nested PDPTEs read on each walk, with their own
     * reserved bits (2:1, 8:5, 63:M) and no A bit. */
    CASE(GOFF, HPAE, 0, NOEDIT, NOEDIT, AW, X_OK, 0, 0)
    CASE(GOFF, HPAE, 0, NF(3, RW, 0), NOEDIT, AR, X_NPF_DATA, 0x10000000d, 0)
    CASE(GOFF, HPAE, 0, NF(3, 0, P), NOEDIT, AR, X_NPF_DATA, 0x100000004, 0)
    CASE(GOFF, HPAE, 0, NF(1, XD, 0), NOEDIT, AX, X_NPF_DATA, 0x100000015, 0)
    CASE(GOFF, HPAE, 0, NF(2, B(62), 0), NOEDIT, AR, X_NPF_DATA, 0x10000000d,
         0)
    CASE(G4L, HPAE, 0, NOEDIT, NOEDIT, AW, X_OK, 0, 0)
    CASE(G4L, HPAE, 0, NT(4, 2, 0, RW), NOEDIT, AR, X_NPF_ENTRY, 0x200000007,
         4)
    /* Legacy 32-bit host: no NX, so no I/D and no reserved bits in 4 KiB
     * entries. */
    CASE(GOFF, H32, 0, NOEDIT, NOEDIT, AW, X_OK, 0, 0)
    CASE(GOFF, H32, 0, NF(1, 0, RW), NOEDIT, AW, X_NPF_DATA, 0x100000007, 0)
    CASE(GOFF, H32, 0, NF(1, 0, P), NOEDIT, AX, X_NPF_DATA, 0x100000004, 0)
    CASE(GOFF, H32, 0, NF(2, 0, US), NOEDIT, AR, X_NPF_DATA, 0x100000005, 0)
    CASE(G4L, H32, 0, NOEDIT, NOEDIT, AW, X_OK, 0, 0)
    CASE(G4L, H32, 0, NT(1, 1, 0, RW), NOEDIT, AR, X_NPF_ENTRY, 0x200000007, 1)
    CASE(GPAE, H32, 0, NT(3, 1, 0, P), NOEDIT, AR, X_NPF_ENTRY, 0x200000006, 3)
};

static void apply(world *w, const edit *e)
{
    if (e->target == T_NONE)
        return;
    if (e->target == T_GE) {
        uint64_t ea = guest_entry_gpa(w, e->gl);
        tput(&w->gt, ea, (tget(&w->gt, ea) | e->set) & ~e->clr);
        return;
    }
    uint64_t gpa = e->target == T_NF ? DATA_GPA : guest_entry_gpa(w, e->gl);
    nested_edit(w, gpa, e->nl, e->set, e->clr);
}

/* Runs one row; returns the number of failed checks. */
static unsigned run_case(size_t i)
{
    const npt_case *c = &cases[i];
    unsigned bad = 0;
    world w;
    world_build(&w, c->g, c->h, 1, c->hfl);
    /* The guest entries' values before the edits that target them. */
    uint64_t before[PG_LEVELS + 1] = { 0 };
    unsigned glevels = c->g == GOFF ? 0 : w.gt.f.levels;
    apply(&w, &c->e[0]);
    apply(&w, &c->e[1]);
    for (unsigned l = 1; l <= glevels; l++)
        before[l] = tget(&w.gt, guest_entry_gpa(&w, l));

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            print_error("row %zu [%s]: ", i, c->text);                        \
            print_error(__VA_ARGS__);                                         \
            print_error("\n");                                                \
            bad++;                                                            \
        }                                                                     \
    } while (0)

    uint64_t phys;
    cpu_fault f;
    cpu_res r = xl(&w, c->acc, &phys, &f);
    switch (c->x) {
    case X_OK:
        CHECK(r == CPU_OK, "res %d vector %u info1 %#llx", r, f.vector,
              (unsigned long long)npt_fault_exitinfo1(&f));
        CHECK(phys == DATA_GPA + HOFF + OFFS, "phys %#llx",
              (unsigned long long)phys);
        break;
    case X_PF:
        CHECK(r == CPU_FAULT && f.vector == CPU_VEC_PF && f.has_error &&
              f.error == c->code && f.payload == w.lin + OFFS,
              "res %d vector %u error %#x CR2 %#llx", r, f.vector, f.error,
              (unsigned long long)f.payload);
        break;
    case X_NPF_DATA:
    case X_NPF_ENTRY: {
        uint64_t info2 = c->x == X_NPF_DATA ? DATA_GPA + OFFS
                                            : guest_entry_gpa(&w, c->gl);
        CHECK(r == CPU_FAULT && npt_fault_is_npf(&f) && !f.has_error,
              "res %d vector %u", r, f.vector);
        CHECK(npt_fault_exitinfo1(&f) == c->code, "EXITINFO1 %#llx",
              (unsigned long long)npt_fault_exitinfo1(&f));
        CHECK(npt_fault_exitinfo2(&f) == info2, "EXITINFO2 %#llx, want %#llx",
              (unsigned long long)npt_fault_exitinfo2(&f),
              (unsigned long long)info2);
        break;
    }
    }
    /* A walk that faults in either dimension leaves the guest's entries
     * untouched; one that succeeds sets A (not in a PAE PDPTE) and, on a
     * write, D in the leaf. */
    bool write = (c->acc & PG_KIND_MASK) == PG_WRITE;
    for (unsigned l = 1; l <= glevels; l++) {
        uint64_t want = before[l];
        if (r == CPU_OK && !(c->g == GPAE && l == 3))
            want |= A | (l == 1 && write ? D : 0);
        uint64_t got = tget(&w.gt, guest_entry_gpa(&w, l));
        CHECK(got == want, "guest level %u entry %#llx, want %#llx", l,
              (unsigned long long)got, (unsigned long long)want);
    }
#undef CHECK
    world_free(&w);
    return bad;
}

static void test_fault_rows(void **state)
{
    (void)state;
    unsigned failures = 0;
    for (size_t i = 0; i < COUNT_OF(cases); i++)
        failures += run_case(i);
    EXPECT(failures == 0, "%u failed checks in %zu rows", failures,
           COUNT_OF(cases));
}

/* ---------------------------------------------- nested large pages -- */

/* A 4-level guest over nested tables made of large pages: the guest's
 * tables and its data go through them; A and D land in the large entry.
 * Then a reserved bit of that large entry, seen from a guest with paging
 * off (the final translation). */
static void check_large(enum hmode h, unsigned nleaf, uint64_t rsvd_bit)
{
    world w;
    world_build(&w, G4L, h, nleaf, 0);
    uint64_t phys;
    cpu_fault f;
    const char *hn = hnames[h];
    EXPECT(xl(&w, AW, &phys, &f) == CPU_OK && phys == DATA_GPA + HOFF + OFFS,
           "%s level-%u pages: res vector %u phys %#llx", hn, nleaf, f.vector,
           (unsigned long long)phys);
    uint64_t n = tget(&w.nt, nested_entry(&w, DATA_GPA, nleaf));
    EXPECT((n & (A | D | PS)) == (A | D | PS), "%s: large entry %#llx", hn,
           (unsigned long long)n);
    world_free(&w);

    world_build(&w, GOFF, h, nleaf, 0);
    nested_edit(&w, DATA_GPA, nleaf, rsvd_bit, 0);
    EXPECT(xl(&w, AR, &phys, &f) == CPU_FAULT, "%s: no RSVD NPF", hn);
    expect_npf(&f, FINAL | PG_ERR_P | PG_ERR_RSVD | PG_ERR_U, DATA_GPA + OFFS,
               hn);
    world_free(&w);
}

static void test_nested_large_pages(void **state)
{
    (void)state;
    check_large(H32, 2, B(13));   /* 4 MiB, no PSE-36: 21:13 reserved     */
    check_large(HPAE, 2, B(13));  /* 2 MiB: 20:13 reserved                */
    check_large(H4L, 2, B(20));
}

/* 1 GiB nested pages: a guest with paging off over a 1 GiB page at host
 * 1 GiB (only the nested tables need RAM). */
static void test_nested_1g_page(void **state)
{
    (void)state;
    world w;
    world_build(&w, GOFF, H4L, 1, 0);
    uint64_t pdpte = nested_entry(&w, 0, 3);
    tput(&w.nt, pdpte, 0x40000000ull | PRWUS | PS);
    paging_flush(w.cpu, false);
    uint64_t phys;
    cpu_fault f;
    assert_int_equal(xl(&w, AW, &phys, &f), CPU_OK);
    assert_int_equal(phys, 0x40000000ull + DATA_GPA + OFFS);
    assert_int_equal(tget(&w.nt, pdpte) & (A | D), A | D);
    tput(&w.nt, pdpte, tget(&w.nt, pdpte) | B(29));
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_FAULT);
    expect_npf(&f, FINAL | PG_ERR_P | PG_ERR_RSVD | PG_ERR_U, DATA_GPA + OFFS,
               "1G reserved");
    world_free(&w);
}

/* A 32-bit host with CR4.PSE = 0 ignores PS in a nested PDE: it still
 * points to a page table (APM Vol. 2 5.2). */
static void test_nested_pse_off(void **state)
{
    (void)state;
    world w;
    world_build(&w, GOFF, H32, 1, HPSE0);
    nested_edit(&w, DATA_GPA, 2, PS, 0);
    uint64_t phys;
    cpu_fault f;
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    assert_int_equal(phys, DATA_GPA + HOFF + OFFS);
    world_free(&w);
}

/* ------------------------------------------------- TLB and flushes -- */

/* The TLB keeps the combined translation with the nested rights: a write
 * through an entry a read filled under a read-only nested page is an NPF,
 * and the NPF drops the entry, so the retry walks. */
static void test_tlb_nested_rights(void **state)
{
    (void)state;
    world w;
    world_build(&w, G4L, H4L, 1, 0);
    uint64_t phys;
    cpu_fault f;
    nested_edit(&w, DATA_GPA, 1, 0, RW);
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    assert_int_equal(xl(&w, AW, &phys, &f), CPU_FAULT);
    expect_npf(&f, FINAL | PG_ERR_P | PG_ERR_W | PG_ERR_U, DATA_GPA + OFFS,
               "RO hit");
    /* The NPF dropped the entry: a now absent page faults, not hits. */
    nested_edit(&w, DATA_GPA, 1, 0, P);
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_FAULT);
    expect_npf(&f, FINAL | PG_ERR_U, DATA_GPA + OFFS, "after NPF");
    /* Made writable again: the write walks and sets D in both. */
    nested_edit(&w, DATA_GPA, 1, P | RW, 0);
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    assert_int_equal(tget(&w.nt, nested_entry(&w, DATA_GPA, 1)) & D, 0);
    assert_int_equal(xl(&w, AW, &phys, &f), CPU_OK);
    assert_int_equal(phys, DATA_GPA + HOFF + OFFS);
    assert_true(tget(&w.nt, nested_entry(&w, DATA_GPA, 1)) & D);
    assert_true(tget(&w.gt, guest_entry_gpa(&w, 1)) & D);
    world_free(&w);

    /* Guest D already set: D is known only once the nested leaf's is. */
    world_build(&w, G4L, H4L, 1, 0);
    uint64_t pte = guest_entry_gpa(&w, 1);
    tput(&w.gt, pte, tget(&w.gt, pte) | D);
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    assert_int_equal(xl(&w, AW, &phys, &f), CPU_OK);
    assert_true(tget(&w.nt, nested_entry(&w, DATA_GPA, 1)) & D);
    /* Both D set, and then the nested page made read-only without a
     * flush: a read refills the entry with the nested rights, and the
     * write that would hit it is an NPF. */
    nested_edit(&w, DATA_GPA, 1, 0, RW);
    paging_invlpg(w.cpu, w.lin);
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    assert_int_equal(xl(&w, AW, &phys, &f), CPU_FAULT);
    expect_npf(&f, FINAL | PG_ERR_P | PG_ERR_W | PG_ERR_U, DATA_GPA + OFFS,
               "RO, both D set");
    world_free(&w);
}

/* A changed nested mapping is not seen until INVLPG (or a flush) of the
 * guest's linear address drops the combined entry, as on hardware. */
static void test_tlb_invlpg_combined(void **state)
{
    (void)state;
    world w;
    world_build(&w, G4L, H4L, 1, 0);
    uint64_t phys;
    cpu_fault f;
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    uint64_t ea = nested_entry(&w, DATA_GPA, 1);
    tput(&w.nt, ea, (tget(&w.nt, ea) & ~0xfffff000ull) | 0x7f0000ull);
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    assert_int_equal(phys, DATA_GPA + HOFF + OFFS); /* stale, kept */
    paging_invlpg(w.cpu, w.lin);
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    assert_int_equal(phys, 0x7f0000ull + OFFS);
    world_free(&w);
}

/* A guest 2 MiB page over nested 4 KiB pages: each 4 KiB piece has its own
 * host page; INVLPG anywhere in the guest page drops every piece. */
static void test_guest_large_over_nested_small(void **state)
{
    (void)state;
    world w;
    world_build(&w, G4L, H4L, 1, 0);
    uint64_t lin2m = LIN64 & ~0x1fffffull;
    map(&w.gt, lin2m, 0x200000, 2, PRWUS);
    uint64_t phys;
    cpu_fault f;
    assert_int_equal(xl_at(&w, lin2m + 0x5123, AR, &phys, &f), CPU_OK);
    assert_int_equal(phys, 0x205123 + HOFF);
    uint64_t ea5 = nested_entry(&w, 0x205000, 1);
    uint64_t ea6 = nested_entry(&w, 0x206000, 1);
    tput(&w.nt, ea5, 0x7f0000ull | PRWUS);
    tput(&w.nt, ea6, 0x7f1000ull | PRWUS);
    assert_int_equal(xl_at(&w, lin2m + 0x6123, AR, &phys, &f), CPU_OK);
    assert_int_equal(phys, 0x7f1123ull);            /* a fresh walk */
    assert_int_equal(xl_at(&w, lin2m + 0x5123, AR, &phys, &f), CPU_OK);
    assert_int_equal(phys, 0x205123 + HOFF);         /* cached piece */
    paging_invlpg(w.cpu, lin2m + 0x1fffff);
    assert_int_equal(xl_at(&w, lin2m + 0x5123, AR, &phys, &f), CPU_OK);
    assert_int_equal(phys, 0x7f0123ull);
    world_free(&w);
}

/* Entries made in guest mode with nested paging are never used outside
 * it, nor the reverse (the TLB tag), even without a flush. */
static void test_tlb_world_tag(void **state)
{
    (void)state;
    world w;
    world_build(&w, G4L, H4L, 1, 0);
    uint64_t phys;
    cpu_fault f;
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    assert_int_equal(phys, DATA_GPA + HOFF + OFFS);
    w.cpu->svm.guest = false;   /* no flush on purpose */
    /* Now the guest's CR3 is walked as host-physical: it finds nothing
     * at HPA cr3 (the nested tables region holds other data). */
    cpu_res r = xl(&w, AR, &phys, &f);
    assert_true(r != CPU_OK || phys != DATA_GPA + HOFF + OFFS);
    world_free(&w);
}

/* ------------------------------------------------- PDPTEs and nCR3 -- */

/* A PAE guest under nested paging has no PDPTE registers: MOV CR3's load
 * checks nothing and loads nothing; each walk reads the PDPTEs. */
static void test_pae_guest_pdptes(void **state)
{
    (void)state;
    world w;
    world_build(&w, GPAE, H4L, 1, 0);
    uint64_t pdpte = guest_entry_gpa(&w, 3);
    tput(&w.gt, pdpte, tget(&w.gt, pdpte) | B(5)); /* reserved */
    cpu_fault f;
    memset(&f, 0, sizeof f);
    assert_int_equal(paging_load_pdptes(w.cpu, w.gt.root, &f), CPU_OK);
    assert_false(w.cpu->tlb.pdpte_loaded);
    uint64_t phys;
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_FAULT);
    assert_int_equal(f.vector, CPU_VEC_PF);
    assert_int_equal(f.error, PG_ERR_P | PG_ERR_RSVD);
    tput(&w.gt, pdpte, tget(&w.gt, pdpte) & ~B(5));
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    assert_int_equal(phys, DATA_GPA + HOFF + OFFS);
    assert_int_equal(tget(&w.gt, pdpte) & A, 0); /* PDPTEs have no A */
    world_free(&w);
}

/* The root's low bits are ignored as CR3's are in the host's mode: 4:0
 * with a PAE host (the nested PDPT is 32-byte aligned), 11:0 otherwise. */
static void test_ncr3_low_bits(void **state)
{
    (void)state;
    static const struct { enum hmode h; uint64_t low; } rows[] = {
        { H32, 0xfff }, { HPAE, 0x1f }, { H4L, 0xfff },
    };
    for (size_t i = 0; i < COUNT_OF(rows); i++) {
        world w;
        world_build(&w, G4L, rows[i].h, 1, 0);
        svmx_vmcb_set(&w.cpu->svm.vmcb, SVMX_VMCB_N_CR3,
                      w.nt.root | rows[i].low);
        uint64_t phys;
        cpu_fault f;
        EXPECT(xl(&w, AR, &phys, &f) == CPU_OK &&
               phys == DATA_GPA + HOFF + OFFS, "%s: vector %u",
               hnames[rows[i].h], f.vector);
        world_free(&w);
    }
}

/* -------------------------------------------- the interface itself -- */

static void test_fault_encoding(void **state)
{
    (void)state;
    cpu_fault f;
    uint64_t info1 = NPT_INFO1_TABLES | 0xf, info2 = 0x000fedcba9876543ull;
    assert_int_equal(npt_raise(&f, info1, info2), CPU_FAULT);
    assert_true(npt_fault_is_npf(&f));
    assert_false(f.has_error);
    assert_int_equal(npt_fault_exitinfo1(&f), info1);
    assert_int_equal(npt_fault_exitinfo2(&f), info2);
    assert_int_equal(npt_exitinfo1(0x7, PG_STAGE_FINAL), 0x100000007ull);
    assert_int_equal(npt_exitinfo1(0x6, PG_STAGE_TABLES), 0x200000006ull);
    /* Exceptions and software interrupts, even INT 0xFF, are not NPFs. */
    cpu_raise(&f, CPU_VEC_PF, true, 0);
    assert_false(npt_fault_is_npf(&f));
    cpu_raise_soft(&f, 0xff, CPU_EV_SOFTINT, 2);
    assert_false(npt_fault_is_npf(&f));
}

static void test_vmcb_fields(void **state)
{
    (void)state;
    world w;
    world_build(&w, GOFF, H4L, 1, 0);
    svmx_vmcb_set(&w.cpu->svm.vmcb, SVMX_VMCB_G_PAT, 0x0007040600070406ull);
    assert_int_equal(npt_g_pat(w.cpu), 0x0007040600070406ull);
    assert_int_equal(npt_ncr3(w.cpu), w.nt.root);
    world_free(&w);
}

/* Nested paging applies only in guest mode with NP_ENABLE. */
static void test_only_guest_with_np(void **state)
{
    (void)state;
    world w;
    world_build(&w, GOFF, H4L, 1, 0);
    uint64_t phys;
    cpu_fault f;
    w.cpu->svm.np = false;
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    assert_int_equal(phys, DATA_GPA + OFFS);
    w.cpu->svm.np = true;
    w.cpu->svm.guest = false;
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    assert_int_equal(phys, DATA_GPA + OFFS);
    w.cpu->svm.guest = true;
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_OK);
    assert_int_equal(phys, DATA_GPA + HOFF + OFFS);
    world_free(&w);
}

/* Saved host state without paging (which VMRUN refuses with NP_ENABLE)
 * is an internal error, never a crash or an identity map. */
static void test_host_without_paging(void **state)
{
    (void)state;
    world w;
    world_build(&w, GOFF, H4L, 1, 0);
    w.cpu->svm.host.cr0 &= ~CPU_CR0_PG;
    uint64_t phys;
    cpu_fault f;
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_STOP);
    assert_int_equal(w.cpu->tlb.stop.status, SVMX_E_INTERNAL);
    world_free(&w);
}

/* Nested tables outside RAM read as all ones: reserved bits in 4-level
 * format, an NPF with RSVD, never a read outside the buffer. */
static void test_ncr3_outside_ram(void **state)
{
    (void)state;
    world w;
    world_build(&w, GOFF, H4L, 1, 0);
    svmx_vmcb_set(&w.cpu->svm.vmcb, SVMX_VMCB_N_CR3, 0x0000fff000000000ull);
    uint64_t phys;
    cpu_fault f;
    assert_int_equal(xl(&w, AR, &phys, &f), CPU_FAULT);
    expect_npf(&f, FINAL | PG_ERR_P | PG_ERR_RSVD | PG_ERR_U, DATA_GPA + OFFS,
               "outside RAM");
    world_free(&w);
}

/* ------------------------------------- the run loop and the hostmap -- */

/*
 * Guest code run by svmx_cpu_run() in guest mode with nested paging:
 * guest-physical [0, 0x20000) is at host 0x80000 + gpa, the nested tables
 * at host 0xF0000, and host [0, 0x20000) is overwritten with HLT bytes. A
 * fetch or data access that skipped the nested dimension - in the slow
 * path or in a hostmap hit of the loop - would read them.
 */
#define RUN_HOFF 0x80000ull
#define RUN_NPT  0xf0000ull

static void enter_nested(void)
{
    memcpy(m.ram + RUN_HOFF, m.ram, 0x20000);
    memset(m.ram, 0xf4, 0x20000);
    /* 4-level nested tables: PML4 F0000, PDPT F1000, PD F2000, PT F3000. */
    put64(RUN_NPT, (RUN_NPT + 0x1000) | PRWUS);
    put64(RUN_NPT + 0x1000, (RUN_NPT + 0x2000) | PRWUS);
    put64(RUN_NPT + 0x2000, (RUN_NPT + 0x3000) | PRWUS);
    for (uint64_t gpa = 0; gpa < 0x20000; gpa += 0x1000)
        put64(RUN_NPT + 0x3000 + (gpa >> 12) * 8, (gpa + RUN_HOFF) | PRWUS);
    svmx_cpu *cpu = m.cpu;
    cpu->svm.host.cr0 = CPU_CR0_PE | CPU_CR0_ET | CPU_CR0_PG;
    cpu->svm.host.cr4 = CPU_CR4_PAE;
    cpu->svm.host.efer = CPU_EFER_SVME | CPU_EFER_LME | CPU_EFER_LMA |
                         CPU_EFER_NXE;
    svmx_vmcb_set(&cpu->svm.vmcb, SVMX_VMCB_N_CR3, RUN_NPT);
    cpu->svm.guest = true;
    cpu->svm.np = true;
    paging_reset(cpu);
    put64(RUN_HOFF + 0x9000, 0x11111111);
}

static void check_run(void)
{
    svmx_stop st = run(100);
    assert_int_equal(st.reason, SVMX_STOP_HLT);
    assert_int_equal(reg(SVMX_RAX), 0x33333333);
    assert_int_equal(get(RUN_HOFF + 0x9004, 4), 0x33333333);
    assert_int_equal(get(0x9004, 4), 0xf4f4f4f4);
    /* Guest A/D bits of the run's accesses are in host memory at +HOFF. */
    assert_int_equal(get(RUN_NPT + 0x3000 + 9 * 8, 8) & (A | D), A | D);
}

/* 32-bit protected mode, guest paging off. */
static void test_run_guest_unpaged(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xb9, 0x03, 0x00, 0x00, 0x00,             /* mov ecx, 3        */
        0x03, 0x05, 0x00, 0x90, 0x00, 0x00,       /* l: add eax, [9000h] */
        0xa3, 0x04, 0x90, 0x00, 0x00,             /* mov [9004h], eax  */
        0x49,                                     /* dec ecx           */
        0x75, 0xf2,                               /* jnz l             */
        0xf4,                                     /* hlt               */
    };
    boot_protected(code, sizeof code, false);
    enter_nested();
    check_run();
    assert_int_equal(rip(), 0x7c00 + sizeof code);
}

/* 64-bit mode: the guest's tables (a 2 MiB identity page at guest 0x10000)
 * go through the nested tables too. */
static void test_run_guest_long(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xb9, 0x03, 0x00, 0x00, 0x00,             /* mov ecx, 3        */
        0x03, 0x04, 0x25, 0x00, 0x90, 0x00, 0x00, /* l: add eax, [9000h] */
        0x89, 0x04, 0x25, 0x04, 0x90, 0x00, 0x00, /* mov [9004h], eax  */
        0xff, 0xc9,                               /* dec ecx           */
        0x75, 0xee,                               /* jnz l             */
        0xf4,                                     /* hlt               */
    };
    boot_long(code, sizeof code, false);
    enter_nested();
    check_run();
    assert_int_equal(rip(), 0x7c00 + sizeof code);
    assert_int_equal(get(RUN_HOFF + 0x12000, 8) & A, A); /* guest PDE */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_combinations),
        cmocka_unit_test(test_fault_rows),
        cmocka_unit_test(test_nested_large_pages),
        cmocka_unit_test(test_nested_1g_page),
        cmocka_unit_test(test_nested_pse_off),
        cmocka_unit_test(test_tlb_nested_rights),
        cmocka_unit_test(test_tlb_invlpg_combined),
        cmocka_unit_test(test_guest_large_over_nested_small),
        cmocka_unit_test(test_tlb_world_tag),
        cmocka_unit_test(test_pae_guest_pdptes),
        cmocka_unit_test(test_ncr3_low_bits),
        cmocka_unit_test(test_fault_encoding),
        cmocka_unit_test(test_vmcb_fields),
        cmocka_unit_test(test_only_guest_with_np),
        cmocka_unit_test(test_host_without_paging),
        cmocka_unit_test(test_ncr3_outside_ram),
        cmocka_unit_test_teardown(test_run_guest_unpaged, fixture_teardown),
        cmocka_unit_test_teardown(test_run_guest_long, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
