/*
 * src/cpu/exec_fast.h - the fast loop's handlers for common operand
 * forms (exec_fast.c).
 */
#ifndef SVMX_CPU_EXEC_FAST_H
#define SVMX_CPU_EXEC_FAST_H

#include "cpu/exec.h"

/*
 * The handler the fast loop (exec.c) runs a decode with: one compiled for
 * its operand form, or else the class's general handler itself, which
 * needs nothing around it for the hostmap's epoch (hostmap.h; exec_fast.c
 * says why). Only for decodes the fast loop may run at all; never NULL.
 */
exec_fn exec_fast_pick(const svmx_insn *insn);

#endif /* SVMX_CPU_EXEC_FAST_H */
