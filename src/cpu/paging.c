/*
 * src/cpu/paging.c - the page walker, the rights checks, accessed/dirty
 * updates, the PAE PDPTE registers and the software TLB (paging.h).
 *
 * One walker serves every format. paging_desc_of() is the only code that
 * knows the three paging modes (SDM Vol. 3A 4.3-4.5, APM Vol. 2 5.2-5.3);
 * it turns CR0/CR3/CR4/EFER and the personality into a pg_desc
 * of levels, entry width, index bits, large-page levels and reserved-bit
 * masks, and paging_walk() only follows that description. Every
 * guest-physical address a walk uses goes through paging_gpa_access()
 * (the entries) or final_gpa() (the translation), which send it through
 * the nested tables while an SVM guest runs with nested paging (svm/npt.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "svmx/cpu.h"
#include "svmx/mem.h"
#include "cpu/cpu_internal.h"
#include "cpu/fault.h"
#include "cpu/paging.h"
#include "cpu/personality.h"
#include "svm/npt.h"

/*
 * Paging-structure entry bits common to every format (SDM Vol. 3A Tables
 * 4-4 to 4-20, APM Vol. 2 5.4.1):
 *   [0] P   [1] R/W   [2] U/S   [3] PWT   [4] PCD   [5] A   [6] D (leaf)
 *   [7] PS (PDE, PDPTE) or PAT (PTE)   [8] G (leaf)   [12] PAT (large leaf)
 *   [63] XD (8-byte entries with EFER.NXE = 1, otherwise reserved)
 */
#define PTE_P  (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A  (1ull << 5)
#define PTE_D  (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G  (1ull << 8)
#define PTE_PAT_LARGE (1ull << 12)
#define PTE_XD (1ull << 63)

/* CPUID.1:EDX[17] PSE-36 (SDM Vol. 2A Table 3-11). No personality sets
 * it, so personality.h does not name it. */
#define CPUID1_EDX_PSE36 (1u << 17)

/*
 * pg_desc.tag, the context a TLB entry was made in:
 *   [1:0] paging mode (MODE_*)   [2] EFER.NXE   [3] CR4.PSE (32-bit only)
 *   [4] nested paging: the entry is a combined translation whose host
 *       address came through the nested tables (svm/npt.h)
 */
enum { MODE_OFF, MODE_32, MODE_PAE, MODE_4LEVEL };
#define TAG_NXE 0x4u
#define TAG_PSE 0x8u
#define TAG_NPT 0x10u

/* Bits hi..lo; none when hi < lo. */
static uint64_t bit_range(unsigned hi, unsigned lo)
{
    if (hi < lo || hi > 63)
        return 0;
    return (UINT64_MAX >> (63 - hi)) & (UINT64_MAX << lo);
}

/*
 * SDM Vol. 3A 4.1.1 Table 4-1. Long mode is taken from EFER.LMA, as
 * svmx_mode_derive() does; with CR0.PG = 1 it equals EFER.LME on any CPU
 * state the instructions can reach.
 */
static unsigned mode_of(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
    if (!(cr0 & CPU_CR0_PG))
        return MODE_OFF;
    if (!(cr4 & CPU_CR4_PAE))
        return MODE_32;
    return (efer & CPU_EFER_LMA) ? MODE_4LEVEL : MODE_PAE;
}

static unsigned current_mode(const svmx_cpu *cpu)
{
    return mode_of(cpu->sregs.cr0, cpu->sregs.cr4, cpu->sregs.efer);
}

static uint8_t mode_tag(const svmx_cpu *cpu, unsigned mode)
{
    unsigned tag = mode;
    if (mode != MODE_32 && (cpu->sregs.efer & CPU_EFER_NXE))
        tag |= TAG_NXE;
    if (mode == MODE_32 && (cpu->sregs.cr4 & CPU_CR4_PSE))
        tag |= TAG_PSE;
    if (npt_active(cpu))
        tag |= TAG_NPT;
    return (uint8_t)tag;
}

/* 32-bit and PAE paging translate 32-bit linear addresses, 4-level paging
 * bits 47:0 (SDM Vol. 3A 4.3, 4.4, 4.5). */
static uint64_t mode_lin_mask(unsigned mode)
{
    return mode == MODE_4LEVEL ? bit_range(47, 0) : 0xffffffffull;
}

static void current_ctl(const svmx_cpu *cpu, unsigned mode, pg_ctl *c)
{
    const svmx_sregs *s = &cpu->sregs;
    c->wp = (s->cr0 & CPU_CR0_WP) != 0;
    c->smep = (s->cr4 & CPU_CR4_SMEP) != 0;
    c->smap = (s->cr4 & CPU_CR4_SMAP) != 0;
    c->ac = (cpu->regs.rflags & SVMX_RFLAGS_AC) != 0;
    /*
     * SDM Vol. 3A 4.7: I/D is 1 for a fetch if CR4.SMEP = 1, or if CR4.PAE
     * = 1 and EFER.NXE = 1. APM Vol. 2 8.4.2 defines it only with
     * EFER.NXE = 1 and CR4.PAE = 1, so the SDM rule is a valid AMD answer
     * too.
     */
    c->id = c->smep || (mode != MODE_32 && (s->efer & CPU_EFER_NXE));
}

