/*
 * src/cpu/cpu_internal.h - the inside of the opaque svmx_cpu, and the
 * cpu_ helpers the files of src/cpu (and the SVM/VMX code) share.
 *
 * struct svmx_cpu is a plain struct: the interpreter and the
 * virtualization code add fields to it. It lives in caller memory of
 * svmx_cpu_size() bytes aligned to SVMX_CPU_ALIGN (svmx_cpu_init) or in
 * memory svmx_cpu_create allocated. Nothing in it is global: every CPU is
 * independent.
 */
#ifndef SVMX_CPU_CPU_INTERNAL_H
#define SVMX_CPU_CPU_INTERNAL_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include "svmx/cpu.h"
#include "svmx/mem.h"
#include "cpu/debug_hooks.h"
#include "cpu/hostmap.h"
#include "cpu/msr.h"
#include "cpu/paging.h"
#include "cpu/personality.h"
#include "decode/mode_derive.h"
#include "nested/nested_state.h"
#include "svm/svm_state.h"

/* CR0 bits (SDM Vol. 3A 2.5, APM Vol. 2 3.1.1). */
#define CPU_CR0_PE (1ull << 0)
#define CPU_CR0_MP (1ull << 1)
#define CPU_CR0_EM (1ull << 2)
#define CPU_CR0_TS (1ull << 3)
#define CPU_CR0_ET (1ull << 4)
#define CPU_CR0_NE (1ull << 5)
#define CPU_CR0_WP (1ull << 16)
#define CPU_CR0_AM (1ull << 18)
#define CPU_CR0_NW (1ull << 29)
#define CPU_CR0_CD (1ull << 30)
#define CPU_CR0_PG (1ull << 31)

/* CR4 bits (SDM Vol. 3A 2.5, APM Vol. 2 3.1.3). */
#define CPU_CR4_VME        (1ull << 0)
#define CPU_CR4_PVI        (1ull << 1)
#define CPU_CR4_TSD        (1ull << 2)
#define CPU_CR4_DE         (1ull << 3)
#define CPU_CR4_PSE        (1ull << 4)
#define CPU_CR4_PAE        (1ull << 5)
#define CPU_CR4_MCE        (1ull << 6)
#define CPU_CR4_PGE        (1ull << 7)
#define CPU_CR4_PCE        (1ull << 8)
#define CPU_CR4_OSFXSR     (1ull << 9)
#define CPU_CR4_OSXMMEXCPT (1ull << 10)
#define CPU_CR4_UMIP       (1ull << 11)
#define CPU_CR4_LA57       (1ull << 12)
#define CPU_CR4_VMXE       (1ull << 13)
#define CPU_CR4_SMXE       (1ull << 14)
#define CPU_CR4_FSGSBASE   (1ull << 16)
#define CPU_CR4_PCIDE      (1ull << 17)
#define CPU_CR4_OSXSAVE    (1ull << 18)
#define CPU_CR4_SMEP       (1ull << 20)
#define CPU_CR4_SMAP       (1ull << 21)
#define CPU_CR4_PKE        (1ull << 22)

/* EFER bits (SDM Vol. 4 Table 2-2 IA32_EFER, APM Vol. 2 3.1.7). */
#define CPU_EFER_SCE   (1ull << 0)
#define CPU_EFER_LME   (1ull << 8)
#define CPU_EFER_LMA   (1ull << 10)
#define CPU_EFER_NXE   (1ull << 11)
#define CPU_EFER_SVME  (1ull << 12)  /* AMD */
#define CPU_EFER_LMSLE (1ull << 13)  /* AMD, not modelled */
#define CPU_EFER_FFXSR (1ull << 14)  /* AMD, not modelled */
#define CPU_EFER_TCE   (1ull << 15)  /* AMD, not modelled */

/*
 * DR6 and DR7 fixed bits (SDM Vol. 3B 18.2.3-18.2.4, APM Vol. 2
 * 13.1.1.3-13.1.1.4), for a CPU without RTM or bus-lock detection:
 * DR6 B0-B3, BD, BS, BT and DR7 L0-G3, LE, GE, GD, R/W0-LEN3 are the
 * writable bits; the rest of bits 31:0 read as the fixed value.
 */
