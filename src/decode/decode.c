/*
 * src/decode/decode.c - Zydis 4.0 to svmx_insn.
 *
 * Zydis does the x86 decoding; this file maps its result onto the model's
 * own value type (so the public header never exposes Zydis), turns Zydis
 * failures into what the CPU would do (#UD, #GP(0), "fetch more bytes"),
 * refines classes that depend on operands or prefixes, and calls the exit-
 * input precomputation.
 */
#include <stdio.h>
#include <string.h>

#include "decode/decode_internal.h"

/* Zydis machine mode and stack width per svmx mode. Virtual-8086 decodes
 * as real mode: both refuse the protected-mode-only instructions (ARPL,
 * LAR, LSL, VERR, VERW; SDM Vol. 2 "Virtual-8086 Mode Exceptions"). */
static const struct {
    ZydisMachineMode mm;
    ZydisStackWidth sw;
} zydis_modes[SVMX_MODE_COUNT] = {
    [SVMX_MODE_REAL] = { ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_STACK_WIDTH_16 },
    [SVMX_MODE_V86] = { ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_STACK_WIDTH_16 },
    [SVMX_MODE_PROT16] = { ZYDIS_MACHINE_MODE_LEGACY_16,
                           ZYDIS_STACK_WIDTH_16 },
    [SVMX_MODE_PROT32] = { ZYDIS_MACHINE_MODE_LEGACY_32,
                           ZYDIS_STACK_WIDTH_32 },
    [SVMX_MODE_COMPAT16] = { ZYDIS_MACHINE_MODE_LONG_COMPAT_16,
                             ZYDIS_STACK_WIDTH_16 },
    [SVMX_MODE_COMPAT32] = { ZYDIS_MACHINE_MODE_LONG_COMPAT_32,
                             ZYDIS_STACK_WIDTH_32 },
    [SVMX_MODE_LONG64] = { ZYDIS_MACHINE_MODE_LONG_64,
                           ZYDIS_STACK_WIDTH_64 },
};

bool decode_init_zydis(ZydisDecoder *dec, svmx_mode mode)
{
    if ((unsigned)mode >= SVMX_MODE_COUNT)
        return false;
    return ZYAN_SUCCESS(ZydisDecoderInit(dec, zydis_modes[mode].mm,
                                         zydis_modes[mode].sw));
}

/* General-register number (0-15) of a Zydis GPR of any width, or
 * SVMX_GPR_NONE. The 8-bit AH..BH are reported as 0-3 by gpr8h. */
static uint8_t gpr_num(ZydisRegister r, bool *gpr8h)
{
    *gpr8h = false;
    if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_R15B) {
        unsigned i = (unsigned)(r - ZYDIS_REGISTER_AL);
        if (i < 4)
            return (uint8_t)i;
        if (i < 8) {
            *gpr8h = true;
            return (uint8_t)(i - 4);
        }
        return (uint8_t)(i - 4); /* SPL..DIL = 4..7, R8B.. = 8.. */
    }
    if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W)
        return (uint8_t)(r - ZYDIS_REGISTER_AX);
    if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D)
        return (uint8_t)(r - ZYDIS_REGISTER_EAX);
    if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15)
        return (uint8_t)(r - ZYDIS_REGISTER_RAX);
    return SVMX_GPR_NONE;
}

static uint8_t seg_num(ZydisRegister r)
{
    if (r >= ZYDIS_REGISTER_ES && r <= ZYDIS_REGISTER_GS)
        return (uint8_t)(r - ZYDIS_REGISTER_ES);
    return SVMX_SEG_NONE;
}

static uint8_t addr_reg(ZydisRegister r)
{
    bool h;
    if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP)
        return SVMX_GPR_RIP;
    return gpr_num(r, &h);
}

static void map_register(svmx_operand *op, ZydisRegister r)
{
    bool h;
    uint8_t n = gpr_num(r, &h);
    if (n != SVMX_GPR_NONE) {
        op->reg_class = h ? SVMX_RC_GPR8H : SVMX_RC_GPR;
        op->reg = n;
    } else if (seg_num(r) != SVMX_SEG_NONE) {
        op->reg_class = SVMX_RC_SEG;
        op->reg = seg_num(r);
    } else if (r >= ZYDIS_REGISTER_CR0 && r <= ZYDIS_REGISTER_CR15) {
        op->reg_class = SVMX_RC_CR;
        op->reg = (uint8_t)(r - ZYDIS_REGISTER_CR0);
    } else if (r >= ZYDIS_REGISTER_DR0 && r <= ZYDIS_REGISTER_DR15) {
        op->reg_class = SVMX_RC_DR;
        op->reg = (uint8_t)(r - ZYDIS_REGISTER_DR0);
    } else {
        op->reg_class = SVMX_RC_OTHER;
        op->reg = (uint8_t)ZydisRegisterGetId(r);
    }
}

