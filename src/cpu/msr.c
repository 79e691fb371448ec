/*
 * src/cpu/msr.c - the MSR tables of the two personalities and the one
 * read/write path that enforces them.
 *
 * An MSR is one row. Rows both vendors share are listed once
 * (MSRS_BOTH); the rest once in their vendor's table. The write rule is
 * uniform: bits in `writable` change, bits in `ignored` are dropped, any
 * other bit must repeat its current value, and a few flags add checks
 * (canonical address, PAT memory types, the guest-only lock rules). A
 * failed write changes nothing.
 */
#include <stddef.h>

#include "cpu/cpu_internal.h"
#include "cpu/msr.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

#define AT(field) offsetof(struct svmx_cpu, field)
#define ROW(idx, flags, field, reset, writable, ignored)                      \
    { CPU_MSR_##idx, (flags), AT(field), #idx, (reset), (writable),           \
      (ignored) }
/* ROW(name, flags, storage, reset, writable, ignored): one MSR. */

#define ALL  UINT64_MAX
#define LO32 0x00000000ffffffffull
#define HI32 0xffffffff00000000ull

/*
 * Both vendors (SDM Vol. 4 Table 2-2, APM Vol. 2 appendix A).
 *   IA32_APIC_BASE: BSP (bit 8) set, xAPIC enabled (bit 11) at FEE00000h
 *     (SDM Vol. 4 Table 2-2); no APIC is modelled, the MSR is a value. EN
 *     and the base are writable; EXTD (x2APIC) is not offered.
 *   IA32_SYSENTER_CS: bits 31:0 kept, 63:32 dropped (the VMCS and the
 *     SDM keep 32 bits).
 *   IA32_PAT: reset value of SDM Vol. 3A 13.12.4 / APM Vol. 2 7.8.2; bits
 *     7:3 of each entry reserved, types checked by cpu_pat_valid().
 *   EFER: svmx_sregs.efer, writable bits from the personality.
 *   LSTAR, CSTAR, FS_BASE, GS_BASE, KERNEL_GS_BASE: canonical addresses
 *     (SDM Vol. 2B WRMSR lists all but CSTAR; the model checks CSTAR too,
 *     and applies the rule on AMD as well, as KVM does).
 *   IA32_FMASK (AMD SFMASK): bits 63:32 reserved.
 */
#define MSRS_BOTH                                                             \
    ROW(IA32_TSC,            0,                                               \
        tsc,                     0,                     ALL,   0),            \
    ROW(IA32_APIC_BASE,      CPU_MSRF_PHYS,                                   \
        msr.apic_base,           0xfee00900ull,         0x800, 0),            \
    ROW(IA32_SYSENTER_CS,    0,                                               \
        msr.sysenter_cs,         0,                     LO32,  HI32),         \
    ROW(IA32_PAT,            CPU_MSRF_PAT,                                    \
        msr.pat,                 0x0007040600070406ull,                       \
        0x0707070707070707ull,  0),                                           \
    ROW(IA32_EFER,           CPU_MSRF_ALIAS | CPU_MSRF_EFER,                  \
        sregs.efer,              0,                     0,     0),            \
    ROW(IA32_STAR,           0,                                               \
        msr.star,                0,                     ALL,   0),            \
    ROW(IA32_LSTAR,          CPU_MSRF_CANONICAL,                              \
        msr.lstar,               0,                     ALL,   0),            \
    ROW(IA32_CSTAR,          CPU_MSRF_CANONICAL,                              \
        msr.cstar,               0,                     ALL,   0),            \
    ROW(IA32_FMASK,          0,                                               \
        msr.fmask,               0,                     LO32,  0),            \
    ROW(IA32_FS_BASE,        CPU_MSRF_ALIAS | CPU_MSRF_CANONICAL,             \
        sregs.seg[SVMX_FS].base, 0,                     ALL,   0),            \
    ROW(IA32_GS_BASE,        CPU_MSRF_ALIAS | CPU_MSRF_CANONICAL,             \
        sregs.seg[SVMX_GS].base, 0,                     ALL,   0),            \
    ROW(IA32_KERNEL_GS_BASE, CPU_MSRF_CANONICAL,                              \
        msr.kernel_gs_base,      0,                     ALL,   0)

/*
 * AMD only.
 *   SYSENTER_ESP/EIP: AMD keeps 32 bits (SYSENTER is legacy-mode only,
 *     APM Vol. 3 SYSENTER); a write's bits 63:32 are dropped.
 *   TSC_AUX: bits 63:32 dropped (AMD does not fault on them).
 *   VM_CR (APM Vol. 2 15.30.1): DPD, R_INIT, DIS_A20M, LOCK, SVMDIS.
 *   VM_HSAVE_PA (APM Vol. 2 15.30.4): 4 KiB aligned, below MAXPHYADDR.
 *   PerfEvtSel0-3 (APM Vol. 2 13.2.1, Figure 13-7): EventSelect[7:0],
 *     UnitMask, OS, USR, Edge, INT, EN, INV, CntMask, EventSelect[11:8],
 *     GuestOnly, HostOnly writable, the rest reserved. PerfCtr0-3: 48-bit
 *     counters, bits 63:48 ignored. The model counts no events: a counter
 *     holds what software wrote (docs/personalities.md).
 */
