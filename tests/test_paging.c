/*
 * tests/test_paging.c - the page walker, #PF error codes, accessed and
 * dirty bits, the PAE PDPTE registers and the software TLB (cpu/paging.h).
 *
 * Every test builds its page tables by hand in a RAM buffer. The walker
 * cases are rows in vectors/paging_cases.inc, run by one loop that names
 * the failing row, twice: once on a fresh CPU (a walk) and once after a
 * permissive access has filled the TLB (a hit must answer as a walk
 * would). Behaviours that need a sequence of steps (TLB invalidation, the
 * PDPTE registers, MMIO) are separate tests.
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
#include "test_util.h"

/* ---------------------------------------------------------- the rows -- */

enum shape { G32_4K, GPSE_4K, GPSE_4M, GPAE_4K, GPAE_2M, G4L_4K, G4L_2M,
             G4L_1G };

#define V_AMD   (1u << SVMX_VENDOR_AMD)
#define V_INTEL (1u << SVMX_VENDOR_INTEL)
#define V_BOTH  (V_AMD | V_INTEL)

#define C0   0x00u
#define WP   0x01u
#define NXE  0x02u
#define SMEP 0x04u
#define SMAP 0x08u
#define AC   0x10u
#define PGE  0x20u

#define AR PG_READ
#define AW PG_WRITE
#define AX PG_EXEC
#define AU PG_USER
#define AI PG_SUPERVISOR_IMPLICIT

#define B(n) (1ull << (n))
#define BP   B(0)
#define BRW  B(1)
#define BUS  B(2)
#define BA   B(5)
#define BD   B(6)
#define BPS  B(7)
#define BG   B(8)
#define BXD  B(63)

#define EP PG_ERR_P
#define EW PG_ERR_W
#define EU PG_ERR_U
#define ER PG_ERR_RSVD
#define EI PG_ERR_ID

#define OK    (-1)
#define GP    (-2)
#define PF(e) ((int)(e))

typedef struct paging_case {
    enum shape  shape;
    unsigned    vendors, ctl, level;
    uint64_t    set, clr;
    unsigned    acc;
    int         expect;
    const char *text;
} paging_case;

