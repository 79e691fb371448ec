/*
 * tests/test_svm_vmcb.c - the VMCB field list against numbers typed from
 * the APM, the accessors, the exit-code table and its intercept gates,
 * and the permission-map lookups (svmx/svm.h).
 *
 * Offsets, intercept bit numbers and exit codes below are transcribed
 * from AMD APM Vol. 2 Table B-1, Table B-2 and Table C-1 by hand, not
 * derived from the lists under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "svmx/svmx.h"
#include "test_util.h"

/* ------------------------------------------------------ VMCB layout -- */

static const struct {
    const char *name;
    unsigned    offset, width;
} apm_fields[] = {
    /* Table B-1, control area */
    { "INTERCEPT_CR",              0x000, 4 },
    { "INTERCEPT_EXC",             0x008, 4 },
    { "INTERCEPT_MISC1",           0x00c, 4 },
    { "INTERCEPT_MISC3",           0x014, 4 },
    { "PAUSE_FILTER_THRESHOLD",    0x03c, 2 },
    { "PAUSE_FILTER_COUNT",        0x03e, 2 },
    { "IOPM_BASE_PA",              0x040, 8 },
    { "MSRPM_BASE_PA",             0x048, 8 },
    { "TSC_OFFSET",                0x050, 8 },
    { "GUEST_ASID",                0x058, 4 },
    { "TLB_CONTROL",               0x05c, 1 },
    { "V_TPR",                     0x060, 1 },
    { "V_INTR_VECTOR",             0x064, 1 },
    { "INTERRUPT_SHADOW",          0x068, 8 },
    { "EXITCODE",                  0x070, 8 },
    { "EXITINFO1",                 0x078, 8 },
    { "EXITINFO2",                 0x080, 8 },
    { "EXITINTINFO",               0x088, 8 },
    { "NP_ENABLE",                 0x090, 8 },
    { "EVENTINJ",                  0x0a8, 8 },
    { "N_CR3",                     0x0b0, 8 },
    { "LBR_VIRTUALIZATION_ENABLE", 0x0b8, 8 },
    { "VMCB_CLEAN",                0x0c0, 4 },
    { "NRIP",                      0x0c8, 8 },
    { "GUEST_INSTR_BYTES_COUNT",   0x0d0, 1 },
    { "GUEST_INSTR_BYTES",         0x0d1, 15 },
    { "AVIC_PHYSICAL_TABLE",       0x0f8, 8 },
    { "VMSA_PA",                   0x108, 8 },
    /* Table B-2, state-save area (+0x400) */
    { "ES_SELECTOR",               0x400, 2 },
    { "CS_ATTRIB",                 0x412, 2 },
    { "SS_LIMIT",                  0x424, 4 },
    { "GDTR_BASE",                 0x468, 8 },
    { "IDTR_LIMIT",                0x484, 4 },
    { "TR_BASE",                   0x498, 8 },
    { "CPL",                       0x4cb, 1 },
    { "EFER",                      0x4d0, 8 },
    { "CR4",                       0x548, 8 },
    { "CR3",                       0x550, 8 },
    { "CR0",                       0x558, 8 },
    { "DR7",                       0x560, 8 },
    { "DR6",                       0x568, 8 },
    { "RFLAGS",                    0x570, 8 },
    { "RIP",                       0x578, 8 },
    { "RSP",                       0x5d8, 8 },
    { "RAX",                       0x5f8, 8 },
    { "KERNEL_GS_BASE",            0x620, 8 },
    { "SYSENTER_EIP",              0x638, 8 },
    { "CR2",                       0x640, 8 },
    { "G_PAT",                     0x668, 8 },
    { "DBGCTL",                    0x670, 8 },
    { "LASTEXCPTO",                0x690, 8 },
};

static void test_offsets_match_apm(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(apm_fields); i++) {
        svmx_vmcb_field f;
        EXPECT(svmx_vmcb_field_lookup(apm_fields[i].name, &f) == SVMX_OK,
               "%s: not in the list", apm_fields[i].name);
        EXPECT((unsigned)f == apm_fields[i].offset, "%s: offset %#x, APM %#x",
               apm_fields[i].name, (unsigned)f, apm_fields[i].offset);
        const svmx_vmcb_field_info *info = svmx_vmcb_field_info_of(f);
        assert_non_null(info);
        EXPECT(info->width == apm_fields[i].width, "%s: width %u, APM %u",
               apm_fields[i].name, info->width, apm_fields[i].width);
        assert_string_equal(svmx_vmcb_field_name(f), apm_fields[i].name);
    }
    /* The constants are the offsets. */
    assert_int_equal(SVMX_VMCB_EXITCODE, 0x070);
    assert_int_equal(SVMX_VMCB_CR0, 0x558);
    assert_int_equal(SVMX_VMCB_G_PAT, 0x668);
}

