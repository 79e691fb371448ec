/*
 * tests/test_decode_robust.c - random and truncated byte strings never
 * crash the decoder and always get a well-formed answer. The sanitizer
 * build runs this too, so an out-of-bounds read shows up there.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "svmx/svmx.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Biased bytes: prefixes, escapes and ModRM-heavy values are common, so
 * the random strings reach deep into the opcode maps. */
static uint8_t random_byte(void)
{
    static const uint8_t interesting[] = {
        0x0f, 0x01, 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x26, 0x64, 0x65,
        0x40, 0x48, 0x4f, 0xc4, 0xc5, 0x62, 0x8f, 0x38, 0x3a, 0xc7, 0x00,
        0xff, 0x20, 0x22, 0x78, 0x79, 0x6c, 0x6f, 0xe4, 0xed,
    };
    uint64_t r = next();
    if (r & 1)
        return interesting[(r >> 8) % sizeof interesting];
    return (uint8_t)(r >> 16);
}

static void check_insn(const svmx_insn *insn, size_t n, svmx_mode mode)
{
    assert_true(insn->fault < SVMX_DECODE_FAULT_COUNT);
    assert_int_equal(insn->mode, mode);
    assert_true(insn->cls < SVMX_INSN_CLASS_COUNT);
    if (insn->fault == SVMX_DECODE_FAULT_GP) {
        assert_int_equal(insn->length, SVMX_INSN_MAX_LEN);
        return;
    }
    if (insn->fault == SVMX_DECODE_FAULT_UD)
        return;
    assert_true(insn->length >= 1);
    assert_true(insn->length <= n && insn->length <= SVMX_INSN_MAX_LEN);
    assert_true(insn->operand_count <= 4);
    for (unsigned i = 0; i < insn->operand_count; i++) {
        const svmx_operand *op = &insn->operands[i];
        assert_true(op->kind < SVMX_OPK_COUNT);
        if (op->kind == SVMX_OPK_REG)
            assert_true(op->reg_class < SVMX_RC_COUNT);
        if (op->kind == SVMX_OPK_MEM) {
            assert_true(op->base < 16 || op->base == SVMX_GPR_RIP ||
                        op->base == SVMX_GPR_NONE);
            assert_true(op->index < 16 || op->index == SVMX_GPR_NONE);
        }
    }
    if (svmx_insn_class_flags((svmx_insn_class)insn->cls) & SVMX_ICF_IO)
        assert_true(insn->io.size == 1 || insn->io.size == 2 ||
                    insn->io.size == 4);
}

static void test_random_strings(void **state)
{
    (void)state;
    svmx_decode_cache *cache;
    assert_int_equal(svmx_decode_cache_create(8, &cache), SVMX_OK);
    for (unsigned iter = 0; iter < 200000; iter++) {
        uint8_t buf[24];
        size_t n = (size_t)(next() % sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = random_byte();
        svmx_mode mode = (svmx_mode)(next() % SVMX_MODE_COUNT);
        unsigned flags = (unsigned)(next() & SVMX_DECODE_ALT_MOV_CR8);
        /* An exactly sized heap copy, so ASan sees any read past n. */
        uint8_t *exact = malloc(n ? n : 1);
        assert_non_null(exact);
        memcpy(exact, buf, n);
        svmx_insn insn;
        size_t needed = 0;
        svmx_status s = svmx_decode(mode, flags, exact, n, &insn, &needed);
        if (s == SVMX_E_TRUNCATED) {
            assert_true(n < SVMX_INSN_MAX_LEN);
            assert_true(needed >= 1);
            assert_true(n + needed <= SVMX_INSN_MAX_LEN);
        } else {
            assert_int_equal(s, SVMX_OK);
            check_insn(&insn, n, mode);
        }
        /* The cache answers exactly as the plain decoder does. */
        const svmx_insn *cached;
        size_t cneeded = 0;
        svmx_status cs = svmx_decode_cached(cache, mode, flags, exact, n,
                                            &cached, &cneeded);
        assert_int_equal(cs, s);
        if (s == SVMX_OK)
            assert_int_equal(memcmp(cached, &insn, sizeof insn), 0);
        else
            assert_int_equal(cneeded, needed);
        char text[256];
        if (s == SVMX_OK)
            svmx_insn_describe(&insn, text, sizeof text);
        svmx_disassemble(mode, exact, n, 0, text, sizeof text);
        free(exact);
    }
    svmx_decode_cache_destroy(cache);
}

/* Every proper prefix of a decodable instruction is truncated, and the
 * count it asks for never overshoots the real length. */
static void test_every_prefix_truncated(void **state)
{
    (void)state;
    unsigned checked = 0;
    for (unsigned iter = 0; iter < 20000; iter++) {
        uint8_t buf[SVMX_INSN_MAX_LEN];
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = random_byte();
        svmx_mode mode = (svmx_mode)(next() % SVMX_MODE_COUNT);
        svmx_insn insn;
        if (svmx_decode(mode, 0, buf, sizeof buf, &insn, NULL) != SVMX_OK ||
            insn.fault != SVMX_DECODE_FAULT_NONE)
            continue;
        for (size_t k = 0; k < insn.length; k++) {
            size_t needed = 0;
            svmx_insn part;
            svmx_status s = svmx_decode(mode, 0, buf, k, &part, &needed);
            if (s != SVMX_E_TRUNCATED)
                fail_msg("mode %s length %u prefix %zu: %s",
                         svmx_mode_name(mode), insn.length, k,
                         svmx_status_name(s));
            assert_true(needed >= 1 && k + needed <= insn.length);
        }
        checked++;
    }
    assert_true(checked > 1000);
}

/* Long runs of prefixes: #GP(0) once the 15-byte limit is crossed. */
static void test_prefix_runs(void **state)
{
    (void)state;
    static const uint8_t prefixes[] = { 0x66, 0x67, 0xf2, 0xf3, 0x2e, 0x3e,
                                        0x26, 0x36, 0x64, 0x65, 0xf0 };
    for (size_t p = 0; p < sizeof prefixes; p++) {
        for (size_t run = 1; run <= 20; run++) {
            uint8_t buf[24];
            memset(buf, prefixes[p], run);
            buf[run] = 0x90;
            svmx_insn insn;
            size_t needed;
            svmx_status s = svmx_decode(SVMX_MODE_LONG64, 0, buf, run + 1,
                                        &insn, &needed);
            assert_int_equal(s, SVMX_OK);
            if (run + 1 > SVMX_INSN_MAX_LEN)
                assert_int_equal(insn.fault, SVMX_DECODE_FAULT_GP);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_strings),
        cmocka_unit_test(test_every_prefix_truncated),
        cmocka_unit_test(test_prefix_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
