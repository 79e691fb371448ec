/*
 * svmx/svm.h - AMD SVM: the VMCB, the #VMEXIT codes and their intercept
 * bits, the permission maps, and the VMRUN consistency checks.
 *
 * Everything here is a pure function over caller memory: the VMCB is a
 * transparent 4 KiB value (struct svmx_vmcb) read and written only through
 * the field accessors, little-endian whatever the host. Nothing allocates,
 * nothing is global and mutable, and no VMCB or bitmap content (guest data)
 * can make a function abort: a field or exit code this model does not know
 * is a status, NULL or "?", and an illegal guest state is an answer
 * (svmx_svm_vmrun_check), not an error.
 *
 * References: AMD64 Architecture Programmer's Manual Vol. 2 (APM), chapter
 * 15 "Secure Virtual Machine", appendix B "Layout of VMCB" (Table B-1
 * control area, Table B-2 state-save area) and appendix C "SVM Intercept
 * Exit Codes" (Table C-1). docs/svm.md says what is modelled.
 */
#ifndef SVMX_SVM_H
#define SVMX_SVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svmx/cpu.h"
#include "svmx/mem.h"
#include "svmx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================ VMCB == */

/* The VMCB: one 4 KiB page of guest memory (APM Vol. 2 15.5, appendix B). */
#define SVMX_VMCB_SIZE 4096u

typedef struct svmx_vmcb {
    uint8_t bytes[SVMX_VMCB_SIZE];
} svmx_vmcb;

/*
 * X(NAME, offset, width, kind): every architecturally defined VMCB field,
 * the single source of the offsets, the names, the accessors and the
 * layout checks (STYLE.md 3.3). `offset` is from the start of the page,
 * `width` in bytes; `kind` is VALUE for a little-endian scalar (width 1, 2,
 * 4 or 8) or BYTES for a byte array. Rows are in offset order. Fields that
 * share a word with others are listed as the byte they live in; the bit
 * macros after the list name the bits inside those bytes. Reserved and
 * software-use areas (control area 0x3E0-0x3FF) have no row.
 *
 * Control area: APM Vol. 2 Table B-1.
 */
#define SVMX_VMCB_CONTROL_FIELDS(X)                                           \
    X(INTERCEPT_CR,              0x000, 4,  VALUE) /* [15:0] read CRn,     */ \
                                                   /* [31:16] write CRn    */ \
    X(INTERCEPT_DR,              0x004, 4,  VALUE) /* same for DRn         */ \
    X(INTERCEPT_EXC,             0x008, 4,  VALUE) /* vector n: bit n      */ \
    X(INTERCEPT_MISC1,           0x00c, 4,  VALUE) /* vector 3: INTR..     */ \
    X(INTERCEPT_MISC2,           0x010, 4,  VALUE) /* vector 4: VMRUN..    */ \
    X(INTERCEPT_MISC3,           0x014, 4,  VALUE) /* vector 5: INVLPGB..  */ \
    X(PAUSE_FILTER_THRESHOLD,    0x03c, 2,  VALUE)                            \
    X(PAUSE_FILTER_COUNT,        0x03e, 2,  VALUE)                            \
    X(IOPM_BASE_PA,              0x040, 8,  VALUE) /* [11:0] ignored       */ \
    X(MSRPM_BASE_PA,             0x048, 8,  VALUE) /* [11:0] ignored       */ \
    X(TSC_OFFSET,                0x050, 8,  VALUE)                            \
    X(GUEST_ASID,                0x058, 4,  VALUE)                            \
    X(TLB_CONTROL,               0x05c, 1,  VALUE) /* SVMX_SVM_TLB_*       */ \
    X(V_TPR,                     0x060, 1,  VALUE) /* [3:0] used           */ \
    X(V_IRQ,                     0x061, 1,  VALUE) /* SVMX_VMCB_V_IRQ_*    */ \
    X(V_INTR_PRIO,               0x062, 1,  VALUE) /* + V_IGN_TPR          */ \
    X(V_INTR_MASKING,            0x063, 1,  VALUE) /* + vGIF/vNMI/AVIC en. */ \
    X(V_INTR_VECTOR,             0x064, 1,  VALUE)                            \
    X(INTERRUPT_SHADOW,          0x068, 8,  VALUE) /* [0] shadow [1] mask  */ \
    X(EXITCODE,                  0x070, 8,  VALUE)                            \
    X(EXITINFO1,                 0x078, 8,  VALUE)                            \
    X(EXITINFO2,                 0x080, 8,  VALUE)                            \
    X(EXITINTINFO,               0x088, 8,  VALUE) /* SVMX_SVM_EVENT_*     */ \
    X(NP_ENABLE,                 0x090, 8,  VALUE) /* SVMX_VMCB_NP_*       */ \
    X(AVIC_APIC_BAR,             0x098, 8,  VALUE)                            \
    X(GHCB_PA,                   0x0a0, 8,  VALUE)                            \
    X(EVENTINJ,                  0x0a8, 8,  VALUE) /* SVMX_SVM_EVENT_*     */ \
    X(N_CR3,                     0x0b0, 8,  VALUE)                            \
    X(LBR_VIRTUALIZATION_ENABLE, 0x0b8, 8,  VALUE) /* SVMX_VMCB_VIRT_*     */ \
    X(VMCB_CLEAN,                0x0c0, 4,  VALUE)                            \
    X(NRIP,                      0x0c8, 8,  VALUE)                            \
    X(GUEST_INSTR_BYTES_COUNT,   0x0d0, 1,  VALUE) /* [3:0] bytes fetched  */ \
    X(GUEST_INSTR_BYTES,         0x0d1, 15, BYTES)                            \
    X(AVIC_APIC_BACKING_PAGE,    0x0e0, 8,  VALUE)                            \
    X(AVIC_LOGICAL_TABLE,        0x0f0, 8,  VALUE)                            \
    X(AVIC_PHYSICAL_TABLE,       0x0f8, 8,  VALUE) /* + [11:0] MAX_INDEX   */ \
    X(VMSA_PA,                   0x108, 8,  VALUE) /* SEV-ES               */ \
    X(VMGEXIT_RAX,               0x110, 8,  VALUE) /* SEV-ES               */ \
    X(VMGEXIT_CPL,               0x118, 1,  VALUE) /* SEV-ES               */ \
    X(BUS_LOCK_COUNTER,          0x120, 2,  VALUE)                            \
    X(UPDATE_IRR,                0x134, 4,  VALUE) /* SEV-SNP              */ \
    X(ALLOWED_SEV_FEATURES,      0x138, 8,  VALUE) /* SEV-SNP              */ \
    X(GUEST_SEV_FEATURES,        0x140, 8,  VALUE) /* SEV-SNP              */ \
    X(REQUESTED_IRR,             0x150, 32, BYTES) /* SEV-SNP              */

/*
 * State-save area: APM Vol. 2 Table B-2 (offsets here from the start of
 * the page, the table's plus 0x400). Segments are selector, 12-bit
 * attributes (svmx_segment.attr's format), expanded limit and base; GDTR
 * and IDTR have only limit and base.
 */