static void map_operand(svmx_operand *op, const ZydisDecodedOperand *z)
{
    memset(op, 0, sizeof *op);
    op->size = (uint16_t)(z->size / 8);
    switch (z->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        op->kind = SVMX_OPK_REG;
        map_register(op, z->reg.value);
        break;
    case ZYDIS_OPERAND_TYPE_MEMORY:
        op->kind = SVMX_OPK_MEM;
        op->seg = seg_num(z->mem.segment);
        op->base = addr_reg(z->mem.base);
        op->index = addr_reg(z->mem.index);
        op->scale = op->index == SVMX_GPR_NONE ? 0 : z->mem.scale;
        op->disp = z->mem.disp.has_displacement ? z->mem.disp.value : 0;
        if (z->mem.type == ZYDIS_MEMOP_TYPE_AGEN)
            op->size = 0;
        break;
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        op->kind = SVMX_OPK_IMM;
        op->imm = z->imm.value.u;
        op->is_relative = z->imm.is_relative;
        break;
    case ZYDIS_OPERAND_TYPE_POINTER:
        op->kind = SVMX_OPK_FAR;
        op->far_sel = z->ptr.segment;
        op->imm = z->ptr.offset;
        break;
    default:
        op->kind = SVMX_OPK_NONE;
        break;
    }
}

static uint16_t map_prefixes(ZydisInstructionAttributes a, uint8_t *seg)
{
    static const struct {
        ZydisInstructionAttributes attr;
        uint8_t seg;
    } segs[] = {
        { ZYDIS_ATTRIB_HAS_SEGMENT_ES, SVMX_SEG_ES },
        { ZYDIS_ATTRIB_HAS_SEGMENT_CS, SVMX_SEG_CS },
        { ZYDIS_ATTRIB_HAS_SEGMENT_SS, SVMX_SEG_SS },
        { ZYDIS_ATTRIB_HAS_SEGMENT_DS, SVMX_SEG_DS },
        { ZYDIS_ATTRIB_HAS_SEGMENT_FS, SVMX_SEG_FS },
        { ZYDIS_ATTRIB_HAS_SEGMENT_GS, SVMX_SEG_GS },
    };
    uint16_t p = 0;
    if (a & ZYDIS_ATTRIB_HAS_LOCK)
        p |= SVMX_PFX_LOCK;
    if (a & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
        p |= SVMX_PFX_REP;
    if (a & ZYDIS_ATTRIB_HAS_REPNE)
        p |= SVMX_PFX_REPNE;
    if (a & ZYDIS_ATTRIB_HAS_OPERANDSIZE)
        p |= SVMX_PFX_OPSIZE;
    if (a & ZYDIS_ATTRIB_HAS_ADDRESSSIZE)
        p |= SVMX_PFX_ADSIZE;
    if (a & ZYDIS_ATTRIB_HAS_REX)
        p |= SVMX_PFX_REX;
    if (a & (ZYDIS_ATTRIB_HAS_VEX | ZYDIS_ATTRIB_HAS_EVEX |
             ZYDIS_ATTRIB_HAS_XOP | ZYDIS_ATTRIB_HAS_MVEX))
        p |= SVMX_PFX_VEX;
    *seg = SVMX_SEG_NONE;
    /* With several overrides the last one counts (SDM Vol. 2A 2.1.1);
     * Zydis reports only that effective one. */
    for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++) {
        if (a & segs[i].attr) {
            p |= SVMX_PFX_SEG;
            *seg = segs[i].seg;
        }
    }
    return p;
}

/* The last F2/F3 prefix byte of the instruction, or 0. */
static uint8_t last_rep_byte(const ZydisDecodedInstruction *zi)
{
    uint8_t last = 0;
    for (unsigned i = 0; i < zi->raw.prefix_count && i < ZYDIS_MAX_INSTRUCTION_LENGTH; i++) {
        uint8_t v = zi->raw.prefixes[i].value;
        if (v == 0xf2 || v == 0xf3)
            last = v;
    }
    return last;
}

