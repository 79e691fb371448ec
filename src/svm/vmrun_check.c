/*
 * src/svm/vmrun_check.c - the VMRUN consistency checks (APM Vol. 2 15.5.1
 * "Canonicalization and Consistency Checks", 15.20, 15.21.10, 15.25.3-4)
 * as a pure function of the VMCB bytes and the CPU's capabilities, and the
 * capabilities themselves, taken from the personality tables.
 *
 * Every check is evaluated so the result lists all that fail; the one
 * reported first is the first in the APM's list order. The APM does not
 * say in which order hardware evaluates them, and VMEXIT_INVALID carries
 * no indication of which one failed, so the order is only visible through
 * this function. docs/svm.md gives each check's boundary and source.
 */
#include <stddef.h>

#include "cpu/cpu_internal.h"
#include "cpu/personality.h"
#include "svm/svm_exec.h"
#include "svm/svm_internal.h"
#include "svm/vmrun_check.h"
#include "svmx/svm.h"

_Static_assert(SVMX_SVM_CHECK_COUNT <= 64, "one bit per check in `failed`");

/* ------------------------------------------------------ capabilities -- */

/*
 * Vectors that are exceptions (APM Vol. 2 8.2 Table 8-1): #DE 0, #DB 1,
 * #BP 3, #OF 4, #BR 5, #UD 6, #NM 7, #DF 8, #TS 10, #NP 11, #SS 12, #GP 13,
 * #PF 14, #MF 16, #AC 17, #MC 18, #XF 19, #SX 30. Vector 2 is NMI, an
 * interrupt (15.20 names it); 9, 15, 20, 22-27 and 31 are reserved; #CP
 * (21), #HV (28) and #VC (29) exist only with shadow stacks, SEV-SNP and
 * SEV-ES, which the personality does not advertise.
 */
#define EXCEPTION_VECTORS 0x400f7dfbu
#define VECTOR_CP         21u
#define CPUID7_ECX_CET_SS (1u << 7)

/* A CPUID answer from a personality's table alone (no CPU state). */
static svmx_cpuid_result pers_cpuid(const cpu_personality *p, uint32_t leaf)
{
    bool in_range = leaf <= p->max_basic ||
                    (leaf >= 0x80000000u && leaf <= p->max_ext);
    for (size_t i = 0; in_range && i < p->cpuid_count; i++) {
        const cpu_cpuid_row *r = &p->cpuid[i];
        if (r->leaf == leaf &&
            (r->subleaf == CPU_CPUID_ANY || r->subleaf == 0))
            return (svmx_cpuid_result){ r->eax, r->ebx, r->ecx, r->edx };
    }
    return (svmx_cpuid_result){ 0, 0, 0, 0 };
}

/* The CPUID leaves the capabilities come from. */
typedef struct caps_leaves {
    svmx_cpuid_result l7, x1, x8, xa;
} caps_leaves;

static svmx_status caps_fill(const cpu_personality *p, const caps_leaves *l,
                             svmx_svm_caps *caps)
{
    if (!(l->x1.ecx & CPU_CPUIDX1_ECX_SVM))
        return SVMX_E_UNSUPPORTED;
    *caps = (svmx_svm_caps){
        .maxphyaddr        = (uint8_t)(l->x8.eax & 0xffu),
        .long_mode         = (l->x1.edx & CPU_CPUIDX1_EDX_LM) != 0,
        .svm_features      = l->xa.edx,
        .nasid             = l->xa.ebx,
        .cr4_allowed       = p->cr4_defined,
        .efer_allowed      = p->efer_defined,
        .exception_vectors = EXCEPTION_VECTORS,
        .host_paging       = true,
        .host_long_mode    = true,
    };
    if (l->l7.ecx & CPUID7_ECX_CET_SS)
        caps->exception_vectors |= 1u << VECTOR_CP;
    return SVMX_OK;
}

svmx_status svmx_svm_caps_default(svmx_svm_caps *caps)
{
    const cpu_personality *p = cpu_personality_get(SVMX_VENDOR_AMD);
    if (!caps || !p)
        return SVMX_E_ARG;
    caps_leaves l = {
        .l7 = pers_cpuid(p, 7),
        .x1 = pers_cpuid(p, 0x80000001u),
        .x8 = pers_cpuid(p, 0x80000008u),
        .xa = pers_cpuid(p, 0x8000000au),
    };
    return caps_fill(p, &l, caps);
}

