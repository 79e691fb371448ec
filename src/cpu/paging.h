/*
 * src/cpu/paging.h - linear to physical translation: the page walker for
 * 32-bit, PAE and 4-level paging, the #PF error codes, accessed/dirty
 * updates, the PAE PDPTE registers and the software TLB.
 *
 * The walker is written once over a description of the paging structure
 * (pg_desc: levels, entry width, index bits, which levels may map a large
 * page, reserved-bit masks, rights semantics) so that the same code walks
 * the second dimension of nested paging (SVM's nCR3 tables, svm/npt.h;
 * later EPT). While an SVM guest runs with nested paging, the guest's
 * descriptor says so (pg_desc.nested) and every guest-physical address
 * the walk produces - each paging-structure entry, the PAE PDPTEs, and the
 * final address - is translated through the nested tables: the entries in
 * paging_gpa_access(), the final address at the end of paging_walk().
 * What paging_translate() returns and the TLB caches is then the combined
 * linear -> host-physical translation. docs/paging.md explains the
 * choices.
 *
 * The TLB holds the translations of several address spaces at once, each
 * a *context*: the host's (SVM ASID 0) and up to PG_TLB_CONTEXTS - 1
 * guests', one per GUEST_ASID (APM Vol. 2 15.16: TLB entries are tagged
 * with the ASID, so that a world switch need not flush). The paging
 * instructions act on the current context only (15.16.1: MOV CR3, CR0.PG
 * and CR4.PGE/PAE/PSE changes "affect only the TLB entries belonging to
 * the current ASID"); VMRUN and #VMEXIT change the current context
 * (paging_leave, paging_enter), and INVLPGA names one (paging_invlpga).
 *
 * What the caller owes the TLB (SDM Vol. 3A 4.10.4.1, APM Vol. 2 5.5.3):
 *   MOV CR3 (and a task switch that changes CR3)    paging_flush(cpu, true)
 *   CR4.PGE changes                                 paging_flush(cpu, false)
 *   CR0.PG, CR0.WP, CR4.PAE, CR4.PSE, CR4.SMEP,
 *   CR4.SMAP or EFER.NXE changes                     paging_flush(cpu, false)
 *   INVLPG                                          paging_invlpg(cpu, lin)
 *   state set through the host API (set_sregs)       paging_reset(cpu)
 *   VMRUN, #VMEXIT                                   paging_leave, then
 *                                                    paging_enter
 *   INVLPGA                                         paging_invlpga()
 * Some of these are stricter than the manuals (a WP or SMAP change does
 * not flush on hardware); flushing more than the CPU would is always
 * allowed (SDM Vol. 3A 4.10.4.1, "always free to invalidate additional
 * entries"). The TLB does not depend on it for correctness of rights:
 * CR0.WP, CR4.SMEP/SMAP, RFLAGS.AC and the access kind are applied to the
 * cached rights on every hit, and each entry is tagged with the paging
 * mode and EFER.NXE it was made under, so a missed flush can never give a
 * translation made under another mode's rules.
 *
 * And what it owes the PDPTE registers (SDM Vol. 3A 4.4.1): with PAE paging
 * in use after the instruction, call paging_load_pdptes() with the new CR3
 * on MOV CR3, on MOV CR0/CR4 that changes CR0.CD, CR0.NW, CR0.PG,
 * CR4.PAE, CR4.PGE or CR4.PSE (recent editions add CR4.SMEP), and on a
 * task switch that loads CR3; a #GP from it means the instruction does
 * not complete.
 */
#ifndef SVMX_CPU_PAGING_H
#define SVMX_CPU_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "svmx/status.h"
#include "cpu/fault.h"

typedef struct svmx_cpu svmx_cpu;

/*
 * Access kinds and qualifiers for paging_translate(). Exactly one kind.
 * User or supervisor comes from PG_USER alone: paging never looks at the
 * CPL (SDM Vol. 3A 4.6: "accesses made while CPL < 3 are supervisor-mode
 * accesses"; the caller knows the CPL and which accesses are implicit).
 */
#define PG_READ       0x0u
#define PG_WRITE      0x1u
#define PG_EXEC       0x2u   /* instruction fetch                          */
#define PG_KIND_MASK  0x3u
#define PG_USER       0x4u   /* made at CPL 3 (an explicit user access)    */
#define PG_SUPERVISOR_IMPLICIT 0x8u /* GDT/LDT/IDT/TSS access: supervisor
                                       even at CPL 3, and never exempted
                                       from SMAP by RFLAGS.AC (SDM Vol. 3A
                                       4.6); wins over PG_USER             */