#define PERF_CTL_BITS 0x0000030fffd7ffffull
#define PERF_CTR_BITS 0x0000ffffffffffffull
static const cpu_msr_row amd_msrs[] = {
    MSRS_BOTH,
    /*  name                 flags
            storage                  reset                  writable ignored */
    ROW(IA32_SYSENTER_ESP,   0,
        msr.sysenter_esp,        0,                     LO32,  HI32),
    ROW(IA32_SYSENTER_EIP,   0,
        msr.sysenter_eip,        0,                     LO32,  HI32),
    ROW(IA32_TSC_AUX,        0,
        msr.tsc_aux,             0,                     LO32,  HI32),
    ROW(VM_CR,               CPU_MSRF_VM_CR,
        msr.vm_cr,               0,                     0x1f,  0),
    ROW(VM_HSAVE_PA,         CPU_MSRF_PHYS,
        msr.vm_hsave_pa,         0,                     0,     0),
    ROW(PERF_CTL0, 0, msr.perf_ctl[0], 0, PERF_CTL_BITS, 0),
    ROW(PERF_CTL1, 0, msr.perf_ctl[1], 0, PERF_CTL_BITS, 0),
    ROW(PERF_CTL2, 0, msr.perf_ctl[2], 0, PERF_CTL_BITS, 0),
    ROW(PERF_CTL3, 0, msr.perf_ctl[3], 0, PERF_CTL_BITS, 0),
    ROW(PERF_CTR0, 0, msr.perf_ctr[0], 0, PERF_CTR_BITS, ~PERF_CTR_BITS),
    ROW(PERF_CTR1, 0, msr.perf_ctr[1], 0, PERF_CTR_BITS, ~PERF_CTR_BITS),
    ROW(PERF_CTR2, 0, msr.perf_ctr[2], 0, PERF_CTR_BITS, ~PERF_CTR_BITS),
    ROW(PERF_CTR3, 0, msr.perf_ctr[3], 0, PERF_CTR_BITS, ~PERF_CTR_BITS),
};

/*
 * Intel only.
 *   IA32_FEATURE_CONTROL (SDM Vol. 3C 24.7): lock (0) and VMX outside SMX
 *     (2) writable; reset 0, so software must enable and lock VMX before
 *     VMXON. No SMX: bit 1 stays 0.
 *   IA32_SYSENTER_ESP/EIP: 64-bit canonical addresses (SDM Vol. 2B WRMSR).
 *   IA32_MISC_ENABLE (SDM Vol. 4 Table 2-2): fast strings (0) set and
 *     writable; BTS (11) and PEBS (12) unavailable, read-only; everything
 *     else (MONITOR FSM, XD disable, CPUID limit) not offered.
 *   IA32_TSC_AUX: bits 63:32 reserved.
 */
static const cpu_msr_row intel_msrs[] = {
    MSRS_BOTH,
    /*  name                 flags
            storage                  reset                  writable ignored */
    ROW(IA32_FEATURE_CONTROL, CPU_MSRF_LOCK0,
        msr.feature_control,     0,
        CPU_FEATURE_CONTROL_LOCK | CPU_FEATURE_CONTROL_VMX_OUTSIDE_SMX, 0),
    ROW(IA32_SYSENTER_ESP,   CPU_MSRF_CANONICAL,
        msr.sysenter_esp,        0,                     ALL,   0),
    ROW(IA32_SYSENTER_EIP,   CPU_MSRF_CANONICAL,
        msr.sysenter_eip,        0,                     ALL,   0),
    ROW(IA32_MISC_ENABLE,    0,
        msr.misc_enable,         0x1801,                0x1,   0),
    ROW(IA32_TSC_AUX,        0,
        msr.tsc_aux,             0,                     LO32,  0),
};

const cpu_msr_row *cpu_msr_rows(svmx_vendor vendor, size_t *count)
{
    size_t n = 0;
    const cpu_msr_row *rows = NULL;
    switch (vendor) {
    case SVMX_VENDOR_AMD:
        rows = amd_msrs;
        n = COUNT_OF(amd_msrs);
        break;
    case SVMX_VENDOR_INTEL:
        rows = intel_msrs;
        n = COUNT_OF(intel_msrs);
        break;
    default:
        break;
    }
    if (count)
        *count = n;
    return rows;
}

const cpu_msr_row *cpu_msr_find(svmx_vendor vendor, uint32_t index)
{
    size_t n;
    const cpu_msr_row *rows = cpu_msr_rows(vendor, &n);
    for (size_t i = 0; i < n; i++)
        if (rows[i].index == index)
            return &rows[i];
    return NULL;
}

