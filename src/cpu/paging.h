/*
 * src/cpu/paging.h - linear to physical translation: the page walker for
 * 32-bit, PAE and 4-level paging, the #PF error codes, accessed/dirty
 * updates and the software TLB.
 *
 * The walker is written once over a description of the paging structure
 * (root, levels, entry format) so that the same code walks the second
 * dimension of nested paging (NPT's nCR3 tables, later EPT) when the SVM
 * and VMX issues plug it in: every guest-physical access the walker makes
 * goes through paging_gpa_access(), the single place where that dimension
 * will be inserted.
 */
#ifndef SVMX_CPU_PAGING_H
#define SVMX_CPU_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/fault.h"

typedef struct svmx_cpu svmx_cpu;

/* Access kinds and qualifiers for paging_translate(). */
#define PG_READ       0x0u
#define PG_WRITE      0x1u
#define PG_EXEC       0x2u   /* instruction fetch                          */
#define PG_KIND_MASK  0x3u
#define PG_USER       0x4u   /* made at CPL 3 (an explicit user access)    */
#define PG_SUPERVISOR_IMPLICIT 0x8u /* GDT/LDT/IDT/TSS access: supervisor
                                       even at CPL 3 (SDM Vol. 3A 4.6)     */

/* Software TLB geometry; the state itself is defined in paging.c's
 * companion header section below and embedded in struct svmx_cpu. */
#define PG_TLB_ENTRIES 256

typedef struct pg_tlb_entry {
    uint64_t vpn;        /* linear page number + 1; 0 = empty             */
    uint64_t pfn;        /* physical page number                           */
    uint8_t  perm;       /* implementation-defined permission summary     */
    uint8_t  global;
    uint8_t  dirty;      /* the D bit is known set                         */
    uint8_t  pad;
    uint32_t size_shift; /* 12, 21, 22 or 30: the page size it came from  */
} pg_tlb_entry;

typedef struct cpu_tlb {
    pg_tlb_entry e[PG_TLB_ENTRIES];
} cpu_tlb;

/*
 * Translates linear address `lin` for an access of kind `acc` (PG_READ,
 * PG_WRITE or PG_EXEC, ORed with PG_USER and/or PG_SUPERVISOR_IMPLICIT)
 * under the CPU's current CR0/CR3/CR4/EFER/RFLAGS.AC. Without CR0.PG the
 * linear address is the physical one. On CPU_FAULT, *f is the #PF with its
 * error code and CR2 (SDM Vol. 3A 4.7, APM Vol. 2 5.5); the caller
 * delivers it. A/D bits are updated as the walk goes.
 */
cpu_res paging_translate(svmx_cpu *cpu, uint64_t lin, unsigned acc,
                         uint64_t *phys, cpu_fault *f);

/* Drops TLB entries: all of them, or all but global ones (MOV CR3 without
 * PCID keeps global pages, SDM Vol. 3A 4.10.4.1). */
void paging_flush(svmx_cpu *cpu, bool keep_global);

/* INVLPG: drops whatever translates `lin`, global or not. */
void paging_invlpg(svmx_cpu *cpu, uint64_t lin);

#endif /* SVMX_CPU_PAGING_H */