/* Who makes the access (SDM Vol. 3A 4.6): implicit accesses are
 * supervisor-mode accesses whatever the CPL. */
static bool is_user(unsigned acc)
{
    return (acc & PG_USER) && !(acc & PG_SUPERVISOR_IMPLICIT);
}

/*
 * SDM Vol. 3A 4.6.1 and APM Vol. 2 5.6: may an access of kind `acc` use a
 * translation with rights `perm`? A user-mode address is one with U/S = 1
 * at every level; XD is only ever set in `perm` with EFER.NXE = 1.
 */
static bool access_allowed(const pg_ctl *c, unsigned perm, unsigned acc)
{
    unsigned kind = acc & PG_KIND_MASK;
    bool user_page = (perm & PG_PERM_U) != 0;

    if (is_user(acc)) {
        if (!user_page)
            return false;
        if (kind == PG_WRITE)
            return (perm & PG_PERM_W) != 0; /* whatever CR0.WP says */
        if (kind == PG_EXEC)
            return !(perm & PG_PERM_XD);
        return true;
    }
    if (kind == PG_EXEC)
        return !(perm & PG_PERM_XD) && !(user_page && c->smep);
    /* SMAP: AC exempts only explicit supervisor accesses. */
    if (user_page && c->smap && ((acc & PG_SUPERVISOR_IMPLICIT) || !c->ac))
        return false;
    if (kind == PG_WRITE && c->wp && !(perm & PG_PERM_W))
        return false;
    return true;
}

/* SDM Vol. 3A 4.7 Figure 4-12, APM Vol. 2 8.4.2. Reserved bits are only
 * checked in present entries, so RSVD always comes with P. */
static uint32_t pf_error(const pg_ctl *c, pg_fault_kind kind, unsigned acc)
{
    uint32_t err = kind == PG_FAULT_NOT_PRESENT ? 0 : PG_ERR_P;
    if (kind == PG_FAULT_RSVD)
        err |= PG_ERR_RSVD;
    if ((acc & PG_KIND_MASK) == PG_WRITE)
        err |= PG_ERR_W;
    if (is_user(acc))
        err |= PG_ERR_U;
    if ((acc & PG_KIND_MASK) == PG_EXEC && c->id)
        err |= PG_ERR_ID;
    return err;
}

/* A read or write of memory at physical address `pa` (host-physical when
 * nested paging is on); an MMIO handler's failure is a CPU_STOP. */
static cpu_res phys_access(svmx_cpu *cpu, uint64_t pa, unsigned size,
                           bool write, uint64_t *value)
{
    if (write) /* an A/D update: not through the hostmap (hostmap.h) */
        hostmap_epoch_end(&cpu->hostmap);
    svmx_status st = write ? svmx_mem_write_u(&cpu->mem, pa, size, *value)
                           : svmx_mem_read_u(&cpu->mem, pa, size, value);
    if (st == SVMX_OK)
        return CPU_OK;
    cpu->tlb.stop = (pg_stop_info){ pa, (uint8_t)size, write, st };
    return CPU_STOP;
}

/* A fault of the nested tables met by the walk of `d`: the nested walk's
 * kind and error bits, the stage, and the guest-physical address. */
static cpu_res nested_fault(pg_walk *w, const pg_walk *nw, pg_stage stage,
                            unsigned level, uint64_t gpa)
{
    w->fault = nw->fault;
    w->stage = stage;
    w->level = (uint8_t)level;
    w->error = nw->error;
    w->gpa = gpa;
    return CPU_FAULT;
}

/*
 * Reads the level-`level` entry of walk `d` at guest-physical `gpa`, and
 * says in *pa where it is. Without nested paging that is `gpa` itself.
 * With it, `gpa` goes through the nested tables first, as a user write
 * whatever the guest's access is: the walk may set A/D in the entry, and
 * hardware reports W in the NPF of any guest table access (svm/npt.h). A
 * nested fault is stage TABLES at this level (APM Vol. 2 15.25.6).
 */
static cpu_res paging_gpa_access(svmx_cpu *cpu, const pg_desc *d,
                                 uint64_t gpa, unsigned level, uint64_t *e,
                                 uint64_t *pa, pg_walk *w)
{
    *pa = gpa;
    if (d->nested) {
        pg_walk nw;
        cpu_res r = npt_walk(cpu, gpa, PG_WRITE, &nw);
        if (r == CPU_FAULT)
            return nested_fault(w, &nw, PG_STAGE_TABLES, level, gpa);
        if (r != CPU_OK)
            return r;
        *pa = nw.phys;
    }
    *e = 0;
    return phys_access(cpu, *pa, d->entry_bytes, false, e);
}

/*
 * The final guest-physical address of an allowed guest translation, `gpa`,
 * through the nested tables for the guest's kind of access (APM Vol. 2
 * 15.25.5); a nested fault is stage FINAL (15.25.6). Sets w->phys to the
 * host-physical address and folds the nested leaf's D into w->dirty.
 */