/* Paging-structure levels, numbered as the SDM numbers them:
 * 1 page table, 2 page directory, 3 PDPT, 4 PML4. */
#define PG_LEVELS 4

/* Effective rights of a translation: the AND of R/W and of U/S and the OR
 * of XD over every entry that controls it (SDM Vol. 3A 4.6). */
#define PG_PERM_W  0x1u      /* R/W = 1 at every level                     */
#define PG_PERM_U  0x2u      /* U/S = 1 at every level: a user-mode address */
#define PG_PERM_XD 0x4u      /* XD = 1 at some level, with XD enabled      */

/* #PF error code bits (SDM Vol. 3A 4.7 Figure 4-12, APM Vol. 2 8.4.2).
 * PK, SS, HLAT and SGX are not modelled and stay 0. */
#define PG_ERR_P    0x01u    /* 0: not present; 1: rights or reserved bit  */
#define PG_ERR_W    0x02u    /* the access was a write                     */
#define PG_ERR_U    0x04u    /* the access was a user-mode access          */
#define PG_ERR_RSVD 0x08u    /* a reserved bit was set in an entry         */
#define PG_ERR_ID   0x10u    /* instruction fetch, with SMEP or PAE+NXE    */

/* Why a walk did not give a usable translation. */
typedef enum pg_fault_kind {
    PG_FAULT_NONE,
    PG_FAULT_NOT_PRESENT,    /* P = 0 in the entry at pg_walk.level        */
    PG_FAULT_RSVD,           /* a reserved bit set at pg_walk.level        */
    PG_FAULT_PROT,           /* a translation exists; its rights deny it   */
    PG_FAULT_KIND_COUNT
} pg_fault_kind;

/*
 * Which dimension a fault belongs to. A walk without nested paging only
 * ever reports PG_STAGE_GUEST. A walk of a descriptor with `nested` set
 * reports a fault of the nested tables with the stage that NPF EXITINFO1
 * bits 33/32 (APM Vol. 2 15.25.6) and the EPT violation qualification bits
 * 7/8 (SDM Vol. 3C 28.2.1) distinguish; pg_walk.error then holds the
 * nested walk's error bits and pg_walk.gpa the address it failed on.
 */
typedef enum pg_stage {
    PG_STAGE_GUEST,          /* this walk's own entries or rights          */
    PG_STAGE_TABLES,         /* nested: the gpa of the level-`level` entry */
    PG_STAGE_FINAL,          /* nested: the final guest-physical address   */
    PG_STAGE_COUNT
} pg_stage;

/* The controls that turn effective rights into allowed accesses (SDM
 * Vol. 3A 4.6.1, APM Vol. 2 5.6). An NPT walk uses none of them but `id`
 * and makes every access a user access (APM Vol. 2 15.25.5). */
typedef struct pg_ctl {
    bool wp;                 /* CR0.WP                                     */
    bool smep;               /* CR4.SMEP                                   */
    bool smap;               /* CR4.SMAP                                   */
    bool ac;                 /* RFLAGS.AC                                  */
    bool id;                 /* error code I/D for fetches: CR4.SMEP, or
                                CR4.PAE and EFER.NXE (SDM Vol. 3A 4.7)     */
} pg_ctl;

/*
 * A paging-structure format and its root. rsvd[L][ps] holds the bits that
 * must be 0 in a present level-L entry, ps = 1 for an entry that maps a
 * page at a level in `large`. Entries of level `regs_level` come from
 * regs[0..3] (the PAE PDPTE registers) instead of memory. A level outside
 * `perm_levels` (the PAE PDPTEs, in registers or, under nested paging, in
 * memory) carries neither rights nor an accessed bit.
 */
typedef struct pg_desc {
    uint8_t  levels;         /* levels walked from the root: 2, 3 or 4     */
    uint8_t  entry_bytes;    /* 4 (32-bit paging) or 8                     */
    uint8_t  index_bits;     /* linear-address bits per level: 10 or 9     */
    uint8_t  large;          /* bit L: PS = 1 at level L maps a page       */
    uint8_t  perm_levels;    /* bit L: level-L R/W, U/S (and XD) count     */
    uint8_t  regs_level;     /* level taken from regs[], 0 for none        */
    uint8_t  tag;            /* TLB context: mode and NXE (paging.c)       */
    bool     nx;             /* bit 63 is XD (EFER.NXE, 8-byte entries)    */
    bool     nested;         /* the root, the entries and the translation
                                are guest-physical: each goes through the
                                nested tables (svm/npt.h)                 */
    uint64_t lin_mask;       /* linear-address bits the walk uses          */
    uint64_t addr_mask;      /* 8-byte entries: address bits (M-1):12      */
    uint64_t root;           /* physical address of the top-level table    */
    const uint64_t *regs;    /* regs_level != 0: four entries              */
    uint64_t rsvd[PG_LEVELS + 1][2];
    pg_ctl   ctl;
} pg_desc;