static const paging_case cases[] = {
#define CASE(shape, v, ctl, lvl, set, clr, acc, exp)                          \
    { shape, v, ctl, lvl, set, clr, acc, exp,                                 \
      #shape " " #v " " #ctl " level " #lvl " set " #set " clear " #clr      \
      " " #acc " -> " #exp },
#include "vectors/paging_cases.inc"
#undef CASE
};

/* ------------------------------------------------- building the tables -- */

static uint8_t ram[0x10000];

#define LIN32 0x92345abcull          /* PDPT 2, PD 0x91/0x248, PT 0x145/0x345 */
#define LIN64 0xffffc9a7b2345abcull  /* canonical, every index non-zero   */
#define F4K32 0x00abc000ull
#define F4M   0x00c00000ull
#define F4K   0x0000001234567000ull  /* frames above 4 GiB for PAE/4-level */
#define F2M   0x0000001234600000ull
#define F1G   0x0000001240000000ull
#define USER_RW (BP | BRW | BUS)

static void put(uint64_t gpa, unsigned w, uint64_t v)
{
    for (unsigned i = 0; i < w; i++)
        ram[gpa + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(uint64_t gpa, unsigned w)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < w; i++)
        v |= (uint64_t)ram[gpa + i] << (8 * i);
    return v;
}

/* A hierarchy mapping `lin` to `phys`; gpa[L] is the level-L entry. */
typedef struct built {
    uint64_t gpa[PG_LEVELS + 1];
    unsigned top, leaf, w;
    bool     pae;
    uint64_t lin, phys, cr3;
} built;

static bool is_pae(enum shape s) { return s == GPAE_4K || s == GPAE_2M; }
static bool is_4l(enum shape s)
{
    return s == G4L_4K || s == G4L_2M || s == G4L_1G;
}

static unsigned leaf_of(enum shape s)
{
    switch (s) {
    case GPSE_4M: case GPAE_2M: case G4L_2M: return 2;
    case G4L_1G: return 3;
    default: return 1;
    }
}

static void build(enum shape s, built *b)
{
    memset(ram, 0, sizeof ram);
    memset(b, 0, sizeof *b);
    b->leaf = leaf_of(s);
    b->pae = is_pae(s);
    unsigned bits;
    uint64_t base;
    if (s == G32_4K || s == GPSE_4K || s == GPSE_4M) {
        b->w = 4, b->top = 2, bits = 10, b->lin = LIN32, base = 0x1000;
    } else if (b->pae) {
        b->w = 8, b->top = 3, bits = 9, b->lin = LIN32, base = 0x1fe0;
    } else {
        b->w = 8, b->top = 4, bits = 9, b->lin = LIN64, base = 0x1000;
    }
    b->cr3 = base;
    uint64_t next = 0x2000;
    for (unsigned l = b->top; l >= b->leaf; l--) {
        unsigned shift = 12 + bits * (l - 1);
        uint64_t idx = (b->lin >> shift) & ((1ull << bits) - 1);
        if (b->pae && l == 3)
            idx &= 3;
        b->gpa[l] = base + idx * b->w;
        if (l == b->leaf) {
            static const uint64_t frames8[] = { 0, F4K, F2M, F1G };
            uint64_t frame = b->w == 4 ? (l == 1 ? F4K32 : F4M) : frames8[l];
            put(b->gpa[l], b->w, frame | USER_RW | (l > 1 ? BPS : 0));
            b->phys = frame | (b->lin & ((1ull << shift) - 1));
            break;
        }
        /* PAE PDPTEs have no R/W or U/S (bits 2:1 are reserved). */
        put(b->gpa[l], b->w, next | (b->pae && l == 3 ? BP : USER_RW));
        base = next;
        next += 0x1000;
    }
}

static svmx_cpu *make_cpu(svmx_vendor v, const svmx_io_ops *io)
{
    svmx_config cfg = { .vendor = v, .ram = ram, .ram_size = sizeof ram,
                        .io = io };
    svmx_cpu *cpu = NULL;
    assert_int_equal(svmx_cpu_create(&cfg, &cpu), SVMX_OK);
    return cpu;
}

/* CR0/CR4/EFER/CR3/RFLAGS for a shape and a set of controls. */
static void set_controls(svmx_cpu *cpu, enum shape s, unsigned ctl,
                         uint64_t cr3)
{
    svmx_sregs sr;
    assert_int_equal(svmx_cpu_get_sregs(cpu, &sr), SVMX_OK);
    sr.cr0 = CPU_CR0_PE | CPU_CR0_ET | CPU_CR0_PG;
    if (ctl & WP)
        sr.cr0 |= CPU_CR0_WP;
    sr.cr4 = 0;
    if (s == GPSE_4K || s == GPSE_4M)
        sr.cr4 |= CPU_CR4_PSE;
    if (is_pae(s) || is_4l(s))
        sr.cr4 |= CPU_CR4_PAE;
    if (ctl & SMEP)
        sr.cr4 |= CPU_CR4_SMEP;
    if (ctl & SMAP)
        sr.cr4 |= CPU_CR4_SMAP;
    if (ctl & PGE)
        sr.cr4 |= CPU_CR4_PGE;
    sr.efer = is_4l(s) ? CPU_EFER_LME | CPU_EFER_LMA : 0;
    if (ctl & NXE)
        sr.efer |= CPU_EFER_NXE;
    sr.cr3 = cr3;
    assert_int_equal(svmx_cpu_set_sregs(cpu, &sr), SVMX_OK);

    svmx_regs r;
    assert_int_equal(svmx_cpu_get_regs(cpu, &r), SVMX_OK);
    r.rflags = SVMX_RFLAGS_FIXED | ((ctl & AC) ? SVMX_RFLAGS_AC : 0);
    assert_int_equal(svmx_cpu_set_regs(cpu, &r), SVMX_OK);
}

/* --------------------------------------------------------- the loop -- */

/* Runs one row on one vendor; returns the number of failed checks. */
static unsigned run_case(size_t i, svmx_vendor v, bool prefill)
{
    const paging_case *c = &cases[i];
    const char *how = prefill ? "tlb" : "walk";
    unsigned bad = 0;
    built b;
    build(c->shape, &b);
    if (c->level) {
        uint64_t e = get(b.gpa[c->level], b.w);
        put(b.gpa[c->level], b.w, (e | c->set) & ~c->clr);
    }

    svmx_cpu *cpu = make_cpu(v, NULL);
    cpu_fault f;
    uint64_t phys = 0;
    if (prefill) {
        /* A supervisor read with SMAP off: allowed wherever a translation
         * exists. The row's controls then apply without a flush. */
        set_controls(cpu, c->shape, c->ctl & ~SMAP, b.cr3);
        if (b.pae)
            (void)paging_load_pdptes(cpu, b.cr3, &f);
        (void)paging_translate(cpu, b.lin, AR, &phys, &f);
    }
    uint64_t before[PG_LEVELS + 1] = { 0 };
    for (unsigned l = b.leaf; l <= b.top; l++)
        before[l] = get(b.gpa[l], b.w);
    set_controls(cpu, c->shape, c->ctl, b.cr3);

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            print_error("row %zu [%s, %s] %s: ", i, svmx_vendor_name(v), how, \
                        c->text);                                             \
            print_error(__VA_ARGS__);                                         \
            print_error("\n");                                                \
            bad++;                                                            \
        }                                                                     \
    } while (0)

    if (b.pae) {
        memset(&f, 0, sizeof f);
        cpu_res r = paging_load_pdptes(cpu, b.cr3, &f);
        if (c->expect == GP) {
            CHECK(r == CPU_FAULT && f.vector == CPU_VEC_GP && f.has_error &&
                  f.error == 0, "PDPTE load: res %d vector %u error %#x", r,
                  f.vector, f.error);
            svmx_cpu_destroy(cpu);
            return bad;
        }
        CHECK(r == CPU_OK, "PDPTE load: res %d vector %u", r, f.vector);
    }
    CHECK(c->expect != GP, "expects #GP but has no PDPTEs");

    memset(&f, 0, sizeof f);
    phys = 0;
    cpu_res r = paging_translate(cpu, b.lin, c->acc, &phys, &f);
    bool write = (c->acc & PG_KIND_MASK) == PG_WRITE;
    if (c->expect == OK) {
        CHECK(r == CPU_OK, "res %d, #PF error %#x", r, f.error);
        CHECK(phys == b.phys, "phys %#llx, want %#llx",
              (unsigned long long)phys, (unsigned long long)b.phys);
    } else if (c->expect != GP) {
        CHECK(r == CPU_FAULT, "res %d, want #PF", r);
        CHECK(f.vector == CPU_VEC_PF && f.has_error,
              "vector %u has_error %d", f.vector, f.has_error);
        CHECK(f.error == (uint32_t)c->expect, "error %#x, want %#x", f.error,
              (unsigned)c->expect);
        CHECK(f.payload == b.lin, "CR2 %#llx", (unsigned long long)f.payload);
    }
    /* SDM Vol. 3A 4.8: A in every entry in memory, D in the leaf on a
     * write, and nothing at all when the access faults. */
    for (unsigned l = b.leaf; l <= b.top; l++) {
        uint64_t want = before[l];
        if (r == CPU_OK && !(b.pae && l == 3))
            want |= BA | (l == b.leaf && write ? BD : 0);
        uint64_t got = get(b.gpa[l], b.w);
        CHECK(got == want, "level %u entry %#llx, want %#llx", l,
              (unsigned long long)got, (unsigned long long)want);
    }