static cpu_res final_gpa(svmx_cpu *cpu, uint64_t gpa, unsigned acc,
                         pg_walk *w)
{
    pg_walk nw;
    cpu_res r = npt_walk(cpu, gpa, acc & PG_KIND_MASK, &nw);
    if (r == CPU_FAULT)
        return nested_fault(w, &nw, PG_STAGE_FINAL, w->level, gpa);
    if (r != CPU_OK)
        return r;
    w->gpa = gpa;
    w->phys = nw.phys;
    w->nperm = nw.perm;
    w->dirty = w->dirty && nw.dirty;
    return CPU_OK;
}

/* A locked OR on hardware; a plain read-modify-write here (one vCPU).
 * Re-reading makes entries that alias each other come out right. */
static cpu_res set_entry_bits(svmx_cpu *cpu, uint64_t pa, unsigned size,
                              uint64_t set)
{
    uint64_t v = 0;
    cpu_res r = phys_access(cpu, pa, size, false, &v);
    if (r != CPU_OK || (v & set) == set)
        return r;
    v |= set;
    return phys_access(cpu, pa, size, true, &v);
}

/* PAE PDPTE reserved bits: 2:1, 8:5 and 63:MAXPHYADDR (SDM Vol. 3A 4.4.1
 * Table 4-8). No XD: bit 63 is reserved whatever EFER.NXE says. */
static uint64_t pdpte_rsvd(unsigned maxphyaddr)
{
    return bit_range(63, maxphyaddr) | bit_range(8, 5) | bit_range(2, 1);
}

cpu_res paging_load_pdptes(svmx_cpu *cpu, uint64_t cr3, cpu_fault *f)
{
    /* Under nested paging the guest's PDPTEs are not loaded into
     * registers (nor checked) by MOV CR3: each walk reads them through
     * the nested tables (APM Vol. 2 15.25; docs/paging.md). */
    if (npt_active(cpu))
        return CPU_OK;
    /* SDM Vol. 3A 4.4.1 Table 4-7: CR3[31:5] locates the table. */
    uint64_t base = cr3 & 0xffffffe0ull, v[4];
    uint64_t rsvd = pdpte_rsvd(cpu->pers->maxphyaddr);
    for (unsigned i = 0; i < 4; i++) {
        cpu_res r = phys_access(cpu, base + 8 * i, 8, false, &v[i]);
        if (r != CPU_OK)
            return r;
    }
    for (unsigned i = 0; i < 4; i++)
        if ((v[i] & PTE_P) && (v[i] & rsvd))
            return cpu_raise(f, CPU_VEC_GP, true, 0); /* not loaded */
    memcpy(cpu->tlb.pdpte, v, sizeof v);
    cpu->tlb.pdpte_cr3 = base;
    cpu->tlb.pdpte_loaded = true;
    return CPU_OK;
}

/* CPUID.1:EDX PSE-36 and PAT, CPUID.80000001H:EDX 1 GiB pages: bits no
 * CPU state changes (svmx_cpu_cpuid), so read once, at paging_reset(). */
static pg_features features(const svmx_cpu *cpu)
{
    svmx_cpuid_result l1 = { 0, 0, 0, 0 }, x1 = { 0, 0, 0, 0 };
    svmx_cpu_cpuid(cpu, 1, 0, &l1);
    svmx_cpu_cpuid(cpu, 0x80000001u, 0, &x1);
    return (pg_features){
        .pse36 = (l1.edx & CPUID1_EDX_PSE36) != 0,
        .pat = (l1.edx & CPU_CPUID1_EDX_PAT) != 0,
        .pg1g = (x1.edx & CPU_CPUIDX1_EDX_PG1G) != 0,
    };
}

