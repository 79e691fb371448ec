/*
 * src/cpu/personality.h - what a modelled CPU says it is: vendor, CPUID
 * table, address widths, the control-register and EFER bits it defines,
 * and its capability MSRs.
 *
 * One personality per svmx_vendor, each one constant table in
 * personality.c (DESIGN.md: "Every CPUID leaf and capability MSR value
 * lives in one table per personality"). Everything else that depends on
 * what the CPU supports (set_sregs validation, the MSR store, VMX and SVM
 * checks) reads it from here, so a feature is switched on or off in one
 * place. docs/personalities.md explains every value.
 */
#ifndef SVMX_CPU_PERSONALITY_H
#define SVMX_CPU_PERSONALITY_H

#include <stddef.h>
#include <stdint.h>

#include "svmx/cpu.h"

/* cpu_cpuid_row.subleaf of a leaf that ignores ECX. */
#define CPU_CPUID_ANY 0xffffffffu

/*
 * One CPUID answer. A leaf with subleaves (CPUID.7) has one row per
 * subleaf it defines; a subleaf without a row reads as zeros (SDM Vol. 2A
 * CPUID, "invalid subleaf": all four registers 0).
 */
typedef struct cpu_cpuid_row {
    uint32_t leaf;
    uint32_t subleaf;  /* CPU_CPUID_ANY: ECX is ignored */
    uint32_t eax, ebx, ecx, edx;
} cpu_cpuid_row;

/* A read-only capability MSR and its value (VMX: SDM Vol. 3D appendix A). */
typedef struct cpu_cap_msr {
    uint32_t    index;
    const char *name;
    uint64_t    value;
} cpu_cap_msr;

typedef struct cpu_personality {
    svmx_vendor          vendor;
    const char          *name;         /* "amd", "intel" */
    const char          *brand;        /* CPUID 0x80000002-4, < 48 bytes */
    const cpu_cpuid_row *cpuid;
    size_t               cpuid_count;
    uint32_t             max_basic;    /* == CPUID.0:EAX */
    uint32_t             max_ext;      /* == CPUID.80000000h:EAX */
    uint8_t              maxphyaddr;   /* == CPUID.80000008h:EAX[7:0] */
    uint8_t              linear_width; /* == CPUID.80000008h:EAX[15:8] */
    uint64_t             cr4_defined;  /* CR4 bits MOV CR4 may set */
    uint64_t             efer_defined; /* EFER bits WRMSR may set */
    /*
     * XCR0 bits XSETBV may set. Only x87 (bit 0, which must always be
     * set, SDM Vol. 1 13.3): the model has no x87/SSE/AVX register state,
     * so no other state component can be enabled.
     */
    uint64_t             xcr0_supported;
    const cpu_cap_msr   *caps;         /* read-only capability MSRs */
    size_t               cap_count;
} cpu_personality;

/* The personality of a vendor; NULL outside the enum. */
const cpu_personality *cpu_personality_get(svmx_vendor vendor);

/* The capability MSR `index` of a personality, or NULL if it has none. */
const cpu_cap_msr *cpu_personality_cap(const cpu_personality *pers,
                                       uint32_t index);

/*
 * Feature bits of the CPUID leaves the model looks at (SDM Vol. 2A CPUID
 * Tables 3-8, 3-10, 3-11; APM Vol. 3 appendix E). Only bits the model
 * reads or advertises are named.
 */
#define CPU_CPUID1_ECX_MONITOR   (1u << 3)
#define CPU_CPUID1_ECX_VMX       (1u << 5)
#define CPU_CPUID1_ECX_CX16      (1u << 13)
#define CPU_CPUID1_ECX_POPCNT    (1u << 23)
#define CPU_CPUID1_ECX_XSAVE     (1u << 26)
#define CPU_CPUID1_ECX_OSXSAVE   (1u << 27)
#define CPU_CPUID1_EDX_DE        (1u << 2)
#define CPU_CPUID1_EDX_PSE       (1u << 3)
#define CPU_CPUID1_EDX_TSC       (1u << 4)
#define CPU_CPUID1_EDX_MSR       (1u << 5)
#define CPU_CPUID1_EDX_PAE       (1u << 6)
#define CPU_CPUID1_EDX_CX8       (1u << 8)
#define CPU_CPUID1_EDX_APIC      (1u << 9)
#define CPU_CPUID1_EDX_SEP       (1u << 11)
#define CPU_CPUID1_EDX_PGE       (1u << 13)
#define CPU_CPUID1_EDX_CMOV      (1u << 15)
#define CPU_CPUID1_EDX_PAT       (1u << 16)
#define CPU_CPUID1_EDX_CLFSH     (1u << 19)
#define CPU_CPUID7_EBX_SMEP      (1u << 7)
#define CPU_CPUID7_EBX_SMAP      (1u << 20)
#define CPU_CPUIDX1_ECX_LAHF     (1u << 0)   /* LAHF/SAHF in 64-bit mode */
#define CPU_CPUIDX1_ECX_SVM      (1u << 2)   /* AMD */
#define CPU_CPUIDX1_ECX_CR8L     (1u << 4)   /* AMD AltMovCr8 */
#define CPU_CPUIDX1_ECX_LZCNT    (1u << 5)   /* AMD ABM, Intel LZCNT */
#define CPU_CPUIDX1_ECX_MONITORX (1u << 29)  /* AMD */
#define CPU_CPUIDX1_EDX_SYSCALL  (1u << 11)
#define CPU_CPUIDX1_EDX_NX       (1u << 20)
#define CPU_CPUIDX1_EDX_PG1G     (1u << 26)
#define CPU_CPUIDX1_EDX_RDTSCP   (1u << 27)
#define CPU_CPUIDX1_EDX_LM       (1u << 29)
/* CPUID Fn8000_000A_EDX, SVM features (APM Vol. 3 E.4.9). */
#define CPU_SVM_NP               (1u << 0)
#define CPU_SVM_NRIPS            (1u << 3)
#define CPU_SVM_VMCB_CLEAN       (1u << 5)
#define CPU_SVM_FLUSH_BY_ASID    (1u << 6)
#define CPU_SVM_DECODE_ASSISTS   (1u << 7)

#endif /* SVMX_CPU_PERSONALITY_H */
