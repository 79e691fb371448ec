/*
 * src/decode/exit_inputs.c - the fields intercepts report, computed once at
 * decode time so that no #VMEXIT or VM-exit path decodes again.
 *
 * Everything here packs architectural words: each packing has its bit
 * layout above it, from the manual table it follows. Bits a manual leaves
 * undefined are left zero.
 */
#include "decode/decode_internal.h"

/* Size in bytes (2, 4, 8) to the 0/1/2 code both the SVM address-size
 * bits and the VMX "address size" fields are built from. */
static uint32_t size_code(unsigned bytes)
{
    return bytes == 8 ? 2u : bytes == 4 ? 1u : 0u;
}

/*
 * SVM IOIO EXITINFO1 (APM Vol. 2 15.10.2, "IOIO Intercept Information"):
 *   [0]     TYPE   1 = IN, 0 = OUT
 *   [2]     STR    INS/OUTS
 *   [3]     REP    REP prefix present
 *   [6:4]   SZ32 SZ16 SZ8, one-hot operand size
 *   [9:7]   A64 A32 A16, one-hot address size
 *   [12:10] SEG    effective segment of a string operand (ES=0 .. GS=5)
 *   [31:16] PORT
 *
 * VMX I/O exit qualification (SDM Vol. 3C 28.2.1, "Exit Qualification for
 * I/O Instructions"):
 *   [2:0]   size - 1 (0, 1 or 3)
 *   [3]     direction, 1 = IN
 *   [4]     string instruction
 *   [5]     REP prefixed
 *   [6]     operand encoding, 1 = immediate port, 0 = DX
 *   [31:16] port
 *
 * VMX instruction information for INS/OUTS (SDM Vol. 3C 28.2.5):
 *   [9:7]   address size 0: 16, 1: 32, 2: 64
 *   [17:15] segment register (defined for OUTS; INS always uses ES = 0)
 */
/* INS/OUTS move at most 32 bits: REX.W does not widen them (SDM Vol. 2B
 * INS/OUTS), so the size comes from the mnemonic, not the operand size. */
static uint8_t string_io_size(uint16_t mnemonic)
{
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_OUTSB:
        return 1;
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_OUTSW:
        return 2;
    default:
        return 4;
    }
}

static void io_inputs(svmx_insn *insn)
{
    svmx_io_inputs *io = &insn->io;
    const svmx_operand *port_op = NULL;

    io->segment = SVMX_SEG_NONE;
    io->address_size = insn->address_size;
    switch ((svmx_insn_class)insn->cls) {
    case SVMX_INSN_IN: /* IN AL/AX/EAX, imm8 | DX */
        io->is_in = true;
        io->size = (uint8_t)insn->operands[0].size;
        port_op = &insn->operands[1];
        break;
    case SVMX_INSN_OUT: /* OUT imm8 | DX, AL/AX/EAX */
        io->size = (uint8_t)insn->operands[1].size;
        port_op = &insn->operands[0];
        break;
    case SVMX_INSN_INS: /* ES:[rDI] <- port DX; ES cannot be overridden */
        io->is_in = true;
        io->string = true;
        io->size = string_io_size(insn->mnemonic);
        io->segment = SVMX_SEG_ES;
        break;
    case SVMX_INSN_OUTS: /* port DX <- DS (or override):[rSI] */
        io->string = true;
        io->size = string_io_size(insn->mnemonic);
        io->segment = insn->seg_override != SVMX_SEG_NONE ? insn->seg_override
                                                          : SVMX_SEG_DS;
        break;
    default:
        return;
    }
    /* F2 and F3 both repeat INS/OUTS: only REPE/REPNE-sensitive string
     * instructions tell them apart (SDM Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ"). */
    io->rep = io->string && (insn->prefixes & (SVMX_PFX_REP | SVMX_PFX_REPNE));
    if (port_op && port_op->kind == SVMX_OPK_IMM) {
        io->port = (uint16_t)port_op->imm;
    } else {
        io->port_in_dx = true;
        io->port = 0;
    }

    unsigned sz_bit = io->size == 4 ? 2 : io->size == 2 ? 1 : 0;
    uint32_t e = 0;
    e |= io->is_in ? 1u << 0 : 0;
    e |= io->string ? 1u << 2 : 0;
    e |= io->rep ? 1u << 3 : 0;
    e |= 1u << (4 + sz_bit);
    e |= 1u << (7 + size_code(io->address_size));
    if (io->string)
        e |= (uint32_t)io->segment << 10;
    e |= (uint32_t)io->port << 16;
    io->svm_exitinfo1 = e;

    uint32_t q = 0;
    q |= (uint32_t)(io->size - 1) & 7u;
    q |= io->is_in ? 1u << 3 : 0;
    q |= io->string ? 1u << 4 : 0;
    q |= io->rep ? 1u << 5 : 0;
    q |= io->port_in_dx ? 0 : 1u << 6;
    q |= (uint32_t)io->port << 16;
    io->vmx_qualification = q;

    if (io->string)
        io->vmx_insn_info = size_code(io->address_size) << 7 |
                            (uint32_t)io->segment << 15;
}