bool paging_desc_of(const svmx_cpu *cpu, uint64_t cr0, uint64_t cr3,
                    uint64_t cr4, uint64_t efer, pg_desc *d)
{
    unsigned mode = mode_of(cr0, cr4, efer);
    memset(d, 0, sizeof *d);
    if (mode == MODE_OFF)
        return false;

    pg_features ft = cpu->tlb.feat;
    unsigned m = cpu->pers->maxphyaddr;
    d->lin_mask = mode_lin_mask(mode);
    d->perm_levels = 0x1e; /* levels 1-4 */

    if (mode == MODE_32) {
        /* SDM Vol. 3A 4.3, APM Vol. 2 5.2: 1024 4-byte entries a level,
         * the page directory at CR3[31:12]; no reserved bits but these. */
        d->levels = 2;
        d->entry_bytes = 4;
        d->index_bits = 10;
        d->root = cr3 & 0xfffff000ull;
        if (cr4 & CPU_CR4_PSE) {
            /*
             * SDM Vol. 3A 4.3 Table 4-4: PDE bits (M'-20):13 hold PA bits
             * (M'-1):32, bits 21:(M'-19) are reserved, with M' =
             * min(MAXPHYADDR, 40) under PSE-36 and 32 without it (then all
             * of 21:13 is reserved). With CR4.PSE = 0, PS is ignored.
             */
            unsigned mp = ft.pse36 ? (m < 40 ? m : 40) : 32;
            d->large = 1u << 2;
            d->rsvd[2][1] = bit_range(21, mp - 19);
            if (!ft.pat)
                d->rsvd[2][1] |= PTE_PAT_LARGE;
        }
        if (!ft.pat)
            d->rsvd[1][0] = PTE_PS; /* bit 7 of a PTE is PAT */
        return true;
    }

    /* 8-byte entries, 512 a table (SDM Vol. 3A 4.4.2, 4.5). */
    uint64_t xd = (efer & CPU_EFER_NXE) ? 0 : PTE_XD;
    uint64_t pat_pte = ft.pat ? 0 : PTE_PS;
    uint64_t pat_large = ft.pat ? 0 : PTE_PAT_LARGE;
    d->nx = xd == 0;
    d->entry_bytes = 8;
    d->index_bits = 9;
    d->addr_mask = bit_range(m - 1, 12);

    if (mode == MODE_PAE) {
        /*
         * SDM Vol. 3A 4.4, APM Vol. 2 5.2: the PDPT at CR3[31:5], then
         * page directory and page table; bits 62:M reserved, 2 MiB pages
         * whatever CR4.PSE says, bits 20:13 reserved in them. The PDPTEs
         * are described as a level in memory; paging_desc_current() puts
         * the PDPTE registers in their place.
         */
        uint64_t hi = bit_range(62, m) | xd;
        d->levels = 3;
        d->large = 1u << 2;
        d->perm_levels = 0x06; /* PDPTEs have no R/W, U/S, XD or A */
        d->rsvd[3][0] = pdpte_rsvd(m);
        d->rsvd[2][0] = hi;
        d->rsvd[2][1] = hi | bit_range(20, 13) | pat_large;
        d->rsvd[1][0] = hi | pat_pte;
        d->root = cr3 & 0xffffffe0ull;
        return true;
    }

    /*
     * SDM Vol. 3A 4.5 Tables 4-14 to 4-20, APM Vol. 2 5.3: PML4 at
     * CR3[M-1:12]; bits 51:M reserved; PS reserved in a PML4E, and in a
     * PDPTE without 1 GiB pages (CPUID.80000001H:EDX[26]); bits 29:13 of
     * a 1 GiB and 20:13 of a 2 MiB page reserved. AMD also reserves bit 8
     * of a PML4E (APM Vol. 2 5.3, MBZ in the PML4E formats); Intel
     * ignores it.
     */
    uint64_t hi = bit_range(51, m) | xd;
    d->levels = 4;
    d->large = (1u << 2) | (ft.pg1g ? 1u << 3 : 0);
    d->root = cr3 & d->addr_mask;
    d->rsvd[4][0] = hi | PTE_PS;
    if (cpu->vendor == SVMX_VENDOR_AMD)
        d->rsvd[4][0] |= PTE_G;
    d->rsvd[3][0] = hi | (ft.pg1g ? 0 : PTE_PS);
    d->rsvd[3][1] = hi | bit_range(29, 13) | pat_large;
    d->rsvd[2][0] = hi;
    d->rsvd[2][1] = hi | bit_range(20, 13) | pat_large;
    d->rsvd[1][0] = hi | pat_pte;
    return true;
}

/* No MOV CR3 loaded the PDPTE registers from this CR3 (state set through
 * the host API): load them now, without the #GP check. */
static cpu_res pdptes_lazy(svmx_cpu *cpu, uint64_t base)
{
    if (cpu->tlb.pdpte_loaded && cpu->tlb.pdpte_cr3 == base)
        return CPU_OK;
    for (unsigned i = 0; i < 4; i++) {
        cpu_res r = phys_access(cpu, base + 8 * i, 8, false,
                                &cpu->tlb.pdpte[i]);
        if (r != CPU_OK) {
            cpu->tlb.pdpte_loaded = false;
            return r;
        }
    }
    cpu->tlb.pdpte_cr3 = base;
    cpu->tlb.pdpte_loaded = true;
    return CPU_OK;
}

cpu_res paging_desc_current(svmx_cpu *cpu, pg_desc *d, bool *enabled)
{
    const svmx_sregs *s = &cpu->sregs;
    *enabled = paging_desc_of(cpu, s->cr0, s->cr3, s->cr4, s->efer, d);
    if (!*enabled)
        return CPU_OK;
    unsigned mode = current_mode(cpu);
    d->tag = mode_tag(cpu, mode);
    current_ctl(cpu, mode, &d->ctl);
    d->nested = npt_active(cpu);
    if (mode != MODE_PAE || d->nested)
        return CPU_OK;
    /* SDM Vol. 3A 4.4.1: without nested paging a PAE walk takes its
     * PDPTEs from the registers MOV CR3 loaded. */
    cpu_res r = pdptes_lazy(cpu, d->root);
    d->regs_level = 3;
    d->regs = cpu->tlb.pdpte;
    return r;
}