static svmx_insn_class refine_class(svmx_insn_class cls,
                                    const ZydisDecodedInstruction *zi,
                                    const svmx_insn *insn)
{
    switch (cls) {
    case SVMX_INSN_MOV:
        for (unsigned i = 0; i < insn->operand_count; i++) {
            const svmx_operand *op = &insn->operands[i];
            if (op->kind != SVMX_OPK_REG)
                continue;
            if (op->reg_class == SVMX_RC_CR)
                return SVMX_INSN_MOV_CR;
            if (op->reg_class == SVMX_RC_DR)
                return SVMX_INSN_MOV_DR;
            if (op->reg_class == SVMX_RC_SEG)
                return SVMX_INSN_MOV_SEG;
        }
        return cls;
    case SVMX_INSN_JMP:
    case SVMX_INSN_CALL:
    case SVMX_INSN_RET:
        if (zi->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
            return (svmx_insn_class)(cls + 1); /* the _FAR row follows */
        return cls;
    case SVMX_INSN_MOVS:
    case SVMX_INSN_CMPS:
        /* Zydis names SSE2 MOVSD/CMPSD like the string forms. */
        return zi->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT ? cls
                                                          : SVMX_INSN_OTHER;
    case SVMX_INSN_WBINVD:
        /* F3 0F 09 is WBNOINVD (APM Vol. 3, SDM Vol. 2D); Zydis 4.0 does
         * not know it. Without the feature the CPU ignores the prefix, a
         * choice the interpreter makes from the personality. */
        return last_rep_byte(zi) == 0xf3 ? SVMX_INSN_WBNOINVD : cls;
    default:
        return cls;
    }
}

_Static_assert(SVMX_INSN_JMP_FAR == SVMX_INSN_JMP + 1 &&
                   SVMX_INSN_CALL_FAR == SVMX_INSN_CALL + 1 &&
                   SVMX_INSN_RET_FAR == SVMX_INSN_RET + 1,
               "far classes must follow their near twins");

static void fill_insn(svmx_insn *insn, svmx_mode mode,
                      const ZydisDecodedInstruction *zi,
                      const ZydisDecodedOperand *ops)
{
    memset(insn, 0, sizeof *insn);
    insn->length = zi->length;
    insn->mode = (uint8_t)mode;
    insn->fault = SVMX_DECODE_FAULT_NONE;
    insn->mnemonic = (uint16_t)zi->mnemonic;
    insn->operand_size = (uint8_t)(zi->operand_width / 8);
    insn->address_size = (uint8_t)(zi->address_width / 8);
    insn->prefixes = map_prefixes(zi->attributes, &insn->seg_override);
    if (zi->attributes & ZYDIS_ATTRIB_HAS_REX)
        insn->rex = (uint8_t)(0x40 | zi->raw.rex.W << 3 | zi->raw.rex.R << 2 |
                              zi->raw.rex.X << 1 | zi->raw.rex.B);
    insn->opcode_map = (uint8_t)zi->opcode_map;
    insn->opcode = zi->opcode;
    insn->has_modrm = (zi->attributes & ZYDIS_ATTRIB_HAS_MODRM) != 0;
    if (insn->has_modrm)
        insn->modrm = (uint8_t)(zi->raw.modrm.mod << 6 |
                                zi->raw.modrm.reg << 3 | zi->raw.modrm.rm);

    unsigned n = zi->operand_count_visible;
    if (n > sizeof insn->operands / sizeof insn->operands[0])
        n = sizeof insn->operands / sizeof insn->operands[0];
    for (unsigned i = 0; i < n; i++)
        map_operand(&insn->operands[i], &ops[i]);
    insn->operand_count = (uint8_t)n;

    svmx_insn_class cls = refine_class(decode_class_of(zi->mnemonic), zi,
                                       insn);
    insn->cls = (uint8_t)cls;
    insn->cond = decode_cond_of(zi->mnemonic);
    decode_exit_inputs(insn);
}

static void set_fault(svmx_insn *insn, svmx_mode mode, svmx_decode_fault f)
{
    memset(insn, 0, sizeof *insn);
    insn->mode = (uint8_t)mode;
    insn->fault = (uint8_t)f;
    insn->cls = SVMX_INSN_OTHER;
    insn->length = f == SVMX_DECODE_FAULT_GP ? SVMX_INSN_MAX_LEN : 0;
    insn->seg_override = SVMX_SEG_NONE;
    insn->cond = 0xff;
}

/* Smallest number of further bytes with which the instruction decodes,
 * trying each value of the next byte with zeros after it. Only on the
 * truncation path. */
static size_t probe_needed(const ZydisDecoder *dec, const uint8_t *bytes,
                           size_t n)
{
    uint8_t buf[SVMX_INSN_MAX_LEN];
    size_t best = 0;
    memset(buf, 0, sizeof buf);
    memcpy(buf, bytes, n);
    for (unsigned b = 0; b < 256; b++) {
        ZydisDecoderContext ctx;
        ZydisDecodedInstruction zi;
        buf[n] = (uint8_t)b;
        if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(dec, &ctx, buf,
                                                        sizeof buf, &zi)))
            continue;
        if (zi.length > n && (best == 0 || zi.length - n < best))
            best = zi.length - n;
        if (best == 1)
            break;
    }
    return best ? best : 1;
}