#define SVMX_VMCB_SAVE_FIELDS(X)                                              \
    X(ES_SELECTOR,               0x400, 2,  VALUE)                            \
    X(ES_ATTRIB,                 0x402, 2,  VALUE)                            \
    X(ES_LIMIT,                  0x404, 4,  VALUE)                            \
    X(ES_BASE,                   0x408, 8,  VALUE)                            \
    X(CS_SELECTOR,               0x410, 2,  VALUE)                            \
    X(CS_ATTRIB,                 0x412, 2,  VALUE)                            \
    X(CS_LIMIT,                  0x414, 4,  VALUE)                            \
    X(CS_BASE,                   0x418, 8,  VALUE)                            \
    X(SS_SELECTOR,               0x420, 2,  VALUE)                            \
    X(SS_ATTRIB,                 0x422, 2,  VALUE)                            \
    X(SS_LIMIT,                  0x424, 4,  VALUE)                            \
    X(SS_BASE,                   0x428, 8,  VALUE)                            \
    X(DS_SELECTOR,               0x430, 2,  VALUE)                            \
    X(DS_ATTRIB,                 0x432, 2,  VALUE)                            \
    X(DS_LIMIT,                  0x434, 4,  VALUE)                            \
    X(DS_BASE,                   0x438, 8,  VALUE)                            \
    X(FS_SELECTOR,               0x440, 2,  VALUE)                            \
    X(FS_ATTRIB,                 0x442, 2,  VALUE)                            \
    X(FS_LIMIT,                  0x444, 4,  VALUE)                            \
    X(FS_BASE,                   0x448, 8,  VALUE)                            \
    X(GS_SELECTOR,               0x450, 2,  VALUE)                            \
    X(GS_ATTRIB,                 0x452, 2,  VALUE)                            \
    X(GS_LIMIT,                  0x454, 4,  VALUE)                            \
    X(GS_BASE,                   0x458, 8,  VALUE)                            \
    X(GDTR_LIMIT,                0x464, 4,  VALUE) /* [15:0] used          */ \
    X(GDTR_BASE,                 0x468, 8,  VALUE)                            \
    X(LDTR_SELECTOR,             0x470, 2,  VALUE)                            \
    X(LDTR_ATTRIB,               0x472, 2,  VALUE)                            \
    X(LDTR_LIMIT,                0x474, 4,  VALUE)                            \
    X(LDTR_BASE,                 0x478, 8,  VALUE)                            \
    X(IDTR_LIMIT,                0x484, 4,  VALUE) /* [15:0] used          */ \
    X(IDTR_BASE,                 0x488, 8,  VALUE)                            \
    X(TR_SELECTOR,               0x490, 2,  VALUE)                            \
    X(TR_ATTRIB,                 0x492, 2,  VALUE)                            \
    X(TR_LIMIT,                  0x494, 4,  VALUE)                            \
    X(TR_BASE,                   0x498, 8,  VALUE)                            \
    X(CPL,                       0x4cb, 1,  VALUE)                            \
    X(EFER,                      0x4d0, 8,  VALUE)                            \
    X(CR4,                       0x548, 8,  VALUE)                            \
    X(CR3,                       0x550, 8,  VALUE)                            \
    X(CR0,                       0x558, 8,  VALUE)                            \
    X(DR7,                       0x560, 8,  VALUE)                            \
    X(DR6,                       0x568, 8,  VALUE)                            \
    X(RFLAGS,                    0x570, 8,  VALUE)                            \
    X(RIP,                       0x578, 8,  VALUE)                            \
    X(RSP,                       0x5d8, 8,  VALUE)                            \
    X(S_CET,                     0x5e0, 8,  VALUE) /* shadow stacks        */ \
    X(SSP,                       0x5e8, 8,  VALUE) /* shadow stacks        */ \
    X(ISST_ADDR,                 0x5f0, 8,  VALUE) /* shadow stacks        */ \
    X(RAX,                       0x5f8, 8,  VALUE)                            \
    X(STAR,                      0x600, 8,  VALUE)                            \
    X(LSTAR,                     0x608, 8,  VALUE)                            \
    X(CSTAR,                     0x610, 8,  VALUE)                            \
    X(SFMASK,                    0x618, 8,  VALUE)                            \
    X(KERNEL_GS_BASE,            0x620, 8,  VALUE)                            \
    X(SYSENTER_CS,               0x628, 8,  VALUE)                            \
    X(SYSENTER_ESP,              0x630, 8,  VALUE)                            \
    X(SYSENTER_EIP,              0x638, 8,  VALUE)                            \
    X(CR2,                       0x640, 8,  VALUE)                            \
    X(G_PAT,                     0x668, 8,  VALUE) /* nested paging       */ \
    X(DBGCTL,                    0x670, 8,  VALUE) /* LBR virtualization  */ \
    X(BR_FROM,                   0x678, 8,  VALUE)                            \
    X(BR_TO,                     0x680, 8,  VALUE)                            \
    X(LASTEXCPFROM,              0x688, 8,  VALUE)                            \
    X(LASTEXCPTO,                0x690, 8,  VALUE)                            \
    X(SPEC_CTRL,                 0x6e0, 8,  VALUE)

/* The whole VMCB, control area first. */
#define SVMX_VMCB_FIELDS(X) SVMX_VMCB_CONTROL_FIELDS(X) SVMX_VMCB_SAVE_FIELDS(X)

/*
 * A field is named by its offset: SVMX_VMCB_CR0 == 0x558. An offset that
 * is not the start of a listed field is not a field (SVMX_E_FIELD).
 */
typedef enum svmx_vmcb_field {
#define SVMX_VMCB_ENUM_(name, off, width, kind) SVMX_VMCB_##name = (off),
    SVMX_VMCB_FIELDS(SVMX_VMCB_ENUM_)
#undef SVMX_VMCB_ENUM_
    SVMX_VMCB_FIELD_NONE = SVMX_VMCB_SIZE /* not a field: past the page */
} svmx_vmcb_field;

/* Row numbers of the list, for iteration: 0 .. SVMX_VMCB_FIELD_COUNT-1. */
enum {
#define SVMX_VMCB_INDEX_(name, off, width, kind) SVMX_VMCB_INDEX_##name,
    SVMX_VMCB_FIELDS(SVMX_VMCB_INDEX_)
#undef SVMX_VMCB_INDEX_
    SVMX_VMCB_FIELD_COUNT
};

/* What the list says about one field. */
typedef struct svmx_vmcb_field_info {
    const char *name;    /* "CR0": the row name, without SVMX_VMCB_      */
    uint16_t    offset;  /* == the svmx_vmcb_field value                 */
    uint8_t     width;   /* bytes                                         */
    bool        bytes;   /* a byte array (BYTES) rather than a scalar     */
} svmx_vmcb_field_info;

/*
 * The row of `field`, or NULL if `field` is not the offset of a listed
 * field. Never fails otherwise; the result points at constant data.
 */
SVMX_API const svmx_vmcb_field_info *svmx_vmcb_field_info_of(
    svmx_vmcb_field field);

/* Row `index` (0 .. SVMX_VMCB_FIELD_COUNT-1) in offset order, else NULL. */
SVMX_API const svmx_vmcb_field_info *svmx_vmcb_field_at(size_t index);

/* Name of a field for traces ("CR0"), or "?" for an unknown offset. */
SVMX_API const char *svmx_vmcb_field_name(svmx_vmcb_field field);

/*
 * Looks a field up by its exact row name ("EXITINFO1"); SVMX_E_FIELD if
 * none has it, SVMX_E_ARG for NULL pointers.
 */
SVMX_API svmx_status svmx_vmcb_field_lookup(const char *name,
                                            svmx_vmcb_field *field);

/*
 * Reads a scalar field (little-endian). Returns 0 for a NULL vmcb, an
 * unknown offset or a BYTES field: use svmx_vmcb_read() where that must be
 * told apart from a zero field.
 */
SVMX_API uint64_t svmx_vmcb_get(const svmx_vmcb *vmcb, svmx_vmcb_field field);

