/*
 * src/decode/insn_class.c - Zydis mnemonic to svmx instruction class.
 *
 * One table indexed by ZydisMnemonic (STYLE.md 3.5, "instruction side"):
 * a mnemonic absent from it decodes as SVMX_INSN_OTHER, which the
 * interpreter reports as UNSUPPORTED instead of guessing. Mnemonics Zydis
 * shares between an integer and an SSE form (MOVSD, CMPSD) and operand-
 * dependent classes (MOV to a CR, DR or segment register; far branches;
 * WBNOINVD, which Zydis 4.0 reports as WBINVD) are refined in decode.c.
 */
#include "decode/decode_internal.h"

static const uint8_t class_of_mnemonic[ZYDIS_MNEMONIC_MAX_VALUE + 1] = {
#define C(mn, cls) [ZYDIS_MNEMONIC_##mn] = SVMX_INSN_##cls
    C(MOV, MOV), C(MOVZX, MOVZX), C(MOVSX, MOVSX), C(MOVSXD, MOVSXD),
    C(LEA, LEA), C(XCHG, XCHG), C(BSWAP, BSWAP), C(XLAT, XLAT),
    C(LDS, LFP), C(LES, LFP), C(LFS, LFP), C(LGS, LFP), C(LSS, LFP),
    C(CBW, CBW), C(CWDE, CBW), C(CDQE, CBW),
    C(CWD, CWD), C(CDQ, CWD), C(CQO, CWD),

    C(CMOVO, CMOVCC), C(CMOVNO, CMOVCC), C(CMOVB, CMOVCC),
    C(CMOVNB, CMOVCC), C(CMOVZ, CMOVCC), C(CMOVNZ, CMOVCC),
    C(CMOVBE, CMOVCC), C(CMOVNBE, CMOVCC), C(CMOVS, CMOVCC),
    C(CMOVNS, CMOVCC), C(CMOVP, CMOVCC), C(CMOVNP, CMOVCC),
    C(CMOVL, CMOVCC), C(CMOVNL, CMOVCC), C(CMOVLE, CMOVCC),
    C(CMOVNLE, CMOVCC),
    C(SETO, SETCC), C(SETNO, SETCC), C(SETB, SETCC), C(SETNB, SETCC),
    C(SETZ, SETCC), C(SETNZ, SETCC), C(SETBE, SETCC), C(SETNBE, SETCC),
    C(SETS, SETCC), C(SETNS, SETCC), C(SETP, SETCC), C(SETNP, SETCC),
    C(SETL, SETCC), C(SETNL, SETCC), C(SETLE, SETCC), C(SETNLE, SETCC),
    C(JO, JCC), C(JNO, JCC), C(JB, JCC), C(JNB, JCC), C(JZ, JCC),
    C(JNZ, JCC), C(JBE, JCC), C(JNBE, JCC), C(JS, JCC), C(JNS, JCC),
    C(JP, JCC), C(JNP, JCC), C(JL, JCC), C(JNL, JCC), C(JLE, JCC),
    C(JNLE, JCC),

    C(ADD, ADD), C(ADC, ADC), C(SUB, SUB), C(SBB, SBB), C(AND, AND),
    C(OR, OR), C(XOR, XOR), C(CMP, CMP), C(TEST, TEST), C(INC, INC),
    C(DEC, DEC), C(NEG, NEG), C(NOT, NOT), C(SHL, SHL), C(SHR, SHR),
    C(SAR, SAR), C(ROL, ROL), C(ROR, ROR), C(RCL, RCL), C(RCR, RCR),
    C(SHLD, SHLD), C(SHRD, SHRD), C(MUL, MUL), C(IMUL, IMUL), C(DIV, DIV),
    C(IDIV, IDIV), C(CMPXCHG, CMPXCHG), C(CMPXCHG8B, CMPXCHG8B),
    C(CMPXCHG16B, CMPXCHG16B), C(XADD, XADD), C(BT, BT), C(BTS, BTS),
    C(BTR, BTR), C(BTC, BTC), C(BSF, BSF), C(BSR, BSR), C(LZCNT, LZCNT),
    C(TZCNT, TZCNT), C(POPCNT, POPCNT),

    C(JMP, JMP), C(CALL, CALL), C(RET, RET), C(LOOP, LOOP),
    C(LOOPE, LOOP), C(LOOPNE, LOOP), C(JCXZ, JCXZ), C(JECXZ, JCXZ),
    C(JRCXZ, JCXZ), C(PUSH, PUSH), C(POP, POP), C(PUSHA, PUSHA),
    C(PUSHAD, PUSHA), C(POPA, POPA), C(POPAD, POPA), C(ENTER, ENTER),
    C(LEAVE, LEAVE),

    C(MOVSB, MOVS), C(MOVSW, MOVS), C(MOVSD, MOVS), C(MOVSQ, MOVS),
    C(CMPSB, CMPS), C(CMPSW, CMPS), C(CMPSD, CMPS), C(CMPSQ, CMPS),
    C(SCASB, SCAS), C(SCASW, SCAS), C(SCASD, SCAS), C(SCASQ, SCAS),
    C(LODSB, LODS), C(LODSW, LODS), C(LODSD, LODS), C(LODSQ, LODS),
    C(STOSB, STOS), C(STOSW, STOS), C(STOSD, STOS), C(STOSQ, STOS),

    /* Never fault and change no architectural state the model keeps. */
    C(NOP, NOP), C(ENDBR32, NOP), C(ENDBR64, NOP), C(LFENCE, NOP),
    C(MFENCE, NOP), C(SFENCE, NOP), C(PREFETCH, NOP), C(PREFETCHW, NOP),
    C(PREFETCHT0, NOP), C(PREFETCHT1, NOP), C(PREFETCHT2, NOP),
    C(PREFETCHNTA, NOP),
    C(LAHF, LAHF), C(SAHF, SAHF), C(CLC, CLC), C(STC, STC), C(CMC, CMC),
    C(CLD, CLD), C(STD, STD), C(CLI, CLI), C(STI, STI),
    C(PUSHF, PUSHF), C(PUSHFD, PUSHF), C(PUSHFQ, PUSHF),
    C(POPF, POPF), C(POPFD, POPF), C(POPFQ, POPF),

    C(INT, INT), C(INT3, INT3), C(INTO, INTO), C(INT1, INT1), C(BOUND, BOUND),
    C(IRET, IRET), C(IRETD, IRET), C(IRETQ, IRET),
    C(UD0, UD), C(UD1, UD), C(UD2, UD),

    C(CPUID, CPUID), C(HLT, HLT), C(INVLPG, INVLPG), C(INVPCID, INVPCID),
    C(INVD, INVD), C(WBINVD, WBINVD), C(RDTSC, RDTSC), C(RDTSCP, RDTSCP),
    C(RDPMC, RDPMC), C(RDMSR, RDMSR), C(WRMSR, WRMSR), C(CLTS, CLTS),
    C(LMSW, LMSW), C(SMSW, SMSW), C(LGDT, LGDT), C(LIDT, LIDT),
    C(LLDT, LLDT), C(LTR, LTR), C(SGDT, SGDT), C(SIDT, SIDT),
    C(SLDT, SLDT), C(STR, STR), C(LAR, LAR), C(LSL, LSL), C(VERR, VERR),
    C(VERW, VERW), C(ARPL, ARPL),
    C(IN, IN), C(OUT, OUT), C(INSB, INS), C(INSW, INS), C(INSD, INS),
    C(OUTSB, OUTS), C(OUTSW, OUTS), C(OUTSD, OUTS),
    C(PAUSE, PAUSE), C(MONITOR, MONITOR), C(MWAIT, MWAIT),
    C(MONITORX, MONITORX), C(MWAITX, MWAITX), C(XSETBV, XSETBV),
    C(XGETBV, XGETBV), C(XSAVES, XSAVES), C(XSAVES64, XSAVES),
    C(XRSTORS, XRSTORS), C(XRSTORS64, XRSTORS), C(RDRAND, RDRAND),
    C(RDSEED, RDSEED), C(RDPRU, RDPRU), C(RSM, RSM), C(SYSCALL, SYSCALL),
    C(SYSRET, SYSRET), C(SYSENTER, SYSENTER), C(SYSEXIT, SYSEXIT),
    C(SWAPGS, SWAPGS), C(UMWAIT, UMWAIT), C(TPAUSE, TPAUSE),
    C(INVLPGB, INVLPGB), C(TLBSYNC, TLBSYNC), C(MCOMMIT, MCOMMIT),
    C(GETSEC, GETSEC), C(ENCLS, ENCLS), C(ENCLV, ENCLV),
    C(PCONFIG, PCONFIG), C(LOADIWKEY, LOADIWKEY),

    C(VMRUN, VMRUN), C(VMMCALL, VMMCALL), C(VMLOAD, VMLOAD),
    C(VMSAVE, VMSAVE), C(STGI, STGI), C(CLGI, CLGI), C(SKINIT, SKINIT),
    C(INVLPGA, INVLPGA),

    C(VMCALL, VMCALL), C(VMLAUNCH, VMLAUNCH), C(VMRESUME, VMRESUME),
    C(VMXON, VMXON), C(VMXOFF, VMXOFF), C(VMPTRLD, VMPTRLD),
    C(VMPTRST, VMPTRST), C(VMCLEAR, VMCLEAR), C(VMREAD, VMREAD),
    C(VMWRITE, VMWRITE), C(INVEPT, INVEPT), C(INVVPID, INVVPID),
    C(VMFUNC, VMFUNC),
#undef C
};

