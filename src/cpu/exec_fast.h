/*
 * src/cpu/exec_fast.h - the fast loop's handlers for common operand
 * forms (exec_fast.c).
 */
#ifndef SVMX_CPU_EXEC_FAST_H
#define SVMX_CPU_EXEC_FAST_H

#include "cpu/exec.h"

/* Room for the fast handlers' numbers, 1..EXEC_FAST_MAX. */
#define EXEC_FAST_MAX 63

/* The fast handler for this decode's form (1..EXEC_FAST_MAX), or 0 for
 * the class's general handler (exec_fast_fns[0] calls it). */
unsigned exec_fast_pick(const svmx_insn *insn);

extern const exec_fn exec_fast_fns[EXEC_FAST_MAX + 1];

#endif /* SVMX_CPU_EXEC_FAST_H */