/* The result of one walk. */
typedef struct pg_walk {
    uint64_t      phys;       /* the translation (valid with PG_FAULT_NONE);
                                 host-physical for a nested walk           */
    uint64_t      gpa;        /* nested: the guest-physical translation, or
                                 (stage != GUEST) the guest-physical
                                 address the nested walk failed on         */
    uint8_t       size_shift; /* 12, 21, 22 or 30: the page it lies in     */
    uint8_t       perm;       /* PG_PERM_* of the translation              */
    uint8_t       nperm;      /* nested: PG_PERM_* of the nested
                                 translation of the final address          */
    bool          global;     /* G set in the entry that maps the page     */
    bool          dirty;      /* D set in that entry (after this access);
                                 nested: and in the nested leaf            */
    pg_fault_kind fault;
    pg_stage      stage;
    uint8_t       level;      /* NOT_PRESENT/RSVD: the entry's level;
                                 otherwise the level that maps the page;
                                 stage TABLES: the level of the entry being
                                 read                                      */
    uint32_t      error;      /* the #PF error code of a fault; stage !=
                                 GUEST: the nested walk's (NPF EXITINFO1
                                 bits 31:0)                                */
} pg_walk;

/* Software TLB geometry: direct-mapped by linear page number, each
 * context's slots rotated by 37 times its index (paging_translate). */
#define PG_TLB_ENTRIES 256

/* Address spaces the TLB keeps apart: context 0 is the host's (ASID 0),
 * the others hold guest ASIDs, the least recently entered one giving way
 * to a new ASID. At most 255: the hostmap tags entries with the index in
 * 8 bits (hostmap.h). */
#define PG_TLB_CONTEXTS 8

/*
 * One cached translation. A large page is cached one 4 KiB piece per
 * entry, each remembering the size of the page it came from so that
 * INVLPG anywhere in the large page drops all of them (SDM Vol. 3A
 * 4.10.4.1: INVLPG and page faults "invalidate all TLB entries
 * corresponding to the translation specified by the paging structures").
 *
 * `key` says which context it belongs to and that no flush of that
 * context came after it: a global entry holds the context's `key`, any
 * other its `ngkey` (pg_tlb_ctx). Keys come from one counter per CPU and
 * are never reused, so an entry matches at most one key of one context,
 * and a flush is a new key.
 */
typedef struct pg_tlb_entry {
    uint64_t vpn;        /* linear page number + 1; 0 = empty             */
    uint64_t pfn;        /* physical page number of this 4 KiB piece      */
    uint64_t key;        /* pg_tlb_ctx.key (global) or .ngkey             */
    uint8_t  perm;       /* PG_PERM_*: rights, not the decision           */
    uint8_t  nperm;      /* made under nested paging: the nested rights  */
    uint8_t  global;     /* G set and CR4.PGE = 1 when it was made        */
    uint8_t  dirty;      /* the D bit is known set                        */
    uint8_t  tag;        /* pg_desc.tag it was made under                 */
    uint8_t  size_shift; /* 12, 21, 22 or 30: the page size it came from  */
} pg_tlb_entry;

/*
 * What a context's translations were made from, as far as the TLB
 * cannot see it in an entry: the paging registers and, for a guest under
 * nested paging, nCR3 and the host's paging mode (the nested tables'
 * format, APM Vol. 2 15.25.3). Recorded when the CPU leaves the context
 * and compared when it enters it again: entries made under other inputs
 * are never used (paging_enter flushes the context instead).
 */
typedef struct pg_tlb_inputs {
    uint64_t cr0, cr3, cr4, efer;
    uint64_t ncr3, host_cr0, host_cr4, host_efer; /* nested paging only */
} pg_tlb_inputs;

/* One address space of the TLB: 128 bytes on the common ABIs, so that
 * the world switch indexes it with a shift. */