static cpu_res walk_fault(const pg_desc *d, pg_walk *w, pg_fault_kind kind,
                          unsigned level, unsigned acc)
{
    w->fault = kind;
    w->stage = PG_STAGE_GUEST;
    w->level = (uint8_t)level;
    w->error = pf_error(&d->ctl, kind, acc);
    return CPU_FAULT;
}

cpu_res paging_walk(svmx_cpu *cpu, const pg_desc *d, uint64_t addr,
                    unsigned acc, pg_walk *w)
{
    memset(w, 0, sizeof *w);
    if (d->levels < 1 || d->levels > PG_LEVELS ||
        (d->entry_bytes != 4 && d->entry_bytes != 8) ||
        d->index_bits < 1 || d->index_bits > 10 ||
        (d->regs_level && !d->regs)) {
        /* A descriptor paging.c did not build right: a bug, not guest data. */
        cpu->tlb.stop = (pg_stop_info){ 0, 0, false, SVMX_E_INTERNAL };
        return CPU_STOP;
    }

    uint64_t la = addr & d->lin_mask;
    uint64_t table = d->root, e = 0;
    uint64_t pa[PG_LEVELS + 1] = { 0 };   /* where each entry was read */
    unsigned in_mem = 0, perm = PG_PERM_W | PG_PERM_U, level;
    bool large = false;

    /* Top level down (SDM Vol. 3A 4.3, 4.4.2, 4.5): present, then
     * reserved bits, then on to the next table or the page. */
    for (level = d->levels;; level--) {
        unsigned shift = 12 + d->index_bits * (level - 1);
        uint64_t idx = (la >> shift) & ((1ull << d->index_bits) - 1);
        if (level == d->regs_level) {
            e = d->regs[idx & 3];
        } else {
            cpu_res r = paging_gpa_access(cpu, d, table + idx * d->entry_bytes,
                                          level, &e, &pa[level], w);
            if (r != CPU_OK)
                return r;
            in_mem |= 1u << level;
        }
        if (!(e & PTE_P))
            return walk_fault(d, w, PG_FAULT_NOT_PRESENT, level, acc);
        large = level > 1 && ((d->large >> level) & 1) && (e & PTE_PS);
        if (e & d->rsvd[level][large])
            return walk_fault(d, w, PG_FAULT_RSVD, level, acc);
        if ((d->perm_levels >> level) & 1) {
            if (!(e & PTE_RW))
                perm &= ~PG_PERM_W;
            if (!(e & PTE_US))
                perm &= ~PG_PERM_U;
            if (d->nx && (e & PTE_XD))
                perm |= PG_PERM_XD;
        }
        if (large || level == 1)
            break;
        table = d->entry_bytes == 4 ? (e & 0xfffff000ull)
                                    : (e & d->addr_mask);
    }

    unsigned shift = 12 + d->index_bits * (level - 1);
    uint64_t offset_mask = bit_range(shift - 1, 0), base;
    if (d->entry_bytes == 8)
        base = e & d->addr_mask & ~offset_mask;
    else if (large) /* 4 MiB: PA[39:32] in PDE[20:13] (SDM Vol. 3A 4.3) */
        base = (e & 0xffc00000ull) | ((e >> 13) & 0xffull) << 32;
    else
        base = e & 0xfffff000ull;
    w->phys = base | (la & offset_mask);
    w->size_shift = (uint8_t)shift;
    w->perm = (uint8_t)perm;
    w->global = (e & PTE_G) != 0;
    w->level = (uint8_t)level;
    if (!access_allowed(&d->ctl, perm, acc))
        return walk_fault(d, w, PG_FAULT_PROT, level, acc);

    bool write = (acc & PG_KIND_MASK) == PG_WRITE;
    w->dirty = write || (e & PTE_D);
    if (d->nested) {
        /* APM Vol. 2 15.25.6: the guest's own faults come first. */
        cpu_res r = final_gpa(cpu, w->phys, acc, w);
        if (r != CPU_OK)
            return r;
    }

    /*
     * SDM Vol. 3A 4.8: A in every entry used for the translation, D in
     * the one that maps the page on a write. Only once the access is
     * known to be allowed (and, nested, its final address translated): a
     * walk that faults leaves memory untouched, as Intel CPUs do (KVM's
     * walker follows them). AMD may differ: see docs/paging.md, "Accessed
     * and dirty". Levels outside perm_levels (PAE PDPTEs) have no A bit.
     */
    for (unsigned l = d->levels; l >= level; l--) {
        if (!((in_mem & d->perm_levels) >> l & 1))
            continue;
        uint64_t set = PTE_A | (l == level && write ? PTE_D : 0);
        cpu_res r = set_entry_bits(cpu, pa[l], d->entry_bytes, set);
        if (r != CPU_OK)
            return r;
    }
    return CPU_OK;
}

/* ------------------------------------------------------- TLB contexts --
 *
 * Every flush is a new key for the context (pg_tlb_entry.key): O(1), the
 * old entries stay in their slots but match no key any more. The hostmap
 * caches what the TLB answers, for every context at once (its tags carry
 * the context's index), so a flush of any context empties it too.
 */