static uint64_t *msr_ptr(svmx_cpu *cpu, const cpu_msr_row *row)
{
    return (uint64_t *)((char *)cpu + row->store);
}

static uint64_t msr_get(const svmx_cpu *cpu, const cpu_msr_row *row)
{
    return *(const uint64_t *)((const char *)cpu + row->store);
}

uint64_t cpu_msr_writable(const svmx_cpu *cpu, const cpu_msr_row *row)
{
    uint64_t w = row->writable;
    if (row->flags & CPU_MSRF_PHYS)
        w |= ((1ull << cpu->pers->maxphyaddr) - 1) & ~0xfffull;
    if (row->flags & CPU_MSRF_EFER)
        w = cpu->pers->efer_defined;
    return w;
}

void cpu_msr_reset(svmx_cpu *cpu)
{
    size_t n;
    const cpu_msr_row *rows = cpu_msr_rows(cpu->vendor, &n);
    for (size_t i = 0; i < n; i++)
        if (!(rows[i].flags & CPU_MSRF_ALIAS))
            *msr_ptr(cpu, &rows[i]) = rows[i].reset;
}

bool cpu_pat_valid(uint64_t pat)
{
    for (unsigned i = 0; i < 8; i++) {
        uint8_t type = (uint8_t)(pat >> (8 * i));
        if (type > 7 || type == 2 || type == 3)
            return false;
    }
    return true;
}

svmx_status cpu_msr_read(const svmx_cpu *cpu, uint32_t index,
                         uint64_t *value)
{
    if (!cpu || !value)
        return SVMX_E_ARG;
    const cpu_msr_row *row = cpu_msr_find(cpu->vendor, index);
    if (row) {
        *value = msr_get(cpu, row);
        return SVMX_OK;
    }
    const cpu_cap_msr *cap = cpu_personality_cap(cpu->pers, index);
    if (cap) {
        *value = cap->value;
        return SVMX_OK;
    }
    return SVMX_E_FIELD;
}

/*
 * What a guest WRMSR obeys beyond the masks. The host restores state, so
 * it may rewrite locked MSRs and set combinations the CPU would refuse
 * (cpu.h: representable state is accepted).
 */
static svmx_status guest_rules(const svmx_cpu *cpu, const cpu_msr_row *row,
                               uint64_t old, uint64_t *val)
{
    /* SDM Vol. 3C 24.7: WRMSR to a locked IA32_FEATURE_CONTROL is #GP. */
    if ((row->flags & CPU_MSRF_LOCK0) && (old & 1))
        return SVMX_E_STATE;
    if (row->flags & CPU_MSRF_VM_CR) {
        /* APM Vol. 2 15.30.1: with LOCK set, writes to LOCK and SVMDIS
           are ignored; SVMDIS can be set only while EFER.SVME is clear. */
        uint64_t sticky = CPU_VM_CR_LOCK | CPU_VM_CR_SVMDIS;
        if (old & CPU_VM_CR_LOCK)
            *val = (*val & ~sticky) | (old & sticky);
        if ((*val & CPU_VM_CR_SVMDIS) && (cpu->sregs.efer & CPU_EFER_SVME))
            return SVMX_E_STATE;
    }
    /* APM Vol. 2 15.30.1: VM_CR.SVMDIS makes EFER.SVME must-be-zero. */
    if ((row->flags & CPU_MSRF_EFER) && (cpu->msr.vm_cr & CPU_VM_CR_SVMDIS) &&
        (*val & CPU_EFER_SVME))
        return SVMX_E_STATE;
    return SVMX_OK;
}

svmx_status cpu_msr_write(svmx_cpu *cpu, uint32_t index, uint64_t value,
                          bool host)
{
    if (!cpu)
        return SVMX_E_ARG;
    const cpu_msr_row *row = cpu_msr_find(cpu->vendor, index);
    if (!row) {
        /* Capability MSRs are read-only (SDM Vol. 3D appendix A). */
        return cpu_personality_cap(cpu->pers, index) ? SVMX_E_STATE
                                                     : SVMX_E_FIELD;
    }
    if (row->flags & CPU_MSRF_RO)
        return SVMX_E_STATE;

    uint64_t old = msr_get(cpu, row);
    uint64_t w = cpu_msr_writable(cpu, row);
    if ((value ^ old) & ~(w | row->ignored))
        return SVMX_E_STATE; /* a reserved or fixed bit changed */
    uint64_t val = (old & ~w) | (value & w);
    if ((row->flags & CPU_MSRF_CANONICAL) &&
        !cpu_canonical(val, cpu->pers->linear_width))
        return SVMX_E_STATE;
    if ((row->flags & CPU_MSRF_PAT) && !cpu_pat_valid(val))
        return SVMX_E_STATE;
    if (!host)
        SVMX_TRY(guest_rules(cpu, row, old, &val));
    *msr_ptr(cpu, row) = val;
    return SVMX_OK;
}