/*
 * The same with a status: SVMX_E_ARG for NULL pointers, SVMX_E_FIELD for an
 * unknown offset or a BYTES field.
 */
SVMX_API svmx_status svmx_vmcb_read(const svmx_vmcb *vmcb,
                                    svmx_vmcb_field field, uint64_t *value);

/*
 * Writes a scalar field. SVMX_E_ARG for a NULL vmcb, SVMX_E_FIELD for an
 * unknown offset or a BYTES field, SVMX_E_STATE (nothing written) for a
 * value wider than the field.
 */
SVMX_API svmx_status svmx_vmcb_set(svmx_vmcb *vmcb, svmx_vmcb_field field,
                                   uint64_t value);

/*
 * Copies a whole field, scalar or BYTES, to or from buf; `len` must be the
 * field's width (SVMX_E_ARG otherwise, or for NULL pointers; SVMX_E_FIELD
 * for an unknown offset). Scalars are copied in their VMCB (little-endian)
 * byte order.
 */
SVMX_API svmx_status svmx_vmcb_read_bytes(const svmx_vmcb *vmcb,
                                          svmx_vmcb_field field, void *buf,
                                          size_t len);
SVMX_API svmx_status svmx_vmcb_write_bytes(svmx_vmcb *vmcb,
                                           svmx_vmcb_field field,
                                           const void *buf, size_t len);

/*
 * Bits inside the byte fields of the interrupt-control qword at 0x060
 * (APM Vol. 2 Table B-1, 15.21; qword bit n is bit n % 8 of byte n / 8):
 *   V_IRQ byte (0x061)          [0] V_IRQ  [1] V_GIF  [3] V_NMI
 *                               [4] V_NMI_MASK
 *   V_INTR_PRIO byte (0x062)    [3:0] V_INTR_PRIO  [4] V_IGN_TPR
 *   V_INTR_MASKING byte (0x063) [0] V_INTR_MASKING  [1] V_GIF_ENABLE
 *                               [2] V_NMI_ENABLE  [6] x2AVIC_ENABLE
 *                               [7] AVIC_ENABLE
 */
#define SVMX_VMCB_V_IRQ_BIT            0x01u
#define SVMX_VMCB_V_GIF_BIT            0x02u
#define SVMX_VMCB_V_NMI_BIT            0x08u
#define SVMX_VMCB_V_NMI_MASK_BIT       0x10u
#define SVMX_VMCB_V_INTR_PRIO_MASK     0x0fu
#define SVMX_VMCB_V_IGN_TPR_BIT        0x10u
#define SVMX_VMCB_V_INTR_MASKING_BIT   0x01u
#define SVMX_VMCB_V_GIF_ENABLE_BIT     0x02u
#define SVMX_VMCB_V_NMI_ENABLE_BIT     0x04u
#define SVMX_VMCB_X2AVIC_ENABLE_BIT    0x40u
#define SVMX_VMCB_AVIC_ENABLE_BIT      0x80u

/* INTERRUPT_SHADOW (0x068). */
#define SVMX_VMCB_INTERRUPT_SHADOW_BIT 0x1ull
#define SVMX_VMCB_GUEST_INTR_MASK_BIT  0x2ull  /* SEV-ES */

/*
 * NP_ENABLE qword (0x090):
 *   [0] NP_ENABLE  [1] SEV  [2] SEV-ES  [3] guest-mode execute trap
 *   [4] SSSCheckEn  [5] virtual transparent encryption
 *   [6] read-only guest page tables  [7] INVLPGB/TLBSYNC enable
 */
#define SVMX_VMCB_NP_ENABLE_BIT        0x01ull
#define SVMX_VMCB_SEV_ENABLE_BIT       0x02ull
#define SVMX_VMCB_SEV_ES_ENABLE_BIT    0x04ull

/*
 * LBR_VIRTUALIZATION_ENABLE qword (0x0B8): [0] LBR virtualization
 * [1] virtual VMSAVE/VMLOAD [2] IBS virtualization [3] PMC virtualization.
 */
#define SVMX_VMCB_VIRT_LBR_BIT         0x1ull
#define SVMX_VMCB_VIRT_VMSAVE_BIT      0x2ull

/* TLB_CONTROL encodings (APM Vol. 2 15.16.1 Table 15-9); others reserved. */
#define SVMX_SVM_TLB_NOTHING           0x00u
#define SVMX_SVM_TLB_FLUSH_ALL         0x01u
#define SVMX_SVM_TLB_FLUSH_ASID        0x03u
#define SVMX_SVM_TLB_FLUSH_ASID_LOCAL  0x07u

/*
 * EVENTINJ and EXITINTINFO (APM Vol. 2 15.20 Figure 15-5, 15.7.2
 * Figure 15-1), one format:
 *   [7:0]   VECTOR     (ignored for TYPE 2, NMI)
 *   [10:8]  TYPE       0 INTR, 2 NMI, 3 exception, 4 INTn; 1, 5-7 reserved
 *   [11]    EV         push ERRORCODE
 *   [30:12] reserved, SBZ
 *   [31]    V          valid
 *   [63:32] ERRORCODE
 */
#define SVMX_SVM_EVENT_VECTOR(e)       ((unsigned)((e) & 0xffu))
#define SVMX_SVM_EVENT_TYPE(e)         ((unsigned)(((e) >> 8) & 7u))
#define SVMX_SVM_EVENT_EV              (1ull << 11)
#define SVMX_SVM_EVENT_VALID           (1ull << 31)
#define SVMX_SVM_EVENT_ERRORCODE(e)    ((uint32_t)((e) >> 32))
#define SVMX_SVM_EVENT_TYPE_INTR       0u
#define SVMX_SVM_EVENT_TYPE_NMI        2u
#define SVMX_SVM_EVENT_TYPE_EXCEPTION  3u
#define SVMX_SVM_EVENT_TYPE_SWINT      4u

/* ===================================================== intercept bits == */

/*
 * The six intercept words at 0x000-0x017 form one vector of 192 bits;
 * intercept i is bit i % 32 of the word at offset 4 * (i / 32). For every
 * exit code below 0x0C0 the exit code is its intercept's number.
 * CR/DR/exception bits go by number; the named bits of words 3-5 (APM Vol.
 * 2 Table B-1, "intercept vectors 3, 4 and 5") are in this list:
 * X(NAME, word, bit).
 */