/* AMD's alternative CR8 encoding: LOCK MOV CR0 is MOV CR8 (APM Vol. 3,
 * "MOV CRn"; CPUID Fn8000_0001 ECX[4] AltMovCr8). Zydis refuses the LOCK;
 * decode the bytes without it and check that a MOV CR0 remains. */
static bool decode_alt_mov_cr8(const ZydisDecoder *dec, svmx_mode mode,
                               const uint8_t *bytes, size_t n,
                               svmx_insn *out)
{
    uint8_t buf[SVMX_INSN_MAX_LEN];
    size_t lock = n;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = bytes[i];
        if (b == 0xf0) {
            lock = i;
            break;
        }
        /* Only legacy prefixes may stand before it. */
        if (!(b == 0x66 || b == 0x67 || b == 0xf2 || b == 0xf3 ||
              b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e ||
              b == 0x64 || b == 0x65))
            return false;
    }
    if (lock == n)
        return false;
    memcpy(buf, bytes, lock);
    memcpy(buf + lock, bytes + lock + 1, n - lock - 1);

    ZydisDecoderContext ctx;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(dec, &ctx, buf, n - 1,
                                                    &zi)) ||
        zi.mnemonic != ZYDIS_MNEMONIC_MOV ||
        zi.opcode_map != ZYDIS_OPCODE_MAP_0F ||
        (zi.opcode != 0x20 && zi.opcode != 0x22) ||
        !ZYAN_SUCCESS(ZydisDecoderDecodeOperands(dec, &ctx, &zi, ops,
                                                 zi.operand_count_visible)))
        return false;
    for (unsigned i = 0; i < zi.operand_count_visible; i++) {
        if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ops[i].reg.value == ZYDIS_REGISTER_CR0)
            ops[i].reg.value = ZYDIS_REGISTER_CR8;
        else if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
                 ops[i].reg.value >= ZYDIS_REGISTER_CR1 &&
                 ops[i].reg.value <= ZYDIS_REGISTER_CR15)
            return false; /* LOCK MOV CRn, n != 0, stays #UD */
    }
    zi.length = (ZyanU8)(zi.length + 1);
    fill_insn(out, mode, &zi, ops);
    out->prefixes |= SVMX_PFX_LOCK;
    return true;
}

/* SYSENTER and SYSEXIT are recognized in real and virtual-8086 mode,
 * where Zydis's real-mode tables refuse them: SYSENTER is #GP(0) in real
 * mode and works in virtual-8086 mode, SYSEXIT is #GP(0) in both (SDM
 * Vol. 2B SYSENTER, SYSEXIT "Operation" and "Virtual-8086 Mode
 * Exceptions"; APM Vol. 3 SYSENTER, SYSEXIT). After a failed decode in
 * those modes the bytes are decoded again as 16-bit protected mode, which
 * has the same defaults, and only these two are taken; the interpreter
 * makes the mode checks. */
static bool sysenter_in_real(svmx_mode mode, const uint8_t *bytes, size_t n,
                             ZydisDecodedInstruction *zi,
                             ZydisDecodedOperand *ops)
{
    ZydisDecoder dec;
    ZydisDecoderContext ctx;
    return (mode == SVMX_MODE_REAL || mode == SVMX_MODE_V86) &&
           decode_init_zydis(&dec, SVMX_MODE_PROT16) &&
           ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, &ctx, bytes, n,
                                                      zi)) &&
           (zi->mnemonic == ZYDIS_MNEMONIC_SYSENTER ||
            zi->mnemonic == ZYDIS_MNEMONIC_SYSEXIT) &&
           ZYAN_SUCCESS(ZydisDecoderDecodeOperands(&dec, &ctx, zi, ops,
                                                   zi->operand_count_visible));
}