/* Rows in offset order, no overlap, inside the page; names unique. */
static void test_list_is_a_layout(void **state)
{
    (void)state;
    unsigned end = 0;
    for (size_t i = 0; i < SVMX_VMCB_FIELD_COUNT; i++) {
        const svmx_vmcb_field_info *f = svmx_vmcb_field_at(i);
        assert_non_null(f);
        EXPECT(f->offset >= end, "%s overlaps the row before", f->name);
        end = f->offset + f->width;
        assert_true(end <= SVMX_VMCB_SIZE);
        if (!f->bytes)
            EXPECT(f->width == 1 || f->width == 2 || f->width == 4 ||
                       f->width == 8, "%s: width %u", f->name, f->width);
        assert_ptr_equal(svmx_vmcb_field_info_of((svmx_vmcb_field)f->offset),
                         f);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(svmx_vmcb_field_at(j)->name, f->name);
    }
    assert_null(svmx_vmcb_field_at(SVMX_VMCB_FIELD_COUNT));
    assert_true(SVMX_VMCB_FIELD_COUNT > 100);
}

static void test_unknown_fields(void **state)
{
    (void)state;
    svmx_vmcb vmcb;
    memset(&vmcb, 0, sizeof vmcb);
    svmx_vmcb_field f = SVMX_VMCB_CR0;
    uint64_t v = 1;
    /* 0x001 is inside INTERCEPT_CR, 0x018 reserved, 0xfff past the list. */
    const unsigned bad[] = { 0x001, 0x018, 0x3e0, 0x559, 0xfff, 0x1000,
                             0xffffffffu };
    for (size_t i = 0; i < COUNT_OF(bad); i++) {
        svmx_vmcb_field b = (svmx_vmcb_field)bad[i];
        assert_null(svmx_vmcb_field_info_of(b));
        assert_string_equal(svmx_vmcb_field_name(b), "?");
        assert_int_equal(svmx_vmcb_get(&vmcb, b), 0);
        assert_int_equal(svmx_vmcb_read(&vmcb, b, &v), SVMX_E_FIELD);
        assert_int_equal(svmx_vmcb_set(&vmcb, b, 0), SVMX_E_FIELD);
    }
    assert_int_equal(svmx_vmcb_field_lookup("NO_SUCH", &f), SVMX_E_FIELD);
    assert_int_equal(svmx_vmcb_field_lookup("cr0", &f), SVMX_E_FIELD);
    assert_int_equal(svmx_vmcb_field_lookup(NULL, &f), SVMX_E_ARG);
    assert_int_equal(svmx_vmcb_field_lookup("CR0", NULL), SVMX_E_ARG);
    assert_int_equal(svmx_vmcb_get(NULL, SVMX_VMCB_CR0), 0);
    assert_int_equal(svmx_vmcb_read(NULL, SVMX_VMCB_CR0, &v), SVMX_E_ARG);
    assert_int_equal(svmx_vmcb_read(&vmcb, SVMX_VMCB_CR0, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_vmcb_set(NULL, SVMX_VMCB_CR0, 0), SVMX_E_ARG);
}

/* Every scalar round-trips, little-endian, touching only its bytes. */
static void test_round_trip_every_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < SVMX_VMCB_FIELD_COUNT; i++) {
        const svmx_vmcb_field_info *f = svmx_vmcb_field_at(i);
        svmx_vmcb_field id = (svmx_vmcb_field)f->offset;
        svmx_vmcb vmcb, before;
        memset(&vmcb, 0xa5, sizeof vmcb);
        before = vmcb;
        if (f->bytes) {
            uint8_t buf[64], back[64];
            for (unsigned k = 0; k < f->width; k++)
                buf[k] = (uint8_t)(k * 7 + 1);
            assert_int_equal(svmx_vmcb_set(&vmcb, id, 0), SVMX_E_FIELD);
            assert_int_equal(svmx_vmcb_write_bytes(&vmcb, id, buf, f->width),
                             SVMX_OK);
            assert_int_equal(svmx_vmcb_read_bytes(&vmcb, id, back, f->width),
                             SVMX_OK);
            assert_memory_equal(buf, back, f->width);
            assert_memory_equal(&vmcb.bytes[f->offset], buf, f->width);
            assert_int_equal(svmx_vmcb_read_bytes(&vmcb, id, back,
                                                  f->width - 1u), SVMX_E_ARG);
        } else {
            /* 0x0102..08 truncated to the width: byte k holds k + 1. */
            uint64_t v = 0;
            for (unsigned k = 0; k < f->width; k++)
                v |= (uint64_t)(k + 1) << (8 * k);
            EXPECT(svmx_vmcb_set(&vmcb, id, v) == SVMX_OK, "%s", f->name);
            EXPECT(svmx_vmcb_get(&vmcb, id) == v, "%s: get", f->name);
            for (unsigned k = 0; k < f->width; k++)
                EXPECT(vmcb.bytes[f->offset + k] == k + 1, "%s: byte %u",
                       f->name, k);
            if (f->width < 8) {
                svmx_vmcb keep = vmcb;
                EXPECT(svmx_vmcb_set(&vmcb, id, 1ull << (8 * f->width)) ==
                           SVMX_E_STATE, "%s: too wide", f->name);
                assert_memory_equal(&keep, &vmcb, sizeof vmcb);
            }
            uint8_t raw[8];
            assert_int_equal(svmx_vmcb_read_bytes(&vmcb, id, raw, f->width),
                             SVMX_OK);
            assert_memory_equal(raw, &vmcb.bytes[f->offset], f->width);
        }
        /* Nothing outside the field changed. */
        for (unsigned b = 0; b < SVMX_VMCB_SIZE; b++)
            if (b < f->offset || b >= f->offset + f->width)
                EXPECT(vmcb.bytes[b] == before.bytes[b], "%s: byte %#x",
                       f->name, b);
    }
}