/* The personality's part of a CPU's capabilities (CPUID), which no CPU
 * state changes. */
static svmx_status caps_personal(const svmx_cpu *cpu, svmx_svm_caps *caps)
{
    const cpu_personality *p = cpu_personality_get(svmx_cpu_vendor(cpu));
    if (!p)
        return SVMX_E_ARG;
    caps_leaves l;
    SVMX_TRY(svmx_cpu_cpuid(cpu, 7, 0, &l.l7));
    SVMX_TRY(svmx_cpu_cpuid(cpu, 0x80000001u, 0, &l.x1));
    SVMX_TRY(svmx_cpu_cpuid(cpu, 0x80000008u, 0, &l.x8));
    SVMX_TRY(svmx_cpu_cpuid(cpu, 0x8000000au, 0, &l.xa));
    return caps_fill(p, &l, caps);
}

svmx_status svmx_svm_caps_from_cpu(const svmx_cpu *cpu, svmx_svm_caps *caps)
{
    if (!cpu || !caps)
        return SVMX_E_ARG;
    if (cpu->svm.caps_ready)
        *caps = cpu->svm.caps;
    else
        SVMX_TRY(caps_personal(cpu, caps));
    svm_caps_host(cpu, caps);
    return SVMX_OK;
}

svmx_status svm_caps_personal(svmx_cpu *cpu)
{
    SVMX_TRY(caps_personal(cpu, &cpu->svm.caps));
    cpu->svm.caps_ready = true;
    return SVMX_OK;
}

/* ------------------------------------------------------------- names -- */

const char *svmx_svm_check_name(svmx_svm_check check)
{
    static const char *const names[SVMX_SVM_CHECK_COUNT] = {
#define CHECK_NAME(name, field, text, cite) [SVMX_SVM_CHECK_##name] = #name,
        SVMX_SVM_CHECKS(CHECK_NAME)
#undef CHECK_NAME
    };
    return (unsigned)check < SVMX_SVM_CHECK_COUNT ? names[check] : "?";
}

const char *svmx_svm_check_str(svmx_svm_check check)
{
    static const char *const text[SVMX_SVM_CHECK_COUNT] = {
#define CHECK_TEXT(name, field, desc, cite) [SVMX_SVM_CHECK_##name] = desc,
        SVMX_SVM_CHECKS(CHECK_TEXT)
#undef CHECK_TEXT
    };
    return (unsigned)check < SVMX_SVM_CHECK_COUNT ? text[check] : "?";
}

const char *svmx_svm_check_cite(svmx_svm_check check)
{
    static const char *const cites[SVMX_SVM_CHECK_COUNT] = {
#define CHECK_CITE(name, field, text, cite) [SVMX_SVM_CHECK_##name] = cite,
        SVMX_SVM_CHECKS(CHECK_CITE)
#undef CHECK_CITE
    };
    return (unsigned)check < SVMX_SVM_CHECK_COUNT ? cites[check] : "";
}

/*
 * What a failing check reports: its field, and how to read that field's
 * value from the page in one load - the 8 bytes at `load` masked to the
 * field's width, which is what svmx_vmcb_get() returns. SVMX_SVM_CHECK_OK
 * reports no field and the value 0 (mask 0).
 */
typedef struct check_report {
    svmx_vmcb_field field;
    uint16_t        load;   /* offset of the 8-byte load             */
    uint64_t        mask;   /* ones over the field; 0 for no value   */
} check_report;

/* Each field's width, and whether it is a scalar (svmx_vmcb_get reads it). */
enum {
    VMCB_WIDTH_FIELD_NONE = 0,
    VMCB_SCALAR_FIELD_NONE = 0,
#define IS_SCALAR_VALUE 1
#define IS_SCALAR_BYTES 0
#define FIELD_FACTS(name, off, width, kind)                                   \
    VMCB_WIDTH_##name = (width), VMCB_SCALAR_##name = IS_SCALAR_##kind,
    SVMX_VMCB_FIELDS(FIELD_FACTS)
#undef FIELD_FACTS
#undef IS_SCALAR_VALUE
#undef IS_SCALAR_BYTES
};

/* Ones in the low `w` bytes, 1 <= w <= 8 (the & keeps w = 0 defined). */
#define WIDTH_MASK(w) (~0ull >> ((64 - 8 * (w)) & 63))