typedef struct pg_tlb_ctx {
    uint64_t      key;       /* of its global entries                     */
    uint64_t      ngkey;     /* of its other entries                      */
    uint64_t      last;      /* a guest's: when it was last entered
                                (replacement)                             */
    uint32_t      asid;      /* 0: the host; else a GUEST_ASID            */
    bool          used;      /* a guest context: holds `asid`             */
    bool          known;     /* `in` and `np` are valid                   */
    bool          np;        /* `in` was made under nested paging: its
                                nested-paging inputs count               */
    pg_tlb_inputs in;        /* as it was left                            */
    uint64_t      hm[4];     /* the hostmap's CR0, CR3, CR4, EFER snapshot
                                its entries of this context were made
                                under (hostmap.h)                         */
} pg_tlb_ctx;

/* CPUID bits the walker needs (paging_desc_of), read from the
 * personality once by paging_reset() instead of on every walk. */
typedef struct pg_features {
    bool pse36, pat, pg1g;
} pg_features;

/* An embedder MMIO handler that failed during a walk (CPU_STOP). */
typedef struct pg_stop_info {
    uint64_t    gpa;
    uint8_t     size;
    bool        write;
    svmx_status status;
} pg_stop_info;

/* The translation caches of a CPU: the TLB and the PDPTE registers. */
typedef struct cpu_tlb {
    pg_tlb_entry e[PG_TLB_ENTRIES];
    pg_tlb_ctx   ctx[PG_TLB_CONTEXTS];
    unsigned     cur;           /* the context in use: an index of ctx[]   */
    unsigned     guest;         /* the guest context entered last (a hint) */
    uint64_t     keys;          /* the last key handed out                 */
    uint64_t     clock;         /* counts entries into guest contexts      */
    pg_features  feat;
    uint64_t     pdpte[4];      /* PAE PDPTE registers (SDM Vol. 3A 4.4.1) */
    uint64_t     pdpte_cr3;     /* CR3[31:5] they were loaded from         */
    bool         pdpte_loaded;
    pg_stop_info stop;          /* why the last CPU_STOP happened          */
} cpu_tlb;

/*
 * Translates linear address `lin` for an access of kind `acc` (PG_READ,
 * PG_WRITE or PG_EXEC, ORed with PG_USER and/or PG_SUPERVISOR_IMPLICIT)
 * under the CPU's current CR0/CR3/CR4/EFER/RFLAGS.AC. Without CR0.PG the
 * linear address is the physical one; truncating it to 32 bits outside
 * long mode (and, likewise, passing a canonical address in 64-bit mode)
 * is the caller's business. 32-bit and PAE paging use bits 31:0 of `lin`,
 * 4-level paging bits 47:0.
 *
 * CPU_OK: *phys is the translation. CPU_FAULT: *f is the #PF with its
 * error code and CR2 = `lin` (SDM Vol. 3A 4.7, APM Vol. 2 8.4.2), and the
 * TLB entries for `lin` are gone (SDM Vol. 3A 4.10.4.1); the caller
 * delivers it. CPU_STOP: an MMIO handler failed while reading or updating
 * a paging-structure entry; cpu->tlb.stop says which access.
 *
 * While an SVM guest runs with nested paging (npt_active(), svm/npt.h),
 * *phys is host-physical - also with the guest's paging off - and a
 * fault of the nested tables is a nested page fault: CPU_FAULT with *f
 * made by npt_raise(), which npt_fault_is_npf() recognizes and which the
 * caller passes up like any fault (svm/npt.h says who consumes it). A
 * fault of the guest's own tables stays a #PF (APM Vol. 2 15.25.6).
 *
 * Accessed and dirty bits are set only when the access is allowed
 * (docs/paging.md, "Accessed and dirty").
 */
cpu_res paging_translate(svmx_cpu *cpu, uint64_t lin, unsigned acc,
                         uint64_t *phys, cpu_fault *f);

/* Drops the current context's TLB entries: all of them, or all but
 * global ones (MOV CR3 without PCID keeps global pages, SDM Vol. 3A
 * 4.10.4.1). O(1). */
void paging_flush(svmx_cpu *cpu, bool keep_global);

/* INVLPG: drops whatever translates `lin` in the current context, global
 * or not, including every piece of a large page that contains it. */
void paging_invlpg(svmx_cpu *cpu, uint64_t lin);

/*
 * INVLPGA (APM Vol. 3 INVLPGA): the same for the context of `asid` (0:
 * the host), whichever is current. Nothing is cached for an ASID without
 * a context.
 */
void paging_invlpga(svmx_cpu *cpu, uint64_t lin, uint32_t asid);

