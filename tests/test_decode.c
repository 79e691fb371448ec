/*
 * tests/test_decode.c - byte strings to svmx_insn fields, table-driven
 * (tests/vectors/decode_*.inc). Each failure names the row.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "svmx/svmx.h"

#define M64  SVMX_MODE_LONG64
#define M32  SVMX_MODE_PROT32
#define M16  SVMX_MODE_PROT16
#define REAL SVMX_MODE_REAL
#define V86  SVMX_MODE_V86
#define C32  SVMX_MODE_COMPAT32
#define C16  SVMX_MODE_COMPAT16
#define ALT  SVMX_DECODE_ALT_MOV_CR8

/* Hex text to bytes; returns the count. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s && n < cap) {
        unsigned v;
        if (*s == ' ') {
            s++;
            continue;
        }
        if (sscanf(s, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

typedef struct decode_case {
    svmx_mode   mode;
    unsigned    flags;
    const char *hex;
    const char *expect;
} decode_case;

static const decode_case cases[] = {
#define CASE(mode, flags, hex, expect) { mode, flags, hex, expect },
#include "vectors/decode_cases.inc"
#undef CASE
};

static void test_cases(void **state)
{
    (void)state;
    unsigned failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const decode_case *c = &cases[i];
        uint8_t bytes[32];
        size_t n = unhex(c->hex, bytes, sizeof bytes);
        svmx_insn insn;
        size_t needed = 99;
        char got[256];
        svmx_status s = svmx_decode(c->mode, c->flags, bytes, n, &insn,
                                    &needed);
        if (s != SVMX_OK) {
            print_error("row %zu [%s] %s: status %s\n", i,
                        svmx_mode_name(c->mode), c->hex, svmx_status_name(s));
            failures++;
            continue;
        }
        svmx_insn_describe(&insn, got, sizeof got);
        if (strcmp(got, c->expect) != 0) {
            print_error("row %zu [%s] %s:\n  expected %s\n  got      %s\n", i,
                        svmx_mode_name(c->mode), c->hex, c->expect, got);
            failures++;
        }
        if (needed != 0) {
            print_error("row %zu: needed=%zu on success\n", i, needed);
            failures++;
        }
        if (insn.mode != c->mode) {
            print_error("row %zu: mode not recorded\n", i);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* Every SVM and VMX instruction and every class with an intercept flag
 * appears in the case table, so none can silently lose its decode. */