/* The 8-byte load stays inside the page (FIELD_NONE loads nothing). */
#define CHECK_LOAD_FITS(name, field, text, cite)                              \
    _Static_assert(SVMX_VMCB_##field == SVMX_VMCB_FIELD_NONE ||               \
                   SVMX_VMCB_##field + 8 <= SVMX_VMCB_SIZE,                   \
                   "check " #name ": its field is too near the page end");
SVMX_SVM_CHECKS(CHECK_LOAD_FITS)
#undef CHECK_LOAD_FITS

static const check_report reports[SVMX_SVM_CHECK_COUNT] = {
#define CHECK_REPORT(name, field, text, cite)                                 \
    [SVMX_SVM_CHECK_##name] = {                                               \
        SVMX_VMCB_##field,                                                    \
        SVMX_VMCB_##field == SVMX_VMCB_FIELD_NONE ? 0 : SVMX_VMCB_##field,    \
        VMCB_SCALAR_##field ? WIDTH_MASK(VMCB_WIDTH_##field) : 0 },
    SVMX_SVM_CHECKS(CHECK_REPORT)
#undef CHECK_REPORT
};

svmx_vmcb_field svmx_svm_check_field(svmx_svm_check check)
{
    return (unsigned)check < SVMX_SVM_CHECK_COUNT ? reports[check].field
                                                   : SVMX_VMCB_FIELD_NONE;
}

/* ------------------------------------------------------------ checks -- */

/*
 * 15.10.1, 15.11: VMRUN ignores bits 11:0 of the base; the map is illegal
 * if "the address of the last byte ... is greater than or equal to the
 * maximum supported physical address", read literally: 2^MAXPHYADDR - 1.
 */
static inline bool map_in_range(uint64_t base_pa, uint64_t size,
                                unsigned maxphyaddr)
{
    uint64_t base = base_pa & ~0xfffull;
    uint64_t last = base + size - 1;
    uint64_t max_pa = (1ull << maxphyaddr) - 1;
    return last >= base && last < max_pa;
}

/* The lowest set bit of x != 0 (checks are bits 1..63). */
static inline unsigned lowest_bit(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned n = 0;
    while (!((x >> n) & 1))
        n++;
    return n;
#endif
}

/* The bits above `width` are set (width < 64). */
#define ABOVE(v, width) (((v) >> (width)) != 0)

svmx_status svmx_svm_vmrun_check(const svmx_vmcb *vmcb,
                                 const svmx_svm_caps *caps,
                                 svmx_svm_check_result *result)
{
    if (!vmcb || !caps || !result || caps->maxphyaddr < 32 ||
        caps->maxphyaddr > 52)
        return SVMX_E_ARG;

    uint64_t efer = svm_rd64(vmcb, SVMX_VMCB_EFER);
    uint64_t cr0 = svm_rd64(vmcb, SVMX_VMCB_CR0);
    uint64_t cr3 = svm_rd64(vmcb, SVMX_VMCB_CR3);
    uint64_t cr4 = svm_rd64(vmcb, SVMX_VMCB_CR4);
    uint16_t cs = svm_rd16(vmcb, SVMX_VMCB_CS_ATTRIB);
    bool lme_pg = (efer & CPU_EFER_LME) && (cr0 & CPU_CR0_PG);
    uint64_t failed = 0;
    /* A check is its condition shifted into its bit: no branch of its own. */
#define FAIL_IF(cond, check)                                                  \
    (failed |= (uint64_t)((cond) != 0) << SVMX_SVM_CHECK_##check)

    /* 1-12: guest state (15.5.1, in the APM's order). */
    FAIL_IF(!(efer & CPU_EFER_SVME), EFER_SVME);
    FAIL_IF(!(cr0 & CPU_CR0_CD) && (cr0 & CPU_CR0_NW), CR0_CD_NW);
    FAIL_IF(ABOVE(cr0, 32), CR0_HIGH);
    /* 3.1.2: a long-mode CR3 holds a physical address (bits 63:M MBZ);
       outside long mode CR3 is a 32-bit register (docs/svm.md). */
    FAIL_IF(ABOVE(cr3, lme_pg ? caps->maxphyaddr : 32u), CR3_MBZ);
    FAIL_IF(cr4 & ~caps->cr4_allowed, CR4_MBZ);
    FAIL_IF(ABOVE(svm_rd64(vmcb, SVMX_VMCB_DR6), 32), DR6_HIGH);
    FAIL_IF(ABOVE(svm_rd64(vmcb, SVMX_VMCB_DR7), 32), DR7_HIGH);
    FAIL_IF(efer & ~caps->efer_allowed, EFER_MBZ);
    FAIL_IF((efer & (CPU_EFER_LMA | CPU_EFER_LME)) && !caps->long_mode,
            EFER_NO_LONG_MODE);
    FAIL_IF(lme_pg && !(cr4 & CPU_CR4_PAE), LONG_NO_PAE);
    FAIL_IF(lme_pg && !(cr0 & CPU_CR0_PE), LONG_NO_PE);
    FAIL_IF(lme_pg && (cr4 & CPU_CR4_PAE) && (cs & SVMX_SEG_ATTR_L) &&
            (cs & SVMX_SEG_ATTR_DB), LONG_CS_L_D);

    /* 13-15: controls. */
    FAIL_IF(!svm_icpt_bit(vmcb, SVMX_SVM_INTERCEPT_VMRUN), VMRUN_INTERCEPT);
    FAIL_IF(!map_in_range(svm_rd64(vmcb, SVMX_VMCB_MSRPM_BASE_PA),
                          SVMX_SVM_MSRPM_SIZE, caps->maxphyaddr), MSRPM_BASE);
    FAIL_IF(!map_in_range(svm_rd64(vmcb, SVMX_VMCB_IOPM_BASE_PA),
                          SVMX_SVM_IOPM_SIZE, caps->maxphyaddr), IOPM_BASE);

    /* 16-18: event injection (15.20), only for a valid event. */
    uint64_t ev = svm_rd64(vmcb, SVMX_VMCB_EVENTINJ);
    bool ev_valid = (ev & SVMX_SVM_EVENT_VALID) != 0;
    unsigned type = SVMX_SVM_EVENT_TYPE(ev);
    unsigned vec = SVMX_SVM_EVENT_VECTOR(ev);
    bool ev_exc = ev_valid && type == SVMX_SVM_EVENT_TYPE_EXCEPTION;
    bool guest64 = (efer & CPU_EFER_LMA) && (cs & SVMX_SEG_ATTR_L);
    bool is_exc = vec < 32 && ((caps->exception_vectors >> vec) & 1);
    FAIL_IF(ev_valid && (type == 1 || type > 4), EVENTINJ_TYPE);
    FAIL_IF(ev_exc && !is_exc, EVENTINJ_VECTOR);
    /* BOUND and INTO are invalid in 64-bit mode: no #BR, #OF. */
    FAIL_IF(ev_exc && guest64 && (vec == 4 || vec == 5), EVENTINJ_MODE);

    /* 19: the host's ASID is 0 (15.5.1, 15.25.1). */
    FAIL_IF(svm_rd32(vmcb, SVMX_VMCB_GUEST_ASID) == 0, ASID_ZERO);

    /* 20-22: nested paging, where advertised (15.25.3, 15.25.4). */
    bool np = (caps->svm_features & SVMX_SVM_FEATURE_NP) &&
              (svm_rd64(vmcb, SVMX_VMCB_NP_ENABLE) & SVMX_VMCB_NP_ENABLE_BIT);
    FAIL_IF(np && !caps->host_paging, NP_HOST_PAGING);
    FAIL_IF(np && ABOVE(svm_rd64(vmcb, SVMX_VMCB_N_CR3),
                        caps->host_long_mode ? caps->maxphyaddr : 32u),
            NCR3_MBZ);
    FAIL_IF(np && !svm_pat_valid(svm_rd64(vmcb, SVMX_VMCB_G_PAT)), G_PAT);

    /* 23: virtual NMIs need the NMI intercept, where advertised. */
    FAIL_IF((caps->svm_features & SVMX_SVM_FEATURE_VNMI) &&
            (vmcb->bytes[SVMX_VMCB_V_INTR_MASKING] &
             SVMX_VMCB_V_NMI_ENABLE_BIT) &&
            !svm_icpt_bit(vmcb, SVMX_SVM_INTERCEPT_NMI),
            VNMI_INTERCEPT);
#undef FAIL_IF

    svmx_svm_check first = failed ? (svmx_svm_check)lowest_bit(failed)
                                  : SVMX_SVM_CHECK_OK;
    const check_report *rep = &reports[first];
    result->first = first;
    result->failed = failed;
    result->field = rep->field;
    result->value = svm_rd64(vmcb, rep->load) & rep->mask;
    return SVMX_OK;
}
