/*
 * src/cpu/personality.c - the two CPU personalities, as data, and CPUID.
 *
 * Every CPUID leaf and every capability MSR value of a personality is in
 * its table below; nothing else in svmx invents a feature bit. The rule
 * for choosing a bit: advertise only what the model implements, or will
 * implement as part of the integer x86-64 ISA with its system
 * instructions, paging and SVM/VMX. Notably absent, because the model
 * keeps no x87/SSE state: FPU, MMX, FXSR, SSE*, AVX*, XSAVE (so XCR0 can
 * only hold x87, and CR4.OSFXSR/OSXMMEXCPT/OSXSAVE are undefined). This is
 * not a CPU any OS expects (x86-64 implies SSE2); it is the CPU the model
 * really is. docs/personalities.md gives the reason for every bit.
 */
#include <stddef.h>
#include <string.h>

#include "cpu/cpu_internal.h"
#include "cpu/msr.h"
#include "cpu/personality.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Four characters of a vendor string, as CPUID packs them (low byte first). */
#define FOURCC(a, b, c, d)                                                    \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 |               \
     (uint32_t)(d) << 24)

/* Address widths of both personalities: CPUID 0x80000008 EAX. */
#define MAXPHYADDR   48
#define LINEAR_WIDTH 48
#define WIDTHS       ((uint32_t)MAXPHYADDR | (uint32_t)LINEAR_WIDTH << 8)

/*
 * CPUID.1 shared by both vendors. EDX: PSE, TSC, MSR, PAE, CX8, SEP, PGE,
 * CMOV, PAT, CLFSH; no FPU/MMX/FXSR/SSE (no x87/SSE state), no APIC (none
 * is modelled; IA32_APIC_BASE is kept only as a value), no VME, MCE,
 * MCA, MTRR or PSE-36. ECX: CMPXCHG16B, POPCNT. EBX[15:8]: CLFLUSH line
 * size in 8-byte units (64 bytes; CLFLUSH is a no-op on a model without
 * caches).
 */
#define CPUID1_EDX                                                            \
    (CPU_CPUID1_EDX_DE | CPU_CPUID1_EDX_PSE | CPU_CPUID1_EDX_TSC |            \
     CPU_CPUID1_EDX_MSR |                                                     \
     CPU_CPUID1_EDX_PAE | CPU_CPUID1_EDX_CX8 | CPU_CPUID1_EDX_SEP |           \
     CPU_CPUID1_EDX_PGE | CPU_CPUID1_EDX_CMOV | CPU_CPUID1_EDX_PAT |          \
     CPU_CPUID1_EDX_CLFSH)
#define CPUID1_ECX  (CPU_CPUID1_ECX_CX16 | CPU_CPUID1_ECX_POPCNT)
#define CPUID1_EBX  (8u << 8)
/*
 * CPUID.7.0:EBX: SMEP and SMAP only. BMI1 is clear, so TZCNT (F3 0F BC)
 * executes as BSF, as on CPUs without BMI1 (SDM Vol. 2B TZCNT); INVPCID,
 * FSGSBASE and the rest are not implemented.
 */
#define CPUID7_EBX  (CPU_CPUID7_EBX_SMEP | CPU_CPUID7_EBX_SMAP)
/* CPUID.80000001h:EDX features both vendors report. */
#define CPUIDX1_EDX                                                           \
    (CPU_CPUIDX1_EDX_SYSCALL | CPU_CPUIDX1_EDX_NX | CPU_CPUIDX1_EDX_PG1G |    \
     CPU_CPUIDX1_EDX_RDTSCP | CPU_CPUIDX1_EDX_LM)
/* LAHF/SAHF in 64-bit mode and LZCNT (AMD's ABM bit, Intel's LZCNT). */
#define CPUIDX1_ECX (CPU_CPUIDX1_ECX_LAHF | CPU_CPUIDX1_ECX_LZCNT)

/*
 * CR4 bits backed by an advertised feature (SDM Vol. 3A 2.5, APM Vol. 2
 * 3.1.3); MOV to CR4 setting any other bit is #GP(0). PCE (RDPMC at any
 * CPL) has no CPUID bit and is always defined.
 */
#define CR4_COMMON                                                            \
    (CPU_CR4_TSD | CPU_CR4_DE | CPU_CR4_PSE | CPU_CR4_PAE | CPU_CR4_PGE |     \
     CPU_CR4_PCE |                                                            \
     CPU_CR4_SMEP | CPU_CR4_SMAP)

