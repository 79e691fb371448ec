/*
 * tests/test_decode_cache.c - the decode cache: hits, misses, rewritten
 * code, the same bytes in two modes, collisions, placement in caller
 * memory, statistics.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "svmx/svmx.h"

static void test_hit_after_miss(void **state)
{
    (void)state;
    svmx_decode_cache *c;
    const svmx_insn *a, *b;
    const uint8_t code[] = { 0x0f, 0xa2, 0x90, 0x90 };
    svmx_decode_cache_stats st;

    assert_int_equal(svmx_decode_cache_create(SVMX_DECODE_CACHE_DEFAULT_LOG2, &c),
                     SVMX_OK);
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_LONG64, 0, code, 4, &a, NULL),
                     SVMX_OK);
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_LONG64, 0, code, 4, &b, NULL),
                     SVMX_OK);
    assert_ptr_equal(a, b);
    assert_int_equal(b->cls, SVMX_INSN_CPUID);
    svmx_decode_cache_stats_get(c, &st);
    assert_int_equal(st.lookups, 2);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.entries, 1u << SVMX_DECODE_CACHE_DEFAULT_LOG2);
    svmx_decode_cache_destroy(c);
}

/* Self-modifying code: the same buffer rewritten decodes to the new
 * instruction at once, without a flush. */
static void test_rewritten_code(void **state)
{
    (void)state;
    svmx_decode_cache *c;
    const svmx_insn *i;
    uint8_t code[15] = { 0x0f, 0xa2 }; /* cpuid */

    assert_int_equal(svmx_decode_cache_create(6, &c), SVMX_OK);
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_LONG64, 0, code, 15, &i, NULL),
                     SVMX_OK);
    assert_int_equal(i->cls, SVMX_INSN_CPUID);
    code[1] = 0x31; /* rdtsc */
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_LONG64, 0, code, 15, &i, NULL),
                     SVMX_OK);
    assert_int_equal(i->cls, SVMX_INSN_RDTSC);
    /* A byte past the instruction but inside the window changes too. */
    code[14] = 0xcc;
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_LONG64, 0, code, 15, &i, NULL),
                     SVMX_OK);
    assert_int_equal(i->cls, SVMX_INSN_RDTSC);
    svmx_decode_cache_destroy(c);
}

/* The same bytes mean different things in two modes. */
static void test_modes_do_not_alias(void **state)
{
    (void)state;
    svmx_decode_cache *c;
    const svmx_insn *i;
    const uint8_t code[] = { 0x48, 0x90 }; /* REX.W nop | dec eax; nop */

    assert_int_equal(svmx_decode_cache_create(6, &c), SVMX_OK);
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_LONG64, 0, code, 2, &i, NULL),
                     SVMX_OK);
    assert_int_equal(i->cls, SVMX_INSN_NOP);
    assert_int_equal(i->length, 2);
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_PROT32, 0, code, 2, &i, NULL),
                     SVMX_OK);
    assert_int_equal(i->cls, SVMX_INSN_DEC);
    assert_int_equal(i->length, 1);
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_LONG64, 0, code, 2, &i, NULL),
                     SVMX_OK);
    assert_int_equal(i->cls, SVMX_INSN_NOP);

    /* Decode flags are part of the key too. */
    const uint8_t lock_cr0[] = { 0xf0, 0x0f, 0x22, 0xc0 };
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_PROT32, 0, lock_cr0, 4, &i,
                                        NULL), SVMX_OK);
    assert_int_equal(i->fault, SVMX_DECODE_FAULT_UD);
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_PROT32,
                                        SVMX_DECODE_ALT_MOV_CR8, lock_cr0, 4,
                                        &i, NULL), SVMX_OK);
    assert_int_equal(i->cls, SVMX_INSN_MOV_CR);
    assert_int_equal(i->crdr.num, 8);
    svmx_decode_cache_destroy(c);
}

/* A tiny cache thrashes but stays correct; collisions are counted. */
static void test_collisions_stay_correct(void **state)
{
    (void)state;
    svmx_decode_cache *c;
    assert_int_equal(svmx_decode_cache_create(SVMX_DECODE_CACHE_MIN_LOG2, &c),
                     SVMX_OK);
    for (unsigned round = 0; round < 3; round++) {
        for (unsigned v = 0; v < 256; v++) {
            uint8_t code[] = { 0xb0, (uint8_t)v }; /* mov al, v */
            const svmx_insn *i;
            assert_int_equal(svmx_decode_cached(c, SVMX_MODE_LONG64, 0, code, 2,
                                                &i, NULL), SVMX_OK);
            assert_int_equal(i->cls, SVMX_INSN_MOV);
            assert_int_equal((uint8_t)i->operands[1].imm, v);
        }
    }
    svmx_decode_cache_stats st;
    svmx_decode_cache_stats_get(c, &st);
    assert_int_equal(st.lookups, 3 * 256);
    assert_true(st.collisions > 0);
    assert_int_equal(st.hits + st.misses, st.lookups);
    svmx_decode_cache_destroy(c);
}