#define SVMX_SVM_INTERCEPT_BITS(X)                                            \
    X(INTR,              3, 0)                                                \
    X(NMI,               3, 1)                                                \
    X(SMI,               3, 2)                                                \
    X(INIT,              3, 3)                                                \
    X(VINTR,             3, 4)                                                \
    X(CR0_SEL_WRITE,     3, 5)  /* CR0 write changing a bit but TS/MP */      \
    X(IDTR_READ,         3, 6)                                                \
    X(GDTR_READ,         3, 7)                                                \
    X(LDTR_READ,         3, 8)                                                \
    X(TR_READ,           3, 9)                                                \
    X(IDTR_WRITE,        3, 10)                                               \
    X(GDTR_WRITE,        3, 11)                                               \
    X(LDTR_WRITE,        3, 12)                                               \
    X(TR_WRITE,          3, 13)                                               \
    X(RDTSC,             3, 14)                                               \
    X(RDPMC,             3, 15)                                               \
    X(PUSHF,             3, 16)                                               \
    X(POPF,              3, 17)                                               \
    X(CPUID,             3, 18)                                               \
    X(RSM,               3, 19)                                               \
    X(IRET,              3, 20)                                               \
    X(INTN,              3, 21)                                               \
    X(INVD,              3, 22)                                               \
    X(PAUSE,             3, 23)                                               \
    X(HLT,               3, 24)                                               \
    X(INVLPG,            3, 25)                                               \
    X(INVLPGA,           3, 26)                                               \
    X(IOIO_PROT,         3, 27) /* then the IOPM decides */                   \
    X(MSR_PROT,          3, 28) /* then the MSRPM decides */                  \
    X(TASK_SWITCH,       3, 29)                                               \
    X(FERR_FREEZE,       3, 30)                                               \
    X(SHUTDOWN,          3, 31)                                               \
    X(VMRUN,             4, 0)  /* must be set for VMRUN to succeed */        \
    X(VMMCALL,           4, 1)                                                \
    X(VMLOAD,            4, 2)                                                \
    X(VMSAVE,            4, 3)                                                \
    X(STGI,              4, 4)                                                \
    X(CLGI,              4, 5)                                                \
    X(SKINIT,            4, 6)                                                \
    X(RDTSCP,            4, 7)                                                \
    X(ICEBP,             4, 8)                                                \
    X(WBINVD,            4, 9)  /* and WBNOINVD */                            \
    X(MONITOR,           4, 10) /* and MONITORX */                            \
    X(MWAIT,             4, 11) /* unconditional, and MWAITX */               \
    X(MWAIT_CONDITIONAL, 4, 12) /* only if armed */                           \
    X(XSETBV,            4, 13)                                               \
    X(RDPRU,             4, 14)                                               \
    X(EFER_WRITE_TRAP,   4, 15) /* bits 16-31: CR0-CR15 write traps */        \
    X(INVLPGB,           5, 0)                                                \
    X(INVLPGB_ILLEGAL,   5, 1)                                                \
    X(INVPCID,           5, 2)                                                \
    X(MCOMMIT,           5, 3)                                                \
    X(TLBSYNC,           5, 4)                                                \
    X(BUS_LOCK,          5, 5)                                                \
    X(IDLE_HLT,          5, 6)

/* Intercept numbers: SVMX_SVM_INTERCEPT_CPUID == 3 * 32 + 18. */
enum {
#define SVMX_SVM_INTERCEPT_ENUM_(name, word, bit)                             \
    SVMX_SVM_INTERCEPT_##name = (word) * 32 + (bit),
    SVMX_SVM_INTERCEPT_BITS(SVMX_SVM_INTERCEPT_ENUM_)
#undef SVMX_SVM_INTERCEPT_ENUM_
    SVMX_SVM_INTERCEPT_COUNT = 6 * 32,  /* the bits of words 0-5        */
    SVMX_SVM_INTERCEPT_NONE = 0xffff    /* an exit with no intercept bit */
};

/* The numbered intercepts (n is 0-15, v 0-31). */
#define SVMX_SVM_INTERCEPT_CR_READ(n)       (0 * 32 + (n))
#define SVMX_SVM_INTERCEPT_CR_WRITE(n)      (0 * 32 + 16 + (n))
#define SVMX_SVM_INTERCEPT_DR_READ(n)       (1 * 32 + (n))
#define SVMX_SVM_INTERCEPT_DR_WRITE(n)      (1 * 32 + 16 + (n))
#define SVMX_SVM_INTERCEPT_EXCEPTION(v)     (2 * 32 + (v))
#define SVMX_SVM_INTERCEPT_CR_WRITE_TRAP(n) (4 * 32 + 16 + (n))

/* VMCB offset and bit mask of intercept i (< SVMX_SVM_INTERCEPT_COUNT). */
#define SVMX_SVM_INTERCEPT_WORD(i)          ((svmx_vmcb_field)(4 * ((i) / 32)))
#define SVMX_SVM_INTERCEPT_MASK(i)          (1u << ((i) % 32))

/* Whether intercept i is set; false for a NULL vmcb or i out of range. */
SVMX_API bool svmx_svm_intercept_test(const svmx_vmcb *vmcb,
                                      unsigned intercept);

/* Sets or clears intercept i; SVMX_E_ARG for NULL or i out of range. */
SVMX_API svmx_status svmx_svm_intercept_set(svmx_vmcb *vmcb,
                                            unsigned intercept, bool on);

/* ========================================================= exit codes == */

/*
 * How the exit's intercept is decided beyond its bit (DESIGN.md: the router
 * is one lookup; these are the steps that need more than one bit).
 */
#define SVMX_SVM_REFINES(X)                                                   \
    X(NONE,      "the intercept bit decides")                                 \
    X(EXCEPTION, "exception bitmap; only exceptions check it (APM 15.12)")    \
    X(CR0_WRITE, "CR0 write vs selective CR0 write (APM 15.9 Table 15-7)")    \
    X(IOPM,      "IOIO_PROT set: the IOPM bits of the access decide")         \
    X(MSRPM,     "MSR_PROT set: the MSRPM bit, or outside its ranges")        \
    X(ALWAYS,    "no intercept bit: the exit happens when its event does")

typedef enum svmx_svm_refine {
#define SVMX_SVM_REFINE_ENUM_(name, text) SVMX_SVM_REFINE_##name,
    SVMX_SVM_REFINES(SVMX_SVM_REFINE_ENUM_)
#undef SVMX_SVM_REFINE_ENUM_
    SVMX_SVM_REFINE_COUNT
} svmx_svm_refine;

/* Name ("MSRPM") of a refine kind; "?" outside the enum. */
SVMX_API const char *svmx_svm_refine_name(svmx_svm_refine refine);

/*
 * X(NAME, code, intercept, refine): every #VMEXIT code of APM Vol. 2
 * appendix C Table C-1 with the intercept that guards it (the suffix of an
 * SVMX_SVM_INTERCEPT_ name or number macro, NONE for none) and its refine
 * kind. This is the single table of DESIGN.md's router: "is this exit
 * intercepted by this VMCB" is one row. Negative codes are the 64-bit
 * EXITCODE values -1 .. -4 (VMEXIT_INVALID is 0xFFFF_FFFF_FFFF_FFFF).
 */