/*
 * VMX control-register access qualification (SDM Vol. 3C 28.2.1, "Exit
 * Qualification for Control-Register Accesses"):
 *   [3:0]   CR number (0 for CLTS and LMSW)
 *   [5:4]   access type 0: MOV to CR, 1: MOV from CR, 2: CLTS, 3: LMSW
 *   [6]     LMSW operand type, 1 = memory
 *   [11:8]  general register of MOV CR
 *   [31:16] LMSW source data (filled at exit time)
 *
 * VMX MOV DR qualification (same section, "Exit Qualification for MOV DR"):
 *   [2:0]   DR number
 *   [4]     direction 0: MOV to DR, 1: MOV from DR
 *   [11:8]  general register
 */
static void crdr_inputs(svmx_insn *insn)
{
    svmx_crdr_inputs *c = &insn->crdr;
    const svmx_operand *o0 = &insn->operands[0], *o1 = &insn->operands[1];

    c->gpr = SVMX_GPR_NONE;
    switch ((svmx_insn_class)insn->cls) {
    case SVMX_INSN_MOV_CR:
    case SVMX_INSN_MOV_DR: {
        bool to_reg = o0->reg_class == SVMX_RC_CR || o0->reg_class == SVMX_RC_DR;
        const svmx_operand *ctl = to_reg ? o0 : o1, *gpr = to_reg ? o1 : o0;
        c->write = to_reg;
        c->num = ctl->reg;
        c->gpr = gpr->reg;
        if (insn->cls == SVMX_INSN_MOV_CR)
            c->vmx_qualification = (c->num & 0xfu) | (to_reg ? 0u : 1u) << 4 |
                                   (uint32_t)(c->gpr & 0xfu) << 8;
        else
            c->vmx_qualification = (c->num & 0x7u) | (to_reg ? 0u : 1u) << 4 |
                                   (uint32_t)(c->gpr & 0xfu) << 8;
        break;
    }
    case SVMX_INSN_CLTS:
        c->write = true;
        c->vmx_qualification = 2u << 4;
        break;
    case SVMX_INSN_LMSW:
        c->write = true;
        c->lmsw_mem = o0->kind == SVMX_OPK_MEM;
        if (o0->kind == SVMX_OPK_REG)
            c->gpr = o0->reg;
        c->vmx_qualification = 3u << 4 | (c->lmsw_mem ? 1u << 6 : 0u);
        break;
    default:
        break;
    }
}

/*
 * The memory-operand part shared by the VMX instruction-information
 * formats (SDM Vol. 3C 28.2.5):
 *   [1:0]   scaling 0: none, 1: 2, 2: 4, 3: 8
 *   [9:7]   address size 0: 16, 1: 32, 2: 64
 *   [17:15] segment register
 *   [21:18] index register, [22] index invalid
 *   [26:23] base register,  [27] base invalid
 * A RIP-relative operand has no base register: base invalid.
 */
static uint32_t vmx_mem_info(const svmx_insn *insn, const svmx_operand *m)
{
    uint32_t v = size_code(insn->address_size) << 7;
    v |= (uint32_t)(m->seg & 7u) << 15;
    if (m->index != SVMX_GPR_NONE && m->index < 16) {
        uint32_t sc = m->scale == 8 ? 3u : m->scale == 4 ? 2u
                    : m->scale == 2 ? 1u : 0u;
        v |= sc | (uint32_t)m->index << 18;
    } else {
        v |= 1u << 22;
    }
    if (m->base != SVMX_GPR_NONE && m->base < 16)
        v |= (uint32_t)m->base << 23;
    else
        v |= 1u << 27;
    return v;
}

/* Register-or-memory operand: [6:3] reg1 and [10] = 1 for a register,
 * the memory fields for memory. */
