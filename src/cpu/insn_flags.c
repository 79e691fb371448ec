/*
 * src/cpu/insn_flags.c - (being written)
 */
#include "cpu/exec.h"