static void test_every_intercept_class_covered(void **state)
{
    (void)state;
    unsigned failures = 0;
    for (int cls = 0; cls < SVMX_INSN_CLASS_COUNT; cls++) {
        unsigned f = svmx_insn_class_flags((svmx_insn_class)cls);
        if (!(f & (SVMX_ICF_ICPT | SVMX_ICF_SVM | SVMX_ICF_VMX)))
            continue;
        const char *name = svmx_insn_class_name((svmx_insn_class)cls);
        size_t len = strlen(name);
        bool seen = false;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0] && !seen; i++)
            seen = !strncmp(cases[i].expect, name, len) &&
                   cases[i].expect[len] == ' ';
        if (!seen) {
            print_error("class %s has no decode case\n", name);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

typedef struct operand_case {
    svmx_mode   mode;
    const char *hex;
    unsigned    index;
    svmx_operand_kind kind;
    svmx_reg_class rc;
    uint8_t     reg, seg, base, idx, scale;
    int64_t     disp;
    uint64_t    imm;
    uint16_t    size;
} operand_case;

#define N     0xff
#define RIP   SVMX_GPR_RIP
#define ES    SVMX_SEG_ES
#define SS    SVMX_SEG_SS
#define DS    SVMX_SEG_DS
#define FS    SVMX_SEG_FS
#define GS    SVMX_SEG_GS
static const operand_case operand_cases[] = {
#define OPND(mode, hex, i, kind, rc, reg, seg, base, idx, scale, disp, imm, sz) \
    { mode, hex, i, SVMX_OPK_##kind, (svmx_reg_class)(rc), reg, seg, base,  \
      idx, scale, disp, imm, sz },
#define GPR   SVMX_RC_GPR
#define GPR8H SVMX_RC_GPR8H
#define SEG   SVMX_RC_SEG
#define CR    SVMX_RC_CR
#define DR    SVMX_RC_DR
#define OTHER SVMX_RC_OTHER
#include "vectors/decode_operands.inc"
#undef OPND
};

static void test_operands(void **state)
{
    (void)state;
    unsigned failures = 0;
    for (size_t i = 0; i < sizeof operand_cases / sizeof operand_cases[0]; i++) {
        const operand_case *c = &operand_cases[i];
        uint8_t bytes[32];
        size_t n = unhex(c->hex, bytes, sizeof bytes);
        svmx_insn insn;
        if (svmx_decode(c->mode, 0, bytes, n, &insn, NULL) != SVMX_OK ||
            insn.fault != SVMX_DECODE_FAULT_NONE ||
            c->index >= insn.operand_count) {
            print_error("row %zu %s: no operand %u\n", i, c->hex, c->index);
            failures++;
            continue;
        }
        const svmx_operand *op = &insn.operands[c->index];
        bool ok = op->kind == c->kind && op->size == c->size;
        if (c->kind == SVMX_OPK_REG)
            ok = ok && op->reg_class == c->rc && op->reg == c->reg;
        if (c->kind == SVMX_OPK_MEM)
            ok = ok && op->seg == c->seg && op->base == c->base &&
                 op->index == c->idx && op->scale == c->scale &&
                 op->disp == c->disp;
        if (c->kind == SVMX_OPK_IMM)
            ok = ok && op->imm == c->imm;
        if (c->kind == SVMX_OPK_FAR)
            ok = ok && op->imm == c->imm && op->far_sel == 8;
        if (!ok) {
            print_error("row %zu [%s] %s op%u: kind %u/%u rc %u/%u reg %u/%u "
                        "seg %u/%u base %u/%u index %u/%u scale %u/%u "
                        "disp %lld/%lld imm %llx/%llx size %u/%u\n",
                        i, svmx_mode_name(c->mode), c->hex, c->index,
                        op->kind, c->kind, op->reg_class, c->rc, op->reg,
                        c->reg, op->seg, c->seg, op->base, c->base, op->index,
                        c->idx, op->scale, c->scale, (long long)op->disp,
                        (long long)c->disp, (unsigned long long)op->imm,
                        (unsigned long long)c->imm, op->size, c->size);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

typedef struct attr_case {
    svmx_mode   mode;
    const char *hex;
    uint8_t     opsize, adsize;
    uint16_t    prefixes;
    uint8_t     seg, rex, map, opcode;
    int         modrm;
    uint8_t     opcount;
} attr_case;

static const attr_case attr_cases[] = {
#define PFX_LOCK   SVMX_PFX_LOCK
#define PFX_REP    SVMX_PFX_REP
#define PFX_REPNE  SVMX_PFX_REPNE
#define PFX_OPSIZE SVMX_PFX_OPSIZE
#define PFX_ADSIZE SVMX_PFX_ADSIZE
#define PFX_SEG    SVMX_PFX_SEG
#define PFX_REX    SVMX_PFX_REX
#define PFX_VEX    SVMX_PFX_VEX
#define ATTR(mode, hex, os, as, pfx, seg, rex, map, op, modrm, cnt)         \
    { mode, hex, os, as, pfx, seg, rex, map, op, modrm, cnt },
#include "vectors/decode_attrs.inc"
#undef ATTR
};

static void test_attributes(void **state)
{
    (void)state;
    unsigned failures = 0;
    for (size_t i = 0; i < sizeof attr_cases / sizeof attr_cases[0]; i++) {
        const attr_case *c = &attr_cases[i];
        uint8_t bytes[32];
        size_t n = unhex(c->hex, bytes, sizeof bytes);
        svmx_insn insn;
        if (svmx_decode(c->mode, 0, bytes, n, &insn, NULL) != SVMX_OK ||
            insn.fault != SVMX_DECODE_FAULT_NONE) {
            print_error("row %zu %s: did not decode\n", i, c->hex);
            failures++;
            continue;
        }
        bool modrm_ok = c->modrm < 0 ? !insn.has_modrm
                                     : insn.has_modrm && insn.modrm == c->modrm;
        if (insn.operand_size != c->opsize || insn.address_size != c->adsize ||
            insn.prefixes != c->prefixes || insn.seg_override != c->seg ||
            insn.rex != c->rex || insn.opcode_map != c->map ||
            insn.opcode != c->opcode || !modrm_ok ||
            insn.operand_count != c->opcount) {
            print_error("row %zu [%s] %s: opsize %u/%u adsize %u/%u pfx %x/%x "
                        "seg %u/%u rex %x/%x map %u/%u opcode %x/%x modrm "
                        "%d:%x/%x count %u/%u\n",
                        i, svmx_mode_name(c->mode), c->hex, insn.operand_size,
                        c->opsize, insn.address_size, c->adsize, insn.prefixes,
                        c->prefixes, insn.seg_override, c->seg, insn.rex,
                        c->rex, insn.opcode_map, c->map, insn.opcode,
                        c->opcode, insn.has_modrm, insn.modrm, c->modrm,
                        insn.operand_count, c->opcount);
            failures++;
        }
    }
    assert_int_equal(failures, 0);
}

/* The I/O inputs in field form, for the words the table checks packed. */
static void test_io_fields(void **state)
{
    (void)state;
    const uint8_t b[] = { 0x65, 0x67, 0xf3, 0x66, 0x6f }; /* rep outsw gs a32 */
    svmx_insn insn;
    assert_int_equal(svmx_decode(M64, 0, b, sizeof b, &insn, NULL), SVMX_OK);
    assert_int_equal(insn.cls, SVMX_INSN_OUTS);
    assert_int_equal(insn.length, 5);
    assert_true(insn.io.port_in_dx);
    assert_false(insn.io.is_in);
    assert_true(insn.io.string);
    assert_true(insn.io.rep);
    assert_int_equal(insn.io.size, 2);
    assert_int_equal(insn.io.address_size, 4);
    assert_int_equal(insn.io.segment, SVMX_SEG_GS);
    /* TYPE 0, STR, REP, SZ16, A32, SEG 5 (APM Vol. 2 15.10.2) */
    assert_int_equal(insn.io.svm_exitinfo1,
                     (1u << 2) | (1u << 3) | (1u << 5) | (1u << 8) | (5u << 10));

    const uint8_t in_imm[] = { 0xe5, 0xff }; /* in eax, 0xff */
    assert_int_equal(svmx_decode(M32, 0, in_imm, 2, &insn, NULL), SVMX_OK);
    assert_false(insn.io.port_in_dx);
    assert_int_equal(insn.io.port, 0xff);
    assert_true(insn.io.is_in);
    assert_false(insn.io.string);
    assert_int_equal(insn.io.segment, SVMX_SEG_NONE);
}

static void test_crdr_fields(void **state)
{
    (void)state;
    const uint8_t b[] = { 0x44, 0x0f, 0x22, 0xc5 }; /* mov cr8, rbp */
    svmx_insn insn;
    assert_int_equal(svmx_decode(M64, 0, b, sizeof b, &insn, NULL), SVMX_OK);
    assert_int_equal(insn.cls, SVMX_INSN_MOV_CR);
    assert_int_equal(insn.crdr.num, 8);
    assert_int_equal(insn.crdr.gpr, 5);
    assert_true(insn.crdr.write);
    assert_false(insn.crdr.lmsw_mem);

    const uint8_t lmsw[] = { 0x0f, 0x01, 0x70, 0x08 }; /* lmsw [rax+8] */
    assert_int_equal(svmx_decode(M64, 0, lmsw, sizeof lmsw, &insn, NULL), SVMX_OK);
    assert_int_equal(insn.cls, SVMX_INSN_LMSW);
    assert_true(insn.crdr.lmsw_mem);
    assert_int_equal(insn.crdr.gpr, SVMX_GPR_NONE);
    assert_int_equal(insn.operands[0].kind, SVMX_OPK_MEM);
    assert_int_equal(insn.operands[0].disp, 8);
    assert_int_equal(insn.operands[0].size, 2);
}

static void test_truncated(void **state)
{
    (void)state;
    static const struct {
        svmx_mode mode;
        const char *hex;
        size_t needed;
    } rows[] = {
        { M64, "0f", 1 },            /* 0f 05 syscall */
        { M64, "66", 1 },            /* 66 90 */
        { M64, "c7", 5 },            /* c7 c0 imm32 */
        { M64, "c7 04", 5 },         /* SIB then imm32 */
        { M64, "c7 05", 8 },         /* disp32 + imm32 */
        { M64, "48 b8 01 02", 6 },   /* imm64 */
        { M64, "e8 00", 3 },
        { M64, "0f 01", 1 },
        { M64, "0f c7", 1 },
        { M16, "c7 06", 4 },         /* disp16 + imm16 */
        { M32, "ea 00 00", 4 },
        { M64, "40", 1 },            /* REX alone */
        { M64, "f3 f3 f3", 1 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t bytes[16];
        size_t n = unhex(rows[i].hex, bytes, sizeof bytes);
        size_t needed = 0;
        svmx_insn insn;
        svmx_status s = svmx_decode(rows[i].mode, 0, bytes, n, &insn, &needed);
        if (s != SVMX_E_TRUNCATED || needed != rows[i].needed)
            fail_msg("row %zu %s: status %s needed %zu, expected E_TRUNCATED %zu",
                     i, rows[i].hex, svmx_status_name(s), needed,
                     rows[i].needed);
    }
    /* No bytes at all. */
    size_t needed = 0;
    svmx_insn insn;
    assert_int_equal(svmx_decode(M64, 0, (const uint8_t *)"", 0, &insn, &needed),
                     SVMX_E_TRUNCATED);
    assert_int_equal(needed, 1);
}

/* Bytes past the 15th are never looked at: a buffer of 15 valid bytes
 * followed by garbage decodes the same as the 15 bytes alone. */
static void test_fifteen_byte_window(void **state)
{
    (void)state;
    uint8_t b[20];
    memset(b, 0x66, sizeof b);
    b[14] = 0x90;
    svmx_insn a, c;
    assert_int_equal(svmx_decode(M64, 0, b, 15, &a, NULL), SVMX_OK);
    assert_int_equal(svmx_decode(M64, 0, b, 20, &c, NULL), SVMX_OK);
    assert_int_equal(a.length, 15);
    assert_int_equal(memcmp(&a, &c, sizeof a), 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    uint8_t b[1] = { 0x90 };
    svmx_insn insn;
    assert_int_equal(svmx_decode(M64, 0, b, 1, NULL, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_decode(M64, 0, NULL, 1, &insn, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_decode(SVMX_MODE_COUNT, 0, b, 1, &insn, NULL),
                     SVMX_E_ARG);
    assert_int_equal(svmx_decode((svmx_mode)-1, 0, b, 1, &insn, NULL),
                     SVMX_E_ARG);
    char buf[8];
    assert_int_equal(svmx_disassemble(M64, b, 1, 0, NULL, 8), SVMX_E_ARG);
    assert_int_equal(svmx_disassemble(M64, b, 1, 0, buf, 0), SVMX_E_ARG);
    assert_int_equal(svmx_insn_describe(NULL, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    assert_string_equal(svmx_insn_class_name(SVMX_INSN_CLASS_COUNT), "?");
    assert_int_equal(svmx_insn_class_flags(SVMX_INSN_CLASS_COUNT), 0);
    assert_string_equal(svmx_mode_name(SVMX_MODE_COUNT), "?");
}

static void test_describe_truncates_like_snprintf(void **state)
{
    (void)state;
    const uint8_t b[] = { 0xe4, 0x80 };
    svmx_insn insn;
    char full[256], small[8];
    assert_int_equal(svmx_decode(M64, 0, b, 2, &insn, NULL), SVMX_OK);
    size_t need = svmx_insn_describe(&insn, full, sizeof full);
    assert_int_equal(need, strlen(full));
    assert_int_equal(svmx_insn_describe(&insn, small, sizeof small), need);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(strncmp(small, full, sizeof small - 1), 0);
    assert_int_equal(svmx_insn_describe(&insn, NULL, 0), need);
}

static void test_disassemble(void **state)
{
    (void)state;
    const uint8_t b[] = { 0x0f, 0x01, 0xd9 };
    char text[64];
    assert_int_equal(svmx_disassemble(M64, b, 3, 0, text, sizeof text), SVMX_OK);
    assert_string_equal(text, "vmmcall");
    assert_int_equal(svmx_disassemble(M64, b, 2, 0, text, sizeof text),
                     SVMX_E_TRUNCATED);
    const uint8_t bad[] = { 0x0f, 0x0a };
    assert_int_equal(svmx_disassemble(M64, bad, 2, 0, text, sizeof text), SVMX_OK);
    assert_string_equal(text, "(bad)");
}

typedef struct mode_case {
    uint64_t cr0, rflags, efer;
    bool l, d;
    svmx_mode expect;
} mode_case;

/* APM Vol. 2 Table 1-1 / SDM Vol. 3A 2.2 */
static void test_mode_derive(void **state)
{
    (void)state;
    static const mode_case rows[] = {
        { 0x60000010, 0x2, 0, false, false, SVMX_MODE_REAL },
        { 0x10, 0x2, 0, false, true, SVMX_MODE_REAL },
        { 0x11, 0x20002, 0, false, false, SVMX_MODE_V86 },
        { 0x11, 0x20002, 0, false, true, SVMX_MODE_V86 },
        { 0x11, 0x2, 0, false, false, SVMX_MODE_PROT16 },
        { 0x11, 0x2, 0, false, true, SVMX_MODE_PROT32 },
        { 0x80000011, 0x2, 0x500, false, false, SVMX_MODE_COMPAT16 },
        { 0x80000011, 0x2, 0x500, false, true, SVMX_MODE_COMPAT32 },
        { 0x80000011, 0x2, 0x500, true, false, SVMX_MODE_LONG64 },
        { 0x80000011, 0x2, 0x500, true, true, SVMX_MODE_LONG64 },
        { 0x80000011, 0x20002, 0x500, false, true, SVMX_MODE_COMPAT32 },
        { 0x80000011, 0x2, 0x100, true, false, SVMX_MODE_PROT16 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        svmx_mode m = svmx_mode_derive(rows[i].cr0, rows[i].rflags,
                                       rows[i].efer, rows[i].l, rows[i].d);
        if (m != rows[i].expect)
            fail_msg("row %zu: %s, expected %s", i, svmx_mode_name(m),
                     svmx_mode_name(rows[i].expect));
    }
}

/* Class names come from the same list as the enum, and every class has a
 * distinct name. */
static void test_class_table(void **state)
{
    (void)state;
    for (int a = 0; a < SVMX_INSN_CLASS_COUNT; a++) {
        const char *na = svmx_insn_class_name((svmx_insn_class)a);
        assert_string_not_equal(na, "?");
        for (int b = 0; b < a; b++)
            assert_string_not_equal(na, svmx_insn_class_name((svmx_insn_class)b));
    }
    assert_true(svmx_insn_class_flags(SVMX_INSN_VMRUN) & SVMX_ICF_SVM);
    assert_true(svmx_insn_class_flags(SVMX_INSN_VMLAUNCH) & SVMX_ICF_VMX);
    assert_true(svmx_insn_class_flags(SVMX_INSN_OUTS) & SVMX_ICF_IO);
    assert_false(svmx_insn_class_flags(SVMX_INSN_ADD) & SVMX_ICF_ICPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_every_intercept_class_covered),
        cmocka_unit_test(test_operands),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_io_fields),
        cmocka_unit_test(test_crdr_fields),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_fifteen_byte_window),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_describe_truncates_like_snprintf),
        cmocka_unit_test(test_disassemble),
        cmocka_unit_test(test_mode_derive),
        cmocka_unit_test(test_class_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
