/*
 * src/cpu/msr.h - the MSR store: which model-specific registers a
 * personality has, where each one lives, which bits a write may change.
 *
 * Each personality has one table of rows (msr.c); an MSR is one row:
 * index, name, storage, reset value, writable mask, ignored mask, flags.
 * Capability MSRs (the VMX ones) are not rows here: they are read-only
 * values in the personality's own table (personality.c) and are found
 * after the store's rows.
 *
 * The same two functions serve the host (svmx_cpu_get_msr/set_msr) and
 * the guest (RDMSR/WRMSR, which turns any failing status into #GP(0),
 * SDM Vol. 2B WRMSR, APM Vol. 3 WRMSR).
 */
#ifndef SVMX_CPU_MSR_H
#define SVMX_CPU_MSR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svmx/cpu.h"

/*
 * MSR indices (SDM Vol. 4 Table 2-2, APM Vol. 2 appendix A). Intel's
 * architectural names; AMD's own MSRs by their APM names.
 */
#define CPU_MSR_IA32_TSC                0x00000010u
#define CPU_MSR_IA32_APIC_BASE          0x0000001bu
#define CPU_MSR_IA32_FEATURE_CONTROL    0x0000003au
#define CPU_MSR_IA32_SYSENTER_CS        0x00000174u
#define CPU_MSR_IA32_SYSENTER_ESP       0x00000175u
#define CPU_MSR_IA32_SYSENTER_EIP       0x00000176u
#define CPU_MSR_IA32_MISC_ENABLE        0x000001a0u
#define CPU_MSR_IA32_PAT                0x00000277u
#define CPU_MSR_IA32_VMX_BASIC          0x00000480u
#define CPU_MSR_IA32_VMX_PINBASED_CTLS  0x00000481u
#define CPU_MSR_IA32_VMX_PROCBASED_CTLS 0x00000482u
#define CPU_MSR_IA32_VMX_EXIT_CTLS      0x00000483u
#define CPU_MSR_IA32_VMX_ENTRY_CTLS     0x00000484u
#define CPU_MSR_IA32_VMX_MISC           0x00000485u
#define CPU_MSR_IA32_VMX_CR0_FIXED0     0x00000486u
#define CPU_MSR_IA32_VMX_CR0_FIXED1     0x00000487u
#define CPU_MSR_IA32_VMX_CR4_FIXED0     0x00000488u
#define CPU_MSR_IA32_VMX_CR4_FIXED1     0x00000489u
#define CPU_MSR_IA32_VMX_VMCS_ENUM      0x0000048au
#define CPU_MSR_IA32_VMX_PROCBASED_CTLS2 0x0000048bu
#define CPU_MSR_IA32_VMX_EPT_VPID_CAP   0x0000048cu
#define CPU_MSR_IA32_VMX_TRUE_PINBASED_CTLS  0x0000048du
#define CPU_MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x0000048eu
#define CPU_MSR_IA32_VMX_TRUE_EXIT_CTLS 0x0000048fu
#define CPU_MSR_IA32_VMX_TRUE_ENTRY_CTLS 0x00000490u
#define CPU_MSR_IA32_VMX_VMFUNC         0x00000491u
#define CPU_MSR_IA32_EFER               0xc0000080u
#define CPU_MSR_IA32_STAR               0xc0000081u
#define CPU_MSR_IA32_LSTAR              0xc0000082u
#define CPU_MSR_IA32_CSTAR              0xc0000083u
#define CPU_MSR_IA32_FMASK              0xc0000084u  /* AMD: SFMASK */
#define CPU_MSR_IA32_FS_BASE            0xc0000100u
#define CPU_MSR_IA32_GS_BASE            0xc0000101u
#define CPU_MSR_IA32_KERNEL_GS_BASE     0xc0000102u
#define CPU_MSR_IA32_TSC_AUX            0xc0000103u
#define CPU_MSR_VM_CR                   0xc0010114u  /* AMD */
#define CPU_MSR_VM_HSAVE_PA             0xc0010117u  /* AMD */
/* AMD legacy performance counters (APM Vol. 2 13.2.1): PerfEvtSel0-3
 * and PerfCtr0-3. */
#define CPU_MSR_PERF_CTL0               0xc0010000u  /* AMD */
#define CPU_MSR_PERF_CTL1               0xc0010001u  /* AMD */
#define CPU_MSR_PERF_CTL2               0xc0010002u  /* AMD */
#define CPU_MSR_PERF_CTL3               0xc0010003u  /* AMD */
#define CPU_MSR_PERF_CTR0               0xc0010004u  /* AMD */
#define CPU_MSR_PERF_CTR1               0xc0010005u  /* AMD */
#define CPU_MSR_PERF_CTR2               0xc0010006u  /* AMD */
#define CPU_MSR_PERF_CTR3               0xc0010007u  /* AMD */
#define CPU_AMD_PERF_COUNTERS           4u