static void test_little_endian(void **state)
{
    (void)state;
    svmx_vmcb vmcb;
    memset(&vmcb, 0, sizeof vmcb);
    assert_int_equal(svmx_vmcb_set(&vmcb, SVMX_VMCB_RIP,
                                   0x1122334455667788ull), SVMX_OK);
    const uint8_t rip[8] = { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 };
    assert_memory_equal(&vmcb.bytes[0x578], rip, 8);
    vmcb.bytes[0x412] = 0x9b;
    vmcb.bytes[0x413] = 0x02;
    assert_int_equal(svmx_vmcb_get(&vmcb, SVMX_VMCB_CS_ATTRIB), 0x029b);
    assert_int_equal(svmx_vmcb_set(&vmcb, SVMX_VMCB_EXITCODE, UINT64_MAX),
                     SVMX_OK);
    for (unsigned k = 0; k < 8; k++)
        assert_int_equal(vmcb.bytes[0x70 + k], 0xff);
}

/* ------------------------------------------------- intercepts, exits -- */

/* Intercept numbers from Table B-1: word * 32 + bit. */
static void test_intercept_numbers(void **state)
{
    (void)state;
    assert_int_equal(SVMX_SVM_INTERCEPT_INTR, 96 + 0);
    assert_int_equal(SVMX_SVM_INTERCEPT_CR0_SEL_WRITE, 96 + 5);
    assert_int_equal(SVMX_SVM_INTERCEPT_CPUID, 96 + 18);
    assert_int_equal(SVMX_SVM_INTERCEPT_HLT, 96 + 24);
    assert_int_equal(SVMX_SVM_INTERCEPT_IOIO_PROT, 96 + 27);
    assert_int_equal(SVMX_SVM_INTERCEPT_MSR_PROT, 96 + 28);
    assert_int_equal(SVMX_SVM_INTERCEPT_SHUTDOWN, 96 + 31);
    assert_int_equal(SVMX_SVM_INTERCEPT_VMRUN, 128 + 0);
    assert_int_equal(SVMX_SVM_INTERCEPT_VMMCALL, 128 + 1);
    assert_int_equal(SVMX_SVM_INTERCEPT_XSETBV, 128 + 13);
    assert_int_equal(SVMX_SVM_INTERCEPT_RDPRU, 128 + 14);
    assert_int_equal(SVMX_SVM_INTERCEPT_EFER_WRITE_TRAP, 128 + 15);
    assert_int_equal(SVMX_SVM_INTERCEPT_CR_WRITE_TRAP(3), 128 + 19);
    assert_int_equal(SVMX_SVM_INTERCEPT_INVLPGB, 160 + 0);
    assert_int_equal(SVMX_SVM_INTERCEPT_IDLE_HLT, 160 + 6);
    assert_int_equal(SVMX_SVM_INTERCEPT_CR_WRITE(8), 24);
    assert_int_equal(SVMX_SVM_INTERCEPT_DR_READ(7), 39);
    assert_int_equal(SVMX_SVM_INTERCEPT_EXCEPTION(14), 78);

    svmx_vmcb vmcb;
    memset(&vmcb, 0, sizeof vmcb);
    assert_int_equal(svmx_svm_intercept_set(&vmcb, SVMX_SVM_INTERCEPT_VMRUN,
                                            true), SVMX_OK);
    assert_int_equal(svmx_vmcb_get(&vmcb, SVMX_VMCB_INTERCEPT_MISC2), 1);
    assert_int_equal(svmx_svm_intercept_set(&vmcb, SVMX_SVM_INTERCEPT_CPUID,
                                            true), SVMX_OK);
    assert_int_equal(svmx_vmcb_get(&vmcb, SVMX_VMCB_INTERCEPT_MISC1),
                     1u << 18);
    assert_true(svmx_svm_intercept_test(&vmcb, SVMX_SVM_INTERCEPT_CPUID));
    assert_int_equal(svmx_svm_intercept_set(&vmcb, SVMX_SVM_INTERCEPT_CPUID,
                                            false), SVMX_OK);
    assert_int_equal(svmx_vmcb_get(&vmcb, SVMX_VMCB_INTERCEPT_MISC1), 0);
    assert_int_equal(svmx_svm_intercept_set(&vmcb, SVMX_SVM_INTERCEPT_COUNT,
                                            true), SVMX_E_ARG);
    assert_int_equal(svmx_svm_intercept_set(NULL, 0, true), SVMX_E_ARG);
    assert_false(svmx_svm_intercept_test(&vmcb, SVMX_SVM_INTERCEPT_NONE));
    assert_false(svmx_svm_intercept_test(NULL, SVMX_SVM_INTERCEPT_VMRUN));
}