#undef CHECK
    svmx_cpu_destroy(cpu);
    return bad;
}

static void test_cases(void **state)
{
    (void)state;
    unsigned failures = 0;
    for (size_t i = 0; i < COUNT_OF(cases); i++)
        for (unsigned v = 0; v < SVMX_VENDOR_COUNT; v++)
            if (cases[i].vendors & (1u << v))
                for (int pass = 0; pass < 2; pass++)
                    failures += run_case(i, (svmx_vendor)v, pass == 1);
    EXPECT(failures == 0, "%u failed checks in %zu rows", failures,
           COUNT_OF(cases));
}

/* ------------------------------------------------------- sequences -- */

static cpu_res xlate(svmx_cpu *cpu, uint64_t lin, unsigned acc,
                     uint64_t *phys, cpu_fault *f)
{
    memset(f, 0, sizeof *f);
    *phys = 0;
    return paging_translate(cpu, lin, acc, phys, f);
}

static uint64_t must_xlate(svmx_cpu *cpu, uint64_t lin, unsigned acc)
{
    uint64_t phys;
    cpu_fault f;
    cpu_res r = xlate(cpu, lin, acc, &phys, &f);
    EXPECT(r == CPU_OK, "translate %#llx: res %d error %#x",
           (unsigned long long)lin, r, f.error);
    return phys;
}

static void must_fault(svmx_cpu *cpu, uint64_t lin, unsigned acc,
                       uint32_t error)
{
    uint64_t phys;
    cpu_fault f;
    cpu_res r = xlate(cpu, lin, acc, &phys, &f);
    EXPECT(r == CPU_FAULT && f.vector == CPU_VEC_PF && f.error == error &&
               f.payload == lin,
           "translate %#llx: res %d vector %u error %#x, want #PF %#x",
           (unsigned long long)lin, r, f.vector, f.error, error);
}