static pg_tlb_ctx *ctx_cur(svmx_cpu *cpu)
{
    return &cpu->tlb.ctx[cpu->tlb.cur];
}

/* Does entry `t` belong to context `c`, made since its last flush? */
static bool entry_in(const pg_tlb_entry *t, const pg_tlb_ctx *c)
{
    return t->vpn && (t->key == c->key || t->key == c->ngkey);
}

static void ctx_flush(svmx_cpu *cpu, pg_tlb_ctx *c, bool keep_global)
{
    if (!keep_global)
        c->key = ++cpu->tlb.keys;
    c->ngkey = ++cpu->tlb.keys;
    hostmap_flush(&cpu->hostmap);
}

static void flush_all(svmx_cpu *cpu)
{
    for (unsigned i = 0; i < PG_TLB_CONTEXTS; i++)
        ctx_flush(cpu, &cpu->tlb.ctx[i], false);
}

void paging_flush(svmx_cpu *cpu, bool keep_global)
{
    ctx_flush(cpu, ctx_cur(cpu), keep_global);
}

/* Drops the entries of context `c` that translate `lin` (a scan: the
 * pieces of a large page sit in many slots). */
static void invlpg_in(svmx_cpu *cpu, const pg_tlb_ctx *c, uint64_t lin)
{
    hostmap_flush(&cpu->hostmap);
    for (unsigned i = 0; i < PG_TLB_ENTRIES; i++) {
        pg_tlb_entry *t = &cpu->tlb.e[i];
        if (!entry_in(t, c))
            continue;
        uint64_t la = lin & mode_lin_mask(t->tag & 3u);
        if (((((t->vpn - 1) << 12) ^ la) >> t->size_shift) == 0)
            t->vpn = 0;
    }
}

void paging_invlpg(svmx_cpu *cpu, uint64_t lin)
{
    invlpg_in(cpu, ctx_cur(cpu), lin);
}

/* The context that holds `asid`, or NULL. */
static pg_tlb_ctx *ctx_find(svmx_cpu *cpu, uint32_t asid)
{
    if (asid == 0)
        return &cpu->tlb.ctx[0];
    for (unsigned i = 1; i < PG_TLB_CONTEXTS; i++)
        if (cpu->tlb.ctx[i].used && cpu->tlb.ctx[i].asid == asid)
            return &cpu->tlb.ctx[i];
    return NULL;
}

void paging_invlpga(svmx_cpu *cpu, uint64_t lin, uint32_t asid)
{
    const pg_tlb_ctx *c = ctx_find(cpu, asid);
    if (c)
        invlpg_in(cpu, c, lin);
}

/* The hostmap's tags for context `i` (hostmap.h). */
static void hostmap_select(svmx_cpu *cpu, unsigned i)
{
    _Static_assert(PG_TLB_CONTEXTS <= 256, "the index fits the tag's byte");
    cpu->hostmap.ctx_tag = (uint64_t)i << HOSTMAP_CTX_SHIFT;
}

void paging_reset(svmx_cpu *cpu)
{
    cpu_tlb *t = &cpu->tlb;
    t->feat = features(cpu);
    flush_all(cpu);
    for (unsigned i = 0; i < PG_TLB_CONTEXTS; i++) {
        t->ctx[i].known = false;
        /* Out of guest mode only the host's context is held; in guest mode
         * (state set through the API) the guest's stays current, empty. */
        if (i != t->cur || !cpu->svm.guest)
            t->ctx[i].used = false;
    }
    if (!cpu->svm.guest)
        t->cur = 0;
    hostmap_select(cpu, t->cur);
    t->pdpte_loaded = false;
}

/* The nested-paging part of pg_tlb_inputs, recorded only with
 * pg_tlb_ctx.np: inputs_match() looks at it only then. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void inputs_np(const svmx_cpu *cpu, pg_tlb_inputs *in)
{
    in->ncr3 = npt_ncr3(cpu);
    in->host_cr0 = cpu->svm.host.cr0;
    in->host_cr4 = cpu->svm.host.cr4;
    in->host_efer = cpu->svm.host.efer;
}

static bool inputs_match(const svmx_cpu *cpu, const pg_tlb_ctx *c)
{
    const svmx_sregs *s = &cpu->sregs;
    const pg_tlb_inputs *in = &c->in;
    if (((in->cr0 ^ s->cr0) | (in->cr3 ^ s->cr3) | (in->cr4 ^ s->cr4) |
         (in->efer ^ s->efer)) != 0 ||
        c->np != npt_active(cpu))
        return false;
    const svm_host_state *h = &cpu->svm.host;
    return !c->np ||
           (in->ncr3 == npt_ncr3(cpu) && in->host_cr0 == h->cr0 &&
            in->host_cr4 == h->cr4 && in->host_efer == h->efer);
}

/* Records what the current state's translations are made from
 * (pg_tlb_inputs). */
void paging_leave(svmx_cpu *cpu)
{
    const svmx_sregs *s = &cpu->sregs;
    pg_tlb_ctx *c = ctx_cur(cpu);
    bool np = npt_active(cpu);
    c->known = true;
    c->in.cr0 = s->cr0;
    c->in.cr3 = s->cr3;
    c->in.cr4 = s->cr4;
    c->in.efer = s->efer;
    c->np = np;
    if (np)
        inputs_np(cpu, &c->in);
}

