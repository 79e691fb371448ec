/*
 * tests/test_svm_check.c - the VMRUN consistency checks
 * (svmx_svm_vmrun_check) and the capabilities they read.
 *
 * The boundary cases are rows in vectors/svm_check_cases.inc, each a small
 * edit of a valid 64-bit or 32-bit guest VMCB, run by one loop that names
 * the failing row. Every row expects exactly one failing check (or none),
 * so a row also proves that its edit trips nothing else.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "svmx/svmx.h"
#include "svm/vmrun_check.h"
#include "test_util.h"

/* Architectural bits, typed from APM Vol. 2 3.1 and 4.7. */
#define B(n)        (1ull << (n))
#define CR0_PE      B(0)
#define CR0_MP      B(1)
#define CR0_ET      B(4)
#define CR0_NE      B(5)
#define CR0_WP      B(16)
#define CR0_NW      B(29)
#define CR0_CD      B(30)
#define CR0_PG      B(31)
#define CR4_PAE     B(5)
#define CR4_PGE     B(7)
/* The AMD personality's CR4: TSD PSE PAE PGE PCE SMEP SMAP. */
#define CR4_ALLOWED (B(2) | B(3) | B(4) | B(5) | B(7) | B(8) | B(20) | B(21))
#define EFER_SCE    B(0)
#define EFER_LME    B(8)
#define EFER_LMA    B(10)
#define EFER_NXE    B(11)
#define EFER_SVME   B(12)
/* VMCB segment attributes: type, S, DPL, P, AVL, L, D/B, G. */
#define SEG_L       0x200u
#define SEG_DB      0x400u
#define CS64_ATTR   0x29bu  /* P S code RXA, L */
#define CS32_ATTR   0xc9bu  /* P S code RXA, D, G */
#define DATA_ATTR   0xc93u  /* P S data RWA, B, G */
#define TSS_ATTR    0x08bu  /* P busy 32/64-bit TSS */
/* EVENTINJ: V | TYPE | VECTOR. */
#define EV(type, vec) (B(31) | (uint64_t)(type) << 8 | (uint64_t)(vec))
#define EVENT_EV    B(11)
#define VMCB_V_NMI_ENABLE SVMX_VMCB_V_NMI_ENABLE_BIT

/* ------------------------------------------------------- the VMCBs -- */

enum base { BASE_G64, BASE_G32 };

static void set(svmx_vmcb *v, svmx_vmcb_field f, uint64_t value)
{
    assert_int_equal(svmx_vmcb_set(v, f, value), SVMX_OK);
}

/* Controls both bases share: VMRUN intercepted, ASID 1, the maps low. */
static void base_controls(svmx_vmcb *v)
{
    memset(v, 0, sizeof *v);
    set(v, SVMX_VMCB_INTERCEPT_MISC2, 1);
    set(v, SVMX_VMCB_GUEST_ASID, 1);
    set(v, SVMX_VMCB_IOPM_BASE_PA, 0x10000);
    set(v, SVMX_VMCB_MSRPM_BASE_PA, 0x20000);
    set(v, SVMX_VMCB_G_PAT, 0x0007040600070406ull); /* the reset PAT */
    set(v, SVMX_VMCB_DR6, 0xffff0ff0u);
    set(v, SVMX_VMCB_DR7, 0x400);
    set(v, SVMX_VMCB_RFLAGS, 2);
    set(v, SVMX_VMCB_TR_ATTRIB, TSS_ATTR);
    set(v, SVMX_VMCB_TR_LIMIT, 0x67);
}

/* A 64-bit kernel: long mode, paging, CS.L. */
static void base_g64(svmx_vmcb *v)
{
    base_controls(v);
    set(v, SVMX_VMCB_EFER, EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE |
                               EFER_SVME);
    set(v, SVMX_VMCB_CR0, CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP |
                              CR0_PE);
    set(v, SVMX_VMCB_CR3, 0x1000);
    set(v, SVMX_VMCB_CR4, CR4_PAE | CR4_PGE);
    set(v, SVMX_VMCB_CS_SELECTOR, 0x08);
    set(v, SVMX_VMCB_CS_ATTRIB, CS64_ATTR);
    set(v, SVMX_VMCB_CS_LIMIT, 0xffffffffu);
    set(v, SVMX_VMCB_SS_SELECTOR, 0x10);
    set(v, SVMX_VMCB_SS_ATTRIB, DATA_ATTR);
    set(v, SVMX_VMCB_SS_LIMIT, 0xffffffffu);
    set(v, SVMX_VMCB_RIP, 0xffffffff80001000ull);
}