static void test_no_paging(void **state)
{
    (void)state;
    build(G4L_4K, &(built){ 0 });
    svmx_cpu *cpu = make_cpu(SVMX_VENDOR_INTEL, NULL);
    uint8_t copy[sizeof ram];
    memcpy(copy, ram, sizeof ram);
    /* Reset state: CR0.PG = 0, linear = physical, no memory touched. */
    assert_int_equal(must_xlate(cpu, 0x123456789abcull, AW),
                     0x123456789abcull);
    assert_memory_equal(copy, ram, sizeof ram);
    svmx_cpu_destroy(cpu);
}

/* A hit answers from the TLB until INVLPG, even after memory changed. */
static void test_tlb_hit_then_invlpg(void **state)
{
    (void)state;
    built b;
    build(G4L_4K, &b);
    svmx_cpu *cpu = make_cpu(SVMX_VENDOR_AMD, NULL);
    set_controls(cpu, G4L_4K, C0, b.cr3);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
    put(b.gpa[1], 8, (F4K + 0x5000) | USER_RW);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
    paging_invlpg(cpu, b.lin + 0x1000); /* another page: no effect */
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
    paging_invlpg(cpu, b.lin);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys + 0x5000);
    svmx_cpu_destroy(cpu);
}

/* INVLPG anywhere in a large page drops every 4 KiB piece cached from it. */
static void invlpg_large(enum shape s, uint64_t size, uint64_t new_frame)
{
    built b;
    build(s, &b);
    svmx_cpu *cpu = make_cpu(SVMX_VENDOR_INTEL, NULL);
    set_controls(cpu, s, C0, b.cr3);
    uint64_t page = b.lin & ~(size - 1), off = b.phys & (size - 1);
    uint64_t base = b.phys - off;
    uint64_t other = page + 0x7000; /* another 4 KiB piece, another slot */
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
    assert_int_equal(must_xlate(cpu, other, AR), base + 0x7000);

    uint64_t e = get(b.gpa[b.leaf], b.w);
    put(b.gpa[b.leaf], b.w, (e & (size - 1)) | new_frame);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
    assert_int_equal(must_xlate(cpu, other, AR), base + 0x7000);

    paging_invlpg(cpu, page + size - 1); /* the last byte of the page */
    assert_int_equal(must_xlate(cpu, b.lin, AR), new_frame + off);
    assert_int_equal(must_xlate(cpu, other, AR), new_frame + 0x7000);
    svmx_cpu_destroy(cpu);
}

static void test_invlpg_large_pages(void **state)
{
    (void)state;
    invlpg_large(GPSE_4M, 1ull << 22, 0x01000000ull);
    invlpg_large(GPAE_2M, 1ull << 21, 0x0000000abc200000ull);
    invlpg_large(G4L_2M, 1ull << 21, 0x0000000abc200000ull);
    invlpg_large(G4L_1G, 1ull << 30, 0x0000004000000000ull);
}

/* MOV CR3 keeps global translations (CR4.PGE = 1, G = 1) only. */
static void test_flush_keep_global(void **state)
{
    (void)state;
    for (int pge = 0; pge < 2; pge++) {
        built b;
        build(G4L_4K, &b);
        uint64_t lin2 = b.lin + 0x1000, gpa2 = b.gpa[1] + 8;
        put(b.gpa[1], 8, F4K | USER_RW | BG);          /* global page */
        put(gpa2, 8, (F4K + 0x1000) | USER_RW);        /* non-global  */
        svmx_cpu *cpu = make_cpu(SVMX_VENDOR_AMD, NULL);
        set_controls(cpu, G4L_4K, pge ? PGE : C0, b.cr3);
        assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
        assert_int_equal(must_xlate(cpu, lin2, AR), b.phys + 0x1000);

        put(b.gpa[1], 8, (F4K + 0x10000) | USER_RW | BG);
        put(gpa2, 8, (F4K + 0x11000) | USER_RW);
        paging_flush(cpu, true);
        assert_int_equal(must_xlate(cpu, b.lin, AR),
                         pge ? b.phys : b.phys + 0x10000);
        assert_int_equal(must_xlate(cpu, lin2, AR), b.phys + 0x11000);

        paging_flush(cpu, false);
        assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys + 0x10000);
        svmx_cpu_destroy(cpu);
    }
}

/*
 * CR0.WP, SMAP and RFLAGS.AC change after the TLB was filled: the hit
 * applies today's controls at once, and after the flush the caller owes
 * for CR0/CR4 changes (paging.h) the answer is the same.
 */
