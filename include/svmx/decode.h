/*
 * svmx/decode.h - guest instruction bytes to a caller-allocated svmx_insn.
 *
 * A thin layer over Zydis 4.0 that adds what the model needs and Zydis does
 * not know: the machine mode derived from architectural state, one
 * instruction *class* per instruction the model executes or a virtualization
 * control can intercept, and the *exit inputs* (I/O port fields, CR/DR
 * numbers, VMX instruction information) precomputed at decode time so that
 * no #VMEXIT or VM exit path decodes again. A decode cache keyed by XXH3
 * makes repeated decodes of the same bytes cheap.
 *
 * Guest bytes never make these functions crash or abort: undecodable bytes
 * become a #UD fault in the result, an instruction longer than 15 bytes a
 * #GP(0) fault, and too few bytes the status SVMX_E_TRUNCATED with a count
 * of the bytes still needed.
 */
#ifndef SVMX_DECODE_H
#define SVMX_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svmx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest legal x86 instruction (SDM Vol. 2A 2.3.11, APM Vol. 3 1.1). */
#define SVMX_INSN_MAX_LEN 15

/*
 * Machine modes. The decoder needs the default operand and address size,
 * which follow from the mode (SDM Vol. 3A 2.2 and 5.2.1; APM Vol. 2 1.2).
 */
typedef enum svmx_mode {
    SVMX_MODE_REAL,     /* CR0.PE = 0                                   */
    SVMX_MODE_V86,      /* CR0.PE = 1, RFLAGS.VM = 1, EFER.LMA = 0      */
    SVMX_MODE_PROT16,   /* protected mode, CS.D = 0                     */
    SVMX_MODE_PROT32,   /* protected mode, CS.D = 1                     */
    SVMX_MODE_COMPAT16, /* EFER.LMA = 1, CS.L = 0, CS.D = 0             */
    SVMX_MODE_COMPAT32, /* EFER.LMA = 1, CS.L = 0, CS.D = 1             */
    SVMX_MODE_LONG64,   /* EFER.LMA = 1, CS.L = 1                       */
    SVMX_MODE_COUNT
} svmx_mode;

/*
 * Derives the machine mode from CR0.PE, RFLAGS.VM, EFER.LMA, CS.L and
 * CS.D. EFER.LMA decides first: with LMA set, RFLAGS.VM is ignored (a
 * long-mode CPU cannot enter virtual-8086 mode, APM Vol. 2 1.2.5) and CS.L
 * set means 64-bit mode whatever CS.D holds (the L=1/D=1 pair is reserved
 * and refused when CS is loaded, so it only reaches here through state the
 * host set). Real mode always decodes with 16-bit defaults.
 */
SVMX_API svmx_mode svmx_mode_derive(uint64_t cr0, uint64_t rflags,
                                    uint64_t efer, bool cs_l, bool cs_d);

/* Short name of a mode ("real", "v86", "prot16" ... "long64"); "?" if bad. */
SVMX_API const char *svmx_mode_name(svmx_mode mode);

/*
 * Instruction class flags, a column of SVMX_INSN_CLASSES.
 *   SYS   system instruction (privileged or changes system state)
 *   SVM   an AMD SVM instruction (APM Vol. 2 15)
 *   VMX   an Intel VMX instruction (SDM Vol. 3C 31)
 *   IO    port I/O; `io` exit inputs are filled
 *   STR   string instruction (REP-able)
 *   BR    changes RIP other than by falling through
 *   ICPT  some SVM or VMX control can intercept it (APM Vol. 2 15.9-15.13,
 *         SDM Vol. 3C 26.1 and 26.1.3)
 */
#define SVMX_ICF_SYS  0x01u
#define SVMX_ICF_SVM  0x02u
#define SVMX_ICF_VMX  0x04u
#define SVMX_ICF_IO   0x08u
#define SVMX_ICF_STR  0x10u
#define SVMX_ICF_BR   0x20u
#define SVMX_ICF_ICPT 0x40u