svmx_status decode_with(const ZydisDecoder *dec, svmx_mode mode,
                        unsigned flags, const uint8_t *bytes, size_t len,
                        svmx_insn *out, size_t *needed)
{
    size_t n = len < SVMX_INSN_MAX_LEN ? len : SVMX_INSN_MAX_LEN;
    ZydisDecoderContext ctx;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];

    if (needed)
        *needed = 0;
    ZyanStatus zs = ZydisDecoderDecodeInstruction(dec, &ctx, bytes, n, &zi);
    if (ZYAN_SUCCESS(zs))
        zs = ZydisDecoderDecodeOperands(dec, &ctx, &zi, ops,
                                        zi.operand_count_visible);
    if (ZYAN_SUCCESS(zs)) {
        fill_insn(out, mode, &zi, ops);
        return SVMX_OK;
    }
    if (zs == ZYDIS_STATUS_NO_MORE_DATA) {
        /* Fifteen bytes without an end: the instruction is too long
         * (SDM Vol. 2A 2.3.11: #GP(0) beyond 15 bytes). */
        if (n == SVMX_INSN_MAX_LEN) {
            set_fault(out, mode, SVMX_DECODE_FAULT_GP);
            return SVMX_OK;
        }
        if (needed)
            *needed = probe_needed(dec, bytes, n);
        return SVMX_E_TRUNCATED;
    }
    if (zs == ZYDIS_STATUS_INSTRUCTION_TOO_LONG) {
        set_fault(out, mode, SVMX_DECODE_FAULT_GP);
        return SVMX_OK;
    }
    if (zs == ZYDIS_STATUS_ILLEGAL_LOCK && (flags & SVMX_DECODE_ALT_MOV_CR8) &&
        decode_alt_mov_cr8(dec, mode, bytes, n, out))
        return SVMX_OK;
    if (sysenter_in_real(mode, bytes, n, &zi, ops)) {
        fill_insn(out, mode, &zi, ops);
        return SVMX_OK;
    }
    set_fault(out, mode, SVMX_DECODE_FAULT_UD);
    return SVMX_OK;
}

svmx_status svmx_decode(svmx_mode mode, unsigned flags, const uint8_t *bytes,
                        size_t len, svmx_insn *out, size_t *needed)
{
    ZydisDecoder dec;
    if (!out || (!bytes && len) || !decode_init_zydis(&dec, mode))
        return SVMX_E_ARG;
    if (len == 0) {
        if (needed)
            *needed = 1;
        return SVMX_E_TRUNCATED;
    }
    return decode_with(&dec, mode, flags, bytes, len, out, needed);
}

svmx_status svmx_disassemble(svmx_mode mode, const uint8_t *bytes,
                             size_t len, uint64_t rip, char *buf, size_t size)
{
    ZydisDecoder dec;
    ZydisFormatter fmt;
    ZydisDecoderContext ctx;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];

    if (!buf || size == 0 || (!bytes && len) || !decode_init_zydis(&dec, mode))
        return SVMX_E_ARG;
    buf[0] = '\0';
    size_t n = len < SVMX_INSN_MAX_LEN ? len : SVMX_INSN_MAX_LEN;
    ZyanStatus zs = n ? ZydisDecoderDecodeInstruction(&dec, &ctx, bytes, n, &zi)
                      : ZYDIS_STATUS_NO_MORE_DATA;
    if (ZYAN_SUCCESS(zs))
        zs = ZydisDecoderDecodeOperands(&dec, &ctx, &zi, ops,
                                        zi.operand_count_visible);
    if (zs == ZYDIS_STATUS_NO_MORE_DATA && n < SVMX_INSN_MAX_LEN)
        return SVMX_E_TRUNCATED;
    if (!ZYAN_SUCCESS(zs) && sysenter_in_real(mode, bytes, n, &zi, ops))
        zs = ZYAN_STATUS_SUCCESS;
    if (!ZYAN_SUCCESS(zs)) {
        snprintf(buf, size, "(bad)");
        return SVMX_OK;
    }
    if (!ZYAN_SUCCESS(ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL)) ||
        !ZYAN_SUCCESS(ZydisFormatterFormatInstruction(
            &fmt, &zi, ops, zi.operand_count_visible, buf, size, rip, ZYAN_NULL)))
        snprintf(buf, size, "(unformattable)");
    return SVMX_OK;
}