static void test_controls_apply_to_hits(void **state)
{
    (void)state;
    built b;
    build(G4L_4K, &b);
    put(b.gpa[1], 8, F4K | BP | BUS);                  /* read-only, user */
    svmx_cpu *cpu = make_cpu(SVMX_VENDOR_INTEL, NULL);
    set_controls(cpu, G4L_4K, C0, b.cr3);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);

    set_controls(cpu, G4L_4K, WP, b.cr3);
    must_fault(cpu, b.lin, AW, EP | EW);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
    paging_flush(cpu, false);
    must_fault(cpu, b.lin, AW, EP | EW);
    set_controls(cpu, G4L_4K, C0, b.cr3);
    paging_flush(cpu, false);
    assert_int_equal(must_xlate(cpu, b.lin, AW), b.phys);

    set_controls(cpu, G4L_4K, SMAP, b.cr3);
    must_fault(cpu, b.lin, AR, EP);
    set_controls(cpu, G4L_4K, C0, b.cr3);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys); /* refill */
    set_controls(cpu, G4L_4K, SMAP, b.cr3);
    paging_flush(cpu, false);
    must_fault(cpu, b.lin, AR, EP);
    set_controls(cpu, G4L_4K, SMAP | AC, b.cr3);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
    must_fault(cpu, b.lin, AR | AI, EP);
    assert_int_equal(must_xlate(cpu, b.lin, AR | AU), b.phys);
    svmx_cpu_destroy(cpu);
}

/* A read caches D = 0; the first write walks again and sets D. */
static void test_dirty_on_first_write(void **state)
{
    (void)state;
    static const enum shape shapes[] = { G32_4K, GPSE_4M, GPAE_4K, G4L_2M };
    for (size_t k = 0; k < COUNT_OF(shapes); k++) {
        built b;
        build(shapes[k], &b);
        svmx_cpu *cpu = make_cpu(SVMX_VENDOR_AMD, NULL);
        set_controls(cpu, shapes[k], C0, b.cr3);
        uint64_t leaf = get(b.gpa[b.leaf], b.w);
        assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
        assert_int_equal(get(b.gpa[b.leaf], b.w), leaf | BA);
        assert_int_equal(must_xlate(cpu, b.lin, AW), b.phys);
        assert_int_equal(get(b.gpa[b.leaf], b.w), leaf | BA | BD);

        /* Software clears D without INVLPG: the TLB knows D is set, so
         * the CPU need not set it again (SDM Vol. 3A 4.8). */
        put(b.gpa[b.leaf], b.w, leaf | BA);
        assert_int_equal(must_xlate(cpu, b.lin, AW), b.phys);
        assert_int_equal(get(b.gpa[b.leaf], b.w), leaf | BA);
        paging_invlpg(cpu, b.lin);
        assert_int_equal(must_xlate(cpu, b.lin, AW), b.phys);
        assert_int_equal(get(b.gpa[b.leaf], b.w), leaf | BA | BD);
        svmx_cpu_destroy(cpu);
    }
}

/* A #PF drops the TLB entries for its address (SDM Vol. 3A 4.10.4.1). */
static void test_fault_invalidates(void **state)
{
    (void)state;
    built b;
    build(G4L_4K, &b);
    put(b.gpa[1], 8, F4K | BP | BUS);
    svmx_cpu *cpu = make_cpu(SVMX_VENDOR_INTEL, NULL);
    set_controls(cpu, G4L_4K, WP, b.cr3);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
    put(b.gpa[1], 8, (F4K + 0x3000) | USER_RW);        /* no INVLPG */
    must_fault(cpu, b.lin, AW, EP | EW);               /* from the TLB */
    assert_int_equal(must_xlate(cpu, b.lin, AW), b.phys + 0x3000);
    svmx_cpu_destroy(cpu);
}

/* Entries are tagged with the paging mode: no hit across a mode change
 * even if the caller forgot to flush. */
static void test_mode_tag(void **state)
{
    (void)state;
    built b;
    build(GPAE_4K, &b);
    svmx_cpu *cpu = make_cpu(SVMX_VENDOR_AMD, NULL);
    set_controls(cpu, GPAE_4K, C0, b.cr3);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
    /* Same CR3 as a 32-bit page directory: nothing is mapped there. */
    set_controls(cpu, G32_4K, C0, 0x3000);
    must_fault(cpu, b.lin, AR, 0);
    /* XD with NXE = 1 cached; NXE = 0 makes it a reserved bit. */
    put(b.gpa[1], 8, F4K | USER_RW | BXD);
    set_controls(cpu, GPAE_4K, NXE, b.cr3);
    paging_flush(cpu, false);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
    set_controls(cpu, GPAE_4K, C0, b.cr3);
    must_fault(cpu, b.lin, AR, EP | ER);
    svmx_cpu_destroy(cpu);
}