#define SVMX_SVM_EXITS(X)                                                     \
    X(CR0_READ,            0x000, CR_READ(0),          NONE)                 \
    X(CR1_READ,            0x001, CR_READ(1),          NONE)                 \
    X(CR2_READ,            0x002, CR_READ(2),          NONE)                 \
    X(CR3_READ,            0x003, CR_READ(3),          NONE)                 \
    X(CR4_READ,            0x004, CR_READ(4),          NONE)                 \
    X(CR5_READ,            0x005, CR_READ(5),          NONE)                 \
    X(CR6_READ,            0x006, CR_READ(6),          NONE)                 \
    X(CR7_READ,            0x007, CR_READ(7),          NONE)                 \
    X(CR8_READ,            0x008, CR_READ(8),          NONE)                 \
    X(CR9_READ,            0x009, CR_READ(9),          NONE)                 \
    X(CR10_READ,           0x00a, CR_READ(10),         NONE)                 \
    X(CR11_READ,           0x00b, CR_READ(11),         NONE)                 \
    X(CR12_READ,           0x00c, CR_READ(12),         NONE)                 \
    X(CR13_READ,           0x00d, CR_READ(13),         NONE)                 \
    X(CR14_READ,           0x00e, CR_READ(14),         NONE)                 \
    X(CR15_READ,           0x00f, CR_READ(15),         NONE)                 \
    X(CR0_WRITE,           0x010, CR_WRITE(0),         CR0_WRITE)            \
    X(CR1_WRITE,           0x011, CR_WRITE(1),         NONE)                 \
    X(CR2_WRITE,           0x012, CR_WRITE(2),         NONE)                 \
    X(CR3_WRITE,           0x013, CR_WRITE(3),         NONE)                 \
    X(CR4_WRITE,           0x014, CR_WRITE(4),         NONE)                 \
    X(CR5_WRITE,           0x015, CR_WRITE(5),         NONE)                 \
    X(CR6_WRITE,           0x016, CR_WRITE(6),         NONE)                 \
    X(CR7_WRITE,           0x017, CR_WRITE(7),         NONE)                 \
    X(CR8_WRITE,           0x018, CR_WRITE(8),         NONE)                 \
    X(CR9_WRITE,           0x019, CR_WRITE(9),         NONE)                 \
    X(CR10_WRITE,          0x01a, CR_WRITE(10),        NONE)                 \
    X(CR11_WRITE,          0x01b, CR_WRITE(11),        NONE)                 \
    X(CR12_WRITE,          0x01c, CR_WRITE(12),        NONE)                 \
    X(CR13_WRITE,          0x01d, CR_WRITE(13),        NONE)                 \
    X(CR14_WRITE,          0x01e, CR_WRITE(14),        NONE)                 \
    X(CR15_WRITE,          0x01f, CR_WRITE(15),        NONE)                 \
    X(DR0_READ,            0x020, DR_READ(0),          NONE)                 \
    X(DR1_READ,            0x021, DR_READ(1),          NONE)                 \
    X(DR2_READ,            0x022, DR_READ(2),          NONE)                 \
    X(DR3_READ,            0x023, DR_READ(3),          NONE)                 \
    X(DR4_READ,            0x024, DR_READ(4),          NONE)                 \
    X(DR5_READ,            0x025, DR_READ(5),          NONE)                 \
    X(DR6_READ,            0x026, DR_READ(6),          NONE)                 \
    X(DR7_READ,            0x027, DR_READ(7),          NONE)                 \
    X(DR8_READ,            0x028, DR_READ(8),          NONE)                 \
    X(DR9_READ,            0x029, DR_READ(9),          NONE)                 \
    X(DR10_READ,           0x02a, DR_READ(10),         NONE)                 \
    X(DR11_READ,           0x02b, DR_READ(11),         NONE)                 \
    X(DR12_READ,           0x02c, DR_READ(12),         NONE)                 \
    X(DR13_READ,           0x02d, DR_READ(13),         NONE)                 \
    X(DR14_READ,           0x02e, DR_READ(14),         NONE)                 \
    X(DR15_READ,           0x02f, DR_READ(15),         NONE)                 \
    X(DR0_WRITE,           0x030, DR_WRITE(0),         NONE)                 \
    X(DR1_WRITE,           0x031, DR_WRITE(1),         NONE)                 \
    X(DR2_WRITE,           0x032, DR_WRITE(2),         NONE)                 \
    X(DR3_WRITE,           0x033, DR_WRITE(3),         NONE)                 \
    X(DR4_WRITE,           0x034, DR_WRITE(4),         NONE)                 \
    X(DR5_WRITE,           0x035, DR_WRITE(5),         NONE)                 \
    X(DR6_WRITE,           0x036, DR_WRITE(6),         NONE)                 \
    X(DR7_WRITE,           0x037, DR_WRITE(7),         NONE)                 \
    X(DR8_WRITE,           0x038, DR_WRITE(8),         NONE)                 \
    X(DR9_WRITE,           0x039, DR_WRITE(9),         NONE)                 \
    X(DR10_WRITE,          0x03a, DR_WRITE(10),        NONE)                 \
    X(DR11_WRITE,          0x03b, DR_WRITE(11),        NONE)                 \
    X(DR12_WRITE,          0x03c, DR_WRITE(12),        NONE)                 \
    X(DR13_WRITE,          0x03d, DR_WRITE(13),        NONE)                 \
    X(DR14_WRITE,          0x03e, DR_WRITE(14),        NONE)                 \
    X(DR15_WRITE,          0x03f, DR_WRITE(15),        NONE)                 \
    X(EXCP0,               0x040, EXCEPTION(0),        EXCEPTION)            \
    X(EXCP1,               0x041, EXCEPTION(1),        EXCEPTION)            \
    X(EXCP2,               0x042, EXCEPTION(2),        EXCEPTION)            \
    X(EXCP3,               0x043, EXCEPTION(3),        EXCEPTION)            \
    X(EXCP4,               0x044, EXCEPTION(4),        EXCEPTION)            \
    X(EXCP5,               0x045, EXCEPTION(5),        EXCEPTION)            \
    X(EXCP6,               0x046, EXCEPTION(6),        EXCEPTION)            \
    X(EXCP7,               0x047, EXCEPTION(7),        EXCEPTION)            \
    X(EXCP8,               0x048, EXCEPTION(8),        EXCEPTION)            \
    X(EXCP9,               0x049, EXCEPTION(9),        EXCEPTION)            \
    X(EXCP10,              0x04a, EXCEPTION(10),       EXCEPTION)            \
    X(EXCP11,              0x04b, EXCEPTION(11),       EXCEPTION)            \
    X(EXCP12,              0x04c, EXCEPTION(12),       EXCEPTION)            \
    X(EXCP13,              0x04d, EXCEPTION(13),       EXCEPTION)            \
    X(EXCP14,              0x04e, EXCEPTION(14),       EXCEPTION)            \
    X(EXCP15,              0x04f, EXCEPTION(15),       EXCEPTION)            \
    X(EXCP16,              0x050, EXCEPTION(16),       EXCEPTION)            \
    X(EXCP17,              0x051, EXCEPTION(17),       EXCEPTION)            \
    X(EXCP18,              0x052, EXCEPTION(18),       EXCEPTION)            \
    X(EXCP19,              0x053, EXCEPTION(19),       EXCEPTION)            \
    X(EXCP20,              0x054, EXCEPTION(20),       EXCEPTION)            \
    X(EXCP21,              0x055, EXCEPTION(21),       EXCEPTION)            \
    X(EXCP22,              0x056, EXCEPTION(22),       EXCEPTION)            \
    X(EXCP23,              0x057, EXCEPTION(23),       EXCEPTION)            \
    X(EXCP24,              0x058, EXCEPTION(24),       EXCEPTION)            \
    X(EXCP25,              0x059, EXCEPTION(25),       EXCEPTION)            \
    X(EXCP26,              0x05a, EXCEPTION(26),       EXCEPTION)            \
    X(EXCP27,              0x05b, EXCEPTION(27),       EXCEPTION)            \
    X(EXCP28,              0x05c, EXCEPTION(28),       EXCEPTION)            \
    X(EXCP29,              0x05d, EXCEPTION(29),       EXCEPTION)            \
    X(EXCP30,              0x05e, EXCEPTION(30),       EXCEPTION)            \
    X(EXCP31,              0x05f, EXCEPTION(31),       EXCEPTION)            \
    X(INTR,                0x060, INTR,                NONE)                 \
    X(NMI,                 0x061, NMI,                 NONE)                 \
    X(SMI,                 0x062, SMI,                 NONE)                 \
    X(INIT,                0x063, INIT,                NONE)                 \
    X(VINTR,               0x064, VINTR,               NONE)                 \
    X(CR0_SEL_WRITE,       0x065, CR0_SEL_WRITE,       CR0_WRITE)            \
    X(IDTR_READ,           0x066, IDTR_READ,           NONE)                 \
    X(GDTR_READ,           0x067, GDTR_READ,           NONE)                 \
    X(LDTR_READ,           0x068, LDTR_READ,           NONE)                 \
    X(TR_READ,             0x069, TR_READ,             NONE)                 \
    X(IDTR_WRITE,          0x06a, IDTR_WRITE,          NONE)                 \
    X(GDTR_WRITE,          0x06b, GDTR_WRITE,          NONE)                 \
    X(LDTR_WRITE,          0x06c, LDTR_WRITE,          NONE)                 \
    X(TR_WRITE,            0x06d, TR_WRITE,            NONE)                 \
    X(RDTSC,               0x06e, RDTSC,               NONE)                 \
    X(RDPMC,               0x06f, RDPMC,               NONE)                 \
    X(PUSHF,               0x070, PUSHF,               NONE)                 \
    X(POPF,                0x071, POPF,                NONE)                 \
    X(CPUID,               0x072, CPUID,               NONE)                 \
    X(RSM,                 0x073, RSM,                 NONE)                 \
    X(IRET,                0x074, IRET,                NONE)                 \
    X(SWINT,               0x075, INTN,                NONE)                 \
    X(INVD,                0x076, INVD,                NONE)                 \
    X(PAUSE,               0x077, PAUSE,               NONE)                 \
    X(HLT,                 0x078, HLT,                 NONE)                 \
    X(INVLPG,              0x079, INVLPG,              NONE)                 \
    X(INVLPGA,             0x07a, INVLPGA,             NONE)                 \
    X(IOIO,                0x07b, IOIO_PROT,           IOPM)                 \
    X(MSR,                 0x07c, MSR_PROT,            MSRPM)                \
    X(TASK_SWITCH,         0x07d, TASK_SWITCH,         NONE)                 \
    X(FERR_FREEZE,         0x07e, FERR_FREEZE,         NONE)                 \
    X(SHUTDOWN,            0x07f, SHUTDOWN,            NONE)                 \
    X(VMRUN,               0x080, VMRUN,               NONE)                 \
    X(VMMCALL,             0x081, VMMCALL,             NONE)                 \
    X(VMLOAD,              0x082, VMLOAD,              NONE)                 \
    X(VMSAVE,              0x083, VMSAVE,              NONE)                 \
    X(STGI,                0x084, STGI,                NONE)                 \
    X(CLGI,                0x085, CLGI,                NONE)                 \
    X(SKINIT,              0x086, SKINIT,              NONE)                 \
    X(RDTSCP,              0x087, RDTSCP,              NONE)                 \
    X(ICEBP,               0x088, ICEBP,               NONE)                 \
    X(WBINVD,              0x089, WBINVD,              NONE)                 \
    X(MONITOR,             0x08a, MONITOR,             NONE)                 \
    X(MWAIT,               0x08b, MWAIT,               NONE)                 \
    X(MWAIT_CONDITIONAL,   0x08c, MWAIT_CONDITIONAL,   NONE)                 \
    X(XSETBV,              0x08d, XSETBV,              NONE)                 \
    X(RDPRU,               0x08e, RDPRU,               NONE)                 \
    X(EFER_WRITE_TRAP,     0x08f, EFER_WRITE_TRAP,     NONE)                 \
    X(CR0_WRITE_TRAP,      0x090, CR_WRITE_TRAP(0),    NONE)                 \
    X(CR1_WRITE_TRAP,      0x091, CR_WRITE_TRAP(1),    NONE)                 \
    X(CR2_WRITE_TRAP,      0x092, CR_WRITE_TRAP(2),    NONE)                 \
    X(CR3_WRITE_TRAP,      0x093, CR_WRITE_TRAP(3),    NONE)                 \
    X(CR4_WRITE_TRAP,      0x094, CR_WRITE_TRAP(4),    NONE)                 \
    X(CR5_WRITE_TRAP,      0x095, CR_WRITE_TRAP(5),    NONE)                 \
    X(CR6_WRITE_TRAP,      0x096, CR_WRITE_TRAP(6),    NONE)                 \
    X(CR7_WRITE_TRAP,      0x097, CR_WRITE_TRAP(7),    NONE)                 \
    X(CR8_WRITE_TRAP,      0x098, CR_WRITE_TRAP(8),    NONE)                 \
    X(CR9_WRITE_TRAP,      0x099, CR_WRITE_TRAP(9),    NONE)                 \
    X(CR10_WRITE_TRAP,     0x09a, CR_WRITE_TRAP(10),   NONE)                 \
    X(CR11_WRITE_TRAP,     0x09b, CR_WRITE_TRAP(11),   NONE)                 \
    X(CR12_WRITE_TRAP,     0x09c, CR_WRITE_TRAP(12),   NONE)                 \
    X(CR13_WRITE_TRAP,     0x09d, CR_WRITE_TRAP(13),   NONE)                 \
    X(CR14_WRITE_TRAP,     0x09e, CR_WRITE_TRAP(14),   NONE)                 \
    X(CR15_WRITE_TRAP,     0x09f, CR_WRITE_TRAP(15),   NONE)                 \
    X(INVLPGB,             0x0a0, INVLPGB,             NONE)                 \
    X(INVLPGB_ILLEGAL,     0x0a1, INVLPGB_ILLEGAL,     NONE)                 \
    X(INVPCID,             0x0a2, INVPCID,             NONE)                 \
    X(MCOMMIT,             0x0a3, MCOMMIT,             NONE)                 \
    X(TLBSYNC,             0x0a4, TLBSYNC,             NONE)                 \
    X(BUSLOCK,             0x0a5, BUS_LOCK,            NONE)                 \
    X(IDLE_HLT,            0x0a6, IDLE_HLT,            NONE)                 \
    X(NPF,                 0x400, NONE,                ALWAYS)               \
    X(AVIC_INCOMPLETE_IPI, 0x401, NONE,                ALWAYS)               \
    X(AVIC_NOACCEL,        0x402, NONE,                ALWAYS)               \
    X(VMGEXIT,             0x403, NONE,                ALWAYS)               \
    X(INVALID,             -1,    NONE,                ALWAYS)               \
    X(BUSY,                -2,    NONE,                ALWAYS)               \
    X(IDLE_REQUIRED,       -3,    NONE,                ALWAYS)               \
    X(INVALID_PMC,         -4,    NONE,                ALWAYS)