static uint32_t vmx_rm_info(const svmx_insn *insn, const svmx_operand *rm)
{
    if (rm->kind == SVMX_OPK_REG)
        return (uint32_t)(rm->reg & 0xfu) << 3 | 1u << 10;
    return vmx_mem_info(insn, rm);
}

/* Bits 29:28 "instruction identity" of the descriptor-table formats. */
static const uint8_t table_identity[SVMX_INSN_CLASS_COUNT] = {
    [SVMX_INSN_SGDT] = 0, [SVMX_INSN_SIDT] = 1,
    [SVMX_INSN_LGDT] = 2, [SVMX_INSN_LIDT] = 3,
    [SVMX_INSN_SLDT] = 0, [SVMX_INSN_STR] = 1,
    [SVMX_INSN_LLDT] = 2, [SVMX_INSN_LTR] = 3,
};

static void vmx_info(svmx_insn *insn)
{
    const svmx_operand *o0 = &insn->operands[0], *o1 = &insn->operands[1];
    uint32_t v;

    switch ((svmx_insn_class)insn->cls) {
    /* LGDT/LIDT/SGDT/SIDT: [11] operand size 0: 16, 1: 32 (undefined in
     * 64-bit mode); [29:28] 0: SGDT, 1: SIDT, 2: LGDT, 3: LIDT. */
    case SVMX_INSN_SGDT:
    case SVMX_INSN_SIDT:
    case SVMX_INSN_LGDT:
    case SVMX_INSN_LIDT:
        v = vmx_mem_info(insn, o0) | (uint32_t)table_identity[insn->cls] << 28;
        if (insn->mode != SVMX_MODE_LONG64 && insn->operand_size == 4)
            v |= 1u << 11;
        break;
    /* LLDT/LTR/SLDT/STR: [29:28] 0: SLDT, 1: STR, 2: LLDT, 3: LTR. */
    case SVMX_INSN_SLDT:
    case SVMX_INSN_STR:
    case SVMX_INSN_LLDT:
    case SVMX_INSN_LTR:
        v = vmx_rm_info(insn, o0) | (uint32_t)table_identity[insn->cls] << 28;
        break;
    /* INVEPT/INVPCID/INVVPID r, m128: [31:28] reg2 = the type register. */
    case SVMX_INSN_INVEPT:
    case SVMX_INSN_INVPCID:
    case SVMX_INSN_INVVPID:
        v = vmx_mem_info(insn, o1) | (uint32_t)(o0->reg & 0xfu) << 28;
        break;
    /* Memory-only m64 operands; [10] is cleared. */
    case SVMX_INSN_VMCLEAR:
    case SVMX_INSN_VMPTRLD:
    case SVMX_INSN_VMPTRST:
    case SVMX_INSN_VMXON:
    case SVMX_INSN_XSAVES:
    case SVMX_INSN_XRSTORS:
        v = vmx_mem_info(insn, o0);
        break;
    /* VMREAD r/m, r and VMWRITE r, r/m: reg1/memory is the r/m operand,
     * [31:28] reg2 the register holding the field encoding. */
    case SVMX_INSN_VMREAD:
        v = vmx_rm_info(insn, o0) | (uint32_t)(o1->reg & 0xfu) << 28;
        break;
    case SVMX_INSN_VMWRITE:
        v = vmx_rm_info(insn, o1) | (uint32_t)(o0->reg & 0xfu) << 28;
        break;
    /* RDRAND/RDSEED/TPAUSE/UMWAIT r: [6:3] operand register,
     * [12:11] operand size 0: 16, 1: 32, 2: 64. */
    case SVMX_INSN_RDRAND:
    case SVMX_INSN_RDSEED:
    case SVMX_INSN_TPAUSE:
    case SVMX_INSN_UMWAIT:
        v = (uint32_t)(o0->reg & 0xfu) << 3 | size_code(o0->size) << 11;
        break;
    /* LOADIWKEY xmm1, xmm2: [6:3] reg1, [31:28] reg2, both XMM numbers. */
    case SVMX_INSN_LOADIWKEY:
        v = (uint32_t)(o0->reg & 0xfu) << 3 | (uint32_t)(o1->reg & 0xfu) << 28;
        break;
    default:
        return;
    }
    insn->vmx_insn_info = v;
    insn->has_vmx_insn_info = true;
}

void decode_exit_inputs(svmx_insn *insn)
{
    unsigned flags = svmx_insn_class_flags((svmx_insn_class)insn->cls);
    if (flags & SVMX_ICF_IO)
        io_inputs(insn);
    crdr_inputs(insn);
    vmx_info(insn);
}