/* The PDPTE registers are what MOV CR3 loaded, not today's memory. */
static void test_pdpte_registers(void **state)
{
    (void)state;
    built b;
    build(GPAE_4K, &b);
    uint64_t pdpte = get(b.gpa[3], 8);
    /* A second page directory at 0x5000 maps the same index elsewhere. */
    put(0x5000 + (b.gpa[2] & 0xfff), 8, 0x6000 | USER_RW);
    put(0x6000 + (b.gpa[1] & 0xfff), 8, (F4K + 0x8000) | USER_RW);
    svmx_cpu *cpu = make_cpu(SVMX_VENDOR_INTEL, NULL);
    cpu_fault f;
    set_controls(cpu, GPAE_4K, C0, b.cr3);
    assert_int_equal(paging_load_pdptes(cpu, b.cr3, &f), CPU_OK);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);

    put(b.gpa[3], 8, 0x5000 | BP);
    paging_flush(cpu, false);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys); /* cached */
    assert_int_equal(paging_load_pdptes(cpu, b.cr3, &f), CPU_OK);
    paging_flush(cpu, false);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys + 0x8000);

    /* Reserved bit in a present PDPTE: #GP(0), registers unchanged. A
     * not-present PDPTE may hold anything (SDM Vol. 3A 4.4.1). */
    put(b.gpa[3] ^ 8, 8, 0xfffffffffffffffeull);
    put(b.gpa[3], 8, pdpte | B(5));
    memset(&f, 0, sizeof f);
    assert_int_equal(paging_load_pdptes(cpu, b.cr3, &f), CPU_FAULT);
    assert_int_equal(f.vector, CPU_VEC_GP);
    assert_true(f.has_error);
    assert_int_equal(f.error, 0);
    paging_flush(cpu, false);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys + 0x8000);

    /* State set from outside (no MOV CR3): loaded lazily at the first
     * walk; a reserved bit is then a #PF with RSVD. */
    paging_reset(cpu);
    must_fault(cpu, b.lin, AR, EP | ER);
    put(b.gpa[3], 8, pdpte & ~BP);
    paging_reset(cpu);
    must_fault(cpu, b.lin, AW | AU, EW | EU);
    put(b.gpa[3], 8, pdpte);
    paging_reset(cpu);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
    /* A different CR3 from the state API is noticed as well. */
    put(0x7000 + (b.gpa[3] & 0x1f), 8, 0x5000 | BP);
    set_controls(cpu, GPAE_4K, C0, 0x7000);
    paging_flush(cpu, false);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys + 0x8000);
    svmx_cpu_destroy(cpu);
}

/* Tables outside RAM without a handler read as all-ones, as on a bus
 * with nothing there: reserved bits, or a mapping of the last page. */
static void test_tables_outside_ram(void **state)
{
    (void)state;
    svmx_cpu *cpu = make_cpu(SVMX_VENDOR_AMD, NULL);
    memset(ram, 0, sizeof ram);
    set_controls(cpu, G4L_4K, C0, 0x100000);
    must_fault(cpu, LIN64, AR, EP | ER);
    set_controls(cpu, GPSE_4M, C0, 0x100000);
    paging_flush(cpu, false);
    must_fault(cpu, LIN32, AR, EP | ER);               /* PS=1, 21:13 set */
    set_controls(cpu, G32_4K, C0, 0x100000);
    paging_flush(cpu, false);
    assert_int_equal(must_xlate(cpu, LIN32, AW | AU), 0xfffffabcull);
    svmx_cpu_destroy(cpu);
}

/* MMIO: a page directory at 0x100000 served by a handler. */
typedef struct mmio_dev {
    uint32_t    pde;
    svmx_status read_status, write_status;
    unsigned    writes;
} mmio_dev;

static svmx_status dev_read(void *ctx, uint64_t gpa, unsigned size,
                            uint64_t *value)
{
    mmio_dev *d = ctx;
    uint64_t pde_gpa = 0x100000 + 4 * ((LIN32 >> 22) & 0x3ff);
    *value = gpa == pde_gpa && size == 4 ? d->pde : 0;
    return d->read_status;
}

static svmx_status dev_write(void *ctx, uint64_t gpa, unsigned size,
                             uint64_t value)
{
    mmio_dev *d = ctx;
    (void)gpa, (void)size, (void)value;
    d->writes++;
    return d->write_status;
}