/* The exit codes: SVMX_SVM_EXIT_CPUID == 0x72, SVMX_SVM_EXIT_INVALID == -1. */
typedef enum svmx_svm_exit {
#define SVMX_SVM_EXIT_ENUM_(name, code, intercept, refine)                    \
    SVMX_SVM_EXIT_##name = (code),
    SVMX_SVM_EXITS(SVMX_SVM_EXIT_ENUM_)
#undef SVMX_SVM_EXIT_ENUM_
} svmx_svm_exit;

/* Row numbers of the exit list: 0 .. SVMX_SVM_EXIT_COUNT-1. */
enum {
#define SVMX_SVM_EXIT_INDEX_(name, code, intercept, refine)                   \
    SVMX_SVM_EXIT_INDEX_##name,
    SVMX_SVM_EXITS(SVMX_SVM_EXIT_INDEX_)
#undef SVMX_SVM_EXIT_INDEX_
    SVMX_SVM_EXIT_COUNT
};

/* The exit of exception vector v (0-31): VMEXIT_EXCP0 + v. */
#define SVMX_SVM_EXIT_EXCP(v) (SVMX_SVM_EXIT_EXCP0 + (v))

/* One row of SVMX_SVM_EXITS. */
typedef struct svmx_svm_exit_info {
    uint64_t    code;       /* EXITCODE as the VMCB holds it             */
    const char *name;       /* "CPUID", "INVALID": Table C-1 without the
                               VMEXIT_ prefix                            */
    uint16_t    intercept;  /* SVMX_SVM_INTERCEPT_*, or _NONE            */
    uint8_t     refine;     /* svmx_svm_refine                           */
} svmx_svm_exit_info;