/* IA32_FEATURE_CONTROL bits (SDM Vol. 3C 24.7). */
#define CPU_FEATURE_CONTROL_LOCK        0x1u
#define CPU_FEATURE_CONTROL_VMX_OUTSIDE_SMX 0x4u

/* VM_CR bits (APM Vol. 2 15.30.1). */
#define CPU_VM_CR_DPD      0x01u
#define CPU_VM_CR_R_INIT   0x02u
#define CPU_VM_CR_DIS_A20M 0x04u
#define CPU_VM_CR_LOCK     0x08u
#define CPU_VM_CR_SVMDIS   0x10u

/*
 * Storage of the MSRs that are registers of their own. EFER, IA32_TSC,
 * FS_BASE and GS_BASE are not here: they are the same storage as
 * svmx_sregs.efer, the TSC and the FS/GS segment bases.
 */
typedef struct cpu_msr_store {
    uint64_t apic_base;
    uint64_t feature_control;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t misc_enable;
    uint64_t pat;
    uint64_t star, lstar, cstar, fmask;
    uint64_t kernel_gs_base;
    uint64_t tsc_aux;
    uint64_t vm_cr, vm_hsave_pa;
    uint64_t perf_ctl[4], perf_ctr[4];   /* AMD, never counting       */
} cpu_msr_store;

/* cpu_msr_row.flags */
#define CPU_MSRF_RO        0x01u /* every write refused                    */
#define CPU_MSRF_ALIAS     0x02u /* storage is another register's; that
                                   register's reset sets it              */
#define CPU_MSRF_CANONICAL 0x04u /* value must be a canonical address     */
#define CPU_MSRF_PAT       0x08u /* every byte a valid PAT memory type    */
#define CPU_MSRF_PHYS      0x10u /* also writable: bits MAXPHYADDR-1:12   */
#define CPU_MSRF_EFER      0x20u /* writable = personality's EFER bits    */
#define CPU_MSRF_LOCK0     0x40u /* bit 0 set: guest writes refused       */
#define CPU_MSRF_VM_CR     0x80u /* VM_CR's LOCK/SVMDIS rules for guests  */

/*
 * One MSR of a personality.
 *   writable  bits a write may change
 *   ignored   bits a write may hold but that are dropped (read as 0)
 *   other bits are fixed: a write must repeat their current value, or it
 *   is refused (SVMX_E_STATE; a guest WRMSR gets #GP(0)).
 */
typedef struct cpu_msr_row {
    uint32_t    index;
    uint32_t    flags;
    size_t      store;     /* offsetof(struct svmx_cpu, ...) */
    const char *name;
    uint64_t    reset;
    uint64_t    writable;
    uint64_t    ignored;
} cpu_msr_row;

/* The MSR table of a vendor (count in *count); NULL outside the enum. */
const cpu_msr_row *cpu_msr_rows(svmx_vendor vendor, size_t *count);

/* The row of `index` in a vendor's table, or NULL. */
const cpu_msr_row *cpu_msr_find(svmx_vendor vendor, uint32_t index);

/* The bits of `row` a write may change on this CPU (flags applied). */
uint64_t cpu_msr_writable(const svmx_cpu *cpu, const cpu_msr_row *row);

/* Sets every non-alias MSR of the CPU's table to its reset value. */
void cpu_msr_reset(svmx_cpu *cpu);

/*
 * Reads MSR `index`: SVMX_OK, SVMX_E_FIELD if the personality does not
 * have it, SVMX_E_ARG for NULL pointers.
 */
svmx_status cpu_msr_read(const svmx_cpu *cpu, uint32_t index,
                         uint64_t *value);

/*
 * Writes MSR `index`. `host` is true for the state API and false for a
 * guest WRMSR; the guest additionally obeys the lock bits
 * (IA32_FEATURE_CONTROL, VM_CR) and VM_CR.SVMDIS. SVMX_E_FIELD for an MSR
 * the personality lacks, SVMX_E_STATE (nothing changed) for a refused
 * value or a read-only MSR, SVMX_E_ARG for a NULL cpu.
 */
svmx_status cpu_msr_write(svmx_cpu *cpu, uint32_t index, uint64_t value,
                          bool host);

/*
 * True if every byte of a PAT value is a defined memory type: 0 UC, 1 WC,
 * 4 WT, 5 WP, 6 WB, 7 UC- (SDM Vol. 3A 13.12.2, APM Vol. 2 7.8.1). Also
 * what VMRUN checks in the VMCB's G_PAT and VM entry in the guest PAT.
 */
bool cpu_pat_valid(uint64_t pat);

#endif /* SVMX_CPU_MSR_H */