/* The context for guest `asid`: its own, else a free one, else the least
 * recently entered guest context, emptied for it. The guest entered last
 * is paging_enter()'s to try first. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static unsigned ctx_take(svmx_cpu *cpu, uint32_t asid)
{
    cpu_tlb *t = &cpu->tlb;
    unsigned victim = 0;
    for (unsigned i = 1; i < PG_TLB_CONTEXTS; i++) {
        pg_tlb_ctx *c = &t->ctx[i];
        if (c->used && c->asid == asid)
            return i;
        if (victim == 0 || (!c->used && t->ctx[victim].used) ||
            (c->used == t->ctx[victim].used && c->last < t->ctx[victim].last))
            victim = i;
    }
    pg_tlb_ctx *c = &t->ctx[victim];
    ctx_flush(cpu, c, false);
    c->used = true;
    c->asid = asid;
    c->known = false;
    t->guest = victim;
    return victim;
}

/* APM Vol. 2 15.16.1, TLB_CONTROL (Table 15-9), for the context `c`
 * being entered. */
static void tlb_control_flush(svmx_cpu *cpu, pg_tlb_ctx *c,
                              unsigned tlb_control)
{
    switch (tlb_control) {
    case SVMX_SVM_TLB_NOTHING:
        break;
    case SVMX_SVM_TLB_FLUSH_ASID:
        ctx_flush(cpu, c, false);
        break;
    case SVMX_SVM_TLB_FLUSH_ASID_LOCAL:
        ctx_flush(cpu, c, true);
        break;
    default: /* 1, and the reserved values: everything */
        flush_all(cpu);
        break;
    }
}

/* paging_enter()'s choice of the context and its flushes, the whole way:
 * the context of `asid` (ctx_take's when the guest entered last holds
 * another ASID), TLB_CONTROL, then a flush unless its recorded inputs
 * match the new state. Returns the context's index. Out of line: the
 * common case needs none of it. */
#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
static unsigned enter_slow(svmx_cpu *cpu, uint32_t asid,
                           unsigned tlb_control)
{
    cpu_tlb *t = &cpu->tlb;
    unsigned i = 0;
    if (asid != 0) {
        i = t->guest;
        if (!t->ctx[i].used || t->ctx[i].asid != asid)
            i = ctx_take(cpu, asid);
        t->guest = i;
        t->ctx[i].last = ++t->clock; /* ctx_take's order */
    }
    pg_tlb_ctx *c = &t->ctx[i];
    if (tlb_control != SVMX_SVM_TLB_NOTHING)
        tlb_control_flush(cpu, c, tlb_control);
    if (!c->known || !inputs_match(cpu, c))
        ctx_flush(cpu, c, false);
    return i;
}

void paging_enter(svmx_cpu *cpu, uint32_t asid, unsigned tlb_control)
{
    cpu_tlb *t = &cpu->tlb;
    cpu_hostmap *h = &cpu->hostmap;
    const svmx_sregs *s = &cpu->sregs;
    /* The hostmap entries of the context being left were made under the
     * snapshot it holds now (hostmap_sync flushes them all when it
     * changes). */
    pg_tlb_ctx *old = ctx_cur(cpu);
    uint64_t cr0 = h->cr0, cr3 = h->cr3, cr4 = h->cr4, efer = h->efer;
    old->hm[0] = cr0;
    old->hm[1] = cr3;
    old->hm[2] = cr4;
    old->hm[3] = efer;

    /* The common case, the world switch of a VMM that keeps its guest's
     * ASID, TLB_CONTROL and paging registers: the guest entered last (or
     * the host), nothing to flush, no nested paging on either side -
     * what enter_slow() finds then, without its calls. */
    unsigned i = asid != 0 ? t->guest : 0;
    pg_tlb_ctx *c = &t->ctx[i];
    bool same = c->known & !c->np & !npt_active(cpu) &
                (asid == 0 || (c->used & (c->asid == asid))) &
                (((c->in.cr0 ^ s->cr0) | (c->in.cr3 ^ s->cr3) |
                  (c->in.cr4 ^ s->cr4) | (c->in.efer ^ s->efer)) == 0);
    if (same && tlb_control == SVMX_SVM_TLB_NOTHING) {
        if (asid != 0)
            c->last = ++t->clock; /* ctx_take's order */
    } else {
        i = enter_slow(cpu, asid, tlb_control);
        c = &t->ctx[i];
    }
    t->cur = i;
    hostmap_select(cpu, i);
    /* The inputs count again once paging_leave() records them: until
     * then the context's entries follow the registers (the flushes of
     * the list in paging.h), and a context left without paging_leave()
     * is flushed when entered again. */
    c->known = false;

    /* Just after a flush the hostmap holds no entries: any snapshot will
     * do, and the current registers save it a flush at its next sync. */
    if (h->empty) {
        cr0 = s->cr0;
        cr3 = s->cr3;
        cr4 = s->cr4;
        efer = s->efer;
    } else {
        cr0 = c->hm[0];
        cr3 = c->hm[1];
        cr4 = c->hm[2];
        efer = c->hm[3];
    }
    h->cr0 = cr0;
    h->cr3 = cr3;
    h->cr4 = cr4;
    h->efer = efer;
}