/*
 * Forgets every cached translation of every context and the PDPTE
 * registers: for state that changes outside the instruction stream (the
 * host state API, RESET, INIT). The next PAE walk loads the PDPTEs
 * lazily (see paging_load_pdptes()). Outside SVM guest mode the host's
 * context becomes current. Also reads the personality's paging features
 * (pg_features) again.
 */
void paging_reset(svmx_cpu *cpu);

/*
 * The world switch (APM Vol. 2 15.16). paging_leave() records what the
 * current context's translations were made from (pg_tlb_inputs), with
 * the CPU still in the state being left. paging_enter(), once the new
 * state is in (CR0/CR3/CR4/EFER, cpu->svm.guest, cpu->svm.np, the VMCB's
 * nCR3), makes the context of `asid` current - 0, the host's, at
 * #VMEXIT; GUEST_ASID at VMRUN - and applies `tlb_control` (VMRUN's
 * TLB_CONTROL, 15.16.1 Table 15-9; 0 at #VMEXIT):
 *   0  nothing             1  every context, the host's too
 *   3  this context        7  this context's non-global entries
 *   other values (reserved) every context.
 * Beyond that, it flushes the context when its recorded inputs differ
 * from the new state's (or were never recorded): hardware would use the
 * ASID's entries whatever CR3 or nCR3 the VMCB brings, and the VMM owes
 * the flush; the model does it for the VMM, which is always allowed and
 * keeps every entry a translation the context's tables gave.
 */
void paging_leave(svmx_cpu *cpu);
void paging_enter(svmx_cpu *cpu, uint32_t asid, unsigned tlb_control);

/*
 * Loads the PAE PDPTE registers from the 32-byte-aligned table at
 * cr3[31:5] (SDM Vol. 3A 4.4.1). `cr3` is the value being loaded, so the
 * check comes before the caller commits the instruction: if a PDPTE has
 * P = 1 and any reserved bit (2:1, 8:5, 63:MAXPHYADDR) set, it returns
 * CPU_FAULT with #GP(0) in *f and leaves the registers unchanged. CPU_STOP
 * as for paging_translate(). The caller decides whether PAE paging is in
 * use (see the list at the top of this file).
 *
 * If a PAE walk finds no registers loaded from the current CR3 (state set
 * through the host API), it loads them then without the check; a reserved
 * bit is then a #PF with RSVD, as KVM reports it.
 *
 * Under nested paging (npt_active()) there are no PDPTE registers: it
 * returns CPU_OK and loads nothing, and each walk reads the PDPTEs from
 * guest memory through the nested tables (docs/paging.md).
 */
cpu_res paging_load_pdptes(svmx_cpu *cpu, uint64_t cr3, cpu_fault *f);

/*
 * The building blocks, for the nested-paging code and the tests.
 *
 * paging_desc_of() describes the paging structures of the mode that
 * `cr0`, `cr4` and `efer` select (CR0.PG, CR4.PAE, CR4.PSE, EFER.LMA,
 * EFER.NXE), rooted at `cr3`, with this CPU's MAXPHYADDR and paging
 * features; false (and *d zeroed) when cr0 has PG clear. PAE PDPTEs are
 * described as a level read from memory (regs_level 0); `ctl`, `tag` and
 * `nested` are left zero for the caller. svm/npt.c builds the nested
 * tables' descriptor with it from the host's registers.
 *
 * paging_desc_current() describes the paging mode of the CPU's current
 * CR0/CR4/EFER/CR3 (loading the PDPTE registers lazily, see above, except
 * under nested paging); it returns CPU_OK with *enabled false when CR0.PG
 * = 0.
 *
 * paging_walk() walks `d` for `addr`, checks the rights against d->ctl
 * and, when the access is allowed, sets the accessed and dirty bits. It
 * returns CPU_OK, CPU_FAULT (w->fault, w->stage, w->level and w->error
 * describe it; the caller makes it a #PF or, for stage != GUEST or for
 * the nested tables' own walk, an NPF) or CPU_STOP. It does not touch the
 * TLB.
 */
bool paging_desc_of(const svmx_cpu *cpu, uint64_t cr0, uint64_t cr3,
                    uint64_t cr4, uint64_t efer, pg_desc *d);
cpu_res paging_desc_current(svmx_cpu *cpu, pg_desc *d, bool *enabled);
cpu_res paging_walk(svmx_cpu *cpu, const pg_desc *d, uint64_t addr,
                    unsigned acc, pg_walk *w);

#endif /* SVMX_CPU_PAGING_H */