/*
 * The row of an EXITCODE value, or NULL for a code Table C-1 does not
 * define. Constant data; one switch, no search.
 */
SVMX_API const svmx_svm_exit_info *svmx_svm_exit_info_of(uint64_t code);

/* Row `index` of the list (0 .. SVMX_SVM_EXIT_COUNT-1), else NULL. */
SVMX_API const svmx_svm_exit_info *svmx_svm_exit_at(size_t index);

/* Name of an EXITCODE value for traces ("NPF"); "?" for an unknown code. */
SVMX_API const char *svmx_svm_exit_name(uint64_t code);

/*
 * "Does this VMCB intercept this exit?" - the first, one-bit step of the
 * decision: true when the exit's intercept bit is set in `vmcb`, or when
 * the exit has no intercept bit (refine ALWAYS: NPF, AVIC, VMGEXIT and the
 * negative codes). For a row whose refine is not NONE or ALWAYS, true
 * means "the controlling bit is set; now ask the refine helper below".
 * False for a NULL vmcb or a code Table C-1 does not define.
 */
SVMX_API bool svmx_svm_intercepted(const svmx_vmcb *vmcb, uint64_t code);

/* ====================================================== refine helpers == */

/*
 * Exception intercepts (APM Vol. 2 15.12): whether an exception with
 * `vector` exits. Only exceptions consult the bitmap - external interrupts,
 * INTn and INT1/ICEBP with vectors below 32 never do, and events injected
 * through EVENTINJ are not subject to intercept checks (15.20); the caller
 * knows which it has. False for vector > 31 or a NULL vmcb.
 */
SVMX_API bool svmx_svm_exception_intercepted(const svmx_vmcb *vmcb,
                                             unsigned vector);

/*
 * A write to CR0 (APM Vol. 2 15.9 Table 15-7): which exit it takes, if any.
 * The plain CR0-write intercept (exit 0x10) takes priority; else the
 * selective one (0x65) fires when the write changes a bit other than TS
 * and MP, or always for LMSW, which treats it as non-selective. CLTS is a
 * write of old & ~TS with lmsw = false, so it never takes 0x65. Returns
 * true and *exit_code when intercepted; false (and *exit_code untouched)
 * otherwise or for NULL pointers.
 */
SVMX_API bool svmx_svm_cr0_write_intercepted(const svmx_vmcb *vmcb,
                                             uint64_t old_cr0,
                                             uint64_t new_cr0, bool lmsw,
                                             uint64_t *exit_code);

/*
 * The MSR permissions map (APM Vol. 2 15.11 Table 15-8): 8 KiB, three
 * 2 KiB vectors for MSRs 0000_0000-0000_1FFF, C000_0000-C000_1FFF and
 * C001_0000-C001_1FFF, two bits per MSR, read (RDMSR) in the even bit and
 * write (WRMSR) in the odd one. The last 2 KiB are reserved.
 */
#define SVMX_SVM_MSRPM_SIZE 0x2000u

/*
 * Where the read bit of `msr` is: byte offset in the map and bit in that
 * byte (the write bit is the next one, in the same byte). False for an MSR
 * outside the three ranges, which MSR_PROT always intercepts.
 */
SVMX_API bool svmx_svm_msrpm_locate(uint32_t msr, uint32_t *byte,
                                    unsigned *bit);

/*
 * Whether RDMSR (wrmsr = false) or WRMSR of `msr` is intercepted by the map
 * in map[0 .. len-1], given MSR_PROT is set. An MSR outside the ranges is
 * intercepted; so is one whose byte lies at or past `len` (the answer
 * unreadable memory gives: all ones). Reads nothing outside the buffer;
 * map may be NULL when len is 0.
 */
SVMX_API bool svmx_svm_msrpm_intercepted(const uint8_t *map, size_t len,
                                         uint32_t msr, bool wrmsr);

/*
 * The same with the map in guest memory at msrpm_base_pa (bits 11:0
 * ignored, as VMRUN ignores them). Memory no RAM or handler backs reads as
 * all ones, so intercepts. SVMX_E_ARG for NULL pointers; an MMIO handler's
 * failing status is returned as is (*intercepted is then true).
 */
SVMX_API svmx_status svmx_svm_msrpm_read(const svmx_mem *mem,
                                         uint64_t msrpm_base_pa, uint32_t msr,
                                         bool wrmsr, bool *intercepted);

/*
 * The I/O permissions map (APM Vol. 2 15.10.1): one bit per port, 64K + 3
 * bits used of 12 KiB, so that an access of up to 4 bytes starting at port
 * 0xFFFF has bits to test past 0xFFFF; it does not wrap to port 0.
 */
#define SVMX_SVM_IOPM_SIZE 0x3000u

/*
 * Whether an access of `size` bytes (1, 2 or 4; any other value is treated
 * as 4) at `port` is intercepted by the map in map[0 .. len-1], given
 * IOIO_PROT is set: any of the bits port .. port+size-1 set (15.10.2). A
 * bit at or past `len` counts as set. Reads nothing outside the buffer.
 */
SVMX_API bool svmx_svm_iopm_intercepted(const uint8_t *map, size_t len,
                                        uint16_t port, unsigned size);

/* The same with the map in guest memory (see svmx_svm_msrpm_read()). */
SVMX_API svmx_status svmx_svm_iopm_read(const svmx_mem *mem,
                                        uint64_t iopm_base_pa, uint16_t port,
                                        unsigned size, bool *intercepted);

/* ======================================================= VMRUN checks == */

/*
 * What a VMRUN may use: the personality's SVM features and widths, and the
 * two host facts the nested-paging checks depend on. Fill it with
 * svmx_svm_caps_default() or svmx_svm_caps_from_cpu(), or by hand.
 */
typedef struct svmx_svm_caps {
    uint64_t cr4_allowed;       /* CR4 bits a guest may set (the rest MBZ)  */
    uint64_t efer_allowed;      /* EFER bits a guest may set (the rest MBZ) */
    uint32_t svm_features;      /* CPUID 8000_000A EDX                      */
    uint32_t nasid;             /* CPUID 8000_000A EBX, number of ASIDs     */
    /*
     * Vectors 0-31 that are exceptions, which EVENTINJ TYPE 3 may inject
     * (bit v = vector v); see docs/svm.md.
     */
    uint32_t exception_vectors;
    uint8_t  maxphyaddr;        /* CPUID 8000_0008 EAX[7:0], 32..52         */
    bool     long_mode;         /* CPUID 8000_0001 EDX[29] LM               */
    bool     host_paging;       /* host CR0.PG at VMRUN (APM 15.25.3)      */
    bool     host_long_mode;    /* host EFER.LMA at VMRUN: nCR3's format   */
} svmx_svm_caps;

/* CPUID Fn8000_000A_EDX bits the checks and the router look at. */
#define SVMX_SVM_FEATURE_NP             (1u << 0)
#define SVMX_SVM_FEATURE_LBRV           (1u << 1)
#define SVMX_SVM_FEATURE_SVML           (1u << 2)
#define SVMX_SVM_FEATURE_NRIPS          (1u << 3)
#define SVMX_SVM_FEATURE_TSC_RATE       (1u << 4)
#define SVMX_SVM_FEATURE_VMCB_CLEAN     (1u << 5)
#define SVMX_SVM_FEATURE_FLUSH_BY_ASID  (1u << 6)
#define SVMX_SVM_FEATURE_DECODE_ASSISTS (1u << 7)
#define SVMX_SVM_FEATURE_PAUSE_FILTER   (1u << 10)
#define SVMX_SVM_FEATURE_VNMI           (1u << 25)

