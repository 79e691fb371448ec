/*
 * src/cpu/insn_stack.c - (being written)
 */
#include "cpu/exec.h"