/* Exit codes typed from Table C-1. */
static const struct {
    uint64_t    code;
    const char *name;
    int         refine;
} apm_exits[] = {
    { 0x000, "CR0_READ", SVMX_SVM_REFINE_NONE },
    { 0x010, "CR0_WRITE", SVMX_SVM_REFINE_CR0_WRITE },
    { 0x018, "CR8_WRITE", SVMX_SVM_REFINE_NONE },
    { 0x027, "DR7_READ", SVMX_SVM_REFINE_NONE },
    { 0x03f, "DR15_WRITE", SVMX_SVM_REFINE_NONE },
    { 0x040, "EXCP0", SVMX_SVM_REFINE_EXCEPTION },
    { 0x04e, "EXCP14", SVMX_SVM_REFINE_EXCEPTION },
    { 0x05f, "EXCP31", SVMX_SVM_REFINE_EXCEPTION },
    { 0x060, "INTR", SVMX_SVM_REFINE_NONE },
    { 0x065, "CR0_SEL_WRITE", SVMX_SVM_REFINE_CR0_WRITE },
    { 0x072, "CPUID", SVMX_SVM_REFINE_NONE },
    { 0x075, "SWINT", SVMX_SVM_REFINE_NONE },
    { 0x078, "HLT", SVMX_SVM_REFINE_NONE },
    { 0x07b, "IOIO", SVMX_SVM_REFINE_IOPM },
    { 0x07c, "MSR", SVMX_SVM_REFINE_MSRPM },
    { 0x07f, "SHUTDOWN", SVMX_SVM_REFINE_NONE },
    { 0x080, "VMRUN", SVMX_SVM_REFINE_NONE },
    { 0x081, "VMMCALL", SVMX_SVM_REFINE_NONE },
    { 0x08c, "MWAIT_CONDITIONAL", SVMX_SVM_REFINE_NONE },
    { 0x08d, "XSETBV", SVMX_SVM_REFINE_NONE },
    { 0x08e, "RDPRU", SVMX_SVM_REFINE_NONE },
    { 0x08f, "EFER_WRITE_TRAP", SVMX_SVM_REFINE_NONE },
    { 0x09f, "CR15_WRITE_TRAP", SVMX_SVM_REFINE_NONE },
    { 0x0a0, "INVLPGB", SVMX_SVM_REFINE_NONE },
    { 0x0a5, "BUSLOCK", SVMX_SVM_REFINE_NONE },
    { 0x0a6, "IDLE_HLT", SVMX_SVM_REFINE_NONE },
    { 0x400, "NPF", SVMX_SVM_REFINE_ALWAYS },
    { 0x401, "AVIC_INCOMPLETE_IPI", SVMX_SVM_REFINE_ALWAYS },
    { 0x402, "AVIC_NOACCEL", SVMX_SVM_REFINE_ALWAYS },
    { 0x403, "VMGEXIT", SVMX_SVM_REFINE_ALWAYS },
    { 0xffffffffffffffffull, "INVALID", SVMX_SVM_REFINE_ALWAYS },
    { 0xfffffffffffffffeull, "BUSY", SVMX_SVM_REFINE_ALWAYS },
    { 0xfffffffffffffffdull, "IDLE_REQUIRED", SVMX_SVM_REFINE_ALWAYS },
    { 0xfffffffffffffffcull, "INVALID_PMC", SVMX_SVM_REFINE_ALWAYS },
};

static void test_exit_codes_match_apm(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(apm_exits); i++) {
        const svmx_svm_exit_info *e = svmx_svm_exit_info_of(apm_exits[i].code);
        EXPECT(e != NULL, "exit %#llx missing",
               (unsigned long long)apm_exits[i].code);
        assert_string_equal(e->name, apm_exits[i].name);
        assert_true(e->code == apm_exits[i].code);
        EXPECT(e->refine == apm_exits[i].refine, "%s: refine %s", e->name,
               svmx_svm_refine_name((svmx_svm_refine)e->refine));
        assert_string_equal(svmx_svm_exit_name(apm_exits[i].code),
                            apm_exits[i].name);
    }
    assert_true((uint64_t)SVMX_SVM_EXIT_INVALID == UINT64_MAX);
    assert_int_equal(SVMX_SVM_EXIT_EXCP(14), 0x4e);
    assert_int_equal(SVMX_SVM_EXIT_NPF, 0x400);
    /* Holes and out-of-range codes are unknown, not crashes. */
    const uint64_t holes[] = { 0x0a7, 0x0bf, 0x0c0, 0x3ff, 0x404,
                               0xffffffffull, 0xfffffffffffffffbull,
                               0x8000000000000000ull };
    for (size_t i = 0; i < COUNT_OF(holes); i++) {
        assert_null(svmx_svm_exit_info_of(holes[i]));
        assert_string_equal(svmx_svm_exit_name(holes[i]), "?");
    }
    assert_string_equal(svmx_svm_refine_name(SVMX_SVM_REFINE_COUNT), "?");
    assert_string_equal(svmx_svm_refine_name(SVMX_SVM_REFINE_IOPM), "IOPM");
}

