/*
 * src/cpu/exec_fast.h - the fast loop's handlers for common operand
 * forms (exec_fast.c).
 */
#ifndef SVMX_CPU_EXEC_FAST_H
#define SVMX_CPU_EXEC_FAST_H

#include "cpu/exec.h"

/*
 * The handler the fast loop (exec.c) runs a decode with: one compiled for
 * its operand form, or a call of the class's general handler, which ends
 * the hostmap's epoch when the decode may touch memory (hostmap.h). Only
 * for decodes the fast loop may run at all; never NULL.
 */
exec_fn exec_fast_pick(const svmx_insn *insn);

#endif /* SVMX_CPU_EXEC_FAST_H */