static void test_mmio_tables(void **state)
{
    (void)state;
    mmio_dev dev = { .pde = 0x2000 | USER_RW, .read_status = SVMX_OK,
                     .write_status = SVMX_OK };
    svmx_io_ops io = { .ctx = &dev, .mmio_read = dev_read,
                       .mmio_write = dev_write };
    svmx_cpu *cpu = make_cpu(SVMX_VENDOR_INTEL, &io);
    memset(ram, 0, sizeof ram);
    uint64_t pte = 0x2000 + 4 * ((LIN32 >> 12) & 0x3ff);
    put(pte, 4, F4K32 | USER_RW);
    uint64_t pde_gpa = 0x100000 + 4 * ((LIN32 >> 22) & 0x3ff);
    set_controls(cpu, G32_4K, C0, 0x100000);

    /* The A-bit update of the PDE is a write to the handler. */
    assert_int_equal(must_xlate(cpu, LIN32, AR), F4K32 | 0xabc);
    assert_int_equal(dev.writes, 1);

    paging_flush(cpu, false);
    dev.write_status = SVMX_E_UNSUPPORTED;
    uint64_t phys;
    cpu_fault f;
    assert_int_equal(xlate(cpu, LIN32, AR, &phys, &f), CPU_STOP);
    assert_int_equal(cpu->tlb.stop.gpa, pde_gpa);
    assert_true(cpu->tlb.stop.write);
    assert_int_equal(cpu->tlb.stop.size, 4);
    assert_int_equal(cpu->tlb.stop.status, SVMX_E_UNSUPPORTED);

    dev.read_status = SVMX_E_STATE;
    assert_int_equal(xlate(cpu, LIN32, AR, &phys, &f), CPU_STOP);
    assert_false(cpu->tlb.stop.write);
    assert_int_equal(cpu->tlb.stop.status, SVMX_E_STATE);

    /* PDPTE loads and lazy loads stop the same way. */
    set_controls(cpu, GPAE_4K, C0, 0x100000);
    assert_int_equal(paging_load_pdptes(cpu, 0x100000, &f), CPU_STOP);
    paging_reset(cpu);
    assert_int_equal(xlate(cpu, LIN32, AR, &phys, &f), CPU_STOP);
    assert_int_equal(cpu->tlb.stop.gpa, 0x100000);
    svmx_cpu_destroy(cpu);
}

/* Walking a descriptor directly: what the nested-paging issues will do. */
static void test_walk_interface(void **state)
{
    (void)state;
    built b;
    build(G4L_4K, &b);
    put(b.gpa[2], 8, get(b.gpa[2], 8) & ~BP);
    svmx_cpu *cpu = make_cpu(SVMX_VENDOR_AMD, NULL);
    set_controls(cpu, G4L_4K, C0, b.cr3);
    pg_desc d;
    bool on = false;
    assert_int_equal(paging_desc_current(cpu, &d, &on), CPU_OK);
    assert_true(on);
    assert_int_equal(d.levels, 4);
    pg_walk w;
    assert_int_equal(paging_walk(cpu, &d, b.lin, AW | AU, &w), CPU_FAULT);
    assert_int_equal(w.fault, PG_FAULT_NOT_PRESENT);
    assert_int_equal(w.level, 2);
    assert_int_equal(w.stage, PG_STAGE_GUEST);
    assert_int_equal(w.error, EW | EU);

    put(b.gpa[2], 8, get(b.gpa[2], 8) | BP);
    put(b.gpa[3], 8, get(b.gpa[3], 8) & ~BUS);
    assert_int_equal(paging_walk(cpu, &d, b.lin, AR | AU, &w), CPU_FAULT);
    assert_int_equal(w.fault, PG_FAULT_PROT);
    assert_int_equal(w.level, 1);
    assert_int_equal(w.perm, PG_PERM_W);
    assert_int_equal(paging_walk(cpu, &d, b.lin, AR, &w), CPU_OK);
    assert_int_equal(w.phys, b.phys);
    assert_int_equal(w.size_shift, 12);

    /* A malformed descriptor is an internal error, never a crash. */
    memset(&d, 0, sizeof d);
    assert_int_equal(paging_walk(cpu, &d, b.lin, AR, &w), CPU_STOP);
    assert_int_equal(cpu->tlb.stop.status, SVMX_E_INTERNAL);

    svmx_sregs sr;
    assert_int_equal(svmx_cpu_get_sregs(cpu, &sr), SVMX_OK);
    sr.cr0 &= ~CPU_CR0_PG;
    assert_int_equal(svmx_cpu_set_sregs(cpu, &sr), SVMX_OK);
    assert_int_equal(paging_desc_current(cpu, &d, &on), CPU_OK);
    assert_false(on);
    svmx_cpu_destroy(cpu);
}

/*
 * The CPUID bits the walker uses are read once per CPU, at RESET
 * (paging_reset), instead of on every walk: they must be the answers
 * svmx_cpu_cpuid() gives, and decide the descriptor as before (1 GiB
 * pages: PS allowed in a 4-level PDPTE).
 */