/*
 * Every listed exit: names unique; below 0xC0 its intercept is the code
 * (word = code / 32, bit = code % 32, the hardware's own rule), and that
 * bit alone decides svmx_svm_intercepted(); the others have no bit and are
 * always taken.
 */
static void test_every_exit_gate(void **state)
{
    (void)state;
    for (size_t i = 0; i < SVMX_SVM_EXIT_COUNT; i++) {
        const svmx_svm_exit_info *e = svmx_svm_exit_at(i);
        assert_non_null(e);
        assert_ptr_equal(svmx_svm_exit_info_of(e->code), e);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(svmx_svm_exit_at(j)->name, e->name);
        svmx_vmcb none, all;
        memset(&none, 0, sizeof none);
        memset(&all, 0xff, sizeof all);
        if (e->code < 0xc0) {
            EXPECT(e->intercept == e->code, "%s: intercept %u", e->name,
                   e->intercept);
            assert_true(e->refine != SVMX_SVM_REFINE_ALWAYS);
            svmx_vmcb only = none, but = all;
            uint32_t mask = 1u << (e->code % 32);
            svmx_vmcb_field word = (svmx_vmcb_field)(4 * (e->code / 32));
            assert_int_equal(svmx_vmcb_set(&only, word, mask), SVMX_OK);
            assert_int_equal(svmx_vmcb_set(&but, word, 0xffffffffu & ~mask),
                             SVMX_OK);
            EXPECT(svmx_svm_intercepted(&only, e->code), "%s: set", e->name);
            EXPECT(!svmx_svm_intercepted(&but, e->code), "%s: clear",
                   e->name);
            EXPECT(!svmx_svm_intercepted(&none, e->code), "%s: none",
                   e->name);
        } else {
            assert_int_equal(e->intercept, SVMX_SVM_INTERCEPT_NONE);
            assert_int_equal(e->refine, SVMX_SVM_REFINE_ALWAYS);
            assert_true(svmx_svm_intercepted(&none, e->code));
        }
    }
    assert_null(svmx_svm_exit_at(SVMX_SVM_EXIT_COUNT));
    /* 16 + 16 + 16 + 16 CR/DR, 32 exceptions, 32 + 16 + 16 + 7, 4 + 4. */
    assert_int_equal(SVMX_SVM_EXIT_COUNT, 64 + 32 + 71 + 8);
    svmx_vmcb any;
    memset(&any, 0xff, sizeof any);
    assert_false(svmx_svm_intercepted(&any, 0x0a7));
    assert_false(svmx_svm_intercepted(NULL, SVMX_SVM_EXIT_NPF));
}

static void test_exception_bitmap(void **state)
{
    (void)state;
    svmx_vmcb vmcb;
    memset(&vmcb, 0, sizeof vmcb);
    assert_int_equal(svmx_vmcb_set(&vmcb, SVMX_VMCB_INTERCEPT_EXC,
                                   (1u << 14) | (1u << 31)), SVMX_OK);
    assert_true(svmx_svm_exception_intercepted(&vmcb, 14));
    assert_true(svmx_svm_exception_intercepted(&vmcb, 31));
    assert_false(svmx_svm_exception_intercepted(&vmcb, 13));
    assert_false(svmx_svm_exception_intercepted(&vmcb, 32));
    assert_false(svmx_svm_exception_intercepted(&vmcb, 46));
    assert_false(svmx_svm_exception_intercepted(NULL, 14));
}