/* A 32-bit protected-mode kernel with (non-PAE) paging. */
static void base_g32(svmx_vmcb *v)
{
    base_controls(v);
    set(v, SVMX_VMCB_EFER, EFER_SVME);
    set(v, SVMX_VMCB_CR0, CR0_PG | CR0_ET | CR0_PE);
    set(v, SVMX_VMCB_CR3, 0x2000);
    set(v, SVMX_VMCB_CS_SELECTOR, 0x08);
    set(v, SVMX_VMCB_CS_ATTRIB, CS32_ATTR);
    set(v, SVMX_VMCB_CS_LIMIT, 0xffffffffu);
    set(v, SVMX_VMCB_SS_SELECTOR, 0x10);
    set(v, SVMX_VMCB_SS_ATTRIB, DATA_ATTR);
    set(v, SVMX_VMCB_SS_LIMIT, 0xffffffffu);
    set(v, SVMX_VMCB_RIP, 0x100000);
}

enum caps_kind { CAPS_DEF, CAPS_M36, CAPS_M52, CAPS_NOLM, CAPS_NOHPG,
                 CAPS_HLEG, CAPS_NONP, CAPS_VNMI, CAPS_CETSS };

static svmx_svm_caps caps_of(enum caps_kind k)
{
    svmx_svm_caps c;
    assert_int_equal(svmx_svm_caps_default(&c), SVMX_OK);
    switch (k) {
    case CAPS_DEF:   break;
    case CAPS_M36:   c.maxphyaddr = 36; break;
    case CAPS_M52:   c.maxphyaddr = 52; break;
    case CAPS_NOLM:  c.long_mode = false; break;
    case CAPS_NOHPG: c.host_paging = false; break;
    case CAPS_HLEG:  c.host_long_mode = false; break;
    case CAPS_NONP:  c.svm_features &= ~SVMX_SVM_FEATURE_NP; break;
    case CAPS_VNMI:  c.svm_features |= SVMX_SVM_FEATURE_VNMI; break;
    case CAPS_CETSS: c.exception_vectors |= 1u << 21; break;
    }
    return c;
}

/* ------------------------------------------------------------ rows -- */

enum op { OP_NONE, OP_SET, OP_OR, OP_CLR };

typedef struct edit {
    svmx_vmcb_field field;
    enum op         op;
    uint64_t        value;
} edit;

typedef struct check_case {
    const char    *desc;
    enum base      base;
    enum caps_kind caps;
    svmx_svm_check expect;
    edit           edits[2];
} check_case;

#define E(f, op, v) { SVMX_VMCB_##f, OP_##op, (v) }
#define NOEDIT      { SVMX_VMCB_FIELD_NONE, OP_NONE, 0 }
#define CASE(desc, base, caps, expect, e1, e2)                                \
    { desc, BASE_##base, CAPS_##caps, SVMX_SVM_CHECK_##expect, { e1, e2 } },

static const check_case cases[] = {
#include "vectors/svm_check_cases.inc"
};

static void apply(svmx_vmcb *v, const edit *e)
{
    uint64_t old = svmx_vmcb_get(v, e->field);
    switch (e->op) {
    case OP_NONE: return;
    case OP_SET:  set(v, e->field, e->value); return;
    case OP_OR:   set(v, e->field, old | e->value); return;
    case OP_CLR:  set(v, e->field, old & ~e->value); return;
    }
}

/*
 * svm_vmrun_check_fast (vmrun_check.c), VMRUN's quick test, against the
 * full answer `r`: never true when a check fails, and true whenever all
 * pass outside its two conservative corners - a valid EVENTINJ, an IOPM
 * or MSRPM base at or above 2^(MAXPHYADDR-1).
 */
static bool fast_agrees(const svmx_vmcb *v, const svmx_svm_caps *caps,
                        const svmx_svm_check_result *r)
{
    bool fast = svm_vmrun_check_fast(v, caps);
    if (r->failed)
        return !fast;
    uint64_t maps = svmx_vmcb_get(v, SVMX_VMCB_IOPM_BASE_PA) |
                    svmx_vmcb_get(v, SVMX_VMCB_MSRPM_BASE_PA);
    bool corner = (svmx_vmcb_get(v, SVMX_VMCB_EVENTINJ) &
                   SVMX_SVM_EVENT_VALID) ||
                  (maps >> (caps->maxphyaddr - 1)) != 0;
    return fast || corner;
}

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT_OF(cases); i++) {
        const check_case *c = &cases[i];
        svmx_vmcb v;
        if (c->base == BASE_G64)
            base_g64(&v);
        else
            base_g32(&v);
        for (size_t k = 0; k < COUNT_OF(c->edits); k++)
            apply(&v, &c->edits[k]);
        svmx_svm_caps caps = caps_of(c->caps);
        svmx_svm_check_result r;
        assert_int_equal(svmx_svm_vmrun_check(&v, &caps, &r), SVMX_OK);
        EXPECT(r.first == c->expect, "row %zu \"%s\": first %s, expected %s",
               i, c->desc, svmx_svm_check_name(r.first),
               svmx_svm_check_name(c->expect));
        uint64_t only = c->expect == SVMX_SVM_CHECK_OK ? 0
                                                        : 1ull << c->expect;
        EXPECT(r.failed == only, "row %zu \"%s\": failed %#llx, expected "
               "%#llx", i, c->desc, (unsigned long long)r.failed,
               (unsigned long long)only);
        EXPECT(r.field == svmx_svm_check_field(c->expect),
               "row %zu: field %s", i, svmx_vmcb_field_name(r.field));
        if (c->expect != SVMX_SVM_CHECK_OK)
            EXPECT(r.value == svmx_vmcb_get(&v, r.field), "row %zu: value",
                   i);
        EXPECT(fast_agrees(&v, &caps, &r), "row %zu \"%s\": the quick "
               "test says %d", i, c->desc, svm_vmrun_check_fast(&v, &caps));
    }
}