/* ---------------------------------------------------------------- AMD -- */

/* Family 17h (base F + extended 8), model 31h, stepping 0: Zen 2-like. */
#define AMD_SIGNATURE 0x00830f10u
#define AMD_MAX_BASIC 0x00000007u
#define AMD_MAX_EXT   0x8000000au
/*
 * Fn8000_0001_EDX repeats the Fn0000_0001_EDX bits 0-9, 12-17, 23 and 24
 * (APM Vol. 3 E.4.2); bit 11 there is SYSCALL, not SEP.
 */
#define AMD_X1_EDX_MIRROR 0x0183f3ffu
#define AMD_X1_EDX        ((CPUID1_EDX & AMD_X1_EDX_MIRROR) | CPUIDX1_EDX)
#define AMD_X1_ECX                                                            \
    (CPUIDX1_ECX | CPU_CPUIDX1_ECX_SVM | CPU_CPUIDX1_ECX_CR8L)
/*
 * Fn8000_000A (APM Vol. 3 E.4.9): SVM revision 1, 32768 ASIDs, and the
 * SVM features DESIGN.md promises: nested paging, NRIP save, VMCB clean
 * bits, flush by ASID, decode assists. Nothing else.
 */
#define AMD_SVM_FEATURES                                                      \
    (CPU_SVM_NP | CPU_SVM_NRIPS | CPU_SVM_VMCB_CLEAN |                        \
     CPU_SVM_FLUSH_BY_ASID | CPU_SVM_DECODE_ASSISTS)
#define AMD_NASID 0x8000u