static void test_truncated_not_cached(void **state)
{
    (void)state;
    svmx_decode_cache *c;
    const svmx_insn *i = NULL;
    const uint8_t code[] = { 0xe8, 0x00 };
    size_t needed = 0;
    assert_int_equal(svmx_decode_cache_create(6, &c), SVMX_OK);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(svmx_decode_cached(c, SVMX_MODE_LONG64, 0, code, 2, &i,
                                            &needed), SVMX_E_TRUNCATED);
        assert_int_equal(needed, 3);
    }
    svmx_decode_cache_stats st;
    svmx_decode_cache_stats_get(c, &st);
    assert_int_equal(st.hits, 0);
    svmx_decode_cache_destroy(c);
}

static void test_flush(void **state)
{
    (void)state;
    svmx_decode_cache *c;
    const svmx_insn *i;
    const uint8_t code[] = { 0xf4 };
    svmx_decode_cache_stats st;
    assert_int_equal(svmx_decode_cache_create(6, &c), SVMX_OK);
    svmx_decode_cached(c, SVMX_MODE_LONG64, 0, code, 1, &i, NULL);
    svmx_decode_cache_flush(c);
    svmx_decode_cached(c, SVMX_MODE_LONG64, 0, code, 1, &i, NULL);
    svmx_decode_cache_stats_get(c, &st);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.collisions, 0);
    assert_int_equal(i->cls, SVMX_INSN_HLT);
    svmx_decode_cache_destroy(c);
}

static void test_caller_memory(void **state)
{
    (void)state;
    size_t size = svmx_decode_cache_size(5);
    assert_true(size > 0);
    assert_int_equal(svmx_decode_cache_size(SVMX_DECODE_CACHE_MIN_LOG2 - 1), 0);
    assert_int_equal(svmx_decode_cache_size(SVMX_DECODE_CACHE_MAX_LOG2 + 1), 0);
    uint8_t *mem = aligned_alloc(64, (size + 64 + 63) & ~(size_t)63);
    assert_non_null(mem);
    svmx_decode_cache *c = NULL;
    assert_int_equal(svmx_decode_cache_init(mem, size - 1, 5, &c), SVMX_E_ARG);
    assert_int_equal(svmx_decode_cache_init(mem + 8, size, 5, &c), SVMX_E_ARG);
    assert_int_equal(svmx_decode_cache_init(mem, size, 5, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_decode_cache_init(NULL, size, 5, &c), SVMX_E_ARG);
    assert_int_equal(svmx_decode_cache_init(mem, size, 5, &c), SVMX_OK);
    const uint8_t code[] = { 0x0f, 0x01, 0xd9 };
    const svmx_insn *i;
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_LONG64, 0, code, 3, &i, NULL),
                     SVMX_OK);
    assert_int_equal(i->cls, SVMX_INSN_VMMCALL);
    svmx_decode_cache_destroy(c); /* not owned: must not free */
    free(mem);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    svmx_decode_cache *c;
    const svmx_insn *i;
    const uint8_t b[] = { 0x90 };
    svmx_decode_cache_stats st;
    assert_int_equal(svmx_decode_cache_create(3, &c), SVMX_E_ARG);
    assert_int_equal(svmx_decode_cache_create(25, &c), SVMX_E_ARG);
    assert_int_equal(svmx_decode_cache_create(6, NULL), SVMX_E_ARG);
    assert_int_equal(svmx_decode_cache_create(6, &c), SVMX_OK);
    assert_int_equal(svmx_decode_cached(NULL, SVMX_MODE_LONG64, 0, b, 1, &i, NULL),
                     SVMX_E_ARG);
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_COUNT, 0, b, 1, &i, NULL),
                     SVMX_E_ARG);
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_LONG64, 0, NULL, 1, &i, NULL),
                     SVMX_E_ARG);
    assert_int_equal(svmx_decode_cached(c, SVMX_MODE_LONG64, 0, b, 1, NULL, NULL),
                     SVMX_E_ARG);
    svmx_decode_cache_stats_get(NULL, &st);
    assert_int_equal(st.lookups, 0);
    svmx_decode_cache_stats_get(c, NULL);
    svmx_decode_cache_flush(NULL);
    svmx_decode_cache_destroy(NULL);
    svmx_decode_cache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_after_miss),
        cmocka_unit_test(test_rewritten_code),
        cmocka_unit_test(test_modes_do_not_alias),
        cmocka_unit_test(test_collisions_stay_correct),
        cmocka_unit_test(test_truncated_not_cached),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_caller_memory),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