/* Every check has a row that trips it, and a row that passes. */
static void test_rows_cover_every_check(void **state)
{
    (void)state;
    for (int c = 0; c < SVMX_SVM_CHECK_COUNT; c++) {
        bool seen = false;
        for (size_t i = 0; i < COUNT_OF(cases); i++)
            seen |= cases[i].expect == (svmx_svm_check)c;
        EXPECT(seen, "no row expects %s", svmx_svm_check_name(c));
    }
}

/* ---------------------------------------------------------- others -- */

static void test_check_names(void **state)
{
    (void)state;
    for (int c = 0; c < SVMX_SVM_CHECK_COUNT; c++) {
        svmx_svm_check k = (svmx_svm_check)c;
        assert_string_not_equal(svmx_svm_check_name(k), "?");
        assert_true(strlen(svmx_svm_check_str(k)) > 8);
        if (c != SVMX_SVM_CHECK_OK) {
            assert_true(strlen(svmx_svm_check_cite(k)) >= 4);
            assert_non_null(svmx_vmcb_field_info_of(svmx_svm_check_field(k)));
        }
        for (int d = 0; d < c; d++)
            assert_string_not_equal(svmx_svm_check_name(k),
                                    svmx_svm_check_name((svmx_svm_check)d));
    }
    assert_string_equal(svmx_svm_check_name(SVMX_SVM_CHECK_ASID_ZERO),
                        "ASID_ZERO");
    assert_string_equal(svmx_svm_check_name(SVMX_SVM_CHECK_COUNT), "?");
    assert_string_equal(svmx_svm_check_str((svmx_svm_check)-1), "?");
    assert_string_equal(svmx_svm_check_cite(SVMX_SVM_CHECK_COUNT), "");
    assert_int_equal(svmx_svm_check_field(SVMX_SVM_CHECK_COUNT),
                     SVMX_VMCB_FIELD_NONE);
    assert_int_equal(svmx_svm_check_field(SVMX_SVM_CHECK_CR3_MBZ),
                     SVMX_VMCB_CR3);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    svmx_vmcb v;
    base_g64(&v);
    svmx_svm_caps caps = caps_of(CAPS_DEF);
    svmx_svm_check_result r;
    assert_int_equal(svmx_svm_vmrun_check(NULL, &caps, &r), SVMX_E_ARG);
    assert_int_equal(svmx_svm_vmrun_check(&v, NULL, &r), SVMX_E_ARG);
    assert_int_equal(svmx_svm_vmrun_check(&v, &caps, NULL), SVMX_E_ARG);
    caps.maxphyaddr = 31;
    assert_int_equal(svmx_svm_vmrun_check(&v, &caps, &r), SVMX_E_ARG);
    caps.maxphyaddr = 53;
    assert_int_equal(svmx_svm_vmrun_check(&v, &caps, &r), SVMX_E_ARG);
    caps.maxphyaddr = 32;
    assert_int_equal(svmx_svm_vmrun_check(&v, &caps, &r), SVMX_OK);
    assert_int_equal(svmx_svm_caps_default(NULL), SVMX_E_ARG);
    assert_int_equal(svmx_svm_caps_from_cpu(NULL, &caps), SVMX_E_ARG);
}