#define CPU_DR6_WRITABLE 0x0000e00full
#define CPU_DR6_FIXED1   0xffff0ff0ull
#define CPU_DR7_WRITABLE 0xffff23ffull
#define CPU_DR7_FIXED1   0x00000400ull
#define CPU_DR6_BD       (1ull << 13)   /* debug-register access detected */
#define CPU_DR6_BS       (1ull << 14)   /* single step */

struct svmx_cpu {
    alignas(SVMX_CPU_ALIGN) svmx_regs regs;
    svmx_sregs    sregs;
    svmx_dregs    dregs;
    svmx_events   events;
    uint64_t      tsc;          /* IA32_TSC                               */
    cpu_msr_store msr;          /* MSRs with storage of their own         */
    uint8_t       apic_id;      /* initial APIC ID, CPUID.1:EBX[31:24]    */
    svmx_vendor   vendor;
    const cpu_personality *pers;
    svmx_mem      mem;          /* its io is io_fwd when the config has
                                   callbacks (cpu.c)                      */
    svmx_io_ops   io_fwd;       /* forwards to io_user, ending the epoch  */
    const svmx_io_ops *io_user; /* the config's callbacks                 */
    bool          owned;        /* from svmx_cpu_create: destroy frees it */
    cpu_tlb       tlb;          /* software TLB (paging.c)                */
    cpu_hostmap   hostmap;      /* fast path to RAM pages (hostmap.h)     */
    cpu_svm       svm;          /* AMD SVM (src/svm/svm_state.h)          */
    cpu_nested    nested;       /* router and L0 policy (src/nested)      */
    cpu_debug     debug;        /* the embedder's debug hooks             */

    /* The interpreter (exec.c). */
    svmx_decode_cache *dcache;  /* placed after the struct, see cpu.c     */
    svmx_stop    *stop;         /* the record of the run in progress      */
    bool          stop_requested;
    bool          db_deferred;  /* a #DB trap held by MOV SS ...          */
    uint64_t      db_deferred_dr6; /* ... and the DR6 bits it reports     */
    bool          bp_armed;     /* DR7 enables a breakpoint: accesses are
                                   matched (breakpoint.h)                 */
    uint8_t       bp_hits;      /* DR6 B0-B3 of this instruction's data
                                   and I/O breakpoint hits                */
    unsigned      decode_flags; /* SVMX_DECODE_* of this vendor           */
    bool          attention;    /* an event or stop request arrived while
                                   running: end the fast loop (exec.c)    */
};

/* Entries of the per-CPU decode cache (1 << n). */
#define CPU_DCACHE_LOG2 10

/*
 * The current privilege level: 0 in real mode, 3 in virtual-8086 mode,
 * SS.DPL otherwise (the convention of the VMCB's CPL field and of VMX
 * guest state, APM Vol. 2 15.5.1 and SDM Vol. 3C 27.3.1.2).
 */
static inline unsigned cpu_cpl(const svmx_cpu *cpu)
{
    if (!(cpu->sregs.cr0 & CPU_CR0_PE))
        return 0;
    if ((cpu->regs.rflags & SVMX_RFLAGS_VM) && !(cpu->sregs.efer & CPU_EFER_LMA))
        return 3;
    return SVMX_SEG_ATTR_DPL(cpu->sregs.seg[SVMX_SS].attr);
}

/* svmx_cpu_mode() without the NULL check, inline for the run loop. */
static inline svmx_mode cpu_mode(const svmx_cpu *cpu)
{
    uint16_t cs = cpu->sregs.seg[SVMX_CS].attr;
    return decode_mode_derive(cpu->sregs.cr0, cpu->regs.rflags, cpu->sregs.efer,
                              (cs & SVMX_SEG_ATTR_L) != 0,
                              (cs & SVMX_SEG_ATTR_DB) != 0);
}

/*
 * True if `addr` is canonical for a linear-address width of `width` bits:
 * bits 63:width-1 all equal (SDM Vol. 1 3.3.7.1, APM Vol. 2 5.3.1).
 */
static inline bool cpu_canonical(uint64_t addr, unsigned width)
{
    uint64_t top = addr >> (width - 1);
    return top == 0 || top == (UINT64_MAX >> (width - 1));
}

#endif /* SVMX_CPU_CPU_INTERNAL_H */