static const cpu_cpuid_row amd_cpuid[] = {
    /* leaf        subleaf         eax            ebx      ecx      edx */
    { 0x00000000, CPU_CPUID_ANY, AMD_MAX_BASIC, FOURCC('A', 'u', 't', 'h'),
      FOURCC('c', 'A', 'M', 'D'), FOURCC('e', 'n', 't', 'i') },
    { 0x00000001, CPU_CPUID_ANY, AMD_SIGNATURE, CPUID1_EBX, CPUID1_ECX,
      CPUID1_EDX },
    { 0x00000002, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* reserved on AMD   */
    { 0x00000003, CPU_CPUID_ANY, 0, 0, 0, 0 },
    { 0x00000004, CPU_CPUID_ANY, 0, 0, 0, 0 },
    { 0x00000005, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* no MONITOR/MWAIT  */
    { 0x00000006, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* no power mgmt     */
    { 0x00000007, 0,             0, CPUID7_EBX, 0, 0 },
    { 0x80000000, CPU_CPUID_ANY, AMD_MAX_EXT, FOURCC('A', 'u', 't', 'h'),
      FOURCC('c', 'A', 'M', 'D'), FOURCC('e', 'n', 't', 'i') },
    { 0x80000001, CPU_CPUID_ANY, AMD_SIGNATURE, 0, AMD_X1_ECX, AMD_X1_EDX },
    /* 0x80000002-4: brand string, from cpu_personality.brand */
    { 0x80000005, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* no cache/TLB info */
    { 0x80000006, CPU_CPUID_ANY, 0, 0, 0, 0 },
    { 0x80000007, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* no invariant TSC  */
    { 0x80000008, CPU_CPUID_ANY, WIDTHS, 0, 0, 0 },  /* one core          */
    { 0x80000009, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* reserved          */
    { 0x8000000a, CPU_CPUID_ANY, 1, AMD_NASID, 0, AMD_SVM_FEATURES },
};

/* ------------------------------------------------------------- Intel -- */

/* Family 6, model 55h (extended 5, base 5), stepping 4: Skylake-SP-like. */
#define INTEL_SIGNATURE 0x00050654u
#define INTEL_MAX_BASIC 0x00000007u
#define INTEL_MAX_EXT   0x80000008u

static const cpu_cpuid_row intel_cpuid[] = {
    /* leaf        subleaf         eax            ebx      ecx      edx */
    { 0x00000000, CPU_CPUID_ANY, INTEL_MAX_BASIC, FOURCC('G', 'e', 'n', 'u'),
      FOURCC('n', 't', 'e', 'l'), FOURCC('i', 'n', 'e', 'I') },
    { 0x00000001, CPU_CPUID_ANY, INTEL_SIGNATURE, CPUID1_EBX,
      CPUID1_ECX | CPU_CPUID1_ECX_VMX, CPUID1_EDX },
    /* AL = 1 (always), no descriptors: no cache information. */
    { 0x00000002, CPU_CPUID_ANY, 0x00000001, 0, 0, 0 },
    { 0x00000003, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* no serial number  */
    { 0x00000004, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* no caches listed  */
    { 0x00000005, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* no MONITOR/MWAIT  */
    { 0x00000006, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* no thermal/power  */
    { 0x00000007, 0,             0, CPUID7_EBX, 0, 0 },
    { 0x80000000, CPU_CPUID_ANY, INTEL_MAX_EXT, 0, 0, 0 },
    /* EDX.SYSCALL reads 1 only in IA-32e mode: see svmx_cpu_cpuid(). */
    { 0x80000001, CPU_CPUID_ANY, 0, 0, CPUIDX1_ECX, CPUIDX1_EDX },
    /* 0x80000002-4: brand string, from cpu_personality.brand */
    { 0x80000005, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* reserved on Intel */
    { 0x80000006, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* no L2 information */
    { 0x80000007, CPU_CPUID_ANY, 0, 0, 0, 0 },       /* no invariant TSC  */
    { 0x80000008, CPU_CPUID_ANY, WIDTHS, 0, 0, 0 },
};

/*
 * VMX capability MSRs (SDM Vol. 3D appendix A). The allowed-1 sets are a
 * first, modest choice that the VMX issue finalizes as it implements each
 * control; every value here is self-consistent (allowed-0 within
 * allowed-1, TRUE allowed-0 within the default1 class) and
 * tests/test_cpu.c checks that.
 *
 * Control bits, by SDM Vol. 3C 25.6.1 (pin-based), 25.6.2 (primary and
 * secondary processor-based), 25.7.1 (VM-exit) and 25.8.1 (VM-entry).
 */
#define PIN_EXT_INTR        (1u << 0)
#define PIN_NMI             (1u << 3)
#define PIN_VIRTUAL_NMIS    (1u << 5)
#define PROC_INTR_WINDOW    (1u << 2)
#define PROC_TSC_OFFSET     (1u << 3)
#define PROC_HLT            (1u << 7)
#define PROC_INVLPG         (1u << 9)
#define PROC_MWAIT          (1u << 10)
#define PROC_RDPMC          (1u << 11)
#define PROC_RDTSC          (1u << 12)
#define PROC_CR3_LOAD       (1u << 15)
#define PROC_CR3_STORE      (1u << 16)
#define PROC_CR8_LOAD       (1u << 19)
#define PROC_CR8_STORE      (1u << 20)
#define PROC_NMI_WINDOW     (1u << 22)
#define PROC_MOV_DR         (1u << 23)
#define PROC_UNCOND_IO      (1u << 24)
#define PROC_IO_BITMAPS     (1u << 25)
#define PROC_MSR_BITMAPS    (1u << 28)
#define PROC_MONITOR        (1u << 29)
#define PROC_PAUSE          (1u << 30)
#define PROC_SECONDARY      (1u << 31)
#define PROC2_EPT           (1u << 1)
#define PROC2_DESC_TABLE    (1u << 2)
#define PROC2_RDTSCP        (1u << 3)
#define PROC2_VPID          (1u << 5)
#define PROC2_WBINVD        (1u << 6)
#define EXIT_SAVE_DEBUG     (1u << 2)
#define EXIT_HOST_AS_SIZE   (1u << 9)
#define EXIT_ACK_INTR       (1u << 15)
#define EXIT_SAVE_PAT       (1u << 18)
#define EXIT_LOAD_PAT       (1u << 19)
#define EXIT_SAVE_EFER      (1u << 20)
#define EXIT_LOAD_EFER      (1u << 21)
#define ENTRY_LOAD_DEBUG    (1u << 2)
#define ENTRY_IA32E_GUEST   (1u << 9)
#define ENTRY_LOAD_PAT      (1u << 14)
#define ENTRY_LOAD_EFER     (1u << 15)

/* The default1 classes (SDM Vol. 3D A.2). */
#define PIN_DEFAULT1   0x00000016u
#define PROC_DEFAULT1  0x0401e172u
#define EXIT_DEFAULT1  0x00036dffu
#define ENTRY_DEFAULT1 0x000011ffu

/* allowed-0 settings in bits 31:0, allowed-1 in bits 63:32 (A.3-A.5). */
#define CTLS(allowed0, allowed1) ((uint64_t)(allowed1) << 32 | (allowed0))

#define PIN_ALLOWED1                                                          \
    (PIN_DEFAULT1 | PIN_EXT_INTR | PIN_NMI | PIN_VIRTUAL_NMIS)
#define PROC_ALLOWED1                                                         \
    (PROC_DEFAULT1 | PROC_INTR_WINDOW | PROC_TSC_OFFSET | PROC_HLT |          \
     PROC_INVLPG | PROC_MWAIT | PROC_RDPMC | PROC_RDTSC | PROC_CR8_LOAD |     \
     PROC_CR8_STORE | PROC_NMI_WINDOW | PROC_MOV_DR | PROC_UNCOND_IO |        \
     PROC_IO_BITMAPS | PROC_MSR_BITMAPS | PROC_MONITOR | PROC_PAUSE |         \
     PROC_SECONDARY)
#define PROC2_ALLOWED1                                                        \
    (PROC2_EPT | PROC2_DESC_TABLE | PROC2_RDTSCP | PROC2_VPID | PROC2_WBINVD)
#define EXIT_ALLOWED1                                                         \
    (EXIT_DEFAULT1 | EXIT_HOST_AS_SIZE | EXIT_ACK_INTR | EXIT_SAVE_PAT |      \
     EXIT_LOAD_PAT | EXIT_SAVE_EFER | EXIT_LOAD_EFER)
#define ENTRY_ALLOWED1                                                        \
    (ENTRY_DEFAULT1 | ENTRY_IA32E_GUEST | ENTRY_LOAD_PAT | ENTRY_LOAD_EFER)

/*
 * IA32_VMX_BASIC (A.1):
 *   [30:0]  VMCS revision identifier     4
 *   [44:32] VMCS region size             4096
 *   [48]    addresses limited to 32 bits 0 (always 0 on Intel 64)
 *   [49]    dual-monitor SMM treatment   0
 *   [53:50] VMCS memory type             6 (WB)
 *   [54]    INS/OUTS instruction info    1
 *   [55]    TRUE control MSRs exist      1
 */
#define VMX_BASIC                                                             \
    (0x00000004ull | 4096ull << 32 | 6ull << 50 | 1ull << 54 | 1ull << 55)
/*
 * IA32_VMX_MISC (A.6):
 *   [4:0]   preemption-timer rate        0 (no preemption timer)
 *   [5]     exits store EFER.LMA         1
 *   [8:6]   activity states HLT, shutdown (no wait-for-SIPI: no APIC)
 *   [24:16] CR3-target values            4
 *   [27:25] MSR-list size 512 * (N + 1)  0
 *   [29]    VMWRITE to exit-info fields  0
 */
#define VMX_MISC (1ull << 5 | 1ull << 6 | 1ull << 7 | 4ull << 16)
/*
 * IA32_VMX_VMCS_ENUM (A.9): [9:1] the highest field index, 21 (the
 * 32-bit guest IA32_SYSENTER_CS field, encoding 482AH); the VMX issue
 * updates it with the field list.
 */
#define VMX_VMCS_ENUM (21ull << 1)
/*
 * IA32_VMX_EPT_VPID_CAP (A.10): 4-level walks (6), UC (8) and WB (14)
 * EPT paging-structure memory types, 2 MiB (16) and 1 GiB (17) pages,
 * INVEPT (20) single-context (25) and all-context (26), INVVPID (32)
 * individual-address (40), single-context (41), all-context (42) and
 * single-context-retaining-globals (43).
 */
#define VMX_EPT_VPID_CAP                                                      \
    (1ull << 6 | 1ull << 8 | 1ull << 14 | 1ull << 16 | 1ull << 17 |           \
     1ull << 20 | 1ull << 25 | 1ull << 26 | 1ull << 32 | 1ull << 40 |         \
     1ull << 41 | 1ull << 42 | 1ull << 43)

#define INTEL_CR4 (CR4_COMMON | CPU_CR4_VMXE)

#define CAP(name, value) { CPU_MSR_##name, #name, (value) }

/*
 * IA32_VMX_VMFUNC (A.11) is absent: it exists only with the 1-setting of
 * "enable VM functions", which PROC2_ALLOWED1 does not offer.
 */
static const cpu_cap_msr intel_caps[] = {
    CAP(IA32_VMX_BASIC, VMX_BASIC),
    CAP(IA32_VMX_PINBASED_CTLS, CTLS(PIN_DEFAULT1, PIN_ALLOWED1)),
    CAP(IA32_VMX_PROCBASED_CTLS, CTLS(PROC_DEFAULT1, PROC_ALLOWED1)),
    CAP(IA32_VMX_EXIT_CTLS, CTLS(EXIT_DEFAULT1, EXIT_ALLOWED1)),
    CAP(IA32_VMX_ENTRY_CTLS, CTLS(ENTRY_DEFAULT1, ENTRY_ALLOWED1)),
    CAP(IA32_VMX_MISC, VMX_MISC),
    /* A.7: PE, NE and PG must be 1; any bit may be 1. */
    CAP(IA32_VMX_CR0_FIXED0, 0x80000021ull),
    CAP(IA32_VMX_CR0_FIXED1, 0xffffffffull),
    /* A.8: VMXE must be 1; only the personality's CR4 bits may be 1. */
    CAP(IA32_VMX_CR4_FIXED0, CPU_CR4_VMXE),
    CAP(IA32_VMX_CR4_FIXED1, INTEL_CR4),
    CAP(IA32_VMX_VMCS_ENUM, VMX_VMCS_ENUM),
    /* A.3.3: no secondary control is default1. */
    CAP(IA32_VMX_PROCBASED_CTLS2, CTLS(0, PROC2_ALLOWED1)),
    CAP(IA32_VMX_EPT_VPID_CAP, VMX_EPT_VPID_CAP),
    /*
     * A.3.1, A.3.2, A.4.1, A.5.1: the TRUE MSRs report which default1
     * controls may be 0 (CR3-load/-store exiting, save/load debug
     * controls, as on hardware); bits 63:32 equal the plain MSR's.
     */
    CAP(IA32_VMX_TRUE_PINBASED_CTLS, CTLS(PIN_DEFAULT1, PIN_ALLOWED1)),
    CAP(IA32_VMX_TRUE_PROCBASED_CTLS,
        CTLS(PROC_DEFAULT1 & ~(PROC_CR3_LOAD | PROC_CR3_STORE), PROC_ALLOWED1)),
    CAP(IA32_VMX_TRUE_EXIT_CTLS,
        CTLS(EXIT_DEFAULT1 & ~EXIT_SAVE_DEBUG, EXIT_ALLOWED1)),
    CAP(IA32_VMX_TRUE_ENTRY_CTLS,
        CTLS(ENTRY_DEFAULT1 & ~ENTRY_LOAD_DEBUG, ENTRY_ALLOWED1)),
};

static const cpu_personality personalities[SVMX_VENDOR_COUNT] = {
    [SVMX_VENDOR_AMD] = {
        .vendor         = SVMX_VENDOR_AMD,
        .name           = "amd",
        .brand          = "svmx AMD64 SVM model",
        .cpuid          = amd_cpuid,
        .cpuid_count    = COUNT_OF(amd_cpuid),
        .max_basic      = AMD_MAX_BASIC,
        .max_ext        = AMD_MAX_EXT,
        .maxphyaddr     = MAXPHYADDR,
        .linear_width   = LINEAR_WIDTH,
        .cr4_defined    = CR4_COMMON,
        /* APM Vol. 2 3.1.7: LMSLE, FFXSR, TCE and later bits stay
           reserved because their features are not advertised. */
        .efer_defined   = CPU_EFER_SCE | CPU_EFER_LME | CPU_EFER_LMA |
                          CPU_EFER_NXE | CPU_EFER_SVME,
        .xcr0_supported = 0x1,
        .caps           = NULL,
        .cap_count      = 0,
    },
    [SVMX_VENDOR_INTEL] = {
        .vendor         = SVMX_VENDOR_INTEL,
        .name           = "intel",
        .brand          = "svmx Intel 64 VMX model",
        .cpuid          = intel_cpuid,
        .cpuid_count    = COUNT_OF(intel_cpuid),
        .max_basic      = INTEL_MAX_BASIC,
        .max_ext        = INTEL_MAX_EXT,
        .maxphyaddr     = MAXPHYADDR,
        .linear_width   = LINEAR_WIDTH,
        .cr4_defined    = INTEL_CR4,
        /* SDM Vol. 4 Table 2-2 IA32_EFER: SCE, LME, LMA, NXE. */
        .efer_defined   = CPU_EFER_SCE | CPU_EFER_LME | CPU_EFER_LMA |
                          CPU_EFER_NXE,
        .xcr0_supported = 0x1,
        .caps           = intel_caps,
        .cap_count      = COUNT_OF(intel_caps),
    },
};

const cpu_personality *cpu_personality_get(svmx_vendor vendor)
{
    if ((unsigned)vendor >= SVMX_VENDOR_COUNT)
        return NULL;
    return &personalities[vendor];
}

const cpu_cap_msr *cpu_personality_cap(const cpu_personality *pers,
                                       uint32_t index)
{
    if (!pers)
        return NULL;
    for (size_t i = 0; i < pers->cap_count; i++)
        if (pers->caps[i].index == index)
            return &pers->caps[i];
    return NULL;
}

static const cpu_cpuid_row *cpuid_row(const cpu_personality *pers,
                                      uint32_t leaf, uint32_t subleaf)
{
    for (size_t i = 0; i < pers->cpuid_count; i++) {
        const cpu_cpuid_row *r = &pers->cpuid[i];
        if (r->leaf == leaf &&
            (r->subleaf == CPU_CPUID_ANY || r->subleaf == subleaf))
            return r;
    }
    return NULL;
}

/* Bytes 16*i .. 16*i+15 of the brand string (NUL-padded to 48 bytes). */
static void brand_leaf(const char *brand, unsigned i, svmx_cpuid_result *out)
{
    uint8_t bytes[48] = { 0 };
    size_t n = strlen(brand);
    memcpy(bytes, brand, n < sizeof bytes - 1 ? n : sizeof bytes - 1);
    uint32_t w[4];
    for (unsigned k = 0; k < 4; k++) {
        const uint8_t *b = &bytes[16 * i + 4 * k];
        w[k] = FOURCC(b[0], b[1], b[2], b[3]);
    }
    out->eax = w[0];
    out->ebx = w[1];
    out->ecx = w[2];
    out->edx = w[3];
}

svmx_status svmx_cpu_cpuid(const svmx_cpu *cpu, uint32_t leaf,
                           uint32_t subleaf, svmx_cpuid_result *out)
{
    if (!cpu || !out)
        return SVMX_E_ARG;
    const cpu_personality *pers = cpu->pers;
    *out = (svmx_cpuid_result){ 0, 0, 0, 0 };

    bool in_range = leaf <= pers->max_basic ||
                    (leaf >= 0x80000000u && leaf <= pers->max_ext);
    if (!in_range) {
        /* APM Vol. 3 E.1: unsupported functions return zeros. */
        if (pers->vendor == SVMX_VENDOR_AMD)
            return SVMX_OK;
        /*
         * SDM Vol. 2A CPUID: above the maximum basic or extended leaf,
         * the highest basic leaf's data is returned; ECX still selects
         * its subleaf.
         */
        leaf = pers->max_basic;
    }

    if (leaf >= 0x80000002u && leaf <= 0x80000004u) {
        brand_leaf(pers->brand, leaf - 0x80000002u, out);
        return SVMX_OK;
    }
    const cpu_cpuid_row *r = cpuid_row(pers, leaf, subleaf);
    if (!r)
        return SVMX_OK; /* a leaf in range without this subleaf: zeros */
    *out = (svmx_cpuid_result){ r->eax, r->ebx, r->ecx, r->edx };

    /* Bits that report the CPU's own state rather than its features. */
    if (leaf == 1) {
        /* EBX[31:24]: initial APIC ID; ECX[27]: OSXSAVE = CR4.OSXSAVE. */
        out->ebx = (out->ebx & 0x00ffffffu) | (uint32_t)cpu->apic_id << 24;
        out->ecx &= ~CPU_CPUID1_ECX_OSXSAVE;
        if (cpu->sregs.cr4 & CPU_CR4_OSXSAVE)
            out->ecx |= CPU_CPUID1_ECX_OSXSAVE;
    } else if (leaf == 0x80000001u && pers->vendor == SVMX_VENDOR_INTEL) {
        /*
         * SDM Vol. 2A CPUID 80000001H EDX[11]: "SYSCALL/SYSRET available
         * in 64-bit mode"; Intel CPUs report it only in IA-32e mode.
         */
        if (!(cpu->sregs.efer & CPU_EFER_LMA))
            out->edx &= ~CPU_CPUIDX1_EDX_SYSCALL;
    }
    return SVMX_OK;
}