/* The zero VMCB fails the checks the APM lists for empty state. */
static void test_zero_vmcb(void **state)
{
    (void)state;
    svmx_vmcb v;
    memset(&v, 0, sizeof v);
    svmx_svm_caps caps = caps_of(CAPS_DEF);
    svmx_svm_check_result r;
    assert_int_equal(svmx_svm_vmrun_check(&v, &caps, &r), SVMX_OK);
    assert_int_equal(r.first, SVMX_SVM_CHECK_EFER_SVME);
    assert_int_equal(r.field, SVMX_VMCB_EFER);
    assert_int_equal(r.value, 0);
    uint64_t want = 1ull << SVMX_SVM_CHECK_EFER_SVME |
                    1ull << SVMX_SVM_CHECK_VMRUN_INTERCEPT |
                    1ull << SVMX_SVM_CHECK_ASID_ZERO;
    assert_int_equal(r.failed, want);
}

/* The capabilities come from the personality tables. */
static void test_caps(void **state)
{
    (void)state;
    svmx_svm_caps d;
    assert_int_equal(svmx_svm_caps_default(&d), SVMX_OK);
    assert_int_equal(d.maxphyaddr, 48);
    assert_true(d.long_mode);
    /* CPUID 8000_000A EDX: NP, NRIPS, VmcbClean, FlushByAsid, DecodeAssists */
    assert_int_equal(d.svm_features, 0xe9);
    assert_int_equal(d.nasid, 0x8000);
    assert_int_equal(d.cr4_allowed, CR4_ALLOWED);
    assert_int_equal(d.efer_allowed, EFER_SCE | EFER_LME | EFER_LMA |
                                         EFER_NXE | EFER_SVME);
    assert_int_equal(d.exception_vectors, 0x400f7dfbu);
    assert_true(d.host_paging && d.host_long_mode);

    /* From a CPU: the same, with the host facts of its state (reset:
       real mode, no paging). */
    svmx_config cfg = { .vendor = SVMX_VENDOR_AMD, .ram = NULL,
                        .ram_size = 0, .io = NULL };
    svmx_cpu *cpu;
    assert_int_equal(svmx_cpu_create(&cfg, &cpu), SVMX_OK);
    svmx_svm_caps c;
    assert_int_equal(svmx_svm_caps_from_cpu(cpu, &c), SVMX_OK);
    assert_false(c.host_paging);
    assert_false(c.host_long_mode);
    assert_true(c.maxphyaddr == d.maxphyaddr && c.long_mode == d.long_mode &&
                c.svm_features == d.svm_features && c.nasid == d.nasid &&
                c.cr4_allowed == d.cr4_allowed &&
                c.efer_allowed == d.efer_allowed &&
                c.exception_vectors == d.exception_vectors);
    svmx_cpu_destroy(cpu);

    cfg.vendor = SVMX_VENDOR_INTEL;
    assert_int_equal(svmx_cpu_create(&cfg, &cpu), SVMX_OK);
    assert_int_equal(svmx_svm_caps_from_cpu(cpu, &c), SVMX_E_UNSUPPORTED);
    svmx_cpu_destroy(cpu);
}

static void same_result(const svmx_svm_check_result *a,
                        const svmx_svm_check_result *b)
{
    assert_int_equal(a->first, b->first);
    assert_int_equal(a->failed, b->failed);
    assert_int_equal(a->field, b->field);
    assert_int_equal(a->value, b->value);
}

/*
 * Random VMCBs: the answer is deterministic, `first` is the lowest failing
 * check, and it never depends on bytes the checks do not read.
 */
