/*
 * tests/test_exec_system.c - (being written)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "exec_fixture.h"

static void test_placeholder(void **state)
{
    (void)state;
    const uint8_t code[] = { 0xf4 };
    boot_real(SVMX_VENDOR_AMD, code, sizeof code);
    assert_int_equal(run(10).reason, SVMX_STOP_HLT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placeholder),
    };
    return cmocka_run_group_tests(tests, NULL, fixture_teardown);
}
