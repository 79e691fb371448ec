/*
 * tests/test_status.c - every status has a name and a description, and
 * values outside the enum are answered, not crashed on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "svmx/svmx.h"

static void test_every_status_named(void **state)
{
    (void)state;
    for (int s = 0; s < SVMX_STATUS_COUNT; s++) {
        const char *text = svmx_status_str((svmx_status)s);
        const char *name = svmx_status_name((svmx_status)s);
        assert_non_null(text);
        assert_non_null(name);
        assert_true(strlen(text) > 3);
        assert_string_not_equal(text, "unknown status");
        assert_string_not_equal(name, "?");
        for (int t = 0; t < s; t++)
            assert_string_not_equal(name, svmx_status_name((svmx_status)t));
    }
    assert_int_equal(SVMX_OK, 0);
    assert_string_equal(svmx_status_name(SVMX_E_TRUNCATED), "E_TRUNCATED");
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_string_equal(svmx_status_str(SVMX_STATUS_COUNT), "unknown status");
    assert_string_equal(svmx_status_str((svmx_status)-1), "unknown status");
    assert_string_equal(svmx_status_name(SVMX_STATUS_COUNT), "?");
}

static svmx_status try_chain(svmx_status first, int *reached)
{
    SVMX_TRY(first);
    *reached = 1;
    return SVMX_OK;
}

static void test_try(void **state)
{
    (void)state;
    int reached = 0;
    assert_int_equal(try_chain(SVMX_E_ARG, &reached), SVMX_E_ARG);
    assert_int_equal(reached, 0);
    assert_int_equal(try_chain(SVMX_OK, &reached), SVMX_OK);
    assert_int_equal(reached, 1);
}

static void test_version(void **state)
{
    (void)state;
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", SVMX_VERSION_MAJOR,
             SVMX_VERSION_MINOR, SVMX_VERSION_PATCH);
    assert_string_equal(svmx_version_string(), expect);
    assert_int_equal(svmx_version(), SVMX_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_status_named),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_try),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