static void test_random_vmcbs(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int n = 0; n < 2000; n++) {
        svmx_vmcb v;
        if (n & 1)
            base_g64(&v);
        else
            base_g32(&v);
        for (int k = 0; k < 8; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v.bytes[(x >> 20) % SVMX_VMCB_SIZE] = (uint8_t)x;
        }
        svmx_svm_caps caps = caps_of((enum caps_kind)(n % 9));
        svmx_svm_check_result a, b;
        assert_int_equal(svmx_svm_vmrun_check(&v, &caps, &a), SVMX_OK);
        assert_int_equal(svmx_svm_vmrun_check(&v, &caps, &b), SVMX_OK);
        same_result(&a, &b);
        assert_int_equal(a.failed & 1, 0);
        if (a.failed == 0) {
            assert_int_equal(a.first, SVMX_SVM_CHECK_OK);
        } else {
            assert_true((a.failed >> a.first) & 1);
            assert_int_equal(a.failed & ((1ull << a.first) - 1), 0);
        }
        assert_true(fast_agrees(&v, &caps, &a));
        /* Bytes no check reads (GUEST_INSTR_BYTES, RIP) change nothing. */
        v.bytes[0x0d5] ^= 0xff;
        v.bytes[0x578] ^= 0xff;
        assert_int_equal(svmx_svm_vmrun_check(&v, &caps, &b), SVMX_OK);
        same_result(&a, &b);
    }
}

/*
 * The quick test at every check's edge: from each base, with and without
 * nested paging, under every capability set, each bit of each field a
 * check reads flipped alone and with one other - the answer agrees with
 * the full check's (fast_agrees).
 */
static void test_quick_test_bit_flips(void **state)
{
    (void)state;
    static const svmx_vmcb_field read[] = {
        SVMX_VMCB_EFER, SVMX_VMCB_CR0, SVMX_VMCB_CR3, SVMX_VMCB_CR4,
        SVMX_VMCB_DR6, SVMX_VMCB_DR7, SVMX_VMCB_CS_ATTRIB,
        SVMX_VMCB_INTERCEPT_MISC1, SVMX_VMCB_INTERCEPT_MISC2,
        SVMX_VMCB_IOPM_BASE_PA, SVMX_VMCB_MSRPM_BASE_PA, SVMX_VMCB_EVENTINJ,
        SVMX_VMCB_GUEST_ASID, SVMX_VMCB_NP_ENABLE, SVMX_VMCB_N_CR3,
        SVMX_VMCB_G_PAT, SVMX_VMCB_V_INTR_MASKING,
    };
    uint64_t x = 0x2545f4914f6cdd1dull;
    unsigned accepted = 0;
    for (int base = 0; base < 4; base++) {
        svmx_vmcb v0;
        if (base & 1)
            base_g32(&v0);
        else
            base_g64(&v0);
        if (base & 2)
            set(&v0, SVMX_VMCB_NP_ENABLE, SVMX_VMCB_NP_ENABLE_BIT);
        for (int k = 0; k <= CAPS_CETSS; k++) {
            svmx_svm_caps caps = caps_of((enum caps_kind)k);
            for (size_t f = 0; f < COUNT_OF(read); f++) {
                const svmx_vmcb_field_info *fi =
                    svmx_vmcb_field_info_of(read[f]);
                for (unsigned bit = 0; bit < 8u * fi->width; bit++) {
                    svmx_vmcb v = v0;
                    svmx_svm_check_result r;
                    v.bytes[fi->offset + bit / 8] ^= (uint8_t)(1u << bit % 8);
                    assert_int_equal(svmx_svm_vmrun_check(&v, &caps, &r),
                                     SVMX_OK);
                    EXPECT(fast_agrees(&v, &caps, &r), "base %d caps %d: "
                           "%s bit %u", base, k,
                           svmx_vmcb_field_name(read[f]), bit);
                    accepted += svm_vmrun_check_fast(&v, &caps);
                    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                    const svmx_vmcb_field_info *gi =
                        svmx_vmcb_field_info_of(read[x % COUNT_OF(read)]);
                    unsigned b2 = (unsigned)(x >> 32) % (8u * gi->width);
                    v.bytes[gi->offset + b2 / 8] ^= (uint8_t)(1u << b2 % 8);
                    assert_int_equal(svmx_svm_vmrun_check(&v, &caps, &r),
                                     SVMX_OK);
                    EXPECT(fast_agrees(&v, &caps, &r), "base %d caps %d: "
                           "%s bit %u and %s bit %u", base, k,
                           svmx_vmcb_field_name(read[f]), bit,
                           gi->name, b2);
                }
            }
        }
    }
    assert_true(accepted > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_rows_cover_every_check),
        cmocka_unit_test(test_check_names),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_zero_vmcb),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_random_vmcbs),
        cmocka_unit_test(test_quick_test_bit_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
