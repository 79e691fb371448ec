/*
 * src/cpu/exec_table.c - the dispatch table, built from EXEC_HANDLERS.
 */
#include "cpu/exec.h"

const exec_fn exec_table[SVMX_INSN_CLASS_COUNT] = {
#define X(cls, fn) [SVMX_INSN_##cls] = fn,
    EXEC_HANDLERS(X)
#undef X
};
