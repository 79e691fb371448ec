/*
 * tests/test_util.h - what the table-driven unit tests share. Include it
 * after <cmocka.h>.
 */
#ifndef SVMX_TESTS_TEST_UTIL_H
#define SVMX_TESTS_TEST_UTIL_H

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Fails the test with a message naming the case. */
#define EXPECT(cond, ...)                                                     \
    do {                                                                      \
        if (!(cond)) {                                                        \
            print_error(__VA_ARGS__);                                         \
            print_error("\n");                                                \
            fail();                                                           \
        }                                                                     \
    } while (0)

#endif /* SVMX_TESTS_TEST_UTIL_H */