/*
 * X(NAME, flags): every instruction class. The classes are what the
 * interpreter dispatches on and what the intercept tables are indexed by.
 * Mnemonic families that execute alike share a class (Jcc, SETcc, CMOVcc;
 * svmx_insn.cond says which condition). OTHER is a valid decode of an
 * instruction the model does not execute: running it stops with
 * UNSUPPORTED.
 */
#define SVMX_INSN_CLASSES(X)                                                  \
    X(OTHER,      0)                                                          \
    /* data movement */                                                       \
    X(MOV,        0)                                                          \
    X(MOV_SEG,    0)               /* MOV Sreg, r/m and MOV r/m, Sreg */      \
    X(MOVZX,      0)                                                          \
    X(MOVSX,      0)                                                          \
    X(MOVSXD,     0)                                                          \
    X(LEA,        0)                                                          \
    X(XCHG,       0)                                                          \
    X(BSWAP,      0)                                                          \
    X(CMOVCC,     0)                                                          \
    X(SETCC,      0)                                                          \
    X(XLAT,       0)                                                          \
    X(LFP,        0)               /* LDS LES LFS LGS LSS */                  \
    X(CBW,        0)               /* CBW CWDE CDQE */                        \
    X(CWD,        0)               /* CWD CDQ CQO */                          \
    /* arithmetic and logic */                                                \
    X(ADD,        0)                                                          \
    X(ADC,        0)                                                          \
    X(SUB,        0)                                                          \
    X(SBB,        0)                                                          \
    X(AND,        0)                                                          \
    X(OR,         0)                                                          \
    X(XOR,        0)                                                          \
    X(CMP,        0)                                                          \
    X(TEST,       0)                                                          \
    X(INC,        0)                                                          \
    X(DEC,        0)                                                          \
    X(NEG,        0)                                                          \
    X(NOT,        0)                                                          \
    X(SHL,        0)                                                          \
    X(SHR,        0)                                                          \
    X(SAR,        0)                                                          \
    X(ROL,        0)                                                          \
    X(ROR,        0)                                                          \
    X(RCL,        0)                                                          \
    X(RCR,        0)                                                          \
    X(SHLD,       0)                                                          \
    X(SHRD,       0)                                                          \
    X(MUL,        0)                                                          \
    X(IMUL,       0)                                                          \
    X(DIV,        0)                                                          \
    X(IDIV,       0)                                                          \
    X(CMPXCHG,    0)                                                          \
    X(CMPXCHG8B,  0)                                                          \
    X(CMPXCHG16B, 0)                                                          \
    X(XADD,       0)                                                          \
    X(BT,         0)                                                          \
    X(BTS,        0)                                                          \
    X(BTR,        0)                                                          \
    X(BTC,        0)                                                          \
    X(BSF,        0)                                                          \
    X(BSR,        0)                                                          \
    X(LZCNT,      0)                                                          \
    X(TZCNT,      0)                                                          \
    X(POPCNT,     0)                                                          \
    /* control transfer and stack */                                          \
    X(JCC,        SVMX_ICF_BR)                                                \
    X(JMP,        SVMX_ICF_BR)                                                \
    X(JMP_FAR,    SVMX_ICF_BR)                                                \
    X(CALL,       SVMX_ICF_BR)                                                \
    X(CALL_FAR,   SVMX_ICF_BR)                                                \
    X(RET,        SVMX_ICF_BR)                                                \
    X(RET_FAR,    SVMX_ICF_BR)                                                \
    X(LOOP,       SVMX_ICF_BR)     /* LOOP LOOPE LOOPNE */                    \
    X(JCXZ,       SVMX_ICF_BR)     /* JCXZ JECXZ JRCXZ */                     \
    X(PUSH,       0)                                                          \
    X(POP,        0)                                                          \
    X(PUSHA,      0)                                                          \
    X(POPA,       0)                                                          \
    X(ENTER,      0)                                                          \
    X(LEAVE,      0)                                                          \
    /* strings (port strings are INS/OUTS below) */                           \
    X(MOVS,       SVMX_ICF_STR)                                               \
    X(CMPS,       SVMX_ICF_STR)                                               \
    X(SCAS,       SVMX_ICF_STR)                                               \
    X(LODS,       SVMX_ICF_STR)                                               \
    X(STOS,       SVMX_ICF_STR)                                               \
    /* flags and no-ops */                                                    \
    X(NOP,        0)               /* NOP forms, ENDBR, hints, fences */      \
    X(LAHF,       0)                                                          \
    X(SAHF,       0)                                                          \
    X(CLC,        0)                                                          \
    X(STC,        0)                                                          \
    X(CMC,        0)                                                          \
    X(CLD,        0)                                                          \
    X(STD,        0)                                                          \
    X(CLI,        SVMX_ICF_SYS)                                               \
    X(STI,        SVMX_ICF_SYS)                                               \
    X(PUSHF,      SVMX_ICF_ICPT)                                              \
    X(POPF,       SVMX_ICF_ICPT)                                              \
    /* software interrupts and returns */                                     \
    X(INT,        SVMX_ICF_BR | SVMX_ICF_ICPT)                                \
    X(INT3,       SVMX_ICF_BR | SVMX_ICF_ICPT)                                \
    X(INTO,       SVMX_ICF_BR | SVMX_ICF_ICPT)                                \
    X(INT1,       SVMX_ICF_BR | SVMX_ICF_ICPT)                                \
    X(IRET,       SVMX_ICF_BR | SVMX_ICF_ICPT)                                \
    X(UD,         0)               /* UD0 UD1 UD2 */                          \
    /* system */                                                              \
    X(CPUID,      SVMX_ICF_ICPT)                                              \
    X(HLT,        SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(INVLPG,     SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(INVPCID,    SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(INVD,       SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(WBINVD,     SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(WBNOINVD,   SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(RDTSC,      SVMX_ICF_ICPT)                                              \
    X(RDTSCP,     SVMX_ICF_ICPT)                                              \
    X(RDPMC,      SVMX_ICF_ICPT)                                              \
    X(RDMSR,      SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(WRMSR,      SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(MOV_CR,     SVMX_ICF_SYS | SVMX_ICF_ICPT) /* `crdr` inputs */           \
    X(MOV_DR,     SVMX_ICF_SYS | SVMX_ICF_ICPT) /* `crdr` inputs */           \
    X(CLTS,       SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(LMSW,       SVMX_ICF_SYS | SVMX_ICF_ICPT) /* `crdr` inputs */           \
    X(SMSW,       SVMX_ICF_ICPT)                                              \
    X(LGDT,       SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(LIDT,       SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(LLDT,       SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(LTR,        SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(SGDT,       SVMX_ICF_ICPT)                                              \
    X(SIDT,       SVMX_ICF_ICPT)                                              \
    X(SLDT,       SVMX_ICF_ICPT)                                              \
    X(STR,        SVMX_ICF_ICPT)                                              \
    /* selector checks that report in ZF and load no segment register */      \
    X(LAR,        0)                                                          \
    X(LSL,        0)                                                          \
    X(VERR,       0)                                                          \
    X(VERW,       0)                                                          \
    X(ARPL,       0)                                                          \
    X(BOUND,      0)                                                          \
    X(IN,         SVMX_ICF_IO | SVMX_ICF_ICPT)                                \
    X(OUT,        SVMX_ICF_IO | SVMX_ICF_ICPT)                                \
    X(INS,        SVMX_ICF_IO | SVMX_ICF_STR | SVMX_ICF_ICPT)                 \
    X(OUTS,       SVMX_ICF_IO | SVMX_ICF_STR | SVMX_ICF_ICPT)                 \
    X(PAUSE,      SVMX_ICF_ICPT)                                              \
    X(MONITOR,    SVMX_ICF_ICPT)                                              \
    X(MWAIT,      SVMX_ICF_ICPT)                                              \
    X(MONITORX,   SVMX_ICF_ICPT)                                              \
    X(MWAITX,     SVMX_ICF_ICPT)                                              \
    X(XSETBV,     SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(XGETBV,     0)                                                          \
    X(XSAVES,     SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(XRSTORS,    SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(RDRAND,     SVMX_ICF_ICPT)                                              \
    X(RDSEED,     SVMX_ICF_ICPT)                                              \
    X(RDPRU,      SVMX_ICF_ICPT)                                              \
    X(RSM,        SVMX_ICF_SYS | SVMX_ICF_BR | SVMX_ICF_ICPT)                 \
    X(SYSCALL,    SVMX_ICF_BR)                                                \
    X(SYSRET,     SVMX_ICF_SYS | SVMX_ICF_BR)                                 \
    X(SYSENTER,   SVMX_ICF_BR)                                                \
    X(SYSEXIT,    SVMX_ICF_SYS | SVMX_ICF_BR)                                 \
    X(SWAPGS,     SVMX_ICF_SYS)                                               \
    X(UMWAIT,     SVMX_ICF_ICPT)                                              \
    X(TPAUSE,     SVMX_ICF_ICPT)                                              \
    X(INVLPGB,    SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(TLBSYNC,    SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(MCOMMIT,    SVMX_ICF_ICPT)                                              \
    X(GETSEC,     SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(ENCLS,      SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(ENCLV,      SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(PCONFIG,    SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    X(LOADIWKEY,  SVMX_ICF_SYS | SVMX_ICF_ICPT)                               \
    /* AMD SVM (APM Vol. 2 15) */                                             \
    X(VMRUN,      SVMX_ICF_SYS | SVMX_ICF_SVM | SVMX_ICF_BR | SVMX_ICF_ICPT)  \
    X(VMMCALL,    SVMX_ICF_SVM | SVMX_ICF_ICPT)                               \
    X(VMLOAD,     SVMX_ICF_SYS | SVMX_ICF_SVM | SVMX_ICF_ICPT)                \
    X(VMSAVE,     SVMX_ICF_SYS | SVMX_ICF_SVM | SVMX_ICF_ICPT)                \
    X(STGI,       SVMX_ICF_SYS | SVMX_ICF_SVM | SVMX_ICF_ICPT)                \
    X(CLGI,       SVMX_ICF_SYS | SVMX_ICF_SVM | SVMX_ICF_ICPT)                \
    X(SKINIT,     SVMX_ICF_SYS | SVMX_ICF_SVM | SVMX_ICF_ICPT)                \
    X(INVLPGA,    SVMX_ICF_SYS | SVMX_ICF_SVM | SVMX_ICF_ICPT)                \
    /* Intel VMX (SDM Vol. 3C 31) */                                          \
    X(VMCALL,     SVMX_ICF_VMX | SVMX_ICF_ICPT)                               \
    X(VMLAUNCH,   SVMX_ICF_SYS | SVMX_ICF_VMX | SVMX_ICF_BR | SVMX_ICF_ICPT)  \
    X(VMRESUME,   SVMX_ICF_SYS | SVMX_ICF_VMX | SVMX_ICF_BR | SVMX_ICF_ICPT)  \
    X(VMXON,      SVMX_ICF_SYS | SVMX_ICF_VMX | SVMX_ICF_ICPT)                \
    X(VMXOFF,     SVMX_ICF_SYS | SVMX_ICF_VMX | SVMX_ICF_ICPT)                \
    X(VMPTRLD,    SVMX_ICF_SYS | SVMX_ICF_VMX | SVMX_ICF_ICPT)                \
    X(VMPTRST,    SVMX_ICF_SYS | SVMX_ICF_VMX | SVMX_ICF_ICPT)                \
    X(VMCLEAR,    SVMX_ICF_SYS | SVMX_ICF_VMX | SVMX_ICF_ICPT)                \
    X(VMREAD,     SVMX_ICF_SYS | SVMX_ICF_VMX | SVMX_ICF_ICPT)                \
    X(VMWRITE,    SVMX_ICF_SYS | SVMX_ICF_VMX | SVMX_ICF_ICPT)                \
    X(INVEPT,     SVMX_ICF_SYS | SVMX_ICF_VMX | SVMX_ICF_ICPT)                \
    X(INVVPID,    SVMX_ICF_SYS | SVMX_ICF_VMX | SVMX_ICF_ICPT)                \
    X(VMFUNC,     SVMX_ICF_VMX | SVMX_ICF_ICPT)

/* One enumerator per row of SVMX_INSN_CLASSES, as SVMX_INSN_<NAME>. */
typedef enum svmx_insn_class {
#define SVMX_INSN_CLASS_ENUM_(name, flags) SVMX_INSN_##name,
    SVMX_INSN_CLASSES(SVMX_INSN_CLASS_ENUM_)
#undef SVMX_INSN_CLASS_ENUM_
    SVMX_INSN_CLASS_COUNT
} svmx_insn_class;

/* Name of a class ("CPUID"); "?" outside the enum. */
SVMX_API const char *svmx_insn_class_name(svmx_insn_class cls);

/* The SVMX_ICF_* flags of a class; 0 outside the enum. */
SVMX_API unsigned svmx_insn_class_flags(svmx_insn_class cls);

/*
 * Register numbering used in operands. General registers use the hardware
 * number 0-15 (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15, SDM Vol. 2A
 * 2.1.5 Table 2-2): the same numbers the VMX instruction information and the
 * SVM decode-assist fields carry. Segment registers use the hardware order
 * ES=0, CS=1, SS=2, DS=3, FS=4, GS=5.
 */
#define SVMX_GPR_NONE 0xffu  /* no base or index register */
#define SVMX_GPR_RIP  0x10u  /* RIP-relative base (64-bit mode) */

typedef enum svmx_seg {
    SVMX_SEG_ES, SVMX_SEG_CS, SVMX_SEG_SS, SVMX_SEG_DS, SVMX_SEG_FS,
    SVMX_SEG_GS,
    SVMX_SEG_COUNT,
    SVMX_SEG_NONE = 0xff
} svmx_seg;

/* Register classes of a register operand. */
typedef enum svmx_reg_class {
    SVMX_RC_NONE,
    SVMX_RC_GPR,     /* num 0-15, size says the width (AL, AX, EAX, RAX) */
    SVMX_RC_GPR8H,   /* AH, CH, DH, BH: num 0-3 (byte 1 of RAX..RBX)      */
    SVMX_RC_SEG,     /* num = svmx_seg                                   */
    SVMX_RC_CR,      /* num 0-15                                         */
    SVMX_RC_DR,      /* num 0-15                                         */
    SVMX_RC_OTHER,   /* x87, MMX, SSE/AVX, mask and other registers      */
    SVMX_RC_COUNT
} svmx_reg_class;

typedef enum svmx_operand_kind {
    SVMX_OPK_NONE,
    SVMX_OPK_REG,
    SVMX_OPK_MEM,    /* also LEA's address operand                       */
    SVMX_OPK_IMM,    /* includes relative branch displacements            */
    SVMX_OPK_FAR,    /* ptr16:16 / ptr16:32 of direct far JMP and CALL    */
    SVMX_OPK_COUNT
} svmx_operand_kind;

/* One explicit operand, in Intel operand order (destination first). */
typedef struct svmx_operand {
    uint8_t  kind;        /* svmx_operand_kind */
    uint8_t  reg_class;   /* SVMX_OPK_REG: svmx_reg_class */
    uint8_t  reg;         /* SVMX_OPK_REG: register number in that class */
    uint8_t  seg;         /* SVMX_OPK_MEM: effective segment (svmx_seg) */
    uint8_t  base;        /* SVMX_OPK_MEM: GPR, SVMX_GPR_RIP or _NONE */
    uint8_t  index;       /* SVMX_OPK_MEM: GPR or SVMX_GPR_NONE */
    uint8_t  scale;       /* SVMX_OPK_MEM: 1, 2, 4, 8 (0 without index) */
    bool     is_relative; /* SVMX_OPK_IMM: a branch displacement */
    uint16_t size;        /* operand size in bytes (0 for LEA's address;
                             for an immediate, its encoded size) */
    uint16_t far_sel;     /* SVMX_OPK_FAR: selector */
    int64_t  disp;        /* SVMX_OPK_MEM: displacement, sign-extended */
    uint64_t imm;         /* SVMX_OPK_IMM: value; one the encoding treats
                             as signed (most are, I/O ports and ENTER's
                             are not) is sign-extended to 64 bits, so use
                             its low operand-size bytes; SVMX_OPK_FAR:
                             offset */
} svmx_operand;

/* svmx_insn.prefixes: the prefixes that are in effect. */
#define SVMX_PFX_LOCK   0x001u  /* F0                                     */
#define SVMX_PFX_REP    0x002u  /* F3 acting as REP/REPE                  */
#define SVMX_PFX_REPNE  0x004u  /* F2 acting as REPNE                     */
#define SVMX_PFX_OPSIZE 0x008u  /* 66                                     */
#define SVMX_PFX_ADSIZE 0x010u  /* 67                                     */
#define SVMX_PFX_SEG    0x020u  /* a segment override; see seg_override   */
#define SVMX_PFX_REX    0x040u  /* REX (64-bit mode)                      */
#define SVMX_PFX_VEX    0x080u  /* VEX, EVEX or XOP                       */

/* What the decode found wrong with the bytes, as the CPU would fault. */
typedef enum svmx_decode_fault {
    SVMX_DECODE_FAULT_NONE, /* a valid instruction                       */
    SVMX_DECODE_FAULT_UD,   /* #UD: undefined opcode or prefix use       */
    SVMX_DECODE_FAULT_GP,   /* #GP(0): longer than 15 bytes              */
    SVMX_DECODE_FAULT_COUNT
} svmx_decode_fault;

/*
 * Port I/O exit inputs (IN, OUT, INS, OUTS), with the two words the exits
 * report precomputed. `svm_exitinfo1` is the IOIO #VMEXIT EXITINFO1 of APM
 * Vol. 2 15.10.2 (Figure 15-2) and `vmx_qualification` the I/O exit
 * qualification of SDM Vol. 3C 28.2.1 ("Exit Qualification for I/O
 * Instructions"); both carry the port
 * only when it is an immediate: for a DX port the exit path ORs
 * `(uint32_t)DX << 16` into them.
 */
typedef struct svmx_io_inputs {
    uint16_t port;          /* immediate port; 0 if port_in_dx */
    uint8_t  size;          /* 1, 2 or 4 bytes */
    uint8_t  address_size;  /* 2, 4 or 8 bytes (string forms) */
    uint8_t  segment;       /* svmx_seg of the memory operand: DS or the
                               override for OUTS, ES for INS (which cannot
                               be overridden); SVMX_SEG_NONE for IN/OUT */
    bool     port_in_dx;
    bool     is_in;
    bool     string;
    bool     rep;
    uint32_t svm_exitinfo1;
    uint32_t vmx_qualification;
    uint32_t vmx_insn_info; /* INS/OUTS instruction information (SDM
                               Vol. 3C 28.2.5, "Format of the VM-Exit
                               Instruction-Information Field as Used for
                               INS and OUTS"): address size and segment;
                               0 for IN/OUT */
} svmx_io_inputs;

/*
 * Control- and debug-register access inputs (MOV_CR, MOV_DR, CLTS, LMSW).
 *   num    CR or DR number (0-15); 0 for CLTS and LMSW (they write CR0)
 *   gpr    the general register of MOV CR/DR, or LMSW's register source;
 *          SVMX_GPR_NONE for CLTS and a memory LMSW
 *   write  true for MOV to CR/DR, CLTS and LMSW; false for MOV from
 *   lmsw_mem  LMSW with a memory source (operands[0] describes it)
 *   vmx_qualification  the exit qualification for control-register or
 *          MOV DR accesses of SDM Vol. 3C 28.2.1, without
 *          LMSW's source data (bits 31:16), which needs the executed value
 */
typedef struct svmx_crdr_inputs {
    uint8_t  num;
    uint8_t  gpr;
    bool     write;
    bool     lmsw_mem;
    uint32_t vmx_qualification;
} svmx_crdr_inputs;

/*
 * A decoded instruction. Caller-allocated; everything is a plain value, so
 * it can be copied and cached.
 */
typedef struct svmx_insn {
    uint8_t  length;        /* bytes, 1-15; 15 for a #GP fault and 0 for
                               a #UD fault (which never advances RIP)     */
    uint8_t  mode;          /* svmx_mode it was decoded in               */
    uint8_t  fault;         /* svmx_decode_fault                         */
    uint8_t  cls;           /* svmx_insn_class                           */
    uint16_t mnemonic;      /* ZydisMnemonic value, for disassembly      */
    uint8_t  operand_size;  /* effective operand size in bytes: 2, 4, 8
                               (1 for byte forms)                         */
    uint8_t  address_size;  /* effective address size in bytes: 2, 4, 8 */
    uint16_t prefixes;      /* SVMX_PFX_*                                */
    uint8_t  seg_override;  /* svmx_seg named by an override, or NONE    */
    uint8_t  rex;           /* the REX byte, 0 if none                   */
    uint8_t  opcode_map;    /* 0: one-byte, 1: 0F, 2: 0F38, 3: 0F3A      */
    uint8_t  opcode;        /* the opcode byte within its map            */
    uint8_t  modrm;         /* ModRM byte, valid if has_modrm            */
    bool     has_modrm;
    uint8_t  cond;          /* condition code 0-15 of JCC/SETCC/CMOVCC,
                               LOOPE=0x4 (E), LOOPNE=0x5 (NE), LOOP=0xff  */
    uint8_t  operand_count; /* explicit operands in operands[]           */
    svmx_operand operands[4];
    svmx_io_inputs   io;    /* valid for classes with SVMX_ICF_IO         */
    svmx_crdr_inputs crdr;  /* valid for MOV_CR, MOV_DR, CLTS, LMSW      */
    /*
     * VM-exit instruction-information field (SDM Vol. 3C 28.2.5 and its
     * per-instruction format tables) for the instructions that report
     * one: LGDT/LIDT/SGDT/SIDT, LLDT/LTR/SLDT/STR, INVEPT/INVPCID/INVVPID,
     * VMCLEAR/VMPTRLD/VMPTRST/VMXON/XRSTORS/XSAVES, VMREAD/VMWRITE,
     * RDRAND/RDSEED, UMWAIT/TPAUSE, LOADIWKEY; bits the SDM leaves
     * undefined are zero.
     * INS/OUTS carry theirs in io.vmx_insn_info.
     */
    uint32_t vmx_insn_info;
    bool     has_vmx_insn_info;
} svmx_insn;

/* svmx_decode flags. */
#define SVMX_DECODE_ALT_MOV_CR8 0x1u /* AMD: LOCK MOV CR0 accesses CR8
                                        (CPUID Fn8000_0001 ECX[4],
                                        APM Vol. 3 "MOV CRn") */

/*
 * Decodes one instruction from bytes[0..len) in `mode`.
 *
 * Returns SVMX_OK with *out filled (out->fault says whether the CPU would
 * raise #UD or #GP(0) instead of executing it); SVMX_E_TRUNCATED when the
 * bytes end inside the instruction, with *needed (if not NULL) set to the
 * count of bytes still missing described below; SVMX_E_ARG for NULL
 * pointers or a bad mode. Bytes past 15 are never read.
 *
 * The `needed` count is the smallest number of further bytes with which
 * some completion decodes, found by trying every value of the next byte
 * with the bytes after it zero; it is at least 1. A fetch unit can use it
 * to know that the instruction does reach into the next page.
 */
SVMX_API svmx_status svmx_decode(svmx_mode mode, unsigned flags,
                                 const uint8_t *bytes, size_t len,
                                 svmx_insn *out, size_t *needed);

/*
 * The decode cache: a direct-mapped table of decoded instructions keyed by
 * XXH3-64 of the instruction window (up to 15 bytes), the mode and the
 * flags. Every hit compares the stored window with the caller's bytes, so
 * rewritten code and the same bytes in two modes always decode afresh; a
 * hash collision costs a miss, never a wrong instruction.
 *
 * A cache belongs to one thread at a time. Use svmx_decode_cache_size() and
 * svmx_decode_cache_init() to place it in caller memory, or _create().
 */
typedef struct svmx_decode_cache svmx_decode_cache;

typedef struct svmx_decode_cache_stats {
    uint64_t lookups;
    uint64_t hits;
    uint64_t misses;     /* lookups - hits: decoded by Zydis             */
    uint64_t collisions; /* misses that evicted a different window       */
    uint32_t entries;
} svmx_decode_cache_stats;

/* Default and limits for entries_log2 (entries = 1 << entries_log2). */
#define SVMX_DECODE_CACHE_DEFAULT_LOG2 12
#define SVMX_DECODE_CACHE_MIN_LOG2     4
#define SVMX_DECODE_CACHE_MAX_LOG2     24

/* Bytes needed for a cache of 1 << entries_log2 entries; 0 if out of range. */
SVMX_API size_t svmx_decode_cache_size(unsigned entries_log2);

/*
 * Places a cache in `mem` (at least svmx_decode_cache_size() bytes,
 * aligned to 64). Returns SVMX_E_ARG for a bad size, alignment or pointer.
 */
SVMX_API svmx_status svmx_decode_cache_init(void *mem, size_t size,
                                            unsigned entries_log2,
                                            svmx_decode_cache **out);

/* Allocates and initialises a cache; SVMX_E_NOMEM if that fails. */
SVMX_API svmx_status svmx_decode_cache_create(unsigned entries_log2,
                                              svmx_decode_cache **out);

/* Frees a cache from _create(); NULL is ignored. */
SVMX_API void svmx_decode_cache_destroy(svmx_decode_cache *cache);

/*
 * Decodes through the cache. Same arguments and results as svmx_decode(),
 * except that *out points into the cache: it stays valid until the next
 * call on this cache. Faulting decodes (#UD, #GP) are cached too; truncated
 * ones are not.
 */
SVMX_API svmx_status svmx_decode_cached(svmx_decode_cache *cache,
                                        svmx_mode mode, unsigned flags,
                                        const uint8_t *bytes, size_t len,
                                        const svmx_insn **out,
                                        size_t *needed);

/*
 * The same, with the slot chosen by `where` — for a caller that knows
 * where the bytes come from, such as the guest address of an instruction
 * — instead of by a hash of the bytes. The stored window is still
 * compared on every hit, so a changed byte, mode or flag is a miss: a
 * wrong `where` costs speed, never correctness. Both functions may be
 * used on one cache.
 */
SVMX_API svmx_status svmx_decode_cached_at(svmx_decode_cache *cache,
                                           uint64_t where, svmx_mode mode,
                                           unsigned flags,
                                           const uint8_t *bytes, size_t len,
                                           const svmx_insn **out,
                                           size_t *needed);

/* Drops every entry (the statistics are kept). */
SVMX_API void svmx_decode_cache_flush(svmx_decode_cache *cache);

/* Copies the statistics; all zero for a NULL cache. */
SVMX_API void svmx_decode_cache_stats_get(const svmx_decode_cache *cache,
                                          svmx_decode_cache_stats *stats);

/*
 * Writes a one-line description of the instruction's class, length and exit
 * inputs into buf (always NUL-terminated when size > 0), for example
 * "IN len=2 io port=0x80 size=1 in a64 seg=ds". Returns the length the full
 * text needs, as snprintf does. Not for hot paths.
 */
SVMX_API size_t svmx_insn_describe(const svmx_insn *insn, char *buf,
                                   size_t size);

/*
 * Writes Intel-syntax disassembly of bytes[0..len) into buf, as Zydis
 * formats it. Returns SVMX_OK, SVMX_E_TRUNCATED, or SVMX_E_ARG. Not for hot
 * paths.
 */
SVMX_API svmx_status svmx_disassemble(svmx_mode mode, const uint8_t *bytes,
                                      size_t len, uint64_t rip, char *buf,
                                      size_t size);

#ifdef __cplusplus
}
#endif

#endif /* SVMX_DECODE_H */