/* APM 15.9 Table 15-7, the CR0 write intercepts. */
static void test_cr0_write(void **state)
{
    (void)state;
    const uint64_t base = 0x80050033ull; /* PG WP AM NE ET MP PE */
    svmx_vmcb plain, sel, both, none;
    memset(&none, 0, sizeof none);
    plain = sel = both = none;
    svmx_svm_intercept_set(&plain, SVMX_SVM_INTERCEPT_CR_WRITE(0), true);
    svmx_svm_intercept_set(&sel, SVMX_SVM_INTERCEPT_CR0_SEL_WRITE, true);
    svmx_svm_intercept_set(&both, SVMX_SVM_INTERCEPT_CR_WRITE(0), true);
    svmx_svm_intercept_set(&both, SVMX_SVM_INTERCEPT_CR0_SEL_WRITE, true);
    uint64_t code = 0x1234;

    /* The plain intercept: every write, and it wins over the selective. */
    assert_true(svmx_svm_cr0_write_intercepted(&plain, base, base, false,
                                               &code));
    assert_int_equal(code, SVMX_SVM_EXIT_CR0_WRITE);
    assert_true(svmx_svm_cr0_write_intercepted(&both, base, base ^ 1, false,
                                               &code));
    assert_int_equal(code, SVMX_SVM_EXIT_CR0_WRITE);

    /* Selective: only a change outside TS (3) and MP (1). */
    code = 0x1234;
    assert_false(svmx_svm_cr0_write_intercepted(&sel, base, base, false,
                                                &code));
    assert_false(svmx_svm_cr0_write_intercepted(&sel, base, base ^ 8, false,
                                                &code)); /* TS, CLTS */
    assert_false(svmx_svm_cr0_write_intercepted(&sel, base, base ^ 2, false,
                                                &code)); /* MP */
    assert_false(svmx_svm_cr0_write_intercepted(&sel, base, base ^ 10, false,
                                                &code)); /* both */
    assert_int_equal(code, 0x1234);
    assert_true(svmx_svm_cr0_write_intercepted(&sel, base, base ^ 4, false,
                                               &code)); /* EM */
    assert_int_equal(code, SVMX_SVM_EXIT_CR0_SEL_WRITE);
    assert_true(svmx_svm_cr0_write_intercepted(&sel, base, base ^ (1ull << 31),
                                               false, &code)); /* PG */
    assert_true(svmx_svm_cr0_write_intercepted(&sel, base, base ^ (1ull << 40),
                                               false, &code)); /* high bit */
    /* LMSW treats the selective intercept as non-selective. */
    code = 0;
    assert_true(svmx_svm_cr0_write_intercepted(&sel, base, base, true,
                                               &code));
    assert_int_equal(code, SVMX_SVM_EXIT_CR0_SEL_WRITE);
    /* Nothing set: nothing taken. */
    assert_false(svmx_svm_cr0_write_intercepted(&none, base, 0, true, &code));
    assert_false(svmx_svm_cr0_write_intercepted(NULL, base, 0, true, &code));
    assert_false(svmx_svm_cr0_write_intercepted(&plain, base, 0, true, NULL));
}

/* ------------------------------------------------------------ MSRPM -- */

static void test_msrpm_locate(void **state)
{
    (void)state;
    static const struct {
        uint32_t msr;
        bool     in;
        uint32_t byte;
        unsigned bit;
    } cases[] = {
        { 0x00000000u, true,  0x000, 0 },
        { 0x00000001u, true,  0x000, 2 },
        { 0x00000003u, true,  0x000, 6 },
        { 0x00000004u, true,  0x001, 0 },
        { 0x00001fffu, true,  0x7ff, 6 },
        { 0x00002000u, false, 0, 0 },
        { 0xbfffffffu, false, 0, 0 },
        { 0xc0000000u, true,  0x800, 0 },
        { 0xc0000080u, true,  0x820, 0 }, /* EFER */
        { 0xc0001fffu, true,  0xfff, 6 },
        { 0xc0002000u, false, 0, 0 },
        { 0xc000ffffu, false, 0, 0 },
        { 0xc0010000u, true,  0x1000, 0 },
        { 0xc0010117u, true,  0x1045, 6 }, /* VM_HSAVE_PA */
        { 0xc0011fffu, true,  0x17ff, 6 },
        { 0xc0012000u, false, 0, 0 },
        { 0x40000000u, false, 0, 0 },
        { 0xffffffffu, false, 0, 0 },
    };
    for (size_t i = 0; i < COUNT_OF(cases); i++) {
        uint32_t byte = 0xdead;
        unsigned bit = 99;
        bool in = svmx_svm_msrpm_locate(cases[i].msr, &byte, &bit);
        EXPECT(in == cases[i].in, "MSR %#x: in range %d", cases[i].msr, in);
        if (in)
            EXPECT(byte == cases[i].byte && bit == cases[i].bit,
                   "MSR %#x: byte %#x bit %u", cases[i].msr, byte, bit);
    }
    assert_true(svmx_svm_msrpm_locate(0x10, NULL, NULL));
}

