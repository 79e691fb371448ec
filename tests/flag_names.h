/*
 * tests/flag_names.h - the arithmetic flags by their short names, and all
 * six, for the tests that check flags (exec_fixture.h's, test_alu.c).
 */
#ifndef SVMX_TESTS_FLAG_NAMES_H
#define SVMX_TESTS_FLAG_NAMES_H

#include "svmx/cpu.h"

#define CF SVMX_RFLAGS_CF
#define PF SVMX_RFLAGS_PF
#define AF SVMX_RFLAGS_AF
#define ZF SVMX_RFLAGS_ZF
#define SF SVMX_RFLAGS_SF
#define OF SVMX_RFLAGS_OF
#define ALL (CF | PF | AF | ZF | SF | OF)

#endif /* SVMX_TESTS_FLAG_NAMES_H */