/*
 * The AMD personality's capabilities (src/cpu/personality.c: CPUID,
 * MAXPHYADDR, CR4/EFER bits) with a host in long mode with paging, as a
 * 64-bit hypervisor runs. SVMX_E_ARG for NULL.
 */
SVMX_API svmx_status svmx_svm_caps_default(svmx_svm_caps *caps);

/*
 * The capabilities of `cpu`'s personality, with the host facts taken from
 * its current state (the state VMRUN runs in). SVMX_E_UNSUPPORTED for a
 * personality without SVM (CPUID 8000_0001 ECX[2] clear), SVMX_E_ARG for
 * NULL pointers.
 */
SVMX_API svmx_status svmx_svm_caps_from_cpu(const svmx_cpu *cpu,
                                            svmx_svm_caps *caps);

/*
 * X(NAME, field, description, citation): the VMRUN consistency checks,
 * each a reason for #VMEXIT(VMEXIT_INVALID), in the order svmx evaluates
 * them - the order of the APM's list (Vol. 2 15.5.1 "Canonicalization and
 * Consistency Checks", then 15.25.4 and 15.21.10). `field` is the VMCB
 * field the check reports. docs/svm.md gives each boundary.
 */
#define SVMX_SVM_CHECKS(X)                                                    \
    X(OK,              FIELD_NONE,    "no check failed", "")                 \
    X(EFER_SVME,       EFER,          "EFER.SVME is zero", "15.5.1")         \
    X(CR0_CD_NW,       CR0,           "CR0.CD is zero and CR0.NW is set",    \
      "15.5.1")                                                              \
    X(CR0_HIGH,        CR0,           "CR0[63:32] are not zero", "15.5.1")   \
    X(CR3_MBZ,         CR3,           "an MBZ bit of CR3 is set",            \
      "15.5.1, 3.1.2")                                                       \
    X(CR4_MBZ,         CR4,           "an MBZ bit of CR4 is set",            \
      "15.5.1, 3.1.3")                                                       \
    X(DR6_HIGH,        DR6,           "DR6[63:32] are not zero", "15.5.1")   \
    X(DR7_HIGH,        DR7,           "DR7[63:32] are not zero", "15.5.1")   \
    X(EFER_MBZ,        EFER,          "an MBZ bit of EFER is set",           \
      "15.5.1, 3.1.7")                                                       \
    X(EFER_NO_LONG_MODE, EFER,                                               \
      "EFER.LMA or EFER.LME set and long mode not supported", "15.5.1")      \
    X(LONG_NO_PAE,     CR4,                                                  \
      "EFER.LME and CR0.PG are both set and CR4.PAE is zero", "15.5.1")      \
    X(LONG_NO_PE,      CR0,                                                  \
      "EFER.LME and CR0.PG are both set and CR0.PE is zero", "15.5.1")       \
    X(LONG_CS_L_D,     CS_ATTRIB,                                            \
      "EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D are all set", "15.5.1")      \
    X(VMRUN_INTERCEPT, INTERCEPT_MISC2, "the VMRUN intercept bit is clear",  \
      "15.5.1, 15.9")                                                        \
    X(MSRPM_BASE,      MSRPM_BASE_PA,                                        \
      "the MSRPM extends to the maximum supported physical address",         \
      "15.5.1, 15.11")                                                       \
    X(IOPM_BASE,       IOPM_BASE_PA,                                         \
      "the IOPM extends to the maximum supported physical address",          \
      "15.5.1, 15.10.1")                                                     \
    X(EVENTINJ_TYPE,   EVENTINJ,      "EVENTINJ has a reserved TYPE",        \
      "15.5.1, 15.20")                                                       \
    X(EVENTINJ_VECTOR, EVENTINJ,                                             \
      "EVENTINJ TYPE 3 with a vector that is not an exception",              \
      "15.5.1, 15.20")                                                       \
    X(EVENTINJ_MODE,   EVENTINJ,                                             \
      "EVENTINJ event impossible in the guest mode (#BR, #OF in 64-bit)",    \
      "15.5.1, 15.20")                                                       \
    X(ASID_ZERO,       GUEST_ASID,    "ASID is equal to zero",               \
      "15.5.1, 15.25.1")                                                     \
    X(NP_HOST_PAGING,  NP_ENABLE,                                            \
      "NP_ENABLE set while the host runs with CR0.PG clear", "15.25.3")      \
    X(NCR3_MBZ,        N_CR3,         "an MBZ bit of nCR3 is set",           \
      "15.25.4")                                                             \
    X(G_PAT,           G_PAT,                                                \
      "a G_PAT field has an unsupported type or a reserved bit set",         \
      "15.25.4, 7.8.1")                                                      \
    X(VNMI_INTERCEPT,  V_INTR_MASKING,                                       \
      "V_NMI_ENABLE set with the NMI intercept clear", "15.21.10")

typedef enum svmx_svm_check {
#define SVMX_SVM_CHECK_ENUM_(name, field, text, cite) SVMX_SVM_CHECK_##name,
    SVMX_SVM_CHECKS(SVMX_SVM_CHECK_ENUM_)
#undef SVMX_SVM_CHECK_ENUM_
    SVMX_SVM_CHECK_COUNT
} svmx_svm_check;

/*
 * Name ("CR3_MBZ"), description and APM Vol. 2 section(s) of a check;
 * "?" / "" outside the enum. The field a check reports; SVMX_VMCB_FIELD_NONE
 * for SVMX_SVM_CHECK_OK and outside the enum.
 */
SVMX_API const char *svmx_svm_check_name(svmx_svm_check check);
SVMX_API const char *svmx_svm_check_str(svmx_svm_check check);
SVMX_API const char *svmx_svm_check_cite(svmx_svm_check check);
SVMX_API svmx_vmcb_field svmx_svm_check_field(svmx_svm_check check);

/* The outcome of the checks. */
typedef struct svmx_svm_check_result {
    uint64_t        failed;  /* bit c set for every failing check c       */
    uint64_t        value;   /* the value of `field` in the VMCB          */
    svmx_svm_check  first;   /* the check that fails first, or _OK        */
    svmx_vmcb_field field;   /* svmx_svm_check_field(first)               */
} svmx_svm_check_result;

/*
 * The VMRUN consistency checks as a pure call: would VMRUN with this VMCB
 * on a CPU with these capabilities #VMEXIT(VMEXIT_INVALID), and which
 * check fails first. Every check is evaluated, so `failed` lists them all.
 * Reads only *vmcb and *caps. Returns SVMX_OK with *result filled (first ==
 * SVMX_SVM_CHECK_OK: VMRUN goes on to load the guest), or SVMX_E_ARG for
 * NULL pointers or caps->maxphyaddr outside 32..52. VMCB content never
 * makes it fail. Checks that need guest memory (the PAE PDPTEs VMRUN loads
 * without nested paging, APM 15.5.1) are the world switch's, not these.
 */
SVMX_API svmx_status svmx_svm_vmrun_check(const svmx_vmcb *vmcb,
                                          const svmx_svm_caps *caps,
                                          svmx_svm_check_result *result);

#ifdef __cplusplus
}
#endif

#endif /* SVMX_SVM_H */