static void test_msrpm_lookup(void **state)
{
    (void)state;
    static uint8_t map[SVMX_SVM_MSRPM_SIZE];
    memset(map, 0, sizeof map);
    /* An empty map intercepts nothing in range, everything outside. */
    const uint32_t in[] = { 0, 0x1fff, 0xc0000000u, 0xc0001fffu, 0xc0010000u,
                            0xc0011fffu };
    const uint32_t out[] = { 0x2000, 0xbfffffffu, 0xc0002000u, 0xc000ffffu,
                             0xc0012000u, 0xffffffffu };
    for (size_t i = 0; i < COUNT_OF(in); i++) {
        assert_false(svmx_svm_msrpm_intercepted(map, sizeof map, in[i], false));
        assert_false(svmx_svm_msrpm_intercepted(map, sizeof map, in[i], true));
    }
    for (size_t i = 0; i < COUNT_OF(out); i++) {
        assert_true(svmx_svm_msrpm_intercepted(map, sizeof map, out[i], false));
        assert_true(svmx_svm_msrpm_intercepted(map, sizeof map, out[i], true));
    }
    /* EFER: read bit 0 and write bit 1 of byte 0x820. */
    map[0x820] = 0x01;
    assert_true(svmx_svm_msrpm_intercepted(map, sizeof map, 0xc0000080u,
                                           false));
    assert_false(svmx_svm_msrpm_intercepted(map, sizeof map, 0xc0000080u,
                                            true));
    assert_false(svmx_svm_msrpm_intercepted(map, sizeof map, 0xc0000081u,
                                            false));
    map[0x820] = 0x02;
    assert_false(svmx_svm_msrpm_intercepted(map, sizeof map, 0xc0000080u,
                                            false));
    assert_true(svmx_svm_msrpm_intercepted(map, sizeof map, 0xc0000080u,
                                           true));
    /* The last MSR of each range: bits 6 and 7 of the range's last byte. */
    map[0x7ff] = 0x80;
    map[0xfff] = 0x40;
    map[0x17ff] = 0xc0;
    assert_true(svmx_svm_msrpm_intercepted(map, sizeof map, 0x1fff, true));
    assert_false(svmx_svm_msrpm_intercepted(map, sizeof map, 0x1fff, false));
    assert_true(svmx_svm_msrpm_intercepted(map, sizeof map, 0xc0001fffu,
                                           false));
    assert_false(svmx_svm_msrpm_intercepted(map, sizeof map, 0xc0001fffu,
                                            true));
    assert_true(svmx_svm_msrpm_intercepted(map, sizeof map, 0xc0011fffu,
                                           false));
    assert_true(svmx_svm_msrpm_intercepted(map, sizeof map, 0xc0011fffu,
                                           true));
    assert_false(svmx_svm_msrpm_intercepted(map, sizeof map, 0xc0011ffeu,
                                            true));
    /* A short buffer: bytes past it count as set, nothing is read there. */
    assert_true(svmx_svm_msrpm_intercepted(map, 0x820, 0xc0000081u, false));
    assert_false(svmx_svm_msrpm_intercepted(map, 0x821, 0xc0000080u, false));
    assert_true(svmx_svm_msrpm_intercepted(NULL, 0, 0x10, false));
}

static void test_msrpm_in_guest_memory(void **state)
{
    (void)state;
    static uint8_t ram[0x10000];
    memset(ram, 0, sizeof ram);
    svmx_mem mem;
    assert_int_equal(svmx_mem_setup(&mem, ram, sizeof ram, NULL), SVMX_OK);
    ram[0x4000 + 0x1045] = 0x80; /* WRMSR VM_HSAVE_PA intercepted */
    bool hit = false;
    /* Bits 11:0 of the base are ignored. */
    assert_int_equal(svmx_svm_msrpm_read(&mem, 0x4abc, 0xc0010117u, true,
                                         &hit), SVMX_OK);
    assert_true(hit);
    assert_int_equal(svmx_svm_msrpm_read(&mem, 0x4abc, 0xc0010117u, false,
                                         &hit), SVMX_OK);
    assert_false(hit);
    assert_int_equal(svmx_svm_msrpm_read(&mem, 0x4000, 0x12345678u, false,
                                         &hit), SVMX_OK);
    assert_true(hit);
    /* A map beyond RAM reads as all ones. */
    assert_int_equal(svmx_svm_msrpm_read(&mem, 0x100000000ull, 0x10, false,
                                         &hit), SVMX_OK);
    assert_true(hit);
    assert_int_equal(svmx_svm_msrpm_read(NULL, 0, 0x10, false, &hit),
                     SVMX_E_ARG);
    assert_int_equal(svmx_svm_msrpm_read(&mem, 0, 0x10, false, NULL),
                     SVMX_E_ARG);
}

/* ------------------------------------------------------------- IOPM -- */

