/*
 * src/cpu/insn_arith.c - (being written)
 */
#include "cpu/exec.h"