_Static_assert(SVMX_INSN_CLASS_COUNT <= 256, "classes must fit a uint8_t");

/* The tttn condition encoding of SDM Vol. 2D B.1.4.7 (Table B-10). */
static const uint8_t cond_of_mnemonic[ZYDIS_MNEMONIC_MAX_VALUE + 1] = {
#define K(n, a, b, c) [ZYDIS_MNEMONIC_J##a] = (n) + 1,                      \
                      [ZYDIS_MNEMONIC_SET##b] = (n) + 1,                    \
                      [ZYDIS_MNEMONIC_CMOV##c] = (n) + 1
    K(0x0, O, O, O),     K(0x1, NO, NO, NO),   K(0x2, B, B, B),
    K(0x3, NB, NB, NB),  K(0x4, Z, Z, Z),      K(0x5, NZ, NZ, NZ),
    K(0x6, BE, BE, BE),  K(0x7, NBE, NBE, NBE), K(0x8, S, S, S),
    K(0x9, NS, NS, NS),  K(0xa, P, P, P),      K(0xb, NP, NP, NP),
    K(0xc, L, L, L),     K(0xd, NL, NL, NL),   K(0xe, LE, LE, LE),
    K(0xf, NLE, NLE, NLE),
#undef K
    /* LOOPE continues while ZF=1 (E), LOOPNE while ZF=0 (NE). */
    [ZYDIS_MNEMONIC_LOOPE] = 0x4 + 1,
    [ZYDIS_MNEMONIC_LOOPNE] = 0x5 + 1,
};

svmx_insn_class decode_class_of(ZydisMnemonic mnemonic)
{
    if ((unsigned)mnemonic > ZYDIS_MNEMONIC_MAX_VALUE)
        return SVMX_INSN_OTHER;
    return (svmx_insn_class)class_of_mnemonic[mnemonic];
}

uint8_t decode_cond_of(ZydisMnemonic mnemonic)
{
    if ((unsigned)mnemonic > ZYDIS_MNEMONIC_MAX_VALUE ||
        !cond_of_mnemonic[mnemonic])
        return 0xff;
    return (uint8_t)(cond_of_mnemonic[mnemonic] - 1);
}

const char *svmx_insn_class_name(svmx_insn_class cls)
{
    static const char *const names[SVMX_INSN_CLASS_COUNT] = {
#define X(name, flags) [SVMX_INSN_##name] = #name,
        SVMX_INSN_CLASSES(X)
#undef X
    };
    if ((unsigned)cls >= SVMX_INSN_CLASS_COUNT)
        return "?";
    return names[cls];
}

unsigned svmx_insn_class_flags(svmx_insn_class cls)
{
    static const uint8_t flags_of[SVMX_INSN_CLASS_COUNT] = {
#define X(name, flags) [SVMX_INSN_##name] = (flags),
        SVMX_INSN_CLASSES(X)
#undef X
    };
    if ((unsigned)cls >= SVMX_INSN_CLASS_COUNT)
        return 0;
    return flags_of[cls];
}