static void test_iopm_lookup(void **state)
{
    (void)state;
    static uint8_t map[SVMX_SVM_IOPM_SIZE];
    memset(map, 0, sizeof map);
    const uint16_t ports[] = { 0, 7, 8, 0x80, 0xfffc, 0xffff };
    for (size_t i = 0; i < COUNT_OF(ports); i++)
        for (unsigned s = 1; s <= 4; s *= 2)
            assert_false(svmx_svm_iopm_intercepted(map, sizeof map, ports[i],
                                                   s));
    /* Port 0. */
    map[0] = 0x01;
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 0, 1));
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 0, 4));
    assert_false(svmx_svm_iopm_intercepted(map, sizeof map, 1, 4));
    map[0] = 0x02; /* port 1 only */
    assert_false(svmx_svm_iopm_intercepted(map, sizeof map, 0, 1));
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 0, 2));
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 0, 4));
    map[0] = 0x10; /* port 4: a 4-byte access at 1 covers 1..4 */
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 1, 4));
    assert_false(svmx_svm_iopm_intercepted(map, sizeof map, 0, 4));
    map[0] = 0;
    /* Crossing a byte: port 8 is bit 0 of byte 1. */
    map[1] = 0x01;
    assert_false(svmx_svm_iopm_intercepted(map, sizeof map, 7, 1));
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 7, 2));
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 5, 4));
    assert_false(svmx_svm_iopm_intercepted(map, sizeof map, 4, 4));
    map[1] = 0;
    /* Port 0xFFFF is bit 7 of byte 0x1FFF; the bits past it are on the
       third page (byte 0x2000), and there is no wrap to port 0. */
    map[0x1fff] = 0x80;
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 0xffff, 1));
    assert_false(svmx_svm_iopm_intercepted(map, sizeof map, 0xfffe, 1));
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 0xfffe, 2));
    map[0x1fff] = 0;
    map[0x2000] = 0x04; /* "port" 0x10002 */
    assert_false(svmx_svm_iopm_intercepted(map, sizeof map, 0xffff, 1));
    assert_false(svmx_svm_iopm_intercepted(map, sizeof map, 0xffff, 2));
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 0xffff, 4));
    assert_false(svmx_svm_iopm_intercepted(map, sizeof map, 0xfffe, 4));
    map[0x2000] = 0x01; /* "port" 0x10000 */
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 0xffff, 2));
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 0xfffd, 4));
    assert_false(svmx_svm_iopm_intercepted(map, sizeof map, 0xfffc, 4));
    map[0x2000] = 0;
    map[0] = 0x07; /* ports 0-2: a wrap would hit them */
    assert_false(svmx_svm_iopm_intercepted(map, sizeof map, 0xffff, 4));
    map[0] = 0;
    /* Without the third page the bits past 0xFFFF count as set. */
    assert_true(svmx_svm_iopm_intercepted(map, 0x2000, 0xffff, 2));
    assert_false(svmx_svm_iopm_intercepted(map, 0x2000, 0xffff, 1));
    /* Sizes other than 1, 2 and 4 check four bits. */
    map[0x10] = 0x08; /* port 0x83 */
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 0x80, 3));
    assert_true(svmx_svm_iopm_intercepted(map, sizeof map, 0x80, 0));
    assert_false(svmx_svm_iopm_intercepted(map, sizeof map, 0x80, 2));
    assert_true(svmx_svm_iopm_intercepted(NULL, 0, 0x80, 1));
}

static void test_iopm_in_guest_memory(void **state)
{
    (void)state;
    static uint8_t ram[0x10000];
    memset(ram, 0, sizeof ram);
    svmx_mem mem;
    assert_int_equal(svmx_mem_setup(&mem, ram, sizeof ram, NULL), SVMX_OK);
    const uint64_t base = 0x3000;
    ram[base + 0x1f] = 0x80;   /* port 0xFF */
    ram[base + 0x2000] = 0x02; /* port 0x10001 */
    bool hit = true;
    assert_int_equal(svmx_svm_iopm_read(&mem, base | 0xfff, 0xfe, 1, &hit),
                     SVMX_OK);
    assert_false(hit);
    assert_int_equal(svmx_svm_iopm_read(&mem, base, 0xfe, 2, &hit), SVMX_OK);
    assert_true(hit);
    assert_int_equal(svmx_svm_iopm_read(&mem, base, 0xfffe, 4, &hit),
                     SVMX_OK);
    assert_true(hit);
    assert_int_equal(svmx_svm_iopm_read(&mem, base, 0xfffe, 2, &hit),
                     SVMX_OK);
    assert_false(hit);
    /* Straddling the end of RAM: the missing byte reads as all ones. */
    assert_int_equal(svmx_svm_iopm_read(&mem, 0xe000, 0xffff, 2, &hit),
                     SVMX_OK);
    assert_true(hit);
    assert_int_equal(svmx_svm_iopm_read(NULL, base, 0, 1, &hit), SVMX_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_match_apm),
        cmocka_unit_test(test_list_is_a_layout),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_round_trip_every_field),
        cmocka_unit_test(test_little_endian),
        cmocka_unit_test(test_intercept_numbers),
        cmocka_unit_test(test_exit_codes_match_apm),
        cmocka_unit_test(test_every_exit_gate),
        cmocka_unit_test(test_exception_bitmap),
        cmocka_unit_test(test_cr0_write),
        cmocka_unit_test(test_msrpm_locate),
        cmocka_unit_test(test_msrpm_lookup),
        cmocka_unit_test(test_msrpm_in_guest_memory),
        cmocka_unit_test(test_iopm_lookup),
        cmocka_unit_test(test_iopm_in_guest_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