static void test_features_cached(void **state)
{
    (void)state;
    for (int v = 0; v < SVMX_VENDOR_COUNT; v++) {
        svmx_cpu *cpu = make_cpu((svmx_vendor)v, NULL);
        svmx_cpuid_result l1, x1;
        assert_int_equal(svmx_cpu_cpuid(cpu, 1, 0, &l1), SVMX_OK);
        assert_int_equal(svmx_cpu_cpuid(cpu, 0x80000001u, 0, &x1), SVMX_OK);
        assert_int_equal(cpu->tlb.feat.pse36, (l1.edx >> 17) & 1);
        assert_int_equal(cpu->tlb.feat.pat, (l1.edx & CPU_CPUID1_EDX_PAT) != 0);
        assert_int_equal(cpu->tlb.feat.pg1g,
                         (x1.edx & CPU_CPUIDX1_EDX_PG1G) != 0);
        pg_desc d;
        assert_true(paging_desc_of(cpu, CPU_CR0_PG, 0, CPU_CR4_PAE,
                                   CPU_EFER_LMA, &d));
        assert_int_equal((d.large >> 3) & 1, cpu->tlb.feat.pg1g);
        svmx_cpu_destroy(cpu);
    }
}

/*
 * TLB contexts at the level of paging.h (APM Vol. 2 15.16): a flush in
 * one context leaves the others' entries; entering a context whose
 * inputs did not change keeps its entries; with more ASIDs than contexts
 * the least recently entered gives way, the others keep theirs.
 */
static void test_tlb_contexts(void **state)
{
    (void)state;
    built b;
    build(G4L_4K, &b);
    svmx_cpu *cpu = make_cpu(SVMX_VENDOR_AMD, NULL);
    set_controls(cpu, G4L_4K, C0, b.cr3);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);  /* host */
    put(b.gpa[1], 8, (F4K + 0x10000) | USER_RW);
    paging_leave(cpu);
    paging_enter(cpu, 1, 0);                          /* a new context */
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys + 0x10000);
    put(b.gpa[1], 8, (F4K + 0x11000) | USER_RW);
    paging_flush(cpu, false);                         /* its own only  */
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys + 0x11000);
    paging_leave(cpu);
    paging_enter(cpu, 0, 0);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);  /* kept     */

    /* ASIDs 1 .. PG_TLB_CONTEXTS: one more than the guest contexts. */
    for (uint32_t asid = 1; asid <= PG_TLB_CONTEXTS; asid++) {
        put(b.gpa[1], 8, (F4K + 0x20000 + asid * 0x1000) | USER_RW);
        paging_leave(cpu);
        paging_enter(cpu, asid, 0);
        if (asid == 1) /* entered before: its entry, made before */
            assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys + 0x11000);
        else
            assert_int_equal(must_xlate(cpu, b.lin, AR),
                             b.phys + 0x20000 + asid * 0x1000);
    }
    put(b.gpa[1], 8, (F4K + 0x30000) | USER_RW);
    paging_leave(cpu);
    paging_enter(cpu, 1, 0);    /* gave way to PG_TLB_CONTEXTS: walks  */
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys + 0x30000);
    paging_leave(cpu);
    paging_enter(cpu, PG_TLB_CONTEXTS, 0);            /* kept          */
    assert_int_equal(must_xlate(cpu, b.lin, AR),
                     b.phys + 0x20000 + PG_TLB_CONTEXTS * 0x1000);
    paging_leave(cpu);
    paging_enter(cpu, 3, 0);    /* 2 gave way to 1 just now; 3 kept    */
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys + 0x23000);
    paging_leave(cpu);
    paging_enter(cpu, 0, 0);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys);
    /* The state API forgets every context. */
    paging_reset(cpu);
    assert_int_equal(must_xlate(cpu, b.lin, AR), b.phys + 0x30000);
    svmx_cpu_destroy(cpu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_no_paging),
        cmocka_unit_test(test_tlb_hit_then_invlpg),
        cmocka_unit_test(test_invlpg_large_pages),
        cmocka_unit_test(test_flush_keep_global),
        cmocka_unit_test(test_controls_apply_to_hits),
        cmocka_unit_test(test_dirty_on_first_write),
        cmocka_unit_test(test_fault_invalidates),
        cmocka_unit_test(test_mode_tag),
        cmocka_unit_test(test_pdpte_registers),
        cmocka_unit_test(test_tables_outside_ram),
        cmocka_unit_test(test_mmio_tables),
        cmocka_unit_test(test_walk_interface),
        cmocka_unit_test(test_features_cached),
        cmocka_unit_test(test_tlb_contexts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