/* SDM Vol. 3A 4.7: CR2 gets the linear address; 4.10.4.1: a #PF drops
 * the TLB entries for it, so a retry walks the tables in memory. */
static cpu_res page_fault(svmx_cpu *cpu, uint64_t lin, uint32_t error,
                          cpu_fault *f)
{
    paging_invlpg(cpu, lin);
    cpu_raise(f, CPU_VEC_PF, true, error);
    f->payload = lin;
    return CPU_FAULT;
}

/* A fault of a walk: a #PF for the guest's own tables, an NPF (svm/npt.h)
 * for the nested ones. Both drop the TLB entries for `lin`, so that the
 * retry after the tables are fixed walks them again. */
static cpu_res walk_failed(svmx_cpu *cpu, uint64_t lin, const pg_walk *w,
                           cpu_fault *f)
{
    if (w->stage == PG_STAGE_GUEST)
        return page_fault(cpu, lin, w->error, f);
    paging_invlpg(cpu, lin);
    return npt_raise(f, npt_exitinfo1(w->error, w->stage), w->gpa);
}

/* The guest's paging is off under nested paging: the linear address is
 * the guest-physical one, which the nested tables translate (APM Vol. 2
 * 15.25.5). Not cached in the TLB; the hostmap keeps the RAM pages. */
static cpu_res translate_unpaged(svmx_cpu *cpu, uint64_t lin, unsigned acc,
                                 uint64_t *phys, cpu_fault *f)
{
    pg_walk w = { 0 };
    cpu_res r = final_gpa(cpu, lin, acc, &w);
    if (r == CPU_FAULT)
        return walk_failed(cpu, lin, &w, f);
    *phys = w.phys;
    return r;
}

cpu_res paging_translate(svmx_cpu *cpu, uint64_t lin, unsigned acc,
                         uint64_t *phys, cpu_fault *f)
{
    unsigned mode = current_mode(cpu);
    if (mode == MODE_OFF) {
        if (npt_active(cpu))
            return translate_unpaged(cpu, lin, acc, phys, f);
        *phys = lin;
        return CPU_OK;
    }

    uint64_t la = lin & mode_lin_mask(mode), vpn = la >> 12;
    /* Each context's slots are the others' shifted, so that the host and
     * a guest on the same linear layout do not evict each other. */
    pg_tlb_entry *t = &cpu->tlb.e[(vpn + cpu->tlb.cur * 37u) % PG_TLB_ENTRIES];
    const pg_tlb_ctx *c = ctx_cur(cpu);
    uint8_t tag = mode_tag(cpu, mode);
    if (t->vpn == vpn + 1 && t->tag == tag &&
        (t->key == c->key || t->key == c->ngkey)) {
        /* Rights are cached, the decision is not: today's controls. */
        pg_ctl ctl;
        current_ctl(cpu, mode, &ctl);
        if (!access_allowed(&ctl, t->perm, acc))
            return page_fault(cpu, lin, pf_error(&ctl, PG_FAULT_PROT, acc), f);
        /* A write through an entry with D clear (in either dimension)
         * walks again to set D; so does an access the nested rights deny
         * (checked as the user access every nested access is, which no
         * control affects), which then reports the NPF a walk finds. */
        bool nested_ok = !(tag & TAG_NPT) ||
            access_allowed(&ctl, t->nperm, (acc & PG_KIND_MASK) | PG_USER);
        if (nested_ok && ((acc & PG_KIND_MASK) != PG_WRITE || t->dirty)) {
            *phys = (t->pfn << 12) | (la & 0xfffu);
            return CPU_OK;
        }
    }

    pg_desc d;
    bool enabled;
    cpu_res r = paging_desc_current(cpu, &d, &enabled);
    if (r != CPU_OK)
        return r;
    pg_walk w;
    r = paging_walk(cpu, &d, lin, acc, &w);
    if (r == CPU_FAULT)
        return walk_failed(cpu, lin, &w, f);
    if (r != CPU_OK)
        return r;

    /*
     * SDM Vol. 3A 4.10.2.4: global only with CR4.PGE = 1. Under nested
     * paging the entry is the combined translation (linear -> host
     * physical) with both dimensions' rights; size_shift stays the
     * guest's page size, which is what INVLPG and INVLPGA name.
     */
    bool global = w.global && (cpu->sregs.cr4 & CPU_CR4_PGE);
    *t = (pg_tlb_entry){
        .vpn = vpn + 1,
        .pfn = w.phys >> 12,
        .key = global ? c->key : c->ngkey,
        .perm = w.perm,
        .nperm = w.nperm,
        .global = global,
        .dirty = w.dirty,
        .tag = d.tag,
        .size_shift = w.size_shift,
    };
    *phys = w.phys;
    return CPU_OK;
}
